"""The Veriff session lifecycle at the HTTP level: the read endpoints (decision, person, attempts),
DELETE, Veriff's test-mode names, decisions from the CLI and the ledger API, every status and
reason code, and what the audit chain keeps. Webhooks: tests/test_veriff_webhooks.py; the page:
tests/test_veriff_page.py."""
from __future__ import annotations

import json
import re

import pytest

from consent.core import ledger, outbox
from consent.core.storage import AuditEvent, Consent
from consent.dialects.veriff.models import VeriffAttempt, VeriffSessionState
from tests.veriff_helpers import (
    BAD_ID_SIG,
    FAIL_MISSING_KEY,
    FAIL_NOT_FOUND,
    MISSING_SIG,
    Integration,
    fail,
)

PERSON = {"firstName": "Carlos", "lastName": "Hernandez", "idNumber": "HECA900101",
          "dateOfBirth": "1990-01-01", "gender": "M", "nationality": "MX"}
DOCUMENT = {"number": "MX-123456", "type": "ID_CARD", "country": "MX",
            "validUntil": "2034-01-15"}
VERIFF_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
NO_DECISION = {"status": "success", "verification": None, "technicalData": {"ip": None}}
NOT_COMPLETED = fail("Session is not in a completed status.")


@pytest.fixture(autouse=True)
def no_sending(monkeypatch):
    monkeypatch.setattr(outbox.SENDER, "enabled", False)  # no webhook is configured here


@pytest.fixture
def integ(org):
    return Integration(org.org)


def create(client, integ, person=PERSON, **extra) -> str:
    return integ.create_session(client, {"vendorData": "user-42", "endUserId": "eu-42",
                                         "callback": "https://app.example.com/done",
                                         "person": person, "document": DOCUMENT, **extra})


def read(client, integ, session_id, what):
    response = integ.get(client, f"/v1/sessions/{session_id}/{what}", session_id)
    if response.status_code == 200:
        integ.assert_signed(response)
    return response


def submit(client, integ, session_id):
    return integ.post(client, f"/v1/sessions/{session_id}",
                      {"verification": {"status": "submitted"}}, method="patch")


def decide_cli(runner, session_id, status, *extra):
    return runner.invoke(args=["veriff", "decide", session_id, status, *extra])


def expected_verification(session_id, attempt_id, status, code, reason_code=None, reason=None):
    """The decision's verification object, but for its three timestamps."""
    return {"id": session_id, "attemptId": attempt_id, "vendorData": "user-42",
            "endUserId": "eu-42", "status": status, "code": code, "reason": reason,
            "reasonCode": reason_code,
            "person": {"firstName": "Carlos", "lastName": "Hernandez", "dateOfBirth": "1990-01-01",
                       "gender": "M", "idNumber": "HECA900101", "nationality": "MX",
                       "citizenship": None, "placeOfBirth": None, "yearOfBirth": "1990",
                       "pepSanctionMatch": None},
            "document": {"number": "MX-123456", "type": "ID_CARD", "country": "MX",
                         "validFrom": None, "validUntil": "2034-01-15"},
            "additionalVerifiedData": {}, "riskLabels": [], "comments": []}


def without_times(verification: dict) -> dict:
    times = {k: verification[k] for k in ("decisionTime", "acceptanceTime", "submissionTime")}
    for name, value in times.items():
        assert value is None or VERIFF_TIME.match(value), (name, value)
    return {k: v for k, v in verification.items() if k not in times}


# -- GET /decision, /person, /attempts ------------------------------------------------------------

def test_decision_is_null_until_decided(client, integ):
    sid = create(client, integ)
    response = read(client, integ, sid, "decision")
    assert response.status_code == 200 and response.json == NO_DECISION
    assert submit(client, integ, sid).json["verification"]["status"] == "submitted"
    assert read(client, integ, sid, "decision").json == NO_DECISION


def test_decision_after_submission_and_cli_decision(client, runner, integ):
    sid = create(client, integ)
    submit(client, integ, sid)
    result = decide_cli(runner, sid, "declined", "--reason-code", "105")
    assert result.exit_code == 0, result.output
    body = read(client, integ, sid, "decision").json
    assert json.loads(result.output) == body  # the CLI prints what GET /decision answers
    [attempt] = VeriffAttempt.select().where(VeriffAttempt.session == sid)
    v = body["verification"]
    assert without_times(v) == expected_verification(sid, attempt.id, "declined", 9102, 105,
                                                     "Suspicious behaviour")
    assert body["status"] == "success" and body["technicalData"] == {"ip": None}
    assert v["acceptanceTime"] <= v["submissionTime"] <= v["decisionTime"]


def test_person_endpoint(client, integ):
    sid = create(client, integ, person={**PERSON, "citizenship": "MX", "extraField": {"x": 1}})
    response = read(client, integ, sid, "person")
    assert response.status_code == 200
    assert response.json == {"status": "success", "person": {
        "firstName": "Carlos", "lastName": "Hernandez", "idNumber": "HECA900101",
        "dateOfBirth": "1990-01-01", "gender": "M", "nationality": "MX", "placeOfBirth": None,
        "citizenships": ["MX"], "pepSanctionMatches": []}}
    bare = integ.create_session(client, {"vendorData": "v"})
    assert read(client, integ, bare, "person").json["person"] == {
        "firstName": None, "lastName": None, "idNumber": None, "dateOfBirth": None,
        "gender": None, "nationality": None, "placeOfBirth": None, "citizenships": [],
        "pepSanctionMatches": []}


def test_attempts_follow_resubmission(client, runner, integ):
    sid = create(client, integ)
    assert read(client, integ, sid, "attempts").json == {"status": "success",
                                                         "verifications": []}
    submit(client, integ, sid)
    assert decide_cli(runner, sid, "resubmission_requested", "--reason-code", "204").exit_code == 0
    # After a resubmission request the integration may upload again and submit a new attempt.
    assert integ.upload(client, sid).status_code == 200
    assert submit(client, integ, sid).json["verification"]["status"] == "submitted"
    body = read(client, integ, sid, "attempts").json
    assert [a["status"] for a in body["verifications"]] == ["resubmission_requested",
                                                            "submitted"]
    rows = list(VeriffAttempt.select().where(VeriffAttempt.session == sid)
                .order_by(VeriffAttempt.seq))
    assert [a["id"] for a in body["verifications"]] == [r.id for r in rows]
    assert all(VERIFF_TIME.match(a["createdTime"]) for a in body["verifications"])
    assert read(client, integ, sid, "decision").json == NO_DECISION  # the new one is undecided


@pytest.mark.parametrize("what", ["decision", "person", "attempts"])
def test_read_endpoints_auth_and_scope(client, org, other_org, integ, what):
    sid = create(client, integ)
    path = f"/v1/sessions/{sid}/{what}"
    assert integ.get(client, path, "other-id").json == fail(BAD_ID_SIG)
    assert integ.get(client, path, sid, **{"X-HMAC-SIGNATURE": None}).json == fail(MISSING_SIG)
    assert client.get(path).json == FAIL_MISSING_KEY
    for other in (Integration(org.org, "second"), Integration(other_org.org, "foreign")):
        response = other.get(client, path, sid)
        assert response.status_code == 404 and response.json == FAIL_NOT_FOUND
    assert integ.get(client, "/v1/sessions/nope/" + what, "nope").json == FAIL_NOT_FOUND


# -- Veriff's test-mode names ------------------------------------------------------------------

@pytest.mark.parametrize("name, status, code, reason_code, reason", [
    ("Approve", "approved", 9001, None, None),
    ("Decline", "declined", 9102, 102, "Suspected document tampering"),
    ("Resubmit", "resubmission_requested", 9103, 201, "Video and/or photos missing"),
])
def test_test_mode_names_decide_on_submission(client, integ, name, status, code, reason_code,
                                              reason):
    sid = create(client, integ, person={**PERSON, "firstName": name})
    response = submit(client, integ, sid)
    assert response.status_code == 200
    assert response.json["verification"]["status"] == status
    v = read(client, integ, sid, "decision").json["verification"]
    assert (v["status"], v["code"], v["reasonCode"], v["reason"]) == (status, code, reason_code,
                                                                     reason)
    assert v["person"]["firstName"] == name
    decided = AuditEvent.select().where(AuditEvent.action == "veriff.session.decided").get()
    assert decided.payload["via"] == "test-mode" and decided.payload["status"] == status


def test_other_names_wait_for_a_decision(client, integ):
    for first_name in ("Approved", "Carlos", None):
        sid = create(client, integ, person={**PERSON, "firstName": first_name})
        assert submit(client, integ, sid).json["verification"]["status"] == "submitted"


# -- decisions: every status and reason ----------------------------------------------------------

@pytest.mark.parametrize("status, extra, code, reason_code", [
    ("approved", [], 9001, None),
    ("declined", [], 9102, 102),
    ("declined", ["--reason-code", "129"], 9102, 129),
    ("resubmission_requested", ["--reason-code", "207"], 9103, 207),
    ("review", [], 9121, None),
    ("expired", [], 9104, None),
    ("abandoned", [], 9104, None),
])
def test_every_decision_from_the_cli(client, runner, integ, status, extra, code, reason_code):
    sid = create(client, integ)
    result = decide_cli(runner, sid, status, *extra)
    assert result.exit_code == 0, result.output
    v = read(client, integ, sid, "decision").json["verification"]
    assert (v["status"], v["code"], v["reasonCode"]) == (status, code, reason_code)


@pytest.mark.parametrize("status, extra, message", [
    ("declined", ["--reason-code", "201"],
     "reason code 201 is not one of Veriff's declined reasons"),
    ("resubmission_requested", ["--reason-code", "102"],
     "reason code 102 is not one of Veriff's resubmission_requested reasons"),
    ("approved", ["--reason-code", "102"], "a approved decision has no reason code"),
])
def test_cli_refuses_reasons_outside_the_tables(client, runner, integ, status, extra, message):
    sid = create(client, integ)
    result = decide_cli(runner, sid, status, *extra)
    assert result.exit_code == 1 and message in result.output
    assert read(client, integ, sid, "decision").json == NO_DECISION


def test_cli_decide_errors(client, runner, integ):
    assert decide_cli(runner, "no-such-session", "approved").exit_code == 1
    assert decide_cli(runner, "x", "maybe").exit_code == 2  # not one of the statuses
    sid = create(client, integ)
    assert decide_cli(runner, sid, "review").exit_code == 0
    assert decide_cli(runner, sid, "approved").exit_code == 0  # a review is resolved later
    result = decide_cli(runner, sid, "declined")
    assert result.exit_code == 1 and "already approved" in result.output


def test_uploads_refused_once_decided(client, runner, integ):
    sid = create(client, integ)
    decide_cli(runner, sid, "approved")
    assert integ.upload(client, sid).json == fail(
        "Consent cannot be uploaded to a submitted session.")
    media = integ.post(client, f"/v1/sessions/{sid}/media",
                       {"image": {"context": "face", "content": "aGk="}})
    assert media.status_code == 409
    # Submitting a decided session changes nothing.
    assert submit(client, integ, sid).json["verification"]["status"] == "approved"


# -- the ledger API ---------------------------------------------------------------------------------

def test_ledger_api_decides(client, org, integ):
    sid = create(client, integ)
    response = client.post(f"/ledger/v1/veriff/sessions/{sid}/decision", headers=org.headers(),
                           json={"status": "declined", "reason_code": 110})
    assert response.status_code == 200
    assert response.json == read(client, integ, sid, "decision").json
    assert response.json["verification"]["reason"] == "Velocity/abuse duplicated ID"
    again = client.post(f"/ledger/v1/veriff/sessions/{sid}/decision", headers=org.headers(),
                        json={"status": "approved"})
    assert again.status_code == 409 and again.json == {
        "code": 409, "status": "Conflict", "message": "the session is already declined"}
    event = AuditEvent.select().where(AuditEvent.action == "veriff.session.decided").get()
    assert event.actor.startswith("credential:") and event.payload["via"] == "api"


def test_ledger_api_decision_errors(client, org, other_org, integ):
    sid = create(client, integ)
    path = f"/ledger/v1/veriff/sessions/{sid}/decision"
    response = client.post(path, headers=org.headers(), json={"status": "declined",
                                                              "reason_code": 999})
    assert response.status_code == 422 and response.json == {
        "code": 422, "status": "Unprocessable Entity",
        "message": "reason code 999 is not one of Veriff's declined reasons (101, 102, 103, "
                   "104, 105, 106, 108, 109, 110, 111, 112, 113, 120, 121, 122, 123, 124, 127, "
                   "128, 129)"}
    response = client.post(path, headers=org.headers(), json={"status": "maybe"})
    assert response.status_code == 422 and response.json["errors"]["json"]["status"]
    response = client.post(path, headers=other_org.headers(), json={"status": "approved"})
    assert response.status_code == 404 and response.json == {
        "code": 404, "status": "Not Found",
        "message": f"no Veriff session {sid} in this organisation"}
    response = client.post(path, headers=org.headers(org.consent_key),
                           json={"status": "approved"})
    assert response.status_code == 403
    assert client.post(path, json={"status": "approved"}).status_code == 400  # no X-Org-Id
    assert read(client, integ, sid, "decision").json == NO_DECISION


HOSTILE = {
    "deep": b'{"status": ' + b"[" * 10000 + b"]" * 10000 + b"}",
    "huge_int": b'{"status": "declined", "reason_code": ' + b"9" * 5000 + b"}",
    "beyond_64_bits": b'{"status": "declined", "reason_code": 9223372036854775808}',
    "surrogate": b'{"status": "\\ud800"}',
    "nan": b'{"status": "declined", "reason_code": NaN}',
    "year_one": b'{"status": "0001-01-01T00:00:00+14:00"}',
    "date_as_reason": b'{"status": "declined", "reason_code": "0001-01-01T00:00:00+14:00"}',
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_ledger_api_hostile_bodies(client, org, integ, name):
    sid = create(client, integ)
    before = AuditEvent.select().count()
    response = client.post(f"/ledger/v1/veriff/sessions/{sid}/decision", data=HOSTILE[name],
                           headers=org.headers(**{"Content-Type": "application/json"}))
    assert response.status_code in (400, 422), (name, response.status_code)
    assert response.json["code"] == response.status_code and response.json["message"]
    assert AuditEvent.select().count() == before


INTEGRATION_HOSTILE = {
    "deep": b'{"event_webhook_url": ' + b"[" * 10000 + b"]" * 10000 + b"}",
    "huge_int": b'{"event_webhook_url": ' + b"7" * 5000 + b"}",
    "surrogate": b'{"event_webhook_url": "http://h/\\udc00"}',
    "nan": b'{"decision_webhook_url": NaN}',
    "year_one": b'{"event_webhook_url": "0001-01-01T00:00:00+14:00"}',
    "unknown_field": b'{"event_webhook_url": null, "secret": 1}',
}


@pytest.mark.parametrize("name", sorted(INTEGRATION_HOSTILE))
def test_integration_settings_hostile_bodies(client, org, integ, name):
    before = AuditEvent.select().count()
    response = client.patch(f"/ledger/v1/veriff/integrations/{integ.id}",
                            data=INTEGRATION_HOSTILE[name],
                            headers=org.headers(**{"Content-Type": "application/json"}))
    assert response.status_code in (400, 422), (name, response.status_code)
    assert response.json["code"] == response.status_code and response.json["message"]
    assert AuditEvent.select().count() == before


# -- DELETE /v1/sessions/{id} -----------------------------------------------------------------------

def delete(client, integ, session_id):
    return integ.get(client, f"/v1/sessions/{session_id}", session_id, method="delete")


@pytest.mark.parametrize("prepare, final_status", [
    ([], "expired"),                              # created: never started
    (["approved"], "approved"),
    (["resubmission_requested"], "abandoned"),
])
def test_delete(client, runner, org, integ, prepare, final_status):
    sid = create(client, integ)
    assert integ.upload(client, sid).status_code == 200
    for status in prepare:
        decide_cli(runner, sid, status)
    response = delete(client, integ, sid)
    assert response.status_code == 200
    integ.assert_signed(response)
    assert response.json == {"status": "success", "verification": {
        "id": sid, "vendorData": "user-42", "host": "http://consent.test",
        "status": final_status}}
    for what in ("decision", "person", "attempts", "media", "consents"):
        assert read(client, integ, sid, what).json == FAIL_NOT_FOUND
    assert submit(client, integ, sid).json == FAIL_NOT_FOUND
    assert delete(client, integ, sid).json == FAIL_NOT_FOUND
    state = VeriffSessionState.get(VeriffSessionState.session == sid)
    assert state.person is None and state.document is None and state.deleted_at is not None
    assert Consent.select().count() == 1  # the consent stays in the ledger
    assert ledger.verify(org.org.id)["ok"] is True


def test_delete_of_a_started_session_abandons_it(client, integ):
    created = integ.post(client, "/v1/sessions", {"verification": {"vendorData": "user-42"}})
    sid, url = created.json["verification"]["id"], created.json["verification"]["url"]
    assert client.get(url.removeprefix("http://consent.test")).status_code == 200  # started
    assert read(client, integ, sid, "attempts").json["verifications"][0]["status"] == "started"
    assert delete(client, integ, sid).json["verification"]["status"] == "abandoned"
    assert client.get(url.removeprefix("http://consent.test")).status_code == 404


@pytest.mark.parametrize("status", ["submitted", "review"])
def test_delete_refused_while_not_completed(client, runner, integ, status):
    sid = create(client, integ)
    submit(client, integ, sid)
    if status == "review":
        decide_cli(runner, sid, "review")
    response = delete(client, integ, sid)
    assert response.status_code == 400 and response.json == NOT_COMPLETED
    assert read(client, integ, sid, "decision").status_code == 200


def test_delete_auth(client, org, integ):
    sid = create(client, integ)
    path = f"/v1/sessions/{sid}"
    assert integ.get(client, path, "x", method="delete").json == fail(BAD_ID_SIG)
    assert client.delete(path).json == FAIL_MISSING_KEY
    other = Integration(org.org, "other")
    assert other.get(client, path, sid, method="delete").json == FAIL_NOT_FOUND
    assert read(client, integ, sid, "decision").status_code == 200


# -- the audit chain ------------------------------------------------------------------------------------

def test_every_change_is_audited_without_person_data(client, runner, org, integ):
    sid = create(client, integ)
    submit(client, integ, sid)
    decide_cli(runner, sid, "resubmission_requested")
    submit(client, integ, sid)
    decide_cli(runner, sid, "approved")
    delete(client, integ, sid)
    events = list(AuditEvent.select().where(AuditEvent.entity_id == sid).order_by(AuditEvent.seq))
    assert [e.action for e in events] == [
        "veriff.session.created", "veriff.session.submitted", "veriff.screening.created",
        "veriff.session.decided", "veriff.session.submitted", "veriff.screening.created",
        "veriff.session.decided", "veriff.session.deleted"]
    assert [e.payload.get("status") for e in events if e.action.endswith("decided")] == [
        "resubmission_requested", "approved"]
    everything = json.dumps([e.payload for e in AuditEvent.select()])
    for value in ("Carlos", "Hernandez", "HECA900101", "1990-01-01", "MX-123456"):
        assert value not in everything
    assert ledger.verify(org.org.id)["ok"] is True
