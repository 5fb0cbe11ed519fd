"""The ledger's own API (/ledger/v1), at the HTTP level: every endpoint, every error path."""
from __future__ import annotations

import csv
import io
import json

import pytest

from consent.core import auth
from consent.core.storage import AuditEvent, Consent, IdempotencyRecord

GRANT = {"subject": "user-1", "purpose": "marketing", "status": "granted"}


def post_consent(client, org, body=None, **headers):
    return client.post("/ledger/v1/consents", json=body or GRANT, headers=org.headers(**headers))


def counts():
    return Consent.select().count(), AuditEvent.select().count()


# -- authentication -------------------------------------------------------------------------------

AUTH_CASES = [
    ({}, 400, "X-Org-Id header is required"),
    ({"X-Org-Id": "acme"}, 401, "X-API-Key header is required"),
    ({"X-Org-Id": "acme", "X-API-Key": "ck_wrong"}, 401, "Invalid API key for this organisation"),
]


@pytest.mark.parametrize("headers,status,message", AUTH_CASES)
def test_auth_failures(client, org, headers, status, message):
    r = client.get("/ledger/v1/consents", headers=headers)
    assert r.status_code == status
    assert r.json["message"] == message
    assert r.json["code"] == status


def test_consent_scope_key_is_refused(client, org):
    r = client.get("/ledger/v1/consents", headers=org.headers(org.consent_key))
    assert r.status_code == 403
    assert r.json == {"code": 403, "status": "Forbidden",
                      "message": "This API key does not have the 'admin' scope"}


def test_key_of_another_org_is_refused(client, org, other_org):
    headers = {"X-Org-Id": org.slug, "X-API-Key": other_org.admin_key}
    r = client.get("/ledger/v1/consents", headers=headers)
    assert r.status_code == 401


def test_revoked_key_is_refused(client, org):
    issued = auth.create_credential(org.org.id, scopes=("admin",))
    assert client.get("/ledger/v1/consents", headers=org.headers(issued.key)).status_code == 200
    auth.revoke_credential(org.org.id, issued.credential.id)
    assert client.get("/ledger/v1/consents", headers=org.headers(issued.key)).status_code == 401


def test_org_id_accepts_the_org_uuid(client, org):
    r = client.get("/ledger/v1/consents",
                   headers={"X-Org-Id": org.org.id, "X-API-Key": org.admin_key})
    assert r.status_code == 200


# -- record -----------------------------------------------------------------------------------------

def test_record_consent(client, org):
    body = {**GRANT, "purpose_version": "2", "notice_version": "privacy-3",
            "valid_from": "2030-01-01T00:00:00Z", "valid_until": "2031-01-01T05:30:00+05:30",
            "evidence": {"ip": "203.0.113.9"}}
    r = post_consent(client, org, body)
    assert r.status_code == 201
    data = r.json
    assert data["subject"] == "user-1" and data["recorded_subject"] == "user-1"
    assert data["purpose"] == "marketing"
    assert data["purpose_version"] == "2" and data["notice_version"] == "privacy-3"
    assert data["status"] == "granted" and data["source"] == "ledger"
    assert data["valid_from"] == "2030-01-01T00:00:00+00:00"
    assert data["valid_until"] == "2031-01-01T00:00:00+00:00"
    assert data["evidence"] == {"ip": "203.0.113.9"}
    assert len(data["record_hash"]) == 64
    event = AuditEvent.get(AuditEvent.entity_id == data["id"])
    assert event.action == "consent.recorded"
    assert event.payload["record_hash"] == data["record_hash"]


@pytest.mark.parametrize("body,field", [
    ({"purpose": "m", "status": "granted"}, "subject"),
    ({"subject": "u", "status": "granted"}, "purpose"),
    ({"subject": "u", "purpose": "m"}, "status"),
    ({"subject": "u", "purpose": "m", "status": "maybe"}, "status"),
    ({"subject": "u", "purpose": "m", "status": "withdrawn"}, "status"),
    ({"subject": 5, "purpose": "m", "status": "granted"}, "subject"),
    ({"subject": "", "purpose": "m", "status": "granted"}, "subject"),
    ({"subject": "u", "purpose": "m", "status": "granted", "valid_from": "yesterday"},
     "valid_from"),
    ({"subject": "u", "purpose": "m", "status": "granted", "evidence": [1]}, "evidence"),
    ({"subject": "u", "purpose": "m", "status": "granted", "surprise": 1}, "surprise"),
    ({"subject": "u", "purpose": "m", "status": "granted",
      "valid_from": "2030-01-02T00:00:00Z", "valid_until": "2030-01-01T00:00:00Z"},
     "valid_until"),
])
def test_record_validation_writes_nothing(client, org, body, field):
    before = counts()
    r = client.post("/ledger/v1/consents", json=body, headers=org.headers())
    assert r.status_code == 422
    assert r.json["message"] == "Validation failed"
    assert field in r.json["errors"]["json"]
    assert counts() == before


def test_malformed_json(client, org):
    before = counts()
    r = client.post("/ledger/v1/consents", data=b'{"subject": ',
                    headers=org.headers(**{"Content-Type": "application/json"}))
    assert r.status_code == 400
    assert r.json["message"] == "Invalid JSON body"
    assert counts() == before


def test_oversize_body(client, org):
    big = {**GRANT, "evidence": {"blob": "x" * (1024 * 1024 + 10)}}
    r = client.post("/ledger/v1/consents", data=json.dumps(big),
                    headers=org.headers(**{"Content-Type": "application/json"}))
    assert r.status_code == 413
    assert r.json == {"code": 413, "status": "Request Entity Too Large",
                      "message": "Request body too large"}


def test_idempotency_key_replays_and_writes_nothing(client, org):
    first = post_consent(client, org, **{"Idempotency-Key": "abc"})
    before = counts()
    again = post_consent(client, org, **{"Idempotency-Key": "abc"})
    assert again.status_code == 201
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert counts() == before
    assert IdempotencyRecord.select().count() == 1


def test_idempotency_key_with_other_body_conflicts(client, org):
    post_consent(client, org, **{"Idempotency-Key": "abc"})
    before = counts()
    r = post_consent(client, org, {**GRANT, "status": "denied"}, **{"Idempotency-Key": "abc"})
    assert r.status_code == 409
    assert r.json["message"] == "this idempotency key was already used with a different request"
    assert counts() == before


def test_idempotency_keys_are_per_org(client, org, other_org):
    a = post_consent(client, org, **{"Idempotency-Key": "same"})
    b = client.post("/ledger/v1/consents", json=GRANT,
                    headers=other_org.headers(**{"Idempotency-Key": "same"}))
    assert b.status_code == 201 and b.json["id"] != a.json["id"]


# -- read -------------------------------------------------------------------------------------------

def test_get_consent_with_events(client, org):
    cid = post_consent(client, org).json["id"]
    r = client.get(f"/ledger/v1/consents/{cid}", headers=org.headers())
    assert r.status_code == 200
    assert r.json["id"] == cid
    assert [e["type"] for e in r.json["events"]] == ["recorded"]
    assert r.json["events"][0]["audit_event_id"]


def test_get_unknown_consent(client, org):
    r = client.get("/ledger/v1/consents/nope", headers=org.headers())
    assert r.status_code == 404
    assert r.json == {"code": 404, "status": "Not Found", "message": "consent nope not found"}


def test_tenants_never_meet(client, org, other_org):
    cid = post_consent(client, org).json["id"]
    assert client.get(f"/ledger/v1/consents/{cid}",
                      headers=other_org.headers()).status_code == 404
    assert client.get("/ledger/v1/consents", headers=other_org.headers()).json["items"] == []
    assert client.get("/ledger/v1/subjects/user-1/state",
                      headers=other_org.headers()).json["purposes"] == []
    assert client.post(f"/ledger/v1/consents/{cid}/withdraw",
                       headers=other_org.headers()).status_code == 404
    export = client.get("/ledger/v1/export", headers=other_org.headers()).data
    assert export == b""


def test_list_filters_and_cursor(client, org):
    for i in range(5):
        post_consent(client, org, {"subject": f"s{i % 2}", "purpose": f"p{i % 3}",
                                   "status": "granted" if i % 2 == 0 else "denied"})
    h = org.headers()
    all_ids = [c["id"] for c in client.get("/ledger/v1/consents", headers=h).json["items"]]
    assert len(all_ids) == 5
    page1 = client.get("/ledger/v1/consents?limit=2", headers=h).json
    page2 = client.get(f"/ledger/v1/consents?limit=2&cursor={page1['next_cursor']}",
                       headers=h).json
    page3 = client.get(f"/ledger/v1/consents?limit=2&cursor={page2['next_cursor']}",
                       headers=h).json
    assert [c["id"] for c in page1["items"] + page2["items"] + page3["items"]] == all_ids
    assert page3["next_cursor"] is None
    s0 = client.get("/ledger/v1/consents?subject=s0", headers=h).json["items"]
    assert len(s0) == 3 and {c["subject"] for c in s0} == {"s0"}
    denied = client.get("/ledger/v1/consents?status=denied", headers=h).json["items"]
    assert len(denied) == 2
    p1 = client.get("/ledger/v1/consents?purpose=p1", headers=h).json["items"]
    assert {c["purpose"] for c in p1} == {"p1"} and len(p1) == 2
    assert client.get("/ledger/v1/consents?source=ledger", headers=h).json["items"]
    assert client.get("/ledger/v1/consents?source=veriff", headers=h).json["items"] == []
    assert client.get("/ledger/v1/consents?subject=nobody", headers=h).json["items"] == []
    assert client.get("/ledger/v1/consents?from=2999-01-01T00:00:00Z",
                      headers=h).json["items"] == []
    assert len(client.get("/ledger/v1/consents?to=2999-01-01T00:00:00Z",
                          headers=h).json["items"]) == 5


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "status=maybe", "cursor=%%%",
                                   "from=notadate"])
def test_list_bad_query(client, org, query):
    r = client.get(f"/ledger/v1/consents?{query}", headers=org.headers())
    assert r.status_code == 422
    assert r.json["message"] == "Validation failed"


# -- withdraw and state ----------------------------------------------------------------------------

def test_withdraw_then_state(client, org):
    cid = post_consent(client, org).json["id"]
    post_consent(client, org, {"subject": "user-1", "purpose": "analytics", "status": "denied"})
    r = client.post(f"/ledger/v1/consents/{cid}/withdraw", json={"evidence": {"via": "app"}},
                    headers=org.headers())
    assert r.status_code == 201
    assert r.json["status"] == "withdrawn" and r.json["supersedes"] == cid
    assert r.json["evidence"] == {"via": "app"}
    original = client.get(f"/ledger/v1/consents/{cid}", headers=org.headers()).json
    assert original["status"] == "granted"  # never updated in place
    assert [e["type"] for e in original["events"]] == ["recorded", "withdrawn"]
    state = client.get("/ledger/v1/subjects/user-1/state", headers=org.headers()).json
    by_purpose = {p["purpose"]: p for p in state["purposes"]}
    assert by_purpose["marketing"]["status"] == "withdrawn"
    assert by_purpose["marketing"]["active"] is False
    assert by_purpose["analytics"]["status"] == "denied"


def test_withdraw_without_body(client, org):
    cid = post_consent(client, org).json["id"]
    assert client.post(f"/ledger/v1/consents/{cid}/withdraw",
                       headers=org.headers()).status_code == 201


def test_withdraw_twice_conflicts(client, org):
    cid = post_consent(client, org).json["id"]
    client.post(f"/ledger/v1/consents/{cid}/withdraw", headers=org.headers())
    before = counts()
    r = client.post(f"/ledger/v1/consents/{cid}/withdraw", headers=org.headers())
    assert r.status_code == 409
    assert r.json["message"] == f"consent {cid} is already withdrawn"
    assert counts() == before


def test_withdraw_denied_or_superseded_conflicts(client, org):
    denied = post_consent(client, org, {**GRANT, "status": "denied"}).json["id"]
    r = client.post(f"/ledger/v1/consents/{denied}/withdraw", headers=org.headers())
    assert r.status_code == 409
    old = post_consent(client, org).json["id"]
    newer = post_consent(client, org).json["id"]
    r = client.post(f"/ledger/v1/consents/{old}/withdraw", headers=org.headers())
    assert r.status_code == 409
    assert r.json["message"] == f"consent {old} is superseded by {newer}"


def test_withdraw_unknown(client, org):
    r = client.post("/ledger/v1/consents/nope/withdraw", headers=org.headers())
    assert r.status_code == 404


def test_state_latest_decision_binds_and_validity(client, org):
    post_consent(client, org, {**GRANT, "status": "denied"})
    post_consent(client, org)
    post_consent(client, org, {"subject": "user-1", "purpose": "expired", "status": "granted",
                               "valid_from": "2020-01-01T00:00:00Z",
                               "valid_until": "2020-06-01T00:00:00Z"})
    post_consent(client, org, {"subject": "user-1", "purpose": "future", "status": "granted",
                               "valid_from": "2999-01-01T00:00:00Z"})
    state = client.get("/ledger/v1/subjects/user-1/state", headers=org.headers()).json
    assert state["subject"] == "user-1"
    by_purpose = {p["purpose"]: p for p in state["purposes"]}
    assert by_purpose["marketing"]["status"] == "granted" and by_purpose["marketing"]["active"]
    assert by_purpose["expired"]["status"] == "expired"
    assert by_purpose["expired"]["active"] is False
    assert by_purpose["expired"]["valid_until"] == "2020-06-01T00:00:00+00:00"
    assert by_purpose["future"]["status"] == "pending"
    assert by_purpose["future"]["active"] is False


def test_state_of_unknown_subject_is_empty(client, org):
    r = client.get("/ledger/v1/subjects/nobody/state", headers=org.headers())
    assert r.status_code == 200 and r.json["purposes"] == []


def test_state_subject_with_slash_and_plus(client, org):
    post_consent(client, org, {**GRANT, "subject": "+91/abc"})
    r = client.get("/ledger/v1/subjects/%2B91/abc/state", headers=org.headers())
    assert [p["purpose"] for p in r.json["purposes"]] == ["marketing"]


# -- audit ------------------------------------------------------------------------------------------

def test_audit_by_event_id_and_range(client, org):
    cid = post_consent(client, org).json["id"]
    h = org.headers()
    items = client.get("/ledger/v1/audit", headers=h).json["items"]
    seqs = [e["seq"] for e in items]
    assert seqs == list(range(1, len(items) + 1))
    recorded = next(e for e in items if e["entity_id"] == cid)
    one = client.get(f"/ledger/v1/audit?event_id={recorded['event_id']}", headers=h).json
    assert one["items"] == [recorded]
    ranged = client.get("/ledger/v1/audit?from_seq=2&to_seq=3", headers=h).json["items"]
    assert [e["seq"] for e in ranged] == [2, 3]
    assert ranged[1]["prev_hash"] == ranged[0]["hash"]
    assert client.get("/ledger/v1/audit?limit=1", headers=h).json["items"][0]["seq"] == 1
    assert client.get("/ledger/v1/audit?since=2999-01-01T00:00:00Z",
                      headers=h).json["items"] == []
    assert client.get("/ledger/v1/audit?event_id=nope", headers=h).json["items"] == []
    assert client.get("/ledger/v1/audit?from_seq=0", headers=h).status_code == 422


@pytest.mark.tampered
def test_audit_verify_ok_then_broken(client, org):
    cid = post_consent(client, org).json["id"]
    ok = client.get("/ledger/v1/audit/verify", headers=org.headers()).json
    assert ok["ok"] is True and ok["consents_checked"] == 1 and ok["first_bad_event"] is None
    Consent.update(status="denied").where(Consent.id == cid).execute()
    bad = client.get("/ledger/v1/audit/verify", headers=org.headers()).json
    assert bad["ok"] is False and bad["first_bad_consent"] == cid
    assert bad["reason"] == "consent row does not match its record hash"


# -- export -----------------------------------------------------------------------------------------

def test_export_jsonl_and_csv(client, org):
    ids = [post_consent(client, org, {**GRANT, "subject": f"s{i}"}).json["id"] for i in range(3)]
    r = client.get("/ledger/v1/export?format=jsonl", headers=org.headers())
    assert r.status_code == 200 and r.mimetype == "application/x-ndjson"
    assert r.is_streamed
    lines = [json.loads(line) for line in r.data.decode().splitlines()]
    assert [row["id"] for row in lines] == ids
    r = client.get("/ledger/v1/export?format=csv", headers=org.headers())
    assert r.mimetype == "text/csv"
    assert 'filename="consents-acme.csv"' in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.data.decode())))
    assert [row["id"] for row in rows] == ids and rows[0]["subject"] == "s0"
    assert client.get("/ledger/v1/export?format=xml", headers=org.headers()).status_code == 422


def test_export_many_rows_in_batches(client, org):
    from consent.core import ledger

    ledger.record(org.org.id, [ledger.Decision(subject=f"s{i}", purpose="p", status="granted")
                            for i in range(2500)])
    r = client.get("/ledger/v1/export", headers=org.headers())
    assert len(r.data.decode().splitlines()) == 2500


# -- generic errors ---------------------------------------------------------------------------------

def test_unknown_route_and_wrong_method(client, org):
    r = client.get("/ledger/v1/nothing-here", headers=org.headers())
    assert r.status_code == 404 and r.json["code"] == 404
    r = client.delete("/ledger/v1/consents", headers=org.headers())
    assert r.status_code == 405 and r.json["code"] == 405
    assert "GET" in r.headers["Allow"]
    r = client.get("/no/such/path")
    assert r.status_code == 404 and r.is_json


def test_unexpected_error_is_500_without_trace(app, client, org, monkeypatch):
    from consent.core import ledger

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(ledger, "subject_state", boom)
    r = client.get("/ledger/v1/subjects/u/state", headers=org.headers())
    assert r.status_code == 500
    assert r.json["code"] == 500
    assert b"secret internals" not in r.data and b"Traceback" not in r.data


def test_failed_write_leaves_nothing(client, org, monkeypatch):
    """A failure after the consent row is written rolls the whole transaction back."""
    from consent.core import audit

    def broken_append(*args, **kwargs):
        raise RuntimeError("disk full")

    before = counts()
    monkeypatch.setattr(audit, "append", broken_append)
    r = post_consent(client, org)
    assert r.status_code == 500
    monkeypatch.undo()
    assert counts() == before
    assert client.get("/ledger/v1/audit/verify", headers=org.headers()).json["ok"]


def test_openapi_and_docs(client):
    spec = client.get("/openapi.json").json
    assert spec["openapi"].startswith("3.")
    for path in ("/ledger/v1/consents", "/ledger/v1/consents/{consent_id}",
                 "/ledger/v1/consents/{consent_id}/withdraw", "/ledger/v1/subjects/{subject}/state",
                 "/ledger/v1/audit", "/ledger/v1/audit/verify", "/ledger/v1/export"):
        assert path in spec["paths"], path
    assert client.get("/docs").status_code == 200


def test_healthz(client):
    assert client.get("/healthz").json == {"status": "ok"}
