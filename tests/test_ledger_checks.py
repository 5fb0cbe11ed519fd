""""May I process?" on the ledger API (POST /ledger/v1/checks), for consents of any dialect:
every reason, uses recorded with their events, single use consumed exactly once under real
concurrency (threads over real HTTP connections), tenants apart."""
from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.request

import pytest
from werkzeug.serving import make_server

from tests.concurrency import together

from consent.core import ledger, storage, usage
from consent.core.storage import AuditEvent, Consent, ConsentEvent
from consent.core.usage import ConsentUse

GRANT = {"subject": "user-1", "purpose": "kyc", "status": "granted"}


def record(client, org, **extra):
    r = client.post("/ledger/v1/consents", json={**GRANT, **extra}, headers=org.headers())
    assert r.status_code == 201, r.json
    return r.json["id"]


def check(client, org, **body):
    return client.post("/ledger/v1/checks", json=body, headers=org.headers())


def test_allowed_without_terms_and_a_check_writes_nothing(client, org):
    consent_id = record(client, org)
    before = AuditEvent.select().count()
    r = check(client, org, consent_id=consent_id, operation="ANYTHING")
    assert r.status_code == 200
    body = r.json
    assert body["allowed"] is True and body["reason"] is None
    assert body["consent_id"] == consent_id and body["subject"] == "user-1"
    assert body["purpose"] == "kyc" and body["operation"] == "ANYTHING"
    assert body["operations"] is None and body["single_use"] is False and body["use"] is None
    assert AuditEvent.select().count() == before and ConsentUse.select().count() == 0


def test_operation_not_granted(client, org):
    consent_id = record(client, org, operations=["VERIFY", "FETCH"])
    ok = check(client, org, consent_id=consent_id, operation="VERIFY").json
    assert ok["allowed"] is True and ok["operations"] == ["VERIFY", "FETCH"]
    no = check(client, org, consent_id=consent_id, operation="SHARE").json
    assert no["allowed"] is False and no["reason"] == "operation_not_granted"


def test_not_yet_valid_and_expired(client, org):
    future = record(client, org, purpose="later", valid_from="2999-01-01T00:00:00Z")
    assert check(client, org, consent_id=future, operation="X").json["reason"] == "not_yet_valid"
    past = record(client, org, purpose="old", valid_from="2000-01-01T00:00:00Z",
                  valid_until="2001-01-01T00:00:00Z")
    assert check(client, org, consent_id=past, operation="X").json["reason"] == "expired"


def test_withdrawn_denied_and_superseded(client, org):
    first = record(client, org)
    second = record(client, org)
    assert check(client, org, consent_id=first, operation="X").json["reason"] == "superseded"
    r = client.post(f"/ledger/v1/consents/{second}/withdraw", headers=org.headers())
    withdrawal = r.json["id"]
    assert check(client, org, consent_id=second, operation="X").json["reason"] == "withdrawn"
    assert check(client, org, consent_id=withdrawal, operation="X").json["reason"] == "withdrawn"
    denied = record(client, org, purpose="ads", status="denied")
    assert check(client, org, consent_id=denied, operation="X").json["reason"] == "denied"


def test_by_subject_and_purpose_the_binding_decision_answers(client, org):
    consent_id = record(client, org, operations=["VERIFY"])
    r = check(client, org, subject="user-1", purpose="kyc", operation="VERIFY").json
    assert r["allowed"] is True and r["consent_id"] == consent_id
    none = check(client, org, subject="nobody", purpose="kyc", operation="VERIFY").json
    assert none == {"allowed": False, "reason": "no_consent", "operation": "VERIFY",
                    "checked_at": none["checked_at"], "consent_id": None, "subject": None,
                    "purpose": None, "operations": None, "single_use": False, "use": None}


def test_use_records_a_use_an_event_and_an_audit_event(client, org):
    consent_id = record(client, org)
    r = check(client, org, consent_id=consent_id, operation="VERIFY", use=True).json
    assert r["allowed"] is True and r["use"]["operation"] == "VERIFY"
    assert r["use"]["actor"].startswith("credential:")
    again = check(client, org, consent_id=consent_id, operation="FETCH", use=True).json
    assert again["allowed"] is True  # multi-use
    detail = client.get(f"/ledger/v1/consents/{consent_id}", headers=org.headers()).json
    used = [e for e in detail["events"] if e["type"] == "used"]
    assert [e["data"]["operation"] for e in used] == ["VERIFY", "FETCH"]
    actions = [e.action for e in AuditEvent.select().order_by(AuditEvent.seq)]
    assert actions.count("consent.used") == 2
    assert client.get("/ledger/v1/audit/verify", headers=org.headers()).json["ok"] is True


def test_single_use_is_consumed_by_its_first_use(client, org):
    consent_id = record(client, org, single_use=True, operations=["VERIFY"])
    assert check(client, org, consent_id=consent_id, operation="VERIFY").json["allowed"] is True
    first = check(client, org, consent_id=consent_id, operation="VERIFY", use=True).json
    assert first["allowed"] is True and first["single_use"] is True
    second = check(client, org, consent_id=consent_id, operation="VERIFY", use=True).json
    assert second["allowed"] is False and second["reason"] == "already_used"
    assert second["use"] is None
    assert ConsentUse.select().count() == 1


def test_a_refused_use_writes_nothing(client, org):
    consent_id = record(client, org, operations=["VERIFY"])
    before = AuditEvent.select().count(), ConsentEvent.select().count()
    r = check(client, org, consent_id=consent_id, operation="SHARE", use=True).json
    assert r["allowed"] is False and r["use"] is None
    assert (AuditEvent.select().count(), ConsentEvent.select().count()) == before


def test_terms_are_audited(client, org):
    consent_id = record(client, org, single_use=True, operations=["VERIFY", "VERIFY"])
    event = AuditEvent.get((AuditEvent.action == "consent.terms")
                           & (AuditEvent.entity_id == consent_id))
    rows = event.payload.pop("rows")
    assert event.payload == {"operations": ["VERIFY"], "single_use": True}
    assert list(rows) == ["consent_terms"] and list(rows["consent_terms"]) == [consent_id]


@pytest.mark.parametrize("body", [
    {"operation": "X"},
    {"consent_id": "c", "subject": "s", "purpose": "p", "operation": "X"},
    {"subject": "s", "operation": "X"},
    {"consent_id": "c"},
    {"consent_id": "c", "operation": ""},
    {"consent_id": "c", "operation": "X", "use": "yes"},
    {"consent_id": "c", "operation": "X", "extra": 1},
])
def test_bad_requests(client, org, body):
    r = check(client, org, **body)
    assert r.status_code == 422 and r.json["code"] == 422


def test_unknown_consent_and_tenants(client, org, other_org):
    consent_id = record(client, org)
    assert check(client, org, consent_id="nope", operation="X").status_code == 404
    assert check(client, other_org, consent_id=consent_id, operation="X").status_code == 404
    r = client.post("/ledger/v1/checks", json={"consent_id": consent_id, "operation": "X"},
                    headers=org.headers(org.consent_key))
    assert r.status_code == 403


def test_hostile_input_is_a_4xx(client, org):
    deep = "[" * 100 + "]" * 100
    for raw in (deep, '{"consent_id": "c", "operation": "X", "n": ' + "9" * 5000 + "}",
                '{"consent_id": "\\ud800", "operation": "X"}',
                '{"consent_id": "c", "operation": NaN}'):
        r = client.post("/ledger/v1/checks", data=raw, content_type="application/json",
                        headers=org.headers())
        assert 400 <= r.status_code < 500 and "message" in r.json


# -- concurrency: N simultaneous uses of a single-use consent, over real connections ----------------

USERS = 8


def test_concurrent_uses_exactly_one_wins(app, org):
    consent = ledger.record_one(org.org.id, ledger.Decision(subject="u", purpose="p",
                                                         status="granted"))
    with storage.transaction():
        usage.set_terms(org.org.id, consent.id, single_use=True)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/ledger/v1/checks"
    body = json.dumps({"consent_id": consent.id, "operation": "VERIFY", "use": True}).encode()

    def use():
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/json", **org.headers()})
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    try:
        answers = together(USERS, use)
    finally:
        server.shutdown()
        server.server_close()
    assert sorted(a["allowed"] for a in answers) == [False] * (USERS - 1) + [True]
    assert {a["reason"] for a in answers if not a["allowed"]} == {"already_used"}
    assert ConsentUse.select().where(ConsentUse.consent == consent.id).count() == 1
    assert ledger.verify(org.org.id)["ok"]


def test_concurrent_uses_in_threads_directly(app, org):
    """The same race below HTTP: threads, each with its own database connection."""
    consent = ledger.record_one(org.org.id, ledger.Decision(
        subject="u2", purpose="p", status="granted",
        valid_until=storage.utcnow() + dt.timedelta(days=1)))
    with storage.transaction():
        usage.set_terms(org.org.id, consent.id, operations=["VERIFY"], single_use=True)
    results = together(USERS, lambda: usage.check(org.org.id, "VERIFY", consent_id=consent.id,
                                                  use=True).allowed)
    assert sorted(results) == [False] * (USERS - 1) + [True]


# -- the id a dialect handed out --------------------------------------------------------------------

def test_an_attestr_id_is_accepted_and_answers_for_its_ledger_consent(client, org, other_org):
    """The app holds Attestr's ``_id``: "may I process?" with it, and a use consumes the
    single-use consent, which Attestr's status then shows."""
    from tests.attestr_helpers import Client as AttestrClient, register

    attestr = AttestrClient(org.org)
    r = register(client, attestr, consentType="single_use", consentOperations=["VERIFY"])
    assert r.status_code == 200, r.json
    attestr_id = r.json["_id"]
    ledger_id = Consent.get(Consent.source == "attestr").id
    answer = check(client, org, consent_id=attestr_id, operation="VERIFY").json
    assert answer["allowed"] is True and answer["consent_id"] == ledger_id
    assert answer["single_use"] is True and answer["operations"] == ["VERIFY"]
    assert check(client, org, consent_id=attestr_id,
                 operation="SHARE").json["reason"] == "operation_not_granted"
    used = check(client, org, consent_id=attestr_id, operation="VERIFY", use=True).json
    assert used["allowed"] is True and used["use"] is not None
    again = check(client, org, consent_id=attestr_id, operation="VERIFY", use=True).json
    assert again["allowed"] is False and again["reason"] == "already_used"
    status = client.get(f"/api/v3/public/consent/{attestr_id}", headers=attestr.headers())
    assert status.json["status"] == "consumed"
    # another organisation does not reach it by the Attestr id either
    r = check(client, other_org, consent_id=attestr_id, operation="VERIFY")
    assert r.status_code == 404
    assert r.json == {"code": 404, "status": "Not Found",
                      "message": f"consent {attestr_id} not found"}
    assert attestr_id not in json.dumps(check(client, other_org, subject="USER#1234",
                                              purpose=answer["purpose"],
                                              operation="VERIFY").json)


def test_a_veriff_consent_id_is_the_ledgers_own(client, org):
    from tests.veriff_helpers import Integration

    integ = Integration(org.org)
    session_id = integ.create_session(client)
    r = integ.upload(client, session_id, {"type": "bipa", "approved": False, "text": "notice"})
    assert r.status_code == 200, r.json
    answer = check(client, org, consent_id=r.json["id"], operation="X").json
    assert answer["consent_id"] == r.json["id"]
    assert answer["allowed"] is False and answer["reason"] == "denied"
    assert answer["subject"] == "user-42" and answer["purpose"] == "veriff:bipa"


def test_an_id_no_dialect_knows_is_404(client, org):
    for unknown in ("CXnot-a-consent", "x" * 36):
        r = check(client, org, consent_id=unknown, operation="X")
        assert r.status_code == 404 and r.json["message"] == f"consent {unknown} not found"


def test_a_truconsent_log_id_answers(client, org):
    """truConsent's consent log ``id`` (what ``/consents/record`` answers) is the ledger's."""
    from tests.truconsent_helpers import make_cp

    cp = make_cp(org.org)
    r = client.post("/api/v1/external/consents/record", headers=org.headers(org.consent_key),
                    json={"userId": "tc-user", "action": "approved",
                          "purposes": [{"id": cp.purpose_ids[0]}]})
    assert r.status_code == 200, r.json
    log_id = r.json["consent_logs"][0]["id"]
    answer = check(client, org, consent_id=log_id, operation="X").json
    assert answer["allowed"] is True and answer["consent_id"] == log_id
    assert answer["subject"] == "tc-user"
