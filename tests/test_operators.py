"""Operators and their bearer session tokens: list, revoke and remove, through the admin API
(scoped to the key's organisation) and the CLI (the instance's operator, everywhere), each
effective on the next request, each one transaction with its audit event."""
from __future__ import annotations

import json

import pytest

from consent.core import auth
from consent.core.storage import AuditEvent, SessionToken, SessionTokenRevocation

PROBE = "/api/consent/consent-links/history"   # a route an operator's token opens (truConsent)
SERVICE_ERROR = {"code", "status", "message"}


class Operator:
    """A user, member of the given organisations, with one token."""

    def __init__(self, app, email, *orgs, lifetime=3600):
        self.app = app
        self.user = auth.create_user(email)
        for org in orgs:
            auth.add_member(org.org.id, self.user)
        self.token_id, self.token = self.issue(lifetime)

    def issue(self, lifetime=3600):
        row, token = auth.issue_session(self.app.config["SECRET_KEY"], self.user, lifetime,
                                        self.app.config["CONSENT_SESSION_MAX_AGE"])
        return row.id, token

    @staticmethod
    def headers(token, org):
        return {"Authorization": f"Bearer {token}", "X-Org-Id": org.slug}


def probe(client, token, org):
    return client.get(PROBE, headers=Operator.headers(token, org))


def events(org, action):
    return list(AuditEvent.select().where((AuditEvent.org == org.org.id)
                                          & (AuditEvent.action == action))
                .order_by(AuditEvent.seq))


def verified(client, org):
    r = client.get("/ledger/v1/audit/verify", headers=org.headers())
    assert r.status_code == 200 and r.json["ok"], r.json
    return r.json


@pytest.fixture
def both(app, org, other_org):
    """An operator of acme and globex (one token), one of acme only, one of globex only."""
    return (Operator(app, "both@example.com", org, other_org),
            Operator(app, "acme-op@example.com", org),
            Operator(app, "globex-op@example.com", other_org))


# -- listing ---------------------------------------------------------------------------------------

def test_members_list_is_the_organisations_own(client, org, other_org, both):
    shared, acme_only, _ = both
    r = client.get("/ledger/v1/members", headers=org.headers())
    assert r.status_code == 200
    assert [(m["email"], m["role"], m["user_id"]) for m in r.json["items"]] == [
        ("both@example.com", "admin", shared.user.id),
        ("acme-op@example.com", "admin", acme_only.user.id)]
    assert set(r.json["items"][0]) == {"user_id", "email", "name", "role", "created_at"}
    one = client.get("/ledger/v1/members?email=ACME-OP@example.com", headers=org.headers())
    assert one.status_code == 200 and [m["email"] for m in one.json["items"]] == [
        "acme-op@example.com"]
    theirs = client.get("/ledger/v1/members?email=globex-op@example.com", headers=org.headers())
    assert theirs.status_code == 200 and theirs.json["items"] == []


def test_tokens_list_shows_members_tokens_never_the_token(client, org, other_org, both):
    shared, acme_only, globex_only = both
    second_id, second = acme_only.issue()
    r = client.get("/ledger/v1/tokens", headers=org.headers())
    assert r.status_code == 200
    items = r.json["items"]
    assert {t["id"] for t in items} == {shared.token_id, acme_only.token_id, second_id}
    assert items[0]["id"] == second_id  # newest first
    text = r.get_data(as_text=True)
    for token in (shared.token, acme_only.token, second, globex_only.token):
        assert token not in text
    assert globex_only.token_id not in text and "globex-op@example.com" not in text
    by_id = {t["id"]: t for t in items}
    assert by_id[second_id] == {
        "id": second_id, "user_id": acme_only.user.id, "email": "acme-op@example.com",
        "hint": second[-6:], "created_at": by_id[second_id]["created_at"],
        "expires_at": by_id[second_id]["expires_at"], "revoked_at": None, "status": "active"}
    stored = SessionToken.get_by_id(second_id)
    assert stored.hint == second[-6:] and second not in (stored.token_hash, stored.id)
    mine = client.get(f"/ledger/v1/tokens?user_id={acme_only.user.id}", headers=org.headers())
    assert {t["id"] for t in mine.json["items"]} == {acme_only.token_id, second_id}
    by_email = client.get("/ledger/v1/tokens?email=both@example.com", headers=org.headers())
    assert [t["id"] for t in by_email.json["items"]] == [shared.token_id]
    limited = client.get("/ledger/v1/tokens?limit=1", headers=org.headers())
    assert [t["id"] for t in limited.json["items"]] == [second_id]
    # another organisation's member asked for by id or email: nothing
    for query in (f"user_id={globex_only.user.id}", "email=globex-op@example.com"):
        r = client.get(f"/ledger/v1/tokens?{query}", headers=org.headers())
        assert r.status_code == 200 and r.json["items"] == []


def test_tokens_list_filters_by_status(app, client, org, both, monkeypatch):
    shared, acme_only, _ = both
    short_id, _ = acme_only.issue(lifetime=1)
    SessionToken.update(expires_at=SessionToken.created_at).where(
        SessionToken.id == short_id).execute()
    assert client.post(f"/ledger/v1/tokens/{shared.token_id}/revoke",
                       headers=org.headers()).status_code == 200

    def ids(status):
        r = client.get(f"/ledger/v1/tokens?status={status}", headers=org.headers())
        assert r.status_code == 200
        assert {t["status"] for t in r.json["items"]} <= {status}
        return {t["id"] for t in r.json["items"]}

    assert ids("active") == {acme_only.token_id}
    assert ids("expired") == {short_id}
    assert ids("revoked") == {shared.token_id}


def test_token_and_member_queries_are_validated(client, org):
    for query in ("status=gone", "limit=0", "limit=1001", "user_id=", "email=",
                  "user_id=" + "x" * 37):
        r = client.get(f"/ledger/v1/tokens?{query}", headers=org.headers())
        assert r.status_code == 422, (query, r.json)
        assert SERVICE_ERROR <= set(r.json) and r.json["code"] == 422
    r = client.get("/ledger/v1/members?email=" + "x" * 255, headers=org.headers())
    assert r.status_code == 422 and r.json["code"] == 422


# -- revoking for one organisation -----------------------------------------------------------------

def test_revoke_stops_the_token_here_on_the_next_request_not_elsewhere(client, org, other_org,
                                                                       both):
    shared, _, _ = both
    assert probe(client, shared.token, org).status_code == 200
    assert probe(client, shared.token, other_org).status_code == 200
    r = client.post(f"/ledger/v1/tokens/{shared.token_id}/revoke", headers=org.headers())
    assert r.status_code == 200
    assert r.json["status"] == "revoked" and r.json["revoked_at"] is not None
    assert r.json["id"] == shared.token_id and shared.token not in r.get_data(as_text=True)
    refused = probe(client, shared.token, org)
    assert refused.status_code == 401
    assert refused.json == {"detail": "Invalid or expired auth token"}
    # globex decides for itself: the token still works there, and globex sees it active
    assert probe(client, shared.token, other_org).status_code == 200
    theirs = client.get("/ledger/v1/tokens", headers=other_org.headers()).json["items"]
    assert [(t["id"], t["status"]) for t in theirs if t["id"] == shared.token_id] == [
        (shared.token_id, "active")]
    # one audit event, in acme's chain only, naming the key that did it
    (event,) = events(org, "session_token.revoked")
    assert event.entity_id == shared.token_id and event.actor.startswith("credential:")
    assert event.payload == {"user_id": shared.user.id, "email": "both@example.com",
                             "scope": "organisation"}
    assert events(other_org, "session_token.revoked") == []
    verified(client, org)


def test_revoking_again_changes_nothing(client, org, both):
    shared, _, _ = both
    first = client.post(f"/ledger/v1/tokens/{shared.token_id}/revoke", headers=org.headers())
    again = client.post(f"/ledger/v1/tokens/{shared.token_id}/revoke", headers=org.headers())
    assert first.status_code == again.status_code == 200
    assert again.json == first.json
    assert len(events(org, "session_token.revoked")) == 1
    assert SessionTokenRevocation.select().count() == 1


def test_revoke_is_404_for_a_token_not_of_this_organisations_members(client, org, other_org,
                                                                     both):
    _, _, globex_only = both
    for token_id in (globex_only.token_id, "0" * 32, "not-a-token", "x" * 37, "a%00b",
                     "%E2%98%83"):
        r = client.post(f"/ledger/v1/tokens/{token_id}/revoke", headers=org.headers())
        assert r.status_code == 404, (token_id, r.json)
        assert r.json == {"code": 404, "status": "Not Found",
                          "message": "No such token of this organisation's members"}
    assert probe(client, globex_only.token, other_org).status_code == 200
    assert events(org, "session_token.revoked") == []


# -- removing a member -----------------------------------------------------------------------------

def test_remove_member_stops_their_tokens_here_on_the_next_request(client, org, other_org, both):
    shared, _, _ = both
    second_id, second = shared.issue()
    r = client.delete(f"/ledger/v1/members/{shared.user.id}", headers=org.headers())
    assert r.status_code == 200
    assert r.json == {"user_id": shared.user.id, "email": "both@example.com", "role": "admin",
                      "tokens_revoked": 2}
    for token in (shared.token, second):
        refused = probe(client, token, org)
        assert refused.status_code == 403
        assert refused.json == {"detail": "User is not a member of this organization in "
                                          "PropelAuth"}
        assert probe(client, token, other_org).status_code == 200
    members = client.get("/ledger/v1/members", headers=org.headers()).json["items"]
    assert shared.user.id not in {m["user_id"] for m in members}
    assert shared.token_id not in {t["id"] for t in client.get(
        "/ledger/v1/tokens", headers=org.headers()).json["items"]}
    (event,) = events(org, "member.removed")
    assert event.entity_id == shared.user.id and event.actor.startswith("credential:")
    assert event.payload["email"] == "both@example.com" and event.payload["role"] == "admin"
    assert sorted(event.payload["tokens_revoked"]) == sorted([shared.token_id, second_id])
    verified(client, org)
    # added again, the old tokens stay refused here; a new one works
    auth.add_member(org.org.id, shared.user)
    assert probe(client, shared.token, org).status_code == 401
    _, fresh = shared.issue()
    assert probe(client, fresh, org).status_code == 200


def test_a_user_removed_from_every_organisation_can_use_no_token(client, org, other_org, both):
    shared, _, _ = both
    assert client.delete(f"/ledger/v1/members/{shared.user.id}",
                         headers=org.headers()).status_code == 200
    assert client.delete(f"/ledger/v1/members/{shared.user.id}",
                         headers=other_org.headers()).status_code == 200
    for target in (org, other_org):
        assert probe(client, shared.token, target).status_code == 403


def test_remove_member_is_404_for_anyone_not_a_member_here(client, org, other_org, both):
    shared, _, globex_only = both
    for user_id in (globex_only.user.id, "00000000-0000-4000-8000-000000000000"):
        r = client.delete(f"/ledger/v1/members/{user_id}", headers=org.headers())
        assert r.status_code == 404
        assert r.json == {"code": 404, "status": "Not Found",
                          "message": "No such member of this organisation"}
    assert client.delete(f"/ledger/v1/members/{shared.user.id}",
                         headers=org.headers()).status_code == 200
    again = client.delete(f"/ledger/v1/members/{shared.user.id}", headers=org.headers())
    assert again.status_code == 404
    assert client.delete("/ledger/v1/members/not-a-uuid", headers=org.headers()).status_code == 404
    assert probe(client, globex_only.token, other_org).status_code == 200
    assert len(events(org, "member.removed")) == 1


# -- authentication of the admin API -----------------------------------------------------------------

@pytest.mark.parametrize("method,path", [
    ("GET", "/ledger/v1/members"), ("DELETE", "/ledger/v1/members/{user}"),
    ("GET", "/ledger/v1/tokens"), ("POST", "/ledger/v1/tokens/{token}/revoke")])
def test_the_admin_api_needs_this_organisations_admin_key(client, org, other_org, both, method,
                                                          path):
    shared, _, _ = both
    path = path.format(user=shared.user.id, token=shared.token_id)

    def call(headers):
        r = client.open(path, method=method, headers=headers)
        assert SERVICE_ERROR <= set(r.json), r.json
        return r.status_code, r.json["message"]

    assert call({"X-API-Key": org.admin_key}) == (400, "X-Org-Id header is required")
    assert call({"X-Org-Id": org.slug}) == (401, "X-API-Key header is required")
    assert call(org.headers("ck_nope")) == (401, "Invalid API key for this organisation")
    assert call(org.headers(other_org.admin_key)) == (401, "Invalid API key for this "
                                                           "organisation")
    assert call(org.headers(org.consent_key)) == (403, "This API key does not have the "
                                                       "'admin' scope")
    # an operator's own bearer token is no admin key
    assert call({"Authorization": f"Bearer {shared.token}", "X-Org-Id": org.slug})[0] == 401
    # nothing changed
    assert probe(client, shared.token, org).status_code == 200
    assert events(org, "member.removed") == events(org, "session_token.revoked") == []


def test_an_oversized_body_is_413_on_the_admin_api(client, org, both, app):
    shared, _, _ = both
    big = b"x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    for method, path in (("POST", f"/ledger/v1/tokens/{shared.token_id}/revoke"),
                         ("DELETE", f"/ledger/v1/members/{shared.user.id}")):
        r = client.open(path, method=method, data=big, headers=org.headers())
        assert r.status_code == 413 and r.json == {
            "code": 413, "status": "Request Entity Too Large",
            "message": "Request body too large"}
    assert probe(client, shared.token, org).status_code == 200


# -- the CLI: the instance's operator ----------------------------------------------------------------

def invoke(runner, *args):
    return runner.invoke(args=list(args), catch_exceptions=False)


def test_cli_token_list_never_shows_a_token(runner, client, org, other_org, both):
    shared, _, _ = both
    second_id, second = shared.issue()
    assert client.post(f"/ledger/v1/tokens/{shared.token_id}/revoke",
                       headers=other_org.headers()).status_code == 200
    result = invoke(runner, "token", "list", "--email", "Both@example.com")
    assert result.exit_code == 0
    assert shared.token not in result.output and second not in result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [t["id"] for t in lines] == [second_id, shared.token_id]
    assert lines[1]["revoked_in"] == ["globex"] and lines[1]["status"] == "active"
    assert lines[0] == {"id": second_id, "hint": second[-6:],
                        "created_at": lines[0]["created_at"],
                        "expires_at": lines[0]["expires_at"], "revoked_at": None,
                        "status": "active", "revoked_in": []}
    missing = runner.invoke(args=["token", "list", "--email", "nobody@example.com"])
    assert missing.exit_code == 1 and "no user" in missing.output


def test_cli_token_revoke_by_id_revokes_it_everywhere(runner, client, org, other_org, both):
    shared, acme_only, _ = both
    second_id, second = shared.issue()
    result = invoke(runner, "token", "revoke", shared.token_id)
    assert result.exit_code == 0 and result.output.strip() == f"revoked {shared.token_id}"
    for target in (org, other_org):
        refused = probe(client, shared.token, target)
        assert refused.status_code == 401
        assert probe(client, second, target).status_code == 200
    # an event in the chain of each organisation the user belongs to
    for target in (org, other_org):
        (event,) = events(target, "session_token.revoked")
        assert event.entity_id == shared.token_id and event.actor == "cli"
        assert event.payload["scope"] == "all"
        verified(client, target)
    again = invoke(runner, "token", "revoke", shared.token_id)
    assert again.exit_code == 0 and "already revoked" in again.output
    assert len(events(org, "session_token.revoked")) == 1
    listed = client.get(f"/ledger/v1/tokens?user_id={shared.user.id}", headers=org.headers())
    assert {t["id"]: t["status"] for t in listed.json["items"]} == {
        shared.token_id: "revoked", second_id: "active"}
    assert probe(client, acme_only.token, org).status_code == 200


def test_cli_token_revoke_by_email_revokes_all_of_theirs(runner, client, org, other_org, both):
    shared, acme_only, _ = both
    _, second = shared.issue()
    result = invoke(runner, "token", "revoke", "--email", "both@example.com")
    assert result.exit_code == 0
    assert result.output.strip() == "revoked 2 token(s) of both@example.com"
    for token in (shared.token, second):
        for target in (org, other_org):
            assert probe(client, token, target).status_code == 401
    assert probe(client, acme_only.token, org).status_code == 200
    assert len(events(org, "session_token.revoked")) == 2


def test_cli_token_revoke_errors(runner, org, both):
    for args, message in ((["token", "revoke"], "TOKEN_ID or --email"),
                          (["token", "revoke", "x", "--email", "both@example.com"],
                           "TOKEN_ID or --email"),
                          (["token", "revoke", "0" * 32], "no token"),
                          (["token", "revoke", "--email", "nobody@example.com"], "no user")):
        result = runner.invoke(args=args)
        assert result.exit_code == 1 and message in result.output, (args, result.output)


def test_cli_token_create_json(runner, app, client, org, both):
    result = invoke(runner, "token", "create", "--email", "acme-op@example.com", "--json")
    issued = json.loads(result.output)
    assert set(issued) == {"id", "token", "hint", "expires_at"}
    assert issued["hint"] == issued["token"][-6:]
    assert probe(client, issued["token"], org).status_code == 200
    assert SessionToken.get_by_id(issued["id"]).user.email == "acme-op@example.com"


def test_cli_member_remove(runner, client, org, other_org, both):
    shared, _, _ = both
    result = invoke(runner, "member", "remove", "--org", "acme", "--email", "both@example.com")
    assert result.exit_code == 0
    assert result.output.strip() == "both@example.com removed from acme; 1 token(s) revoked for it"
    assert probe(client, shared.token, org).status_code == 403
    assert probe(client, shared.token, other_org).status_code == 200
    (event,) = events(org, "member.removed")
    assert event.actor == "cli"
    listed = invoke(runner, "member", "list", "--org", "acme").output
    assert "both@example.com" not in listed and "acme-op@example.com" in listed
    again = runner.invoke(args=["member", "remove", "--org", "acme", "--email",
                                "both@example.com"])
    assert again.exit_code == 1 and "No such member" in again.output
    for args in (["--org", "nope", "--email", "both@example.com"],
                 ["--org", "acme", "--email", "nobody@example.com"]):
        assert runner.invoke(args=["member", "remove", *args]).exit_code == 1


# -- the schema: databases from before these changes -------------------------------------------------

def test_migration_2_brings_a_version_1_database_to_operator_sessions(app, client, org):
    from playhouse.migrate import SchemaMigrator, migrate as run

    from consent.core import migrate, storage

    old = Operator(app, "old@example.com", org)
    db = storage.db.obj
    db.drop_tables([SessionTokenRevocation])
    run(SchemaMigrator.from_database(db).drop_column("session_token", "hint"))
    migrate.SchemaMigration.delete().where(migrate.SchemaMigration.component == "core").execute()
    migrate.SchemaMigration.create(component="core", version=1, description="baseline")
    assert migrate.problem() is not None
    steps = [(s.component, s.version) for s in migrate.upgrade()]
    assert steps[0] == ("core", 2)   # then the core's later migrations, if any
    assert all(component == "core" for component, _ in steps)
    assert migrate.problem() is None
    assert "hint" in {c.name for c in db.get_columns("session_token")}
    assert db.table_exists("session_token_revocation")
    # a token from before keeps working, is listed without a hint, and can be revoked
    assert probe(client, old.token, org).status_code == 200
    listed = client.get("/ledger/v1/tokens", headers=org.headers()).json["items"]
    assert [(t["id"], t["hint"]) for t in listed] == [(old.token_id, None)]
    assert client.post(f"/ledger/v1/tokens/{old.token_id}/revoke",
                       headers=org.headers()).status_code == 200
    assert probe(client, old.token, org).status_code == 401
