"""The operator's side of the Avacy dialect: the consent archive through the ledger API
(/ledger/v1/avacy, admin key, this service's error shape), webspaces and tokens, the archive page
behind a signed link, the CLI and seed-demo."""
from __future__ import annotations

import hashlib
import json
import time as _time
from urllib.parse import urlsplit

import itsdangerous
import pytest
from markupsafe import escape

from consent.core import ledger, tokens
from consent.dialects.avacy.pages import archive_token
from tests.avacy_helpers import DOCUMENTED, Tenant

SCRIPT_PROOFS = ('<form><input name="email" value="x"></form>'
                 '<script>document.title = "pwned"; window.pwned = true;</script>'
                 '<img src=x onerror="window.pwned=true">')


@pytest.fixture
def tenant(org):
    return Tenant(org.org)


def post(client, tenant, identifier="test@email.it", accepted=True, proofs="<html></html>",
         channel="domains_groups"):
    subject = {**DOCUMENTED["subject"], "email": identifier}
    body = {**DOCUMENTED, "subject": subject, "proofs": proofs,
            "preferences": [{"name": "newsletter", "accepted": accepted},
                            {"name": "updates", "accepted": True}]}
    r = tenant.post_json(client, channel, body)
    assert r.status_code == 201, r.json
    return r.json["data"]


# -- the archive through the ledger API -----------------------------------------------------------

def test_archive_entry_with_preferences_and_evidence(client, org, tenant):
    data = post(client, tenant, proofs=SCRIPT_PROOFS)
    r = client.get(f"/ledger/v1/avacy/consents/{data['id']}", headers=org.headers())
    assert r.status_code == 200
    entry = r.json
    consents = {c["purpose"]: c["id"] for c in client.get(
        "/ledger/v1/consents", headers=org.headers()).json["items"]}
    assert entry == {
        "id": data["id"], "webspace_id": 1, "channel": "domains_groups",
        "identifier": "test@email.it", "subject_id": data["subject_id"],
        "ip_address": "12.64.193.89", "proofs": SCRIPT_PROOFS,
        "proofs_sha256": hashlib.sha256(SCRIPT_PROOFS.encode()).hexdigest(),
        "request": {"subject": {**DOCUMENTED["subject"]}, "identifier": "email",
                    "legal_notices": [{"name": "privacy_policy", "version": "1"},
                                      {"name": "cookie_policy", "version": "1"}],
                    "preferences": [{"name": "newsletter", "accepted": True},
                                    {"name": "updates", "accepted": True}]},
        "preferences": [
            {"name": "newsletter", "accepted": True, "consent_id": consents["newsletter"],
             "status": "granted", "binding": True},
            {"name": "updates", "accepted": True, "consent_id": consents["updates"],
             "status": "granted", "binding": True}],
        "legal_notices": [{"name": "privacy_policy", "version": "1"},
                          {"name": "cookie_policy", "version": "1"}], "versions": None,
        "audit_event_id": entry["audit_event_id"], "intact": True,
        "created_at": entry["created_at"]}
    assert entry["created_at"].endswith("+00:00")
    event = client.get(f"/ledger/v1/audit?event_id={entry['audit_event_id']}",
                       headers=org.headers()).json["items"][0]
    # the event records the entry's salted hash, and no personal value
    assert set(event["payload"]["rows"]["avacy_consent"]) == {str(entry["id"])}
    assert event["payload"]["subject_ref"] == entry["subject_id"]
    for value in (entry["proofs_sha256"], entry["ip_address"], entry["identifier"]):
        assert value not in json.dumps(event["payload"])


@pytest.mark.tampered
def test_an_altered_entry_no_longer_matches_its_audit_event(app, client, org, tenant):
    from consent.dialects.avacy.models import AvacyConsent

    data = post(client, tenant, proofs="<form>the original</form>")
    AvacyConsent.update(proofs="<form>forged</form>").where(
        AvacyConsent.id == data["id"]).execute()
    r = client.get(f"/ledger/v1/avacy/consents/{data['id']}", headers=org.headers())
    assert r.json["proofs"] == "<form>forged</form>" and r.json["intact"] is False
    assert "does not match its audit event" in archive_page(app, client, org).get_data(
        as_text=True)
    # rehashing the row is not enough: the chain keeps the hash it recorded
    forged = hashlib.sha256(b"<form>forged</form>").hexdigest()
    AvacyConsent.update(proofs_sha256=forged).where(AvacyConsent.id == data["id"]).execute()
    r = client.get(f"/ledger/v1/avacy/consents/{data['id']}", headers=org.headers())
    assert r.json["intact"] is False
    AvacyConsent.update(ip_address="10.0.0.1", proofs="<form>the original</form>",
                        proofs_sha256=hashlib.sha256(b"<form>the original</form>").hexdigest()
                        ).where(AvacyConsent.id == data["id"]).execute()
    assert client.get(f"/ledger/v1/avacy/consents/{data['id']}",
                      headers=org.headers()).json["intact"] is False


def test_search_by_identifier_newest_first_and_binding(client, org, tenant):
    first = post(client, tenant, "anna@example.it", accepted=True)
    post(client, tenant, "bruno@example.it")
    latest = post(client, tenant, "anna@example.it", accepted=False)
    r = client.get("/ledger/v1/avacy/consents?identifier=anna@example.it", headers=org.headers())
    assert r.status_code == 200
    items = r.json["items"]
    assert [e["id"] for e in items] == [latest["id"], first["id"]]
    assert r.json["next_cursor"] is None
    newest, oldest = items
    assert [(p["name"], p["status"], p["binding"]) for p in newest["preferences"]] == [
        ("newsletter", "denied", True), ("updates", "granted", True)]
    assert [(p["name"], p["status"], p["binding"]) for p in oldest["preferences"]] == [
        ("newsletter", "granted", False), ("updates", "granted", False)]
    r = client.get("/ledger/v1/avacy/consents?identifier=nobody@example.it",
                   headers=org.headers())
    assert r.json == {"items": [], "next_cursor": None}


def test_pages_and_filters(client, org, tenant):
    from consent.dialects.avacy import archive

    ids = [post(client, tenant, f"p{i}@example.it")["id"] for i in range(5)]
    archive.create_webspace(tenant.org, "blog")
    v4 = tenant.post_json(client, "v4", {
        "ip_address": "203.0.113.7", "consent_type": "form", "optin": "accepted",
        "identifier": "p0@example.it", "consent_features": ["privacy_policy"]}).json["data"]
    seen, cursor = [], None
    while True:
        query = "limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(f"/ledger/v1/avacy/consents?{query}", headers=org.headers()).json
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [v4["id"], *reversed(ids)]
    only_v4 = client.get("/ledger/v1/avacy/consents?channel=v4", headers=org.headers()).json
    assert [e["id"] for e in only_v4["items"]] == [v4["id"]]
    assert only_v4["items"][0]["legal_notices"] == []
    by_space = client.get("/ledger/v1/avacy/consents?webspace_id=2", headers=org.headers())
    assert by_space.json["items"] == []
    future = client.get("/ledger/v1/avacy/consents?from=2999-01-01T00:00:00Z",
                        headers=org.headers())
    assert future.json["items"] == []
    past = client.get("/ledger/v1/avacy/consents?to=2000-01-01T00:00:00%2B01:00",
                      headers=org.headers())
    assert past.json["items"] == []


def test_archive_is_the_organisations_own(client, org, other_org, tenant):
    data = post(client, tenant)
    assert client.get("/ledger/v1/avacy/consents", headers=other_org.headers()).json[
        "items"] == []
    r = client.get(f"/ledger/v1/avacy/consents/{data['id']}", headers=other_org.headers())
    assert r.status_code == 404
    assert r.json == {"code": 404, "status": "Not Found",
                      "message": f"archive entry {data['id']} not found"}


def test_archive_needs_the_admin_key(client, org, tenant):
    r = client.get("/ledger/v1/avacy/consents")
    assert r.status_code == 400 and r.json["message"] == "X-Org-Id header is required"
    r = client.get("/ledger/v1/avacy/consents", headers={"X-Org-Id": org.slug})
    assert r.status_code == 401
    r = client.get("/ledger/v1/avacy/consents", headers=org.headers(org.consent_key))
    assert r.status_code == 403
    # an Avacy token is no admin key
    r = client.get("/ledger/v1/avacy/consents", headers=org.headers(tenant.token))
    assert r.status_code == 403


@pytest.mark.parametrize("query", [
    "limit=" + str(2 ** 63), "limit=0", "limit=" + "9" * 5000, "cursor=not-a-cursor",
    "from=0001-01-01T00:00:00%2B14:00", "webspace_id=" + str(2 ** 63), "channel=v3",
    "identifier=" + "x" * 256])
def test_hostile_archive_queries_are_422_in_the_service_shape(client, org, query):
    r = client.get(f"/ledger/v1/avacy/consents?{query}", headers=org.headers())
    assert r.status_code == 422, (query, r.json)
    assert r.json["code"] == 422 and r.json["status"] == "Unprocessable Entity"


def test_an_entry_id_beyond_64_bits_is_404(client, org):
    r = client.get(f"/ledger/v1/avacy/consents/{2 ** 63}", headers=org.headers())
    assert r.status_code == 404 and r.json["code"] == 404


def test_webspaces_and_tokens_through_the_api(client, org):
    r = client.post("/ledger/v1/avacy/webspaces", json={"name": "shop"}, headers=org.headers())
    assert r.status_code == 201
    shop = r.json
    assert shop["id"] == 1 and shop["name"] == "shop" and len(shop["key"]) == 36
    r = client.post("/ledger/v1/avacy/webspaces", json={"name": "blog"}, headers=org.headers())
    assert r.json["id"] == 2
    listed = client.get("/ledger/v1/avacy/webspaces", headers=org.headers()).json
    assert [(w["id"], w["name"]) for w in listed] == [(1, "shop"), (2, "blog")]
    r = client.post("/ledger/v1/avacy/webspaces", json={}, headers=org.headers())
    assert r.status_code == 422 and r.json["code"] == 422
    r = client.post("/ledger/v1/avacy/tokens", json={"name": "wordpress"},
                    headers=org.headers())
    assert r.status_code == 201 and r.json["name"] == "wordpress"
    token = r.json["token"]
    r = client.post(f"/{org.slug}/domains_groups/2/consents", json=DOCUMENTED,
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201 and r.json["data"]["domains_group_id"] == 2
    r = client.get(f"/wp/validate/{org.slug}/{shop['key']}/{token}")
    assert r.status_code == 200


# -- the archive page -----------------------------------------------------------------------------

def page_path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def archive_page(app, client, org, query=""):
    with app.app_context():
        token = archive_token(org.org)
    return client.get(f"/avacy/archive?t={token}{query}")


def test_archive_page_shows_entries_with_proofs_escaped(app, client, org, tenant):
    post(client, tenant, proofs=SCRIPT_PROOFS)
    r = archive_page(app, client, org)
    assert r.status_code == 200 and r.mimetype == "text/html"
    text = r.get_data(as_text=True)
    assert "test@email.it" in text and "newsletter" in text and "privacy_policy" in text
    # never the raw HTML: escaped in the text, and escaped into a sandboxed iframe's srcdoc
    assert "<script>document.title" not in text and "<img src=x" not in text
    escaped = str(escape(SCRIPT_PROOFS))
    assert f'<pre class="proofs">{escaped}</pre>' in text
    assert f'sandbox srcdoc="{escaped}"' in text
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'none'" in csp and "default-src 'none'" in csp
    assert r.headers["Referrer-Policy"] == "no-referrer"
    assert r.headers["Cache-Control"] == "no-store"


def test_archive_page_searches_by_identifier(app, client, org, tenant):
    post(client, tenant, "anna@example.it")
    post(client, tenant, "bruno@example.it")
    text = archive_page(app, client, org, "&identifier=bruno@example.it").get_data(as_text=True)
    assert "bruno@example.it" in text and "anna@example.it" not in text
    assert "1 entry for" in text
    text = archive_page(app, client, org, "&identifier=nobody").get_data(as_text=True)
    assert "No entry for this identifier." in text


def test_archive_page_shows_only_the_links_organisation(app, client, org, other_org, tenant):
    post(client, tenant, "anna@example.it")
    text = archive_page(app, client, other_org).get_data(as_text=True)
    assert "anna@example.it" not in text and "The archive is empty." in text


def test_archive_page_link_is_signed_and_expires(app, client, org, monkeypatch):
    assert client.get("/avacy/archive").status_code == 403
    assert client.get("/avacy/archive?t=forged").status_code == 403
    with app.app_context():
        # another page's signed link (another salt) does not open the archive
        other = tokens.dumps(app.config["SECRET_KEY"], tokens.Salt.OPERATOR,
                             {"org": org.org.id, "page": "avacy.archive"})
        token = archive_token(org.org)
    assert client.get(f"/avacy/archive?t={other}").status_code == 403

    class Later:
        @staticmethod
        def time():
            return _time.time() + 3601

    monkeypatch.setattr(itsdangerous.timed, "time", Later)
    r = client.get(f"/avacy/archive?t={token}")
    assert r.status_code == 410 and "This link has expired" in r.get_data(as_text=True)


# -- CLI and seed-demo ----------------------------------------------------------------------------

def test_cli_webspaces_tokens_and_archive_url(app, client, runner, org):
    r = runner.invoke(args=["avacy", "webspace-create", "--org", org.slug, "--name", "shop"])
    assert r.exit_code == 0, r.output
    space = json.loads(r.output)
    assert space["id"] == 1 and space["name"] == "shop"
    r = runner.invoke(args=["avacy", "webspace-list", "--org", org.slug])
    assert r.output.split() == ["1", space["key"], "shop"]
    r = runner.invoke(args=["avacy", "token-create", "--org", org.slug])
    token = json.loads(r.output)["token"]
    r = client.post(f"/{org.slug}/domains_groups/1/consents", json=DOCUMENTED,
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201
    r = runner.invoke(args=["avacy", "archive-url", "--org", org.slug])
    url = r.output.strip()
    assert url.startswith("http://consent.test/avacy/archive?t=")
    assert "test@email.it" in client.get(page_path(url)).get_data(as_text=True)
    r = runner.invoke(args=["avacy", "webspace-create", "--org", "nobody"])
    assert r.exit_code == 1 and "no organisation" in r.output


def test_seed_demo_gives_a_working_avacy_section(app, client, runner):
    r = runner.invoke(args=["seed-demo", "--json"])
    assert r.exit_code == 0, r.output
    seed = json.loads(r.output)["avacy"]
    assert seed["tenant"] == "demo"
    assert seed["domains_group_id"] == seed["webspace_id"] == 1
    headers = {"Accept": "application/json", "Authorization": f"Bearer {seed['token']}"}
    r = client.post("/demo/domains_groups/1/consents", json=DOCUMENTED, headers=headers)
    assert r.status_code == 201
    r = client.get(f"/wp/validate/demo/{seed['webspace_key']}")
    assert r.json == {"id": 1}
    assert client.get(f"/wp/validate/demo/{seed['webspace_key']}/{seed['token']}").json[
        "valid"] is True
    assert "test@email.it" in client.get(page_path(seed["archive_url"])).get_data(as_text=True)
    # a second run keeps webspace 1 and its key, with a fresh token
    again = json.loads(runner.invoke(args=["seed-demo", "--json"]).output)["avacy"]
    assert again["webspace_key"] == seed["webspace_key"] and again["token"] != seed["token"]
    assert ledger.get_org("demo") is not None


def test_nul_in_a_search_is_no_database_error(app, client, org, tenant):
    r = client.get("/ledger/v1/avacy/consents?identifier=a%00b", headers=org.headers())
    assert r.status_code == 422 and r.json["code"] == 422
    assert archive_page(app, client, org, "&identifier=a%00b").status_code == 200
