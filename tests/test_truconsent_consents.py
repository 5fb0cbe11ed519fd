"""/api/v1/external/consents/*: record, history, user-status and map-user, exact bodies."""
from __future__ import annotations

import pytest

from consent.core import auth, ledger
from consent.core.storage import AuditEvent, Consent, IdempotencyRecord, SubjectLink
from tests.truconsent_helpers import make_cp

BASE = "/api/v1/external/consents"


@pytest.fixture
def cpf(org):
    return make_cp(org.org)


def record(client, orgf, body, key=None):
    return client.post(f"{BASE}/record", json=body, headers=orgf.headers(key or orgf.consent_key))


def purposes(cpf, *consented):
    out = []
    for pid, flag in zip(cpf.purpose_ids, consented):
        item = {"id": pid}
        if flag is not None:
            item["consented"] = flag
        out.append(item)
    return out


# -- record ---------------------------------------------------------------------------------------

def test_record_approved(client, org, cpf):
    resp = record(client, org, {"userId": "sess_1", "action": "approved",
                                "purposes": purposes(cpf, None, None),
                                "collectionPointId": "CP001", "requestId": "r-1",
                                "metadata": {"screen": "signup"}})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    logs = body.pop("consent_logs")
    assert body == {"success": True, "request_id": "r-1", "dp_id": "sess_1",
                    "action": "approved", "message": "Successfully recorded 2 consent logs"}
    assert [(log["purpose_id"], log["status"]) for log in logs] == [
        (cpf.purpose_ids[0], "granted"), (cpf.purpose_ids[1], "granted")]
    first = logs[0]
    assert first == {
        "id": first["id"], "dp_id": "sess_1", "recorded_dp_id": "sess_1", "action": "approved",
        "status": "granted", "purpose_id": cpf.purpose_ids[0],
        "purpose_name": "Marketing messages", "purpose_version": "2", "notice_version": "3",
        "collection_point_id": cpf.cp.id, "collection_point_display_id": "CP001",
        "source": "api", "event_id": None, "request_id": "r-1",
        "metadata": {"screen": "signup"}, "mappings": [], "created_at": first["created_at"]}
    assert ledger.verify(org.org.id)["ok"]


def test_record_refuses_purposes_not_on_the_collection_point(client, org, cpf):
    """A purpose must be one of the collection point's (without one: of a collection point of
    the organisation); ``no-such-purpose`` is refused, not granted."""
    make_cp(org.org, title="Other", purposes=[{"id": "elsewhere", "name": "Elsewhere"}])
    resp = record(client, org, {"userId": "u", "action": "approved", "collectionPointId": "CP001",
                                "purposes": [{"id": cpf.purpose_ids[0]},
                                             {"id": "no-such-purpose"}, {"id": "elsewhere"}]})
    assert (resp.status_code, resp.get_json()) == (422, {"detail": [
        {"loc": ["body", "purposes", 1, "id"],
         "msg": "Value error, purpose 'no-such-purpose' is not on collection point CP001",
         "type": "value_error"},
        {"loc": ["body", "purposes", 2, "id"],
         "msg": "Value error, purpose 'elsewhere' is not on collection point CP001",
         "type": "value_error"}]})
    resp = record(client, org, {"userId": "u", "action": "approved",
                                "purposes": [{"id": "no-such-purpose"}]})
    assert (resp.status_code, resp.get_json()) == (422, {"detail": [{
        "loc": ["body", "purposes", 0, "id"],
        "msg": "Value error, purpose 'no-such-purpose' is not on any collection point of the "
               "organisation", "type": "value_error"}]})
    assert Consent.select().count() == 0
    resp = record(client, org, {"userId": "u", "action": "approved",
                                "purposes": [{"id": "elsewhere"}]})
    assert resp.status_code == 200 and resp.get_json()["consent_logs"][0]["purpose_id"] == \
        "elsewhere"


def test_record_is_idempotent(client, org, cpf):
    body = {"userId": "u", "action": "declined", "purposes": purposes(cpf, None),
            "requestId": "same"}
    first = record(client, org, body)
    audit_count = AuditEvent.select().count()
    second = record(client, org, body)
    assert second.status_code == 200 and second.get_json() == first.get_json()
    assert Consent.select().count() == 1 and AuditEvent.select().count() == audit_count
    assert IdempotencyRecord.select().count() == 1
    changed = record(client, org, {**body, "action": "approved"})
    assert (changed.status_code, changed.get_json()) == (409, {
        "detail": "this idempotency key was already used with a different request"})
    assert Consent.select().count() == 1


def test_record_actions(client, org, cpf):
    record(client, org, {"userId": "u", "action": "approved", "purposes": purposes(cpf, None)})
    resp = record(client, org, {"userId": "u", "action": "revoked",
                                "purposes": purposes(cpf, None)})
    log = resp.get_json()["consent_logs"][0]
    assert (log["status"], log["action"]) == ("withdrawn", "revoked")
    granted = Consent.select().where(Consent.status == "granted").get()
    assert Consent.get(Consent.id == log["id"]).supersedes == granted.id
    resp = record(client, org, {"userId": "u", "action": "partial_consent",
                                "purposes": purposes(cpf, True, False)})
    assert [x["status"] for x in resp.get_json()["consent_logs"]] == ["granted", "denied"]
    resp = record(client, org, {"userId": "u", "action": "no_action",
                                "purposes": purposes(cpf, None)})
    assert resp.get_json()["consent_logs"][0]["status"] == "denied"


def test_record_errors(client, org, other_org, cpf):
    body = {"userId": "u", "action": "approved", "purposes": purposes(cpf, None)}
    resp = client.post(f"{BASE}/record", json=body, headers={"X-Org-Id": "acme"})
    assert (resp.status_code, resp.get_json()) == (401, {"detail": "API key required"})
    resp = client.post(f"{BASE}/record", json=body, headers={"X-API-Key": org.consent_key})
    assert (resp.status_code, resp.get_json()) == (400, {"detail": "Tenant context not found"})
    resp = record(client, org, body, key="ck_bogus")
    assert (resp.status_code, resp.get_json()) == (401, {"detail": "Invalid or inactive API key"})
    nokey = auth.create_credential(org.org.id, scopes=()).key
    resp = record(client, org, body, key=nokey)
    assert (resp.status_code, resp.get_json()) == (
        403, {"detail": "API key does not have the 'consent' scope"})
    resp = record(client, org, {**body, "collectionPointId": "CP404"})
    assert (resp.status_code, resp.get_json()) == (404, {"detail": "Collection point not found"})
    resp = record(client, org, {"action": "maybe", "purposes": []})
    assert resp.status_code == 422
    assert sorted(resp.get_json()["detail"], key=lambda d: d["loc"]) == [
        {"loc": ["body", "action"],
         "msg": "Input should be 'approved', 'declined', 'partial_consent', 'revoked' or "
                "'no_action'", "type": "enum"},
        {"loc": ["body", "purposes"],
         "msg": "List should have at least 1 item after validation, not 0", "type": "too_short"},
        {"loc": ["body", "userId"], "msg": "Field required", "type": "missing"},
    ]
    resp = record(client, org, {"userId": "u", "action": "partial_consent",
                                "purposes": purposes(cpf, True, None)})
    assert (resp.status_code, resp.get_json()) == (422, {"detail": [
        {"loc": ["body", "purposes", 1, "consented"], "msg": "Field required",
         "type": "missing"}]})
    assert Consent.select().count() == 0


# -- history --------------------------------------------------------------------------------------

def test_history_filters_and_pagination(client, org, cpf):
    record(client, org, {"userId": "a", "action": "approved", "purposes": purposes(cpf, None)})
    record(client, org, {"userId": "a", "action": "declined", "purposes": purposes(cpf, None)})
    record(client, org, {"userId": "b", "action": "approved",
                         "purposes": purposes(cpf, None, None)})
    h = org.headers(org.consent_key)
    body = client.get(f"{BASE}/history", headers=h).get_json()
    assert (body["total"], body["limit"], body["offset"], len(body["items"])) == (4, 50, 0, 4)
    body = client.get(f"{BASE}/history?dp_id=a", headers=h).get_json()
    assert [i["action"] for i in body["items"]] == ["declined", "approved"]
    body = client.get(f"{BASE}/history?action=approved&limit=1&offset=1", headers=h).get_json()
    assert body["total"] == 3 and len(body["items"]) == 1 and body["offset"] == 1
    body = client.get(f"{BASE}/history?source=consent_link", headers=h).get_json()
    assert body == {"total": 0, "limit": 50, "offset": 0, "items": []}
    body = client.get(f"{BASE}/history?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z",
                      headers=h).get_json()
    assert body["total"] == 0
    body = client.get(f"{BASE}/history?from=2000-01-01T00:00:00Z", headers=h).get_json()
    assert body["total"] == 4
    resp = client.get(f"{BASE}/history?action=nope", headers=h)
    assert (resp.status_code, resp.get_json()) == (422, {"detail": [{
        "loc": ["query", "action"],
        "msg": "Input should be 'approved', 'declined', 'partial_consent', 'revoked', "
               "'no_action' or 'notice_shown'", "type": "enum"}]})
    resp = client.get(f"{BASE}/history?from=yesterday", headers=h)
    assert (resp.status_code, resp.get_json()) == (422, {"detail": [{
        "loc": ["query", "from"], "msg": "Input should be a valid datetime",
        "type": "datetime_parsing"}]})
    resp = client.get(f"{BASE}/history")
    assert (resp.status_code, resp.get_json()) == (400, {"detail": "Tenant context not found"})


# -- user-status ----------------------------------------------------------------------------------

def test_user_status(client, org, cpf):
    p1, p2 = cpf.purpose_ids
    record(client, org, {"userId": "u", "action": "approved", "purposes": purposes(cpf, None,
                                                                                     None),
                         "collectionPointId": cpf.cp.id})
    record(client, org, {"userId": "u", "action": "revoked", "purposes": [{"id": p2}],
                         "collectionPointId": "CP001"})
    resp = client.get(f"{BASE}/user-status?dp_id=u", headers=org.headers(org.consent_key))
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["dp_id"] == "u" and body["as_of"].endswith("+00:00")
    [group] = body["collection_points"]
    assert (group["collection_point_id"], group["collection_point_display_id"]) == (
        cpf.cp.id, "CP001")
    got = {p["purpose_id"]: (p["status"], p["consented"], p["action"]) for p in group["purposes"]}
    assert got == {p1: ("granted", True, "approved"), p2: ("withdrawn", False, "revoked")}
    row = next(p for p in group["purposes"] if p["purpose_id"] == p1)
    assert set(row) == {"purpose_id", "purpose_name", "purpose_version", "notice_version",
                        "status", "consented", "action", "source", "consent_log_id",
                        "recorded_at"}
    resp = client.get(f"{BASE}/user-status?dp_id=u&purpose_id={p1}",
                      headers=org.headers(org.consent_key))
    assert [p["purpose_id"] for p in resp.get_json()["collection_points"][0]["purposes"]] == [p1]
    resp = client.get(f"{BASE}/user-status?dp_id=nobody", headers=org.headers(org.consent_key))
    assert resp.get_json()["collection_points"] == []
    resp = client.get(f"{BASE}/user-status", headers=org.headers(org.consent_key))
    assert (resp.status_code, resp.get_json()) == (422, {"detail": [{
        "loc": ["query", "dp_id"], "msg": "Field required", "type": "missing"}]})


# -- map-user -------------------------------------------------------------------------------------

def test_map_user(client, org, cpf):
    make_cp(org.org, title="News", purposes=[{"id": "newsletter", "name": "Newsletter"}])
    record(client, org, {"userId": "sess_a", "action": "approved",
                         "purposes": purposes(cpf, None, None), "collectionPointId": "CP001"})
    record(client, org, {"userId": "usr_1", "action": "declined", "purposes": [
        {"id": "newsletter"}]})
    events_before = AuditEvent.select().count()
    resp = client.post(f"{BASE}/map-user", headers=org.headers(org.admin_key), json={
        "anonymousId": "sess_a", "authenticatedUserId": "usr_1",
        "metadata": {"login_method": "google_oauth"}})
    assert (resp.status_code, resp.get_json()) == (200, {
        "success": True, "mapped_count": 2, "anonymous_id": "sess_a",
        "authenticated_user_id": "usr_1", "message": "Successfully mapped 2 consent logs"})
    assert AuditEvent.select().count() == events_before + 1
    assert SubjectLink.get().metadata == {"login_method": "google_oauth"}
    h = org.headers(org.consent_key)
    items = client.get(f"{BASE}/history?dp_id=usr_1", headers=h).get_json()["items"]
    assert len(items) == 3 and Consent.select().count() == 3
    moved = [i for i in items if i["recorded_dp_id"] == "sess_a"]
    assert len(moved) == 2 and all(i["dp_id"] == "usr_1" for i in moved)
    assert moved[0]["mappings"] == [{"from": "sess_a", "to": "usr_1",
                                     "metadata": {"login_method": "google_oauth"},
                                     "mapped_at": moved[0]["mappings"][0]["mapped_at"]}]
    assert client.get(f"{BASE}/history?dp_id=sess_a", headers=h).get_json()["total"] == 0
    status = client.get(f"{BASE}/user-status?dp_id=usr_1", headers=h).get_json()
    assert sum(len(g["purposes"]) for g in status["collection_points"]) == 3
    again = client.post(f"{BASE}/map-user", headers=org.headers(org.admin_key), json={
        "anonymousId": "sess_a", "authenticatedUserId": "usr_1"})
    assert (again.status_code, again.get_json()) == (200, {
        "success": True, "mapped_count": 0, "anonymous_id": "sess_a",
        "authenticated_user_id": "usr_1", "message": "Successfully mapped 0 consent logs"})
    assert ledger.verify(org.org.id)["ok"]


def test_map_user_errors(client, org, other_org):
    body = {"anonymousId": "a", "authenticatedUserId": "b"}
    url = f"{BASE}/map-user"
    resp = client.post(url, json=body, headers={"X-Org-Id": "nope", "X-API-Key": org.admin_key})
    assert (resp.status_code, resp.get_json()) == (400, {"detail": "Tenant context not found"})
    resp = client.post(url, json=body, headers={"X-API-Key": org.admin_key})
    assert (resp.status_code, resp.get_json()) == (400, {"detail": "Tenant context not found"})
    resp = client.post(url, json=body, headers={"X-Org-Id": "acme"})
    assert (resp.status_code, resp.get_json()) == (401, {"detail": "API key required"})
    resp = client.post(url, json=body, headers={"X-Org-Id": "acme", "X-API-Key": "ck_x"})
    assert (resp.status_code, resp.get_json()) == (401, {"detail": "Invalid or inactive API key"})
    resp = client.post(url, json=body, headers=other_org.headers())
    assert resp.status_code == 200  # its own org: fine
    resp = client.post(url, json=body, headers={"X-Org-Id": "acme",
                                                "X-API-Key": other_org.admin_key})
    assert (resp.status_code, resp.get_json()) == (401, {"detail": "Invalid or inactive API key"})
    resp = client.post(url, json=body, headers=org.headers(org.consent_key))
    assert (resp.status_code, resp.get_json()) == (
        403, {"detail": "API key does not have the 'admin' scope"})
    resp = client.post(url, json={"anonymousId": ""}, headers=org.headers())
    assert resp.status_code == 422
    assert sorted(resp.get_json()["detail"], key=lambda d: d["loc"]) == [
        {"loc": ["body", "anonymousId"], "msg": "String should have at least 1 character",
         "type": "string_too_short"},
        {"loc": ["body", "authenticatedUserId"], "msg": "Field required", "type": "missing"}]
    resp = client.post(url, json={"anonymousId": 5, "authenticatedUserId": "x" * 256},
                       headers=org.headers())
    assert sorted(resp.get_json()["detail"], key=lambda d: d["loc"]) == [
        {"loc": ["body", "anonymousId"], "msg": "Input should be a valid string",
         "type": "string_type"},
        {"loc": ["body", "authenticatedUserId"],
         "msg": "String should have at most 255 characters", "type": "string_too_long"}]
    resp = client.post(url, json={"anonymousId": "same", "authenticatedUserId": "same"},
                       headers=org.headers())
    assert (resp.status_code, resp.get_json()) == (422, {"detail": [{
        "loc": ["body", "authenticatedUserId"],
        "msg": "Value error, anonymousId and authenticatedUserId must differ",
        "type": "value_error"}]})
    resp = client.post(url, json={**body, "metadata": "x"}, headers=org.headers())
    assert (resp.status_code, resp.get_json()) == (422, {"detail": [{
        "loc": ["body", "metadata"], "msg": "Input should be a valid dictionary",
        "type": "dict_type"}]})


def test_500_is_detail_json(client, org, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(ledger, "map_identity", boom)
    resp = client.post(f"{BASE}/map-user", headers=org.headers(),
                       json={"anonymousId": "a", "authenticatedUserId": "b"})
    assert (resp.status_code, resp.get_json()) == (500, {"detail": "Internal Server Error"})


def test_record_purpose_item_types(client, org):
    resp = record(client, org, {"userId": "u", "action": "approved", "purposes": ["x"]})
    assert (resp.status_code, resp.get_json()) == (422, {"detail": [{
        "loc": ["body", "purposes", 0],
        "msg": "Input should be a valid dictionary or object to extract fields from",
        "type": "model_attributes_type"}]})
    resp = record(client, org, {"userId": "u", "action": "approved", "purposes": "x"})
    assert (resp.status_code, resp.get_json()) == (422, {"detail": [{
        "loc": ["body", "purposes"], "msg": "Input should be a valid list",
        "type": "list_type"}]})


def test_openapi_lists_truconsent_paths(client):
    spec = client.get("/openapi.json").get_json()
    for path in ("/api/consent/consent-links", "/api/consent/consent-links/history",
                 "/api/v1/external/consents/record", "/api/v1/external/consents/map-user",
                 "/ledger/v1/truconsent/collection-points"):
        assert path in spec["paths"]
