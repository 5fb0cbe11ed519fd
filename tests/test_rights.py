"""People's rights on the ledger's own API: erasure that keeps the proof, the access report,
rights requests and their lifecycle, retention (consent.core.rights, consent.core.retention)."""
from __future__ import annotations

import datetime as dt

import pytest

from consent.core import clock, ledger, retention, rights
from consent.core.storage import AuditEvent, Subject
from tests.erasure_helpers import assert_gone, assert_present
from tests.helpers import PG_URL

ALICE = "alice.erasure@example.com"
ANON = "anon-device-7f3a9c"
IP = "203.0.113.77"
AGENT = "Mozilla/5.0 (AliceBrowser 9.1)"


def _seed(client, org):
    """Alice: a grant with evidence, a denial, a withdrawal, an anonymous identity mapped into
    her with metadata; and Bob, who must stay as he is."""
    h = org.headers()
    ids = {}
    r = client.post("/ledger/v1/consents", headers=h, json={
        "subject": ALICE, "purpose": "marketing", "status": "granted",
        "evidence": {"ip": IP, "user_agent": AGENT}})
    assert r.status_code == 201
    ids["grant"] = r.json["id"]
    r = client.post("/ledger/v1/consents", headers=h, json={
        "subject": ALICE, "purpose": "profiling", "status": "granted",
        "evidence": {"ip": IP}})
    ids["withdrawn"] = r.json["id"]
    assert client.post(f"/ledger/v1/consents/{ids['withdrawn']}/withdraw", headers=h,
                       json={}).status_code == 201
    r = client.post("/ledger/v1/consents", headers=h, json={
        "subject": ANON, "purpose": "analytics", "status": "granted",
        "evidence": {"ip": IP, "cookie": "cookie-of-alice-7731"}})
    ids["anon"] = r.json["id"]
    moved, _ = ledger.map_identity(org.org.id, ANON, ALICE, metadata={"email": ALICE})
    assert moved == 1
    r = client.post("/ledger/v1/consents", headers=h, json={
        "subject": "bob@example.com", "purpose": "marketing", "status": "granted",
        "evidence": {"ip": "198.51.100.2"}})
    ids["bob"] = r.json["id"]
    return ids


def test_erasure_keeps_the_proof_and_forgets_the_person(client, org):
    ids = _seed(client, org)
    h = org.headers()
    assert client.get("/ledger/v1/audit/verify", headers=h).json["ok"] is True
    assert_present([ALICE, ANON, IP, AGENT])

    r = client.post(f"/ledger/v1/subjects/{ALICE}/erasure", headers=h, json={"reason": "art. 17"})
    assert r.status_code == 200, r.json
    body = r.json
    # her four decisions, and the withdrawals of the two grants that still bound her
    assert body["erased"] is True and body["consents"] == 6
    assert body["tables"]["consent.withdrawn"] == 2
    assert body["tables"]["subject"] == 2            # alice and the anonymous id mapped in
    assert body["tables"]["consent.evidence"] == 3   # the withdrawal carried none
    assert body["tables"]["subject_link"] == 1
    event = AuditEvent.get(AuditEvent.seq == body["audit_seq"], AuditEvent.org == org.org.id)
    assert event.action == "subject.erased"
    assert event.payload["subject_ref"] == body["subject_ref"]
    assert ALICE not in str(event.payload)

    # Nothing of her is left, anywhere; Bob is untouched.
    assert_gone([ALICE, ANON, IP, AGENT, "cookie-of-alice-7731"])
    assert_present(["bob@example.com", "198.51.100.2"])

    # The proof still holds, and the decisions are still there, under the pseudonym.
    verdict = client.get("/ledger/v1/audit/verify", headers=h).json
    assert verdict["ok"] is True, verdict
    grant = client.get(f"/ledger/v1/consents/{ids['grant']}", headers=h).json
    assert grant["status"] == "granted" and grant["subject"] == ""
    assert set(grant["evidence"]) == {"erased"} and len(grant["evidence"]["erased"]) == 64
    assert [e["type"] for e in grant["events"]] == ["recorded", "withdrawn"]  # ended by it
    check = client.post("/ledger/v1/checks", headers=h, json={
        "consent_id": ids["grant"], "operation": "email"}).json
    assert (check["allowed"], check["reason"]) == (False, "withdrawn")
    assert client.post(f"/ledger/v1/consents/{ids['grant']}/withdraw", headers=h,
                       json={}).status_code == 409
    assert ledger.verify(org.org.id)["ok"] is True

    # The old identifiers find nothing.
    state = client.get(f"/ledger/v1/subjects/{ALICE}/state", headers=h).json
    assert state["purposes"] == []
    assert client.get(f"/ledger/v1/consents?subject={ALICE}", headers=h).json["items"] == []
    assert client.get(f"/ledger/v1/subjects/{ALICE}/report", headers=h).status_code == 404
    assert client.get(f"/ledger/v1/subjects/{ANON}/state", headers=h).json["purposes"] == []

    # Idempotent: again, nothing to erase; and the request is on record.
    again = client.post(f"/ledger/v1/subjects/{ALICE}/erasure", headers=h)
    assert again.status_code == 200
    assert again.json == {"erased": False, "subject_ref": None, "consents": 0, "tables": {},
                          "audit_seq": None, "audit_event_id": None,
                          "request_id": again.json["request_id"]}
    listed = client.get("/ledger/v1/rights-requests?kind=erasure", headers=h).json["items"]
    assert [x["status"] for x in listed] == ["completed", "completed"]
    assert all(x["subject"] is None and x["reason"] is None for x in listed)

    # The same identifier later is a new person, with nothing of the old one.
    r = client.post("/ledger/v1/consents", headers=h, json={
        "subject": ALICE, "purpose": "marketing", "status": "denied"})
    assert r.status_code == 201
    assert [p["purpose"] for p in client.get(f"/ledger/v1/subjects/{ALICE}/state",
                                               headers=h).json["purposes"]] == ["marketing"]
    assert client.get("/ledger/v1/audit/verify", headers=h).json["ok"] is True


def test_the_report_lists_everything_with_its_proof(client, org):
    ids = _seed(client, org)
    h = org.headers()
    assert client.get("/ledger/v1/audit/checkpoint", headers=h).status_code == 200
    r = client.get(f"/ledger/v1/subjects/{ALICE}/report", headers=h)
    assert r.status_code == 200
    report = r.json
    assert report["subject"] == ALICE and report["identifiers"] == [ALICE, ANON]
    by_id = {c["id"]: c for c in report["consents"]}
    assert set(by_id) >= {ids["grant"], ids["withdrawn"], ids["anon"]}
    assert ids["bob"] not in by_id
    grant = by_id[ids["grant"]]
    assert grant["evidence"] == {"ip": IP, "user_agent": AGENT}
    event = AuditEvent.get(AuditEvent.event_id == grant["proof"]["audit_event_id"])
    assert grant["proof"]["audit_hash"] == event.hash
    assert grant["proof"]["record_hash"] == ledger.get_consent(org.org.id, ids["grant"]).record_hash
    assert grant["proof"]["checkpoint"]["seq"] >= grant["proof"]["audit_seq"]
    assert report["identity_links"][0]["metadata"] == {"email": ALICE}
    page = client.get(f"/ledger/v1/subjects/{ALICE}/report?format=html", headers=h)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "script-src 'none'" in page.headers["Content-Security-Policy"]
    text = page.get_data(as_text=True)
    assert ALICE in text and grant["proof"]["record_hash"] in text
    assert client.get("/ledger/v1/subjects/nobody/report", headers=h).json == {
        "code": 404, "status": "Not Found", "message": "no subject has this identifier"}
    assert client.get(f"/ledger/v1/subjects/{ALICE}/report?format=pdf",
                      headers=h).status_code == 422


def test_a_rights_request_goes_through_its_lifecycle(client, org):
    _seed(client, org)
    h = org.headers()
    r = client.post("/ledger/v1/rights-requests", headers=h, json={
        "kind": "erasure", "subject": ALICE, "reason": "I closed my account"})
    assert r.status_code == 201
    req = r.json
    assert req["status"] == "received" and req["subject"] == ALICE
    created = dt.datetime.fromisoformat(req["created_at"].rstrip("Z"))
    due = dt.datetime.fromisoformat(req["due_at"].rstrip("Z"))
    assert due - created == dt.timedelta(days=30)
    url = f"/ledger/v1/rights-requests/{req['id']}"
    assert client.get(url, headers=h).json == req
    assert client.post(url + "/start", headers=h).json["status"] == "in_progress"
    assert client.post(url + "/start", headers=h).status_code == 409
    done = client.post(url + "/complete", headers=h)
    assert done.status_code == 200
    assert done.json["status"] == "completed" and done.json["subject"] is None
    assert done.json["result"]["erased"] is True
    assert client.post(url + "/refuse", headers=h, json={"reason": "x"}).status_code == 409
    assert client.get(f"/ledger/v1/subjects/{ALICE}/report", headers=h).status_code == 404
    actions = [e.action for e in AuditEvent.select().where(
        AuditEvent.org == org.org.id, AuditEvent.entity_id == req["id"]).order_by(AuditEvent.seq)]
    assert actions == ["rights.received", "rights.in_progress", "rights.completed"]

    other = client.post("/ledger/v1/rights-requests", headers=h, json={
        "kind": "access", "subject": "bob@example.com"}).json
    refused = client.post(f"/ledger/v1/rights-requests/{other['id']}/refuse", headers=h,
                          json={"reason": "identity not confirmed"})
    assert refused.json["status"] == "refused"
    assert refused.json["refusal"] == "identity not confirmed"
    assert client.post(f"/ledger/v1/rights-requests/{other['id']}/refuse", headers=h,
                       json={}).status_code == 422
    assert client.get("/ledger/v1/rights-requests/nope", headers=h).status_code == 404
    page = client.get("/ledger/v1/rights-requests?status=refused", headers=h).json
    assert [x["id"] for x in page["items"]] == [other["id"]]
    assert client.post("/ledger/v1/rights-requests", headers=h, json={
        "kind": "portability", "subject": "x"}).status_code == 422
    assert client.get("/ledger/v1/audit/verify", headers=h).json["ok"] is True


def test_another_organisation_can_neither_erase_nor_read(client, org, other_org):
    _seed(client, org)
    theirs = other_org.headers()
    assert client.post(f"/ledger/v1/subjects/{ALICE}/erasure",
                       headers=theirs).json["erased"] is False
    assert client.get(f"/ledger/v1/subjects/{ALICE}/report", headers=theirs).status_code == 404
    mine = client.post("/ledger/v1/rights-requests", headers=org.headers(), json={
        "kind": "erasure", "subject": ALICE}).json
    for path in ("", "/start", "/complete"):
        method = client.get if not path else client.post
        assert method(f"/ledger/v1/rights-requests/{mine['id']}{path}",
                      headers=theirs).status_code == 404
    assert client.get(f"/ledger/v1/subjects/{ALICE}/report",
                      headers=org.headers()).status_code == 200
    assert Subject.get(Subject.identifier == ALICE).erased_at is None


def test_retention_erases_who_has_no_grant_left_once_the_days_pass(client, org):
    _seed(client, org)
    h = org.headers()
    assert client.get("/ledger/v1/retention", headers=h).json == {
        "subject_days": None, "evidence_days": None}
    # Bob's grant stays in force; Alice's analytics grant (mapped in) too: she is kept.
    client.post("/ledger/v1/consents", headers=h, json={
        "subject": "carol@example.com", "purpose": "marketing", "status": "denied"})
    assert client.put("/ledger/v1/retention", headers=h, json={
        "subject_days": 30, "evidence_days": None}).status_code == 200
    assert retention.run_org(org.org.id)["subjects"] == 0   # not yet 30 days
    later = clock.utcnow() + dt.timedelta(days=31)
    with clock.frozen(later):
        assert retention.run_org(org.org.id) == {"subjects": 1}
    assert ledger.find_subject(org.org.id, "carol@example.com") is None
    assert ledger.find_subject(org.org.id, ALICE) is not None
    assert ledger.find_subject(org.org.id, "bob@example.com") is not None
    assert client.get("/ledger/v1/audit/verify", headers=h).json["ok"] is True
    reqs = rights.list_requests(org.org.id, source="retention")
    assert [(r.kind, r.status) for r in reqs] == [("erasure", "completed")]
    assert client.put("/ledger/v1/retention", headers=h, json={
        "subject_days": 0, "evidence_days": None}).status_code == 422


@pytest.mark.parametrize("path", ["/ledger/v1/subjects/%20/erasure"])
def test_a_blank_subject_is_refused(client, org, path):
    r = client.post(path, headers=org.headers())
    assert r.status_code == 422
    assert r.json["message"] == "a subject identifier is required"


def test_the_anonymous_ids_report_has_its_records_now_held_by_who_it_was_mapped_into(client,
                                                                                       org):
    """A consent recorded under an anonymous id and moved by map-user to Alice is the anonymous
    id's data too: its report finds it (by walking the link forward: the read never scans the
    organisation for ``recorded_subject``), and Bob's records are nobody's business of it."""
    ids = _seed(client, org)
    r = client.get(f"/ledger/v1/subjects/{ANON}/report", headers=org.headers())
    assert r.status_code == 200, r.json
    found = {c["id"] for c in r.json["consents"]}
    assert found == {ids["anon"]}
    alice = client.get(f"/ledger/v1/subjects/{ALICE}/report", headers=org.headers()).json
    assert ids["anon"] in {c["id"] for c in alice["consents"]}
    assert ids["bob"] not in {c["id"] for c in alice["consents"]}


@pytest.mark.skipif(bool(PG_URL), reason="SQLite's write-ahead log")
def test_compact_waits_out_a_concurrent_checkpoint_and_empties_the_log(client, org, monkeypatch,
                                                                        caplog):
    """SQLite answers a TRUNCATE checkpoint "busy" at once, without its busy handler, while
    another connection (the background WAL checkpointer) runs one: the erased values would stay
    in the log (a clean clone's run found one there). compact() tries again until the log is
    empty, and says so when it cannot within its time."""
    from pathlib import Path

    from consent.core import storage

    _seed(client, org)
    wal = Path(f"{storage.db.obj.database}-wal")
    assert wal.stat().st_size > 0
    real = storage.db.obj.execute_sql
    answers = []

    def busy_twice(sql, *args, **kwargs):
        if "wal_checkpoint" in sql and len(answers) < 2:
            answers.append("busy")
            return real("SELECT 1, -1, -1")     # what SQLite answers for a concurrent checkpoint
        return real(sql, *args, **kwargs)

    monkeypatch.setattr(storage.db.obj, "execute_sql", busy_twice)
    assert rights.compact() is True
    assert answers == ["busy", "busy"] and wal.stat().st_size == 0

    monkeypatch.setattr(storage.db.obj, "execute_sql", lambda sql, *a, **k: real("SELECT 1, -1, -1"))
    assert rights.compact(timeout=0.2) is False
    assert "could not be truncated" in caplog.text
