"""The console's providers view: each dialect's configuration on its own page, with the
organisation's real records (seeded through the dialects' own APIs and helpers), the Veriff
decide buttons (the decision, its audit event, the decision webhook received on loopback), the
Attestr export button (the job and its audit event), truConsent's asset form; another
organisation's records never shown, another's ids 404, forms without their CSRF token 403, bad
query parameters 400."""
from __future__ import annotations

import json
import re

import pytest

from consent.core import auth, outbox
from consent.core.storage import AuditEvent
from consent.dialects.attestr import queries as attestr_queries
from consent.dialects.truconsent import points
from consent.dialects.veriff.service import create_integration
from tests.attestr_helpers import Client as AttestrClient, register
from tests.avacy_helpers import DOCUMENTED, Tenant
from tests.console_helpers import csrf_of, make_operator, sign_in
from tests.receiver import Receiver
from tests.truconsent_helpers import create_link, make_cp
from tests.veriff_helpers import Integration

BASE = "/console/o/{slug}/providers"


@pytest.fixture
def ops(app, client, org):
    make_operator(org.org.id)
    sign_in(client, app)
    return client


def page(client, org, sub="", **params):
    response = client.get(BASE.format(slug=org.slug) + sub, query_string=params)
    return response, response.get_data(as_text=True)


def csrf(client, org, sub=""):
    return csrf_of(client.get(BASE.format(slug=org.slug) + sub).data)


def events(org_id, action) -> list:
    return list(AuditEvent.select().where(AuditEvent.org == org_id, AuditEvent.action == action)
                .order_by(AuditEvent.seq))


def last_event(org_id, action):
    found = events(org_id, action)
    assert found, f"no {action} event"
    return found[-1]


# -- the index and the sign-in --------------------------------------------------------------------

def test_not_signed_in_is_sent_to_sign_in(client, org):
    for sub in ("", "/veriff", "/attestr", "/avacy", "/truconsent"):
        response = client.get(BASE.format(slug=org.slug) + sub)
        assert response.status_code == 303
        assert response.headers["Location"].endswith("/console/sign-in")


def test_index_links_every_provider(ops, org):
    response, html = page(ops, org)
    assert response.status_code == 200
    assert html.count("<h1>") == 1
    for sub, label in (("truconsent", "truConsent"), ("veriff", "Veriff"), ("avacy", "Avacy"),
                       ("attestr", "Attestr")):
        assert f'href="/console/o/{org.slug}/providers/{sub}">{label}</a>' in html


# -- Veriff ---------------------------------------------------------------------------------------

def test_veriff_integrations_and_sessions_never_the_secret(ops, client, org, other_org):
    integ = Integration(org.org, name="Shop KYC")
    theirs = Integration(other_org.org, name="Globex KYC")
    sid = integ.create_session(client)
    their_sid = theirs.create_session(client)
    response, html = page(ops, org, "/veriff")
    assert response.status_code == 200
    assert "Shop KYC" in html and sid in html
    assert integ.secret not in html and integ.key not in html
    assert auth.credential(integ.id).key_prefix + "…" in html
    assert "Globex KYC" not in html and their_sid not in html
    assert 'badge created">created</span>' in html
    assert html.count(f'action="/console/o/{org.slug}/providers/veriff/sessions/{sid}/decision"') == 3


def test_veriff_decide_button_decides_and_sends_the_webhook(app, ops, client, org, monkeypatch):
    monkeypatch.setattr(outbox, "POLICY", outbox.Policy(
        max_attempts=3, backoff_base=0.05, backoff_cap=0.2, timeout=2, poll_interval=0.05))
    with Receiver() as rx:
        issued = create_integration(org.org, name="hooked",
                                    decision_url=rx.url + "/decisions")
        integ = Integration.__new__(Integration)
        integ.key, integ.secret, integ.id = (issued.key, issued.shared_secret,
                                             issued.credential.id)
        sid = integ.create_session(client)
        path = f"{BASE.format(slug=org.slug)}/veriff/sessions/{sid}/decision"
        response = ops.post(path, data={"csrf": csrf(ops, org, "/veriff"),
                                        "status": "declined"})
        assert response.status_code == 303
        assert f"decided={sid}:declined" in response.headers["Location"]
        [got] = rx.wait_for(1)
    body = json.loads(got.body)
    assert got.path == "/decisions"
    assert body["verification"]["id"] == sid
    assert (body["verification"]["status"], body["verification"]["code"]) == ("declined", 9102)
    assert body["verification"]["reasonCode"] == 102
    event = last_event(org.org.id, "veriff.session.decided")
    assert event.actor == "console:ops@example.com"
    assert event.payload["status"] == "declined" and event.payload["via"] == "console"
    # what GET /v1/sessions/{id}/decision answers
    decision = integ.get(client, f"/v1/sessions/{sid}/decision", sid)
    assert decision.json["verification"]["status"] == "declined"
    # the page shows it, final: no buttons any more; deciding again is a conflict
    _, html = page(ops, org, "/veriff")
    assert 'badge declined">declined</span>' in html and "9102" in html
    assert f"/veriff/sessions/{sid}/decision" not in html
    again = ops.post(path, data={"csrf": csrf(ops, org, "/veriff"), "status": "approved"})
    assert again.status_code == 409
    assert "already declined" in again.get_data(as_text=True)


def test_veriff_decide_errors(ops, client, org, other_org):
    mine = Integration(org.org).create_session(client)
    theirs = Integration(other_org.org).create_session(client)
    token = csrf(ops, org, "/veriff")
    base = f"{BASE.format(slug=org.slug)}/veriff/sessions"
    # another organisation's session: 404, and it stays undecided
    response = ops.post(f"{base}/{theirs}/decision", data={"csrf": token, "status": "approved"})
    assert response.status_code == 404
    assert not events(other_org.org.id, "veriff.session.decided")
    assert ops.post(f"{base}/nope/decision", data={"csrf": token,
                                                   "status": "approved"}).status_code == 404
    # no or a wrong CSRF token: 403, nothing decided
    assert ops.post(f"{base}/{mine}/decision", data={"status": "approved"}).status_code == 403
    assert ops.post(f"{base}/{mine}/decision",
                    data={"csrf": "x" + token, "status": "approved"}).status_code == 403
    # a decision the buttons do not offer: 422
    for status in ("expired", "review", "", "approved\x00"):
        response = ops.post(f"{base}/{mine}/decision", data={"csrf": token, "status": status})
        assert response.status_code == 422, status
    assert not events(org.org.id, "veriff.session.decided")


def test_veriff_sessions_keyset_pages(ops, client, org):
    integ = Integration(org.org)
    sids = [integ.create_session(client) for _ in range(5)]
    seen, params = [], {"limit": "2"}
    for _ in range(4):
        response, html = page(ops, org, "/veriff", **params)
        assert response.status_code == 200
        seen += [s for s in sids if s in html]
        found = re.search(r'href="[^"]*before=([^"&]+)&amp;limit=2">Older sessions', html)
        if not found:
            break
        params = {"limit": "2", "before": found.group(1)}
    assert sorted(seen) == sorted(sids) and len(seen) == 5


@pytest.mark.parametrize("query", [
    "before=not-a-cursor", "before=" + "x" * 500, "before=%00", "before=%ED%A0%80",
    "before=MjAyNi0xMi0wM1QxOTowMDowMCswMDowMHxhYmM", "before=fHg", "limit=0", "limit=-1",
    "limit=99999999999999999999", "limit=abc", "limit=201", "limit=%00", "limit=%EF%BC%91"])
def test_bad_query_parameters_are_422(ops, org, query):
    """A cursor these pages did not issue (one with a time zone, one without a time), a page
    size outside 1..200: the error page, 422, never a 5xx."""
    for sub in ("/veriff", "/attestr") if query.startswith("before") else (
            "/veriff", "/attestr", "/avacy"):
        response = ops.get(f"{BASE.format(slug=org.slug)}{sub}?{query}")
        assert response.status_code == 422, (sub, query)
        assert "Cannot do that" in response.get_data(as_text=True)


# -- Attestr --------------------------------------------------------------------------------------

def test_attestr_clients_consents_and_export_button(ops, client, org, other_org):
    mine = AttestrClient(org.org)
    theirs = AttestrClient(other_org.org)
    consent_id = register(client, mine).json["_id"]
    their_consent = register(client, theirs).json["_id"]
    response, html = page(ops, org, "/attestr")
    assert response.status_code == 200
    assert "test client" in html and mine.id in html and "BANK_ACC, PAN" in html
    assert mine.issued.auth_token not in html
    assert consent_id in html and 'badge active">active</span>' in html
    assert their_consent not in html and theirs.id not in html
    assert "No exports yet." in html
    # the export button: the job (pending), its audit event naming the operator
    path = f"{BASE.format(slug=org.slug)}/attestr/consents/{consent_id}/export"
    response = ops.post(path, data={"csrf": csrf(ops, org, "/attestr")})
    assert response.status_code == 303
    [job] = attestr_queries.JOBS_OF_ORG.all((org.org.id, 10))
    assert job.attestr_consent_id == consent_id and job.client_id == mine.id
    assert f"exported={job.number}" in response.headers["Location"]
    event = last_event(org.org.id, "attestr.export.requested")
    assert event.actor == "console:ops@example.com" and event.entity_id == job.id
    # what the client's async API answers about it
    polled = client.get(f"/api/v3/public/common/async/{job.id}", headers=mine.headers())
    assert polled.status_code == 200 and polled.json["consentId"] == consent_id
    _, html = page(ops, org, "/attestr")
    assert job.number in html and job.id in html
    # another organisation's consent: 404, no job; without CSRF: 403
    other = f"{BASE.format(slug=org.slug)}/attestr/consents/{their_consent}/export"
    assert ops.post(other, data={"csrf": csrf(ops, org, "/attestr")}).status_code == 404
    assert attestr_queries.JOBS_OF_ORG.all((other_org.org.id, 10)) == []
    assert ops.post(path, data={}).status_code == 403
    assert len(attestr_queries.JOBS_OF_ORG.all((org.org.id, 10))) == 1


def test_attestr_consents_keyset_pages(ops, client, org):
    mine = AttestrClient(org.org)
    ids = [register(client, mine).json["_id"] for _ in range(5)]
    seen, params = [], {"limit": "2"}
    for _ in range(4):
        _, html = page(ops, org, "/attestr", **params)
        seen += [i for i in ids if f'<span class="mono">{i}</span></th>' in html]
        found = re.search(r'href="[^"]*before=([^"&]+)&amp;limit=2">Older consents', html)
        if not found:
            break
        params = {"limit": "2", "before": found.group(1)}
    assert sorted(seen) == sorted(ids) and len(seen) == 5


# -- Avacy ----------------------------------------------------------------------------------------

def test_avacy_webspaces_tokens_and_archive(ops, client, org, other_org):
    tenant = Tenant(org.org)
    theirs = Tenant(other_org.org)
    for email in ("ada@example.com", "bob@example.com"):
        body = {**DOCUMENTED, "subject": {**DOCUMENTED["subject"], "email": email}}
        assert tenant.post_json(client, "domains_groups", body).status_code == 201
    their_body = {**DOCUMENTED, "subject": {**DOCUMENTED["subject"], "email": "zed@globex.test"}}
    assert theirs.post_json(client, "domains_groups", their_body).status_code == 201
    response, html = page(ops, org, "/avacy")
    assert response.status_code == 200
    assert tenant.webspace.key in html and ">site</td>" in html
    assert theirs.webspace.key not in html
    assert tenant.token not in html
    [cred] = [c for c in auth.credentials(org.org.id, "api_key")
              if c.name == "avacy token"]
    assert f"{cred.key_prefix}…" in html   # its prefix only
    assert "ada@example.com" in html and "bob@example.com" in html
    assert "zed@globex.test" not in html
    assert "newsletter" in html and 'badge granted">granted</span>' in html
    assert 'badge granted">intact</span>' in html
    # searched by identifier (query string)
    _, html = page(ops, org, "/avacy", identifier="ada@example.com")
    assert "ada@example.com" in html and "bob@example.com" not in html
    _, html = page(ops, org, "/avacy", identifier="zed@globex.test")
    assert "zed@globex.test" not in html.split('id="archive-h"')[1].split("</form>")[1]
    assert "No entry for this identifier." in html
    # a revoked token is listed as revoked, never shown
    issued = auth.create_credential(org.org.id, name="old token", scopes=("consent",))
    auth.revoke_credential(org.org.id, issued.credential.id)
    _, html = page(ops, org, "/avacy")
    assert "old token" in html and issued.key not in html
    assert 'badge revoked">revoked</span>' in html


def test_avacy_archive_pages_and_bad_params(ops, client, org):
    tenant = Tenant(org.org)
    for n in range(3):
        body = {**DOCUMENTED, "subject": {**DOCUMENTED["subject"], "email": f"p{n}@ex.test"}}
        assert tenant.post_json(client, "domains_groups", body).status_code == 201
    _, html = page(ops, org, "/avacy", limit="2")
    assert "p2@ex.test" in html and "p1@ex.test" in html and "p0@ex.test" not in html
    cursor = re.search(r'cursor=([^"&]+)&amp;limit=2">Older entries', html).group(1)
    _, html = page(ops, org, "/avacy", limit="2", cursor=cursor)
    assert "p0@ex.test" in html and "p2@ex.test" not in html
    for query in ("cursor=nope", "cursor=%00", "identifier=a%00b", "identifier=" + "x" * 1000,
                  "limit=0"):
        response = ops.get(f"{BASE.format(slug=org.slug)}/avacy?{query}")
        assert response.status_code == 422, query
    # bytes that are not UTF-8 arrive replaced (U+FFFD): an identifier nobody has
    response = ops.get(f"{BASE.format(slug=org.slug)}/avacy?identifier=%ED%A0%80")
    assert response.status_code == 200
    assert "No entry for this identifier." in response.get_data(as_text=True)


# -- truConsent -----------------------------------------------------------------------------------

def test_truconsent_assets_points_and_links(app, ops, client, org, other_org):
    cpf = make_cp(org.org, title="Sign-up")
    points.update_asset(org.org, cpf.asset.id, {"allowed_origins": ["https://shop.example"]})
    theirs = make_cp(other_org.org, title="Globex banner")
    link = create_link(client, org, cpf)
    response, html = page(ops, org, "/truconsent")
    assert response.status_code == 200
    assert cpf.asset.display_id in html and "Web app" in html
    assert "https://shop.example" in html
    assert cpf.cp.display_id in html and "Sign-up" in html and "We use your phone number." in html
    for purpose in cpf.cp.purposes:
        assert purpose["id"] in html and purpose["name"] in html
    assert "Globex banner" not in html and theirs.cp.id not in html
    assert link["request_id"] in html and "+*********210" in html and "9876543210" not in html
    token = link["consent_link"].rsplit("t=", 1)[1]
    assert token not in html and link["consent_link"] not in html   # no link token


def test_truconsent_create_asset(ops, org, other_org):
    path = f"{BASE.format(slug=org.slug)}/truconsent/assets"
    token = csrf(ops, org, "/truconsent")
    response = ops.post(path, data={"csrf": token, "name": "Mobile app", "display_id": "APP1",
                                    "asset_type": "mobile_app",
                                    "allowed_origins": "https://m.example\n\n"})
    assert response.status_code == 303
    assert "created=APP1" in response.headers["Location"]
    asset = points.find_asset(org.org, "APP1")
    assert (asset.name, asset.asset_type, asset.allowed_origins) == (
        "Mobile app", "mobile_app", ["https://m.example"])
    assert points.find_asset(other_org.org, "APP1") is None
    event = last_event(org.org.id, "truconsent.asset.created")
    assert event.actor == "console:ops@example.com" and event.entity_id == asset.id
    _, html = page(ops, org, "/truconsent", created="APP1")
    assert "Asset APP1 created." in html and "https://m.example" in html
    # again: 409, the form kept; bad input: 422; no CSRF: 403
    again = ops.post(path, data={"csrf": token, "name": "Other", "display_id": "APP1"})
    assert again.status_code == 409 and "already exists" in again.get_data(as_text=True)
    assert 'value="Other"' in again.get_data(as_text=True)
    for bad in ({"name": ""}, {"name": "x" * 300}, {"name": "ok", "allowed_origins": "nope"},
                {"name": "a\x00"}, {"name": "ok", "display_id": "y" * 40}):
        response = ops.post(path, data={"csrf": token, **bad})
        assert response.status_code == 422, bad
    assert ops.post(path, data={"name": "No csrf"}).status_code == 403
    assert len(points.assets(org.org)) == 1
