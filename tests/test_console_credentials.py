"""The console's credentials view (Flask test client): API keys, Veriff integrations, Attestr
clients, operator tokens and members, listed with their real values; each create shows its
secret once (in the POST's answer, never again, never in a URL) and works on the API; each
revoke asks first, then refuses the credential on the API; removing a member signs them out on
their next request (two clients); every change has its audit event naming the operator; CSRF,
bad input and another organisation's records."""
from __future__ import annotations

import json

import pytest

from consent.core import auth
from consent.core.storage import AuditEvent
from consent.dialects.attestr import clients as attestr_clients
from consent.dialects.veriff import service as veriff_service
from tests.attestr_helpers import body as attestr_body
from tests.console_helpers import csrf_of, make_operator, sign_in
from tests.receiver import Receiver

EMAIL = "ops@example.com"
ACTOR = f"console:{EMAIL}"



def events(org, action):
    return list(AuditEvent.select().where((AuditEvent.org == org.org.id)
                                          & (AuditEvent.action == action))
                .order_by(AuditEvent.seq))


def path(org, rest=""):
    return f"/console/o/{org.slug}/credentials{rest}"


def view(client, org):
    r = client.get(path(org))
    assert r.status_code == 200, r.status_code
    return r.get_data(as_text=True)


def post(client, org, rest, data=None):
    csrf = csrf_of(client.get(path(org)).data)
    return client.post(path(org, rest), data={"csrf": csrf, **(data or {})})


def api(client, org, key):
    return client.get("/ledger/v1/audit?limit=1", headers=org.headers(key))


def test_not_signed_in_goes_to_sign_in(client, org):
    for method, rest in (("get", ""), ("post", "/keys"), ("post", "/x/revoke")):
        r = getattr(client, method)(path(org, rest))
        assert r.status_code == 303 and r.headers["Location"].endswith("/console/sign-in")


def test_lists_every_kind_with_its_values_and_nothing_of_another_org(app, signed_in, org,
                                                                       other_org):
    integration = veriff_service.create_integration(org.org, name="zz-veriff-int",
                                                    decision_url="http://127.0.0.1:9/decide")
    client_ = attestr_clients.create_client(org.org, name="zz-attestr-app",
                                            services=["BANK_ACC", "PAN"],
                                            webhook_url="http://127.0.0.1:9/attestr")
    auth.create_credential(other_org.org.id, name="zz-globex-key")
    veriff_service.create_integration(other_org.org, name="zz-globex-veriff")
    attestr_clients.create_client(other_org.org, name="zz-globex-attestr")
    make_operator(other_org.org.id, "zz-globex-op@example.com")
    html = view(signed_in, org)
    admin = auth.find_credential(org.admin_key)
    assert admin.key_prefix + "…" in html and ">admin<" in html and "admin, consent" in html
    assert auth.find_credential(org.consent_key).key_prefix in html
    assert "zz-veriff-int" in html and integration.credential.id in html
    assert "http://127.0.0.1:9/decide" in html and integration.credential.key_prefix in html
    assert "zz-attestr-app" in html and client_.client_key in html and "BANK_ACC, PAN" in html
    assert "http://127.0.0.1:9/attestr" in html
    (token,) = auth.member_tokens(org.org.id)
    assert "…" + token["hint"] in html and "this session" in html
    assert f">{EMAIL} <span class=\"badge current\">you<" in html
    # the secrets are never on the page
    for secret in (org.admin_key, org.consent_key, integration.key, integration.shared_secret,
                   client_.client_secret, client_.auth_token, client_.webhook_token):
        assert secret not in html
    for theirs in ("zz-globex", other_org.slug):
        assert theirs not in html


def test_create_api_key_shows_it_once_and_it_works(app, signed_in, org):
    r = post(signed_in, org, "/keys", {"name": "zz-new-key", "scopes": ["admin", "consent"]})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert "Location" not in r.headers
    html = r.get_data(as_text=True)
    (event,) = [e for e in events(org, "credential.created") if e.payload["name"] == "zz-new-key"]
    assert event.actor == ACTOR and event.payload["scopes"] == ["admin", "consent"]
    key = html.split('<code class="secret-value">', 1)[1].split("<", 1)[0]
    assert key.startswith("ck_") and auth.find_credential(key).id == event.entity_id
    assert key not in json.dumps(event.payload)
    assert api(signed_in, org, key).status_code == 200
    listed = view(signed_in, org)
    assert "zz-new-key" in listed and key[:10] in listed and key not in listed


@pytest.mark.parametrize("data,message", [
    ({"name": "", "scopes": ["consent"]}, "Give the name"),
    ({"name": "x", "scopes": []}, "at least one scope"),
    ({"name": "x", "scopes": ["root"]}, "Scopes are"),
    ({"name": "a\x00b", "scopes": ["consent"]}, "not allowed"),
    ({"name": "x" * 201, "scopes": ["consent"]}, "longer than 200"),
])
def test_create_api_key_bad_input_is_422_and_creates_nothing(signed_in, org, data, message):
    before = len(events(org, "credential.created"))
    r = post(signed_in, org, "/keys", data)
    assert r.status_code == 422 and message in r.get_data(as_text=True)
    assert len(events(org, "credential.created")) == before


def test_csrf_is_required_for_every_form(signed_in, org):
    key_id = auth.find_credential(org.consent_key).id
    (token,) = auth.member_tokens(org.org.id)
    user = auth.user_by_email(EMAIL)
    forms = [("/keys", {"name": "x", "scopes": "consent"}), ("/veriff", {"name": "x"}),
             ("/attestr", {"name": "x"}), ("/tokens", {"lifetime": "3600"}),
             (f"/{key_id}/revoke", {"confirm": "yes"}),
             (f"/tokens/{token['id']}/revoke", {"confirm": "yes"}),
             (f"/members/{user.id}/remove", {"confirm": "yes"})]
    before = AuditEvent.select().count()
    for rest, data in forms:
        for csrf in (None, "nope", csrf_of(view(signed_in, org))[:-2] + "xx"):
            sent = data if csrf is None else {"csrf": csrf, **data}
            r = signed_in.post(path(org, rest), data=sent)
            assert r.status_code == 403, (rest, csrf)
    assert AuditEvent.select().count() == before
    assert auth.find_credential(org.consent_key) is not None


def test_revoke_api_key_asks_then_the_key_gets_401(app, signed_in, org):
    key = auth.create_credential(org.org.id, name="zz-doomed", scopes=("admin", "consent"))
    assert api(signed_in, org, key.key).status_code == 200
    rest = f"/{key.credential.id}/revoke"
    r = post(signed_in, org, rest)
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "Revoke the API key “zz-doomed”?" in html
    assert 'name="confirm" value="yes"' in html
    assert api(signed_in, org, key.key).status_code == 200   # asking revoked nothing
    assert events(org, "credential.revoked") == []
    r = post(signed_in, org, rest, {"confirm": "yes"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/credentials?done=revoked")
    (event,) = events(org, "credential.revoked")
    assert event.actor == ACTOR and event.entity_id == key.credential.id
    denied = api(signed_in, org, key.key)
    assert denied.status_code == 401
    html = signed_in.get(r.headers["Location"]).get_data(as_text=True)
    assert "The credential is revoked" in html and ">revoked<" in html
    # revoking again changes nothing
    assert post(signed_in, org, rest, {"confirm": "yes"}).status_code == 303
    assert len(events(org, "credential.revoked")) == 1


def test_revoke_another_orgs_credential_is_404(signed_in, org, other_org):
    theirs = auth.create_credential(other_org.org.id, name="zz-globex-key")
    for rest in (f"/{theirs.credential.id}/revoke", "/no-such-id/revoke", "/a%00b/revoke",
                 "/" + "a" * 37 + "/revoke"):
        for data in ({}, {"confirm": "yes"}):
            r = post(signed_in, org, rest, data)
            assert r.status_code == 404, rest
            assert "zz-globex-key" not in r.get_data(as_text=True)
    assert auth.find_credential(theirs.key) is not None
    assert events(other_org, "credential.revoked") == []


def test_create_and_revoke_a_veriff_integration(app, client, signed_in, org):
    with Receiver() as rx:
        r = post(signed_in, org, "/veriff", {"name": "zz-int", "event_url": rx.url + "/ev",
                                              "decision_url": ""})
        assert r.status_code == 200
        html = r.get_data(as_text=True)
        key, secret = [v.split("<", 1)[0] for v in
                       html.split('<code class="secret-value">')[1:]]
        cred = auth.find_credential(key, kind="hmac")
        assert cred is not None and cred.shared_secret == secret and cred.name == "zz-int"
        (created,) = [e for e in events(org, "credential.created") if e.entity_id == cred.id]
        (hooks,) = events(org, "veriff.integration.webhooks")
        assert created.actor == hooks.actor == ACTOR
        assert hooks.payload["event_webhook_url"] == rx.url + "/ev"
        # it works on Veriff's API: a session, signed with the shared secret
        from tests.veriff_helpers import dumps, sign

        payload = dumps({"verification": {"vendorData": "zz"}})
        ok = client.post("/v1/sessions", data=payload, headers={
            "X-AUTH-CLIENT": key, "X-HMAC-SIGNATURE": sign(secret, payload),
            "Content-Type": "application/json"})
        assert ok.status_code == 201
        listed = view(signed_in, org)
        assert "zz-int" in listed and rx.url + "/ev" in listed and secret not in listed
        post(signed_in, org, f"/{cred.id}/revoke", {"confirm": "yes"})
        denied = client.post("/v1/sessions", data=payload, headers={
            "X-AUTH-CLIENT": key, "X-HMAC-SIGNATURE": sign(secret, payload),
            "Content-Type": "application/json"})
        assert denied.status_code == 401


def test_veriff_integration_with_a_refused_url_is_422(signed_in, org):
    before = len(events(org, "credential.created"))
    r = post(signed_in, org, "/veriff", {"name": "x", "event_url": "ftp://example.com/x"})
    assert r.status_code == 422 and "http(s) URL" in r.get_data(as_text=True)
    assert len(events(org, "credential.created")) == before


def test_create_and_revoke_an_attestr_client(app, client, signed_in, org):
    r = post(signed_in, org, "/attestr", {"name": "zz-app", "services": "BANK_ACC, PAN",
                                           "ips": "127.0.0.1", "credits": "5",
                                           "webhook_url": "http://127.0.0.1:9/a"})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    token, secret, webhook_token = [v.split("<", 1)[0] for v in
                                    html.split('<code class="secret-value">')[1:]]
    (event,) = events(org, "attestr.client.created")
    assert event.actor == ACTOR and event.payload["services"] == ["BANK_ACC", "PAN"]
    assert event.payload["ip_allowlist"] == ["127.0.0.1"] and event.payload["credits"] == 5
    assert webhook_token not in json.dumps(event.payload)
    register = "/api/v3/public/consent/register"
    ok = client.post(register, json=attestr_body(), headers={"Authorization": f"Basic {token}"})
    assert ok.status_code == 200 and ok.json["_id"], ok.get_data(as_text=True)
    listed = view(signed_in, org)
    assert "zz-app" in listed and secret not in listed and token not in listed
    post(signed_in, org, f"/{event.entity_id}/revoke", {"confirm": "yes"})
    denied = client.post(register, json=attestr_body(),
                         headers={"Authorization": f"Basic {token}"})
    assert denied.status_code == 401


@pytest.mark.parametrize("data,message", [
    ({"name": "x", "services": "bank acc"}, "service codes"),
    ({"name": "x", "ips": "not-an-ip"}, "not an IP"),
    ({"name": "x", "credits": "-1"}, "credits"),
    ({"name": "x", "credits": "99999999999999999999"}, "credits"),
    ({"name": "x", "webhook_url": "http://169.254.169.254/x"}, "refused"),
])
def test_attestr_client_bad_input_is_422(signed_in, org, data, message):
    r = post(signed_in, org, "/attestr", data)
    assert r.status_code == 422 and message in r.get_data(as_text=True)
    assert events(org, "attestr.client.created") == []


def test_operator_token_created_once_and_revoked(app, client, signed_in, org):
    r = post(signed_in, org, "/tokens", {"lifetime": "3600"})
    assert r.status_code == 200
    token = r.get_data(as_text=True).split('<code class="secret-value">', 1)[1].split("<", 1)[0]
    session = auth.session_for_token(app.config["SECRET_KEY"], token,
                                     app.config["CONSENT_SESSION_MAX_AGE"])
    (event,) = events(org, "session_token.created")
    assert event.actor == ACTOR and event.entity_id == session.id
    assert event.payload["email"] == EMAIL
    listed = view(signed_in, org)
    assert "…" + session.hint in listed and token not in listed
    # revoking it (not this session) leaves the console signed in
    post(signed_in, org, f"/tokens/{session.id}/revoke", {"confirm": "yes"})
    (revoked,) = events(org, "session_token.revoked")
    assert revoked.actor == ACTOR and revoked.entity_id == session.id
    assert auth.member_token(org.org.id, session.id)["status"] == "revoked"
    assert signed_in.get(path(org)).status_code == 200
    for bad in ({"lifetime": "5"}, {"lifetime": ""}, {"lifetime": "99999999999"}):
        assert post(signed_in, org, "/tokens", bad).status_code == 422
    assert len(events(org, "session_token.created")) == 1


def test_revoking_the_current_session_signs_out(signed_in, org):
    (token,) = auth.member_tokens(org.org.id)
    rest = f"/tokens/{token['id']}/revoke"
    html = post(signed_in, org, rest).get_data(as_text=True)
    assert "revoking it signs you out" in html
    r = post(signed_in, org, rest, {"confirm": "yes"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/console/sign-in")
    assert "console_session=;" in r.headers["Set-Cookie"]
    (event,) = events(org, "session_token.revoked")
    assert event.entity_id == token["id"]
    assert signed_in.get(path(org)).status_code == 303


def test_removed_member_is_signed_out_on_their_next_request(app, signed_in, org):
    make_operator(org.org.id, "zz-second@example.com", "Second")
    second = app.test_client()
    sign_in(second, app, "zz-second@example.com")
    assert second.get(path(org)).status_code == 200
    html = view(signed_in, org)
    assert "zz-second@example.com" in html and "Second" in html
    user = auth.user_by_email("zz-second@example.com")
    asked = post(signed_in, org, f"/members/{user.id}/remove").get_data(as_text=True)
    assert "Remove zz-second@example.com from" in asked
    assert second.get(path(org)).status_code == 200    # asking removed nobody
    r = post(signed_in, org, f"/members/{user.id}/remove", {"confirm": "yes"})
    assert r.status_code == 303 and r.headers["Location"].endswith("done=member-removed")
    (event,) = events(org, "member.removed")
    assert event.actor == ACTOR and event.entity_id == user.id
    assert len(event.payload["tokens_revoked"]) == 1
    gone = second.get(path(org))                       # a member nowhere now: signed out
    assert gone.status_code == 303 and gone.headers["Location"].endswith("/console/sign-in")
    assert second.get("/console/").headers["Location"].endswith("/console/sign-in")
    assert "zz-second@example.com" not in view(signed_in, org)


def test_removing_yourself_signs_you_out_here(signed_in, org):
    me = auth.user_by_email(EMAIL)
    html = post(signed_in, org, f"/members/{me.id}/remove").get_data(as_text=True)
    assert "You are removing yourself" in html
    r = post(signed_in, org, f"/members/{me.id}/remove", {"confirm": "yes"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/console/")
    assert signed_in.get(path(org)).headers["Location"].endswith("/console/sign-in")
    assert events(org, "member.removed")[0].actor == ACTOR


def test_another_orgs_member_and_token_are_404(app, signed_in, org, other_org):
    theirs = make_operator(other_org.org.id, "zz-globex-op@example.com")
    row, _token = auth.issue_session(app.config["SECRET_KEY"], theirs, 3600,
                                     app.config["CONSENT_SESSION_MAX_AGE"])
    for rest in (f"/members/{theirs.id}/remove", f"/tokens/{row.id}/revoke",
                 "/members/x%00y/remove", "/tokens/x%00y/revoke"):
        for data in ({}, {"confirm": "yes"}):
            r = post(signed_in, org, rest, data)
            assert r.status_code == 404, rest
            assert "zz-globex" not in r.get_data(as_text=True)
    assert events(other_org, "member.removed") == []
    assert auth.member_token(other_org.org.id, row.id)["status"] == "active"
