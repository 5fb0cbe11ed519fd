"""Veriff's event and decision webhooks, received by a real HTTP server on loopback: every
signature recomputed over the exact bytes received, every payload, every decision code, a retry
after a 500, the outbox row written with the change (or not at all), and the integration's URLs
set through the CLI, seed-demo and the ledger API."""
from __future__ import annotations

import json
import re
import time

import pytest

from consent.core import audit, auth, outbox
from consent.core.storage import WebhookAttempt, WebhookDelivery
from consent.dialects.veriff.service import create_integration
from tests.receiver import Receiver
from tests.veriff_helpers import Integration, sign

PERSON = {"firstName": "Grace", "lastName": "Hopper", "idNumber": "GH-1906"}


@pytest.fixture(autouse=True)
def fast_retries(app, monkeypatch):
    monkeypatch.setattr(outbox, "POLICY", outbox.Policy(
        max_attempts=3, backoff_base=0.05, backoff_cap=0.2, timeout=2, poll_interval=0.05))


class Hooked(Integration):
    """An integration whose event and decision webhooks go to a receiver."""

    def __init__(self, org, receiver):
        issued = create_integration(org, name="hooked", event_url=receiver.url + "/events",
                                    decision_url=receiver.url + "/decisions")
        self.key, self.secret, self.id = issued.key, issued.shared_secret, issued.credential.id

    def check_signed(self, received) -> dict:
        """The headers Veriff sends, the signature recomputed over the raw body; the body."""
        h = received.headers
        assert h["content-type"] == "application/json"
        assert h["x-auth-client"] == h["vrf-auth-client"] == self.key
        expected = sign(self.secret, received.body)
        assert h["x-hmac-signature"] == h["vrf-hmac-signature"] == expected
        assert re.fullmatch(r"[0-9a-f]{64}", expected)
        assert h["vrf-integration-id"] == self.id
        return json.loads(received.body)


def open_page(client, url):
    page = client.get(url.removeprefix("http://consent.test"))
    assert page.status_code == 200
    return re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def test_the_whole_flow_on_the_wire(client, org):
    with Receiver() as rx:
        integ = Hooked(org.org, rx)
        created = integ.post(client, "/v1/sessions", {"verification": {
            "vendorData": "user-1", "endUserId": "eu-1", "person": PERSON,
            "callback": "https://app.example.com/cb"}})
        sid, url = created.json["verification"]["id"], created.json["verification"]["url"]
        token = open_page(client, url)
        page = client.post(url.removeprefix("http://consent.test"), headers={
            "Origin": "http://localhost"}, data={"csrf_token": token, "action": "submit"})
        token = re.search(r'name="csrf_token" value="([^"]+)"',
                          page.get_data(as_text=True)).group(1)
        client.post(url.removeprefix("http://consent.test"), headers={
            "Origin": "http://localhost"}, data={"csrf_token": token, "action": "decide",
                                                 "status": "approved"})
        got = rx.wait_for(3)
    bodies = {r.path: [] for r in got}
    for r in got:
        assert r.method == "POST"
        bodies[r.path].append(integ.check_signed(r))
    attempt = bodies["/events"][0]["attemptId"]
    assert bodies["/events"] == [
        {"id": sid, "attemptId": attempt, "feature": "selfid", "code": 7001,
         "action": "started", "vendorData": "user-1", "endUserId": "eu-1"},
        {"id": sid, "attemptId": attempt, "feature": "selfid", "code": 7002,
         "action": "submitted", "vendorData": "user-1", "endUserId": "eu-1"}]
    [decision] = bodies["/decisions"]
    # The decision webhook is exactly what GET /decision answers.
    assert decision == integ.get(client, f"/v1/sessions/{sid}/decision", sid).json
    v = decision["verification"]
    assert (v["id"], v["attemptId"], v["status"], v["code"]) == (sid, attempt, "approved", 9001)
    assert v["person"]["firstName"] == "Grace" and v["person"]["idNumber"] == "GH-1906"


@pytest.mark.parametrize("status, reason_code, code, reason", [
    ("approved", None, 9001, None),
    ("declined", 112, 9102, "Restricted IP location"),
    ("resubmission_requested", 206, 9103, "Document type not supported"),
    ("expired", None, 9104, None),
    ("abandoned", None, 9104, None),
    ("review", None, 9121, None),
])
def test_every_decision_webhook(client, org, status, reason_code, code, reason):
    with Receiver() as rx:
        integ = Hooked(org.org, rx)
        sid = integ.create_session(client)
        integ.post(client, f"/v1/sessions/{sid}", {"verification": {"status": "submitted"}},
                   method="patch")
        response = client.post(f"/ledger/v1/veriff/sessions/{sid}/decision",
                               headers=org.headers(),
                               json={"status": status, "reason_code": reason_code})
        assert response.status_code == 200
        got = rx.wait_for(2)
    [submitted] = [r for r in got if r.path == "/events"]
    assert integ.check_signed(submitted)["code"] == 7002
    [decided] = [r for r in got if r.path == "/decisions"]
    body = integ.check_signed(decided)
    assert body == response.json
    v = body["verification"]
    assert (v["status"], v["code"], v["reasonCode"], v["reason"]) == (status, code,
                                                                     reason_code, reason)


def test_retried_after_a_500_and_logged(client, org, runner):
    with Receiver(statuses=[500]) as rx:
        integ = Hooked(org.org, rx)
        sid = integ.create_session(client)
        assert runner.invoke(args=["veriff", "decide", sid, "approved"]).exit_code == 0
        first, second = rx.wait_for(2)
    assert first.path == second.path == "/decisions"
    assert first.body == second.body and first.headers["x-hmac-signature"] == \
        second.headers["x-hmac-signature"]
    integ.check_signed(second)
    delivery = wait_delivered(sid)
    assert delivery.topic == "veriff.decision" and delivery.attempts == 2
    log = list(WebhookAttempt.select().where(WebhookAttempt.delivery == delivery.id)
               .order_by(WebhookAttempt.id))
    assert [a.status_code for a in log] == [500, 200]
    listed = client.get(f"/ledger/v1/webhooks?reference={sid}", headers=org.headers()).json
    assert [(d["topic"], d["status"]) for d in listed["items"]] == [("veriff.decision",
                                                                     "delivered")]


def test_the_api_key_is_masked_in_every_delivery_view(client, org, runner):
    with Receiver() as rx:
        integ = Hooked(org.org, rx)
        sid = integ.create_session(client)
        assert runner.invoke(args=["veriff", "decide", sid, "approved"]).exit_code == 0
        [got] = rx.wait_for(1)
        delivery = wait_delivered(sid)
    assert got.headers["x-auth-client"] == integ.key                # sent as Veriff sends it
    detail = client.get(f"/ledger/v1/webhooks/{delivery.id}", headers=org.headers())
    headers = detail.json["headers"]
    assert (headers["X-AUTH-CLIENT"], headers["vrf-auth-client"]) == ("***", "***")
    assert headers["X-HMAC-SIGNATURE"] == got.headers["x-hmac-signature"]   # not a secret
    assert headers["vrf-integration-id"] == integ.id
    shown = runner.invoke(args=["webhooks", "show", "--org", org.slug, str(delivery.id)])
    assert "  X-AUTH-CLIENT: ***\n" in shown.output
    for text in (detail.get_data(as_text=True), shown.output):
        assert integ.key not in text and integ.secret not in text


def wait_delivered(reference, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = WebhookDelivery.get_or_none(WebhookDelivery.reference == reference)
        if row is not None and row.status == "delivered":
            return row
        time.sleep(0.02)
    raise AssertionError(f"no delivered webhook about {reference}")


def test_delete_sends_the_expired_decision(client, org):
    with Receiver() as rx:
        integ = Hooked(org.org, rx)
        sid = integ.create_session(client)
        assert integ.get(client, f"/v1/sessions/{sid}", sid, method="delete").status_code == 200
        [received] = rx.wait_for(1)
    body = integ.check_signed(received)
    assert (body["verification"]["status"], body["verification"]["code"]) == ("expired", 9104)


def test_no_url_no_webhook(client, org, monkeypatch):
    monkeypatch.setattr(outbox.SENDER, "enabled", False)
    integ = Integration(org.org)
    sid = integ.create_session(client)
    integ.post(client, f"/v1/sessions/{sid}", {"verification": {"status": "submitted"}},
               method="patch")
    client.post(f"/ledger/v1/veriff/sessions/{sid}/decision", headers=org.headers(),
                json={"status": "approved"})
    assert WebhookDelivery.select().count() == 0


def test_the_webhook_is_written_with_the_change_or_not_at_all(client, org, monkeypatch):
    monkeypatch.setattr(outbox.SENDER, "enabled", False)
    with Receiver() as rx:
        integ = Hooked(org.org, rx)
    sid = integ.create_session(client)
    real_append = audit.append

    def failing(org_id, **kwargs):
        if kwargs["action"] == "veriff.session.decided":
            raise RuntimeError("the disk is full")
        return real_append(org_id, **kwargs)

    monkeypatch.setattr(audit, "append", failing)
    response = client.post(f"/ledger/v1/veriff/sessions/{sid}/decision", headers=org.headers(),
                           json={"status": "approved"})
    assert response.status_code == 500
    assert WebhookDelivery.select().count() == 0
    monkeypatch.setattr(audit, "append", real_append)
    assert integ.get(client, f"/v1/sessions/{sid}/decision", sid).json["verification"] is None


# -- setting the URLs -----------------------------------------------------------------------------

def test_urls_through_the_ledger_api(client, org, other_org):
    integ = Integration(org.org)
    path = f"/ledger/v1/veriff/integrations/{integ.id}"
    got = client.get(path, headers=org.headers())
    assert got.status_code == 200 and got.json == {
        "id": integ.id, "name": "test integration", "key_prefix": integ.key[:10],
        "event_webhook_url": None, "decision_webhook_url": None, "api_key_known": True}
    patched = client.patch(path, headers=org.headers(), json={
        "event_webhook_url": "http://127.0.0.1:9/events",
        "decision_webhook_url": "https://localhost:9/veriff"})
    assert patched.status_code == 200
    assert (patched.json["event_webhook_url"], patched.json["decision_webhook_url"]) == (
        "http://127.0.0.1:9/events", "https://localhost:9/veriff")
    cleared = client.patch(path, headers=org.headers(), json={"event_webhook_url": None})
    assert (cleared.json["event_webhook_url"], cleared.json["decision_webhook_url"]) == (
        None, "https://localhost:9/veriff")
    bad = client.patch(path, headers=org.headers(), json={"event_webhook_url": "ftp://x"})
    assert bad.status_code == 422 and bad.json == {
        "code": 422, "status": "Unprocessable Entity",
        "message": "event_webhook_url must be an http(s) URL"}
    assert client.patch(path, headers=org.headers(), json={"other": 1}).status_code == 422
    for who in (other_org.headers(), ):
        assert client.get(path, headers=who).status_code == 404
        assert client.patch(path, headers=who, json={}).status_code == 404
    assert client.get(path, headers=org.headers(org.consent_key)).status_code == 403
    assert client.get(f"/ledger/v1/veriff/integrations/{org.admin_key}",
                      headers=org.headers()).status_code == 404
    event = [e for e in audit_events(org) if e["action"] == "veriff.integration.webhooks"][-1]
    assert event["payload"] == {"event_webhook_url": None,
                                "decision_webhook_url": "https://localhost:9/veriff"}


def audit_events(org):
    from consent.core.storage import AuditEvent

    return [{"action": e.action, "payload": e.payload}
            for e in AuditEvent.select().where(AuditEvent.org == org.org.id)
            .order_by(AuditEvent.seq)]


def test_an_integration_made_elsewhere_needs_its_key_once(client, org, runner):
    issued = auth.create_credential(org.org.id, kind="hmac", name="plain hmac")
    path = f"/ledger/v1/veriff/integrations/{issued.credential.id}"
    assert client.get(path, headers=org.headers()).json["api_key_known"] is False
    refused = client.patch(path, headers=org.headers(),
                           json={"decision_webhook_url": "http://127.0.0.1:9/d"})
    assert refused.status_code == 422 and "api_key" in refused.json["message"]
    wrong = client.patch(path, headers=org.headers(), json={
        "decision_webhook_url": "http://127.0.0.1:9/d", "api_key": org.admin_key})
    assert wrong.status_code == 422 and wrong.json["message"] == \
        "api_key is not this integration's API key"
    ok = runner.invoke(args=["veriff", "webhooks", "--org", "acme", issued.credential.id,
                             "--decision-url", "http://127.0.0.1:9/d", "--api-key", issued.key])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.output) == {"id": issued.credential.id, "event_webhook_url": None,
                                     "decision_webhook_url": "http://127.0.0.1:9/d"}
    assert client.get(path, headers=org.headers()).json["api_key_known"] is True


def test_urls_through_the_cli(runner, org):
    created = runner.invoke(args=["veriff", "integration-create", "--org", "acme",
                                  "--event-url", "http://127.0.0.1:9/e"])
    assert created.exit_code == 0, created.output
    integration = json.loads(created.output)
    assert integration["event_webhook_url"] == "http://127.0.0.1:9/e"
    shown = runner.invoke(args=["veriff", "webhooks", "--org", "acme", integration["id"]])
    assert json.loads(shown.output) == {"id": integration["id"],
                                        "event_webhook_url": "http://127.0.0.1:9/e",
                                        "decision_webhook_url": None}
    cleared = runner.invoke(args=["veriff", "webhooks", "--org", "acme", integration["id"],
                                  "--clear-event-url", "--decision-url", "https://localhost:9/d"])
    assert json.loads(cleared.output)["event_webhook_url"] is None
    assert json.loads(cleared.output)["decision_webhook_url"] == "https://localhost:9/d"
    bad = runner.invoke(args=["veriff", "webhooks", "--org", "acme", integration["id"],
                              "--event-url", "not a url"])
    assert bad.exit_code == 1 and "event_webhook_url must be an http(s) URL" in bad.output
    missing = runner.invoke(args=["veriff", "webhooks", "--org", "acme", "nope"])
    assert missing.exit_code == 1


def test_urls_through_seed_demo(client, runner):
    with Receiver() as rx:
        result = runner.invoke(args=["seed-demo", "--json",
                                     "--veriff-event-url", rx.url + "/e",
                                     "--veriff-decision-url", rx.url + "/d"])
        assert result.exit_code == 0, result.output
        section = json.loads(result.output)["veriff"]
        assert (section["event_webhook_url"], section["decision_webhook_url"]) == (
            rx.url + "/e", rx.url + "/d")
        assert client.get(section["session_url"].removeprefix("http://consent.test")) \
            .status_code == 200
        [started] = rx.wait_for(1)
    assert started.path == "/e" and json.loads(started.body)["code"] == 7001
    assert started.headers["x-auth-client"] == section["api_key"]
    assert started.headers["x-hmac-signature"] == sign(section["shared_secret"], started.body)
    plain = runner.invoke(args=["seed-demo", "--json"])
    assert json.loads(plain.output)["veriff"]["event_webhook_url"] is None
