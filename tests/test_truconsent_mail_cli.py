"""Consent email over a real SMTP server (aiosmtpd on loopback), the local outbox, the CLI and
seed-demo."""
from __future__ import annotations

import email
import json
import re

import pytest

from consent.core.storage import AuditEvent, OutboxMessage
from consent.dialects.truconsent.models import TcConsentRequest
from tests.helpers import free_port
from tests.truconsent_helpers import link_body, make_cp

URL = "/api/consent/consent-links"





@pytest.fixture
def cpf(org):
    return make_cp(org.org)


def test_email_sent_over_smtp(app, client, org, cpf, smtp):
    app.config["CONSENT_SMTP_URL"] = smtp.url
    app.config["CONSENT_MAIL_FROM"] = "consent@acme.test"
    resp = client.post(URL, json=link_body(cpf, email="Priya@Example.com"),
                       headers=org.headers(org.consent_key))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["delivery_status"] == {"email": "sent"}
    [envelope] = smtp.messages
    assert envelope.rcpt_tos == ["Priya@Example.com"]
    msg = email.message_from_bytes(envelope.content)
    assert msg["Subject"] == "Org acme: please review your consent for Sign-up"
    assert msg["From"] == "consent@acme.test"
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in msg.walk()
             if not p.is_multipart()}
    assert body["consent_link"] in parts["text/plain"]
    assert body["consent_link"].replace("&", "&amp;") in parts["text/html"]
    assert "Org acme" in parts["text/html"]
    row = OutboxMessage.get()
    assert (row.transport, row.status, row.to_address, row.to_masked) == (
        "smtp", "sent", None, "P***@Example.com")
    assert AuditEvent.select().where(AuditEvent.action == "truconsent.email.sent").count() == 1
    # the address is kept nowhere else either
    assert "Priya" not in json.dumps([e.payload for e in AuditEvent.select()])
    assert not hasattr(TcConsentRequest, "email")


def test_email_failure_still_creates_link(app, client, org, cpf):
    app.config["CONSENT_SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"
    resp = client.post(URL, json=link_body(cpf, email="a@b.test"),
                       headers=org.headers(org.consent_key))
    assert resp.status_code == 200
    assert resp.get_json()["delivery_status"] == {"email": "failed"}
    assert TcConsentRequest.select().count() == 1
    assert OutboxMessage.get().status == "failed"
    assert AuditEvent.select().where(AuditEvent.action == "truconsent.email.failed").count() == 1


def test_outbox_without_smtp(app, client, runner, org, cpf):
    resp = client.post(URL, json=link_body(cpf, email="reader@example.com"),
                       headers=org.headers(org.consent_key))
    assert resp.get_json()["delivery_status"] == {"email": "sent"}
    row = OutboxMessage.get()
    assert (row.transport, row.status, row.to_address) == ("outbox", "queued",
                                                           "reader@example.com")
    out = runner.invoke(args=["truconsent", "outbox", "list", "--org", "acme"]).output
    assert "r***@example.com" in out and "reader@" not in out
    out = runner.invoke(args=["truconsent", "outbox", "show", "--org", "acme", str(row.id)]).output
    assert "To: reader@example.com" in out and resp.get_json()["consent_link"] in out
    page_url = runner.invoke(args=["truconsent", "outbox", "url", "--org", "acme"]).output.strip()
    page = client.get(page_url.replace("http://consent.test", ""))
    assert page.status_code == 200 and "reader@example.com" in page.get_data(as_text=True)
    assert client.get("/truconsent/outbox?t=forged").status_code == 403
    out = runner.invoke(args=["truconsent", "outbox", "done", "--org", "acme", "--all"]).output
    assert "1 message(s) marked delivered" in out
    row = OutboxMessage.get()
    assert (row.status, row.to_address) == ("delivered", None)


def test_cli_assets_and_collection_points(runner, org):
    out = runner.invoke(args=["truconsent", "asset", "create", "--org", "acme", "--name", "App"])
    asset = json.loads(out.output)
    assert asset["display_id"] == "AS001"
    out = runner.invoke(args=["truconsent", "cp", "create", "--org", "acme", "--asset", "AS001",
                              "--title", "Checkout", "--notice", "We need your number.",
                              "--purpose", "Marketing:Offers", "--purpose", "Analytics",
                              "--display-id", "CP010"])
    cp = json.loads(out.output)
    assert (cp["display_id"], cp["asset_id"], len(cp["purposes"])) == ("CP010", asset["id"], 2)
    assert cp["purposes"][0]["description"] == "Offers"
    out = runner.invoke(args=["truconsent", "cp", "list", "--org", "acme"])
    assert json.loads(out.output.splitlines()[0])["id"] == cp["id"]
    out = runner.invoke(args=["truconsent", "cp", "create", "--org", "acme", "--asset", "AS9",
                              "--title", "x", "--notice", "y", "--purpose", "z"])
    assert out.exit_code == 1 and "asset not found" in out.output


def test_management_api(client, org):
    resp = client.post("/ledger/v1/truconsent/assets", json={"name": "Site"},
                       headers=org.headers())
    assert resp.status_code == 201
    asset = resp.get_json()
    resp = client.post("/ledger/v1/truconsent/collection-points", headers=org.headers(), json={
        "asset_id": asset["id"], "title": "Newsletter", "notice_text": "Notice",
        "purposes": [{"name": "Email news"}]})
    assert resp.status_code == 201
    assert resp.get_json()["display_id"] == "CP001"
    resp = client.get("/ledger/v1/truconsent/collection-points",
                      headers=org.headers(org.consent_key))
    assert resp.status_code == 403  # the ledger's own error shape applies here
    assert resp.get_json()["message"] == "This API key does not have the 'admin' scope"


def test_seed_demo_section_works(app, runner):
    out = runner.invoke(args=["seed-demo", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)["truconsent"]
    assert set(data) == {"org_id", "api_key", "admin_api_key", "bearer_token",
                         "collection_point_id", "collection_point_display_id", "asset_id",
                         "banner_id", "purpose_ids", "sdk"}
    assert data["sdk"] == {"apiUrl": "http://consent.test", "organizationId": "demo",
                           "bannerId": "CP001", "assetId": data["asset_id"],
                           "apiKey": data["api_key"]}
    assert data["purpose_ids"] == ["account", "fraud-prevention", "marketing", "analytics"]
    client = app.test_client()
    body = {"collection_point_id": data["collection_point_display_id"],
            "asset_id": data["asset_id"], "phone": "9876543210"}
    for headers in ({"X-API-Key": data["api_key"]}, {"X-API-Key": data["admin_api_key"]},
                    {"Authorization": f"Bearer {data['bearer_token']}"}):
        resp = client.post(URL, json=body, headers={"X-Org-Id": data["org_id"], **headers})
        assert resp.status_code == 200, resp.get_json()
        assert re.search(r"/demo/CP001/", resp.get_json()["consent_link"])
    again = json.loads(runner.invoke(args=["seed-demo", "--json"]).output)["truconsent"]
    assert again["collection_point_id"] == data["collection_point_id"]
    assert again["api_key"] != data["api_key"]
    resp = client.post("/api/v1/external/consents/map-user",
                       json={"anonymousId": "a", "authenticatedUserId": "b"},
                       headers={"X-Org-Id": again["org_id"], "X-API-Key": again["admin_api_key"]})
    assert resp.status_code == 200


@pytest.mark.parametrize("address, reason", [
    ("not-an-email", "An email address must have an @-sign."),
    ("a@@b.example", "The part after the @-sign contains invalid characters: '@'."),
    ("someone@", "There must be something after the @-sign."),
])
def test_invalid_email_is_422_and_nothing_is_sent(app, client, org, cpf, smtp, address, reason):
    app.config["CONSENT_SMTP_URL"] = smtp.url
    resp = client.post(URL, json=link_body(cpf, email=address),
                       headers=org.headers(org.consent_key))
    assert resp.status_code == 422
    assert resp.get_json() == {"detail": [{
        "loc": ["body", "email"], "msg": f"value is not a valid email address: {reason}",
        "type": "value_error"}]}
    assert smtp.messages == [] and OutboxMessage.select().count() == 0
    assert TcConsentRequest.select().count() == 0
