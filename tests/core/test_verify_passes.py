"""Verification at any size: GET /ledger/v1/audit/verify works on the current pass for a time
budget and goes on where it stopped; POST /ledger/v1/audit/verifications runs a pass in the
background, polled by id. Every pass reads every row again, so tampering is found by the next
pass even after a clean one."""
from __future__ import annotations

import time

import pytest

from consent.core import ledger, verify
from consent.core.storage import Consent

GRANT = {"subject": "user-1", "purpose": "marketing", "status": "granted"}


@pytest.fixture
def slices(app, monkeypatch):
    """Tiny batches and no time budget: every call does exactly one batch."""
    monkeypatch.setattr(verify, "BATCH", 2)
    app.config["CONSENT_VERIFY_BUDGET"] = 0


def record(org, n):
    return [ledger.record_one(org.org, ledger.Decision(subject=f"s{i}", purpose="p",
                                                       status="granted")) for i in range(n)]


def test_a_pass_goes_on_over_several_calls_until_complete(client, org, slices):
    record(org, 5)  # 6 events (org creation... keys, purpose, consents)
    answers = []
    for _ in range(50):
        answers.append(client.get("/ledger/v1/audit/verify", headers=org.headers()).json)
        if answers[-1]["complete"]:
            break
    assert len(answers) > 3, "a tiny budget must take several calls"
    assert all(a["ok"] for a in answers) and answers[-1]["status"] == "done"
    assert len({a["id"] for a in answers}) == 1, "one pass, continued"
    through = [a["verified_through_seq"] for a in answers]
    assert through == sorted(through) and answers[-1]["consents_checked"] == 5
    assert answers[-1]["head_hash"] and answers[0]["complete"] is False
    # The next call starts a new pass.
    again = client.get("/ledger/v1/audit/verify", headers=org.headers()).json
    assert again["id"] != answers[-1]["id"]


@pytest.mark.tampered
def test_tampering_is_found_by_the_next_pass(client, org, slices):
    first = record(org, 3)[0]

    def run_pass():
        for _ in range(50):
            answer = client.get("/ledger/v1/audit/verify", headers=org.headers()).json
            if answer["complete"]:
                return answer
        raise AssertionError("the pass never completed")

    assert run_pass()["ok"] is True
    Consent.update(status="denied").where(Consent.id == first.id).execute()
    broken = run_pass()
    assert broken["ok"] is False and broken["status"] == "broken"
    assert broken["first_bad_consent"] == first.id
    assert broken["reason"] == "consent row does not match its record hash"


def test_a_background_pass_is_polled_by_id(client, org, other_org):
    record(org, 4)
    started = client.post("/ledger/v1/audit/verifications", headers=org.headers())
    assert started.status_code == 202 and started.json["kind"] == "background"
    vid = started.json["id"]
    assert client.get(f"/ledger/v1/audit/verifications/{vid}",
                      headers=other_org.headers()).status_code == 404
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        polled = client.get(f"/ledger/v1/audit/verifications/{vid}", headers=org.headers()).json
        if polled["complete"]:
            break
        time.sleep(0.05)
    assert polled["complete"] and polled["ok"] and polled["consents_checked"] == 4
    assert client.get("/ledger/v1/audit/verifications/999999",
                      headers=org.headers()).status_code == 404


def test_the_whole_pass_at_once_matches(org):
    record(org, 3)
    whole = verify.full(org.org.id)
    assert whole["ok"] and whole["consents_checked"] == 3
    assert whole == ledger.verify(org.org)
