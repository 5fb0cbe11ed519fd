"""``GET|PATCH /v1/sessions/{id}/watchlist-screening`` at the HTTP level: the local stand-in's
deterministic results (test-mode last names), monitoring switched off, hits reviewed, every error
in Veriff's shape, signed both ways, audited without the person's name, erased with the
session."""
from __future__ import annotations

import json
import re

import pytest

from consent.core import outbox
from consent.core.storage import AuditEvent
from consent.dialects.veriff.models import VeriffScreening
from tests.veriff_helpers import (
    BAD_ID_SIG,
    BAD_SIG,
    FAIL_MISSING_KEY,
    FAIL_NOT_FOUND,
    FAIL_VALIDATION,
    Integration,
    fail,
)

VERIFF_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
NOT_ENABLED = fail("Watchlist screening is not enabled")


@pytest.fixture(autouse=True)
def no_sending(monkeypatch):
    monkeypatch.setattr(outbox.SENDER, "enabled", False)


@pytest.fixture
def integ(org):
    return Integration(org.org)


def create(client, integ, last_name="Hernandez", **person):
    return integ.create_session(client, {"vendorData": "user-42", "endUserId": "eu-42",
                                         "person": {"firstName": "Carlos", "lastName": last_name,
                                                    "dateOfBirth": "1961-04-02", **person}})


def submit(client, integ, sid):
    response = integ.post(client, f"/v1/sessions/{sid}",
                          {"verification": {"status": "submitted"}}, method="patch")
    assert response.status_code == 200, response.json


def screening(client, integ, sid):
    return integ.get(client, f"/v1/sessions/{sid}/watchlist-screening", sid)


def change(client, integ, sid, body):
    return integ.post(client, f"/v1/sessions/{sid}/watchlist-screening", body, method="patch")


def attempt_of(client, integ, sid):
    return integ.get(client, f"/v1/sessions/{sid}/attempts", sid).json["verifications"][-1]["id"]


@pytest.mark.parametrize("last_name, listing", [("Sanction", "sanctions"), ("PEP", "pep"),
                                                ("adverse", "adverseMedia")])
def test_a_test_mode_name_gets_one_hit_of_its_list(client, integ, last_name, listing):
    sid = create(client, integ, last_name)
    submit(client, integ, sid)
    response = screening(client, integ, sid)
    assert response.status_code == 200
    integ.assert_signed(response)
    data = response.json["data"]
    assert data == {
        "attemptId": attempt_of(client, integ, sid), "sessionId": sid, "vendorData": "user-42",
        "endUserId": "eu-42", "checkType": "initial_result", "matchStatus": "possible_match",
        "monitorStatus": "enabled", "searchTerm": {"name": f"Carlos {last_name}",
                                                   "year": "1961"},
        "totalHits": 1, "createdAt": data["createdAt"], "hits": data["hits"]}
    assert VERIFF_TIME.match(data["createdAt"])
    hit = data["hits"][0]
    assert hit["matchedName"] == f"CARLOS {last_name.upper()}" and hit["dateOfBirth"] == "1961"
    assert hit["matchStatus"] == "potential_match" and hit["isWhitelisted"] is False
    assert {k: len(v) for k, v in hit["listingsRelatedToMatch"].items()} == {
        "warnings": 0, "sanctions": 0, "fitnessProbity": 0, "pep": 0, "adverseMedia": 0,
        listing: 1}


def test_anyone_else_has_no_match(client, integ):
    sid = create(client, integ)
    submit(client, integ, sid)
    data = screening(client, integ, sid).json["data"]
    assert data["matchStatus"] == "no_match" and data["hits"] == [] and data["totalHits"] == 0
    # a session created without a person is screened on nothing, and matches nothing
    bare = integ.create_session(client, {"vendorData": "v"})
    submit(client, integ, bare)
    data = screening(client, integ, bare).json["data"]
    assert data["searchTerm"] == {"name": None, "year": None}
    assert data["matchStatus"] == "no_match"


def test_no_screening_before_the_session_is_submitted(client, org, integ):
    sid = create(client, integ, "Sanction")
    response = screening(client, integ, sid)
    assert response.status_code == 404 and response.json == NOT_ENABLED
    response = change(client, integ, sid, {"monitorStatus": "disabled"})
    assert response.status_code == 404 and response.json == NOT_ENABLED
    response = Integration(org.org, "other").get(
        client, f"/v1/sessions/{sid}/watchlist-screening", sid)
    assert response.status_code == 404 and response.json == FAIL_NOT_FOUND


def test_a_new_submission_updates_the_result(client, org, integ):
    sid = create(client, integ, "Pep")
    submit(client, integ, sid)
    first = screening(client, integ, sid).json["data"]
    response = client.post(f"/ledger/v1/veriff/sessions/{sid}/decision",
                           json={"status": "resubmission_requested"}, headers=org.headers())
    assert response.status_code == 200
    submit(client, integ, sid)
    second = screening(client, integ, sid).json["data"]
    assert second["checkType"] == "updated_result" and first["checkType"] == "initial_result"
    assert second["attemptId"] == attempt_of(client, integ, sid) != first["attemptId"]
    assert second["hits"][0]["id"] != first["hits"][0]["id"]


def test_monitoring_is_disabled_once(client, integ):
    sid = create(client, integ, "Sanction")
    submit(client, integ, sid)
    response = change(client, integ, sid, {"monitorStatus": "disabled"})
    assert response.status_code == 200
    integ.assert_signed(response)
    assert response.json == {"status": "success", "data": {
        "attemptId": attempt_of(client, integ, sid), "sessionId": sid, "vendorData": "user-42",
        "monitorStatus": "disabled"}}
    assert screening(client, integ, sid).json["data"]["monitorStatus"] == "disabled"
    again = change(client, integ, sid, {"monitorStatus": "disabled"})
    assert again.status_code == 400
    assert again.json == fail("Watchlist screening is already disabled")


def test_a_hit_is_reviewed(client, integ):
    sid = create(client, integ, "Sanction")
    submit(client, integ, sid)
    hit_id = screening(client, integ, sid).json["data"]["hits"][0]["id"]
    response = change(client, integ, sid, {"hit": {"id": hit_id, "matchStatus": "true_match",
                                                   "riskLevel": "high"}})
    assert response.status_code == 200, response.json
    integ.assert_signed(response)
    hit = response.json["data"]["hit"]
    assert (hit["id"], hit["matchStatus"], hit["riskLevel"], hit["isWhitelisted"]) == (
        hit_id, "true_match", "high", False)
    # a risk level alone, for a hit already a true match
    response = change(client, integ, sid, {"hit": {"id": hit_id, "riskLevel": "low"}})
    assert response.json["data"]["hit"]["riskLevel"] == "low"
    response = change(client, integ, sid, {"hit": {"id": hit_id, "isWhitelisted": True,
                                                   "matchStatus": "false_positive"}})
    hit = response.json["data"]["hit"]
    assert (hit["matchStatus"], hit["riskLevel"], hit["isWhitelisted"]) == (
        "false_positive", None, True)
    assert screening(client, integ, sid).json["data"]["hits"] == [hit]
    # a risk level for a hit that is no true match
    response = change(client, integ, sid, {"hit": {"id": hit_id, "riskLevel": "high"}})
    assert response.status_code == 400
    assert response.json == fail("riskLevel is only for a hit that is a true_match")
    response = change(client, integ, sid, {"hit": {"id": "no-such-hit"}})
    assert response.status_code == 404 and response.json == FAIL_NOT_FOUND


@pytest.mark.parametrize("body", [
    {}, {"monitorStatus": "enabled"}, {"monitorStatus": "disabled", "hit": {"id": "x"}},
    {"hit": {}}, {"hit": {"id": "x", "matchStatus": "maybe"}},
    {"hit": {"id": "x", "riskLevel": "medium"}}, {"hit": {"id": "x", "isWhitelisted": "yes"}},
    {"hit": {"id": "x", "other": 1}}, {"monitorStatus": "disabled", "extra": True},
    [], "disabled",
])
def test_malformed_changes_are_400(client, integ, body):
    sid = create(client, integ, "Sanction")
    submit(client, integ, sid)
    response = change(client, integ, sid, body)
    assert response.status_code == 400 and response.json == FAIL_VALIDATION
    assert screening(client, integ, sid).json["data"]["monitorStatus"] == "enabled"


def test_signatures_and_credentials(client, integ):
    sid = create(client, integ, "Sanction")
    submit(client, integ, sid)
    path = f"/v1/sessions/{sid}/watchlist-screening"
    assert client.get(path).json == FAIL_MISSING_KEY
    response = integ.get(client, path, "another-id")
    assert response.status_code == 401 and response.json == fail(BAD_ID_SIG)
    response = integ.post(client, path, {"monitorStatus": "disabled"}, method="patch",
                          sign_with="not-the-secret")
    assert response.status_code == 401 and response.json == fail(BAD_SIG)
    assert screening(client, integ, sid).json["data"]["monitorStatus"] == "enabled"


def test_audited_without_the_name_and_erased_with_the_session(client, org, integ):
    sid = create(client, integ, "Sanction", firstName="Zorander")
    submit(client, integ, sid)
    hit_id = screening(client, integ, sid).json["data"]["hits"][0]["id"]
    change(client, integ, sid, {"hit": {"id": hit_id, "matchStatus": "inconclusive"}})
    change(client, integ, sid, {"monitorStatus": "disabled"})
    actions = [e.action for e in AuditEvent.select().where(
        AuditEvent.action.startswith("veriff.screening")).order_by(AuditEvent.seq)]
    assert actions == ["veriff.screening.created", "veriff.screening.hit_reviewed",
                       "veriff.screening.monitoring_disabled"]
    everything = json.dumps([e.payload for e in AuditEvent.select()])
    assert "Zorander" not in everything and "ZORANDER" not in everything
    client.post(f"/ledger/v1/veriff/sessions/{sid}/decision", json={"status": "declined"},
                headers=org.headers())
    assert integ.get(client, f"/v1/sessions/{sid}", sid, method="delete").status_code == 200
    assert screening(client, integ, sid).json == FAIL_NOT_FOUND
    # The row stays (the audit chain covers it; covered rows are never deleted) without the
    # person: no search term, no hits, and no salt (its hash no longer holds personal data).
    row = VeriffScreening.get(VeriffScreening.session == sid)
    assert (row.search_name, row.search_year, row.hits, row.pd_salt) == (None, None, [], None)
    assert (row.check_type, row.match_status) == ("initial_result", "possible_match")
    stored = json.dumps([list(r) for r in VeriffScreening.select().tuples()], default=str)
    assert "Zorander" not in stored and "ZORANDER" not in stored and "1961" not in stored
