"""Verification at any size: GET /ledger/v1/audit/verify works on the current pass for a time
budget and goes on where it stopped; POST /ledger/v1/audit/verifications runs a pass in the
background, polled by id. Every pass reads every row again, so tampering is found by the next
pass even after a clean one."""
from __future__ import annotations

import time

import pytest

from consent.core import ledger, verify
from consent.core.storage import AuditEvent, Consent, Verification

GRANT = {"subject": "user-1", "purpose": "marketing", "status": "granted"}


@pytest.fixture
def slices(app, monkeypatch):
    """Tiny batches and no time budget: every call does exactly one batch."""
    monkeypatch.setattr(verify, "BATCH", 2)
    app.config["CONSENT_VERIFY_BUDGET"] = 0


def record(org, n):
    return [ledger.record_one(org.org.id, ledger.Decision(subject=f"s{i}", purpose="p",
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
    assert whole == ledger.verify(org.org.id)


# -- covered rows, in slices ----------------------------------------------------------------

@pytest.fixture
def full(client, app, org, monkeypatch):
    from tests import full_ledger

    return full_ledger.build(client, app, org, monkeypatch)


def test_a_pass_walks_every_covered_row_in_batches_and_slices(client, org, slices, full,
                                                              monkeypatch):
    """One batch per call: the pass goes through every phase, reads no more than a batch of
    rows (and checks no more than ROW_CHECKS recorded rows) at a time, and counts every row."""
    from consent.core import covered
    from tests import full_ledger

    monkeypatch.setattr(verify, "ROW_CHECKS", 3)
    total = full_ledger.count_covered(org.org.id)
    walked, looked_up = [], []
    real_walk, real_pointers = covered.Covered.walk, covered.Covered.pointers
    monkeypatch.setattr(covered.Covered, "walk", lambda self, *a: walked.append(
        rows := real_walk(self, *a)) or rows)
    monkeypatch.setattr(covered.Covered, "pointers", lambda self, org_id, keys: looked_up.append(
        len(keys)) or real_pointers(self, org_id, keys))
    phases, answers = [], []
    for _ in range(2000):
        answers.append(client.get("/ledger/v1/audit/verify", headers=org.headers()).json)
        phases.append(answers[-1]["phase"])
        if answers[-1]["complete"]:
            break
    assert answers[-1]["ok"] is True and answers[-1]["status"] == "done"
    assert len({a["id"] for a in answers}) == 1
    seen = list(dict.fromkeys(phases))
    assert seen == ["events", "rows", "consents", "missing", "done"] or \
        seen == ["events", "rows", "consents", "done"], seen
    assert answers[-1]["rows_checked"] == total
    assert max(len(batch) for batch in walked) <= 2
    most_per_event = max(sum(len(keys) for keys in covered.recorded(e.payload).values())
                         for e in AuditEvent.select().where(AuditEvent.org == org.org.id))
    assert max(looked_up) <= 3 + most_per_event


@pytest.mark.tampered
def test_a_row_changed_ahead_of_a_running_pass_is_found_by_it(client, org, slices, full):
    """A pass stopped in the middle of the covered rows goes on from its saved progress, and
    finds a row changed meanwhile further on."""
    from consent.dialects.veriff.models import VeriffConsent

    for _ in range(2000):
        answer = client.get("/ledger/v1/audit/verify", headers=org.headers()).json
        assert not answer["complete"]
        if answer["phase"] == "rows":
            break
    row = Verification.get_by_id(answer["id"])
    assert row.progress["table"] < "veriff_consent"
    upload = VeriffConsent.get(VeriffConsent.session == full.ids["session"])
    VeriffConsent.update(type="bipa").where(VeriffConsent.seq == upload.seq).execute()
    for _ in range(2000):
        answer = client.get("/ledger/v1/audit/verify", headers=org.headers()).json
        if answer["complete"]:
            break
    assert answer["id"] == row.id and answer["status"] == "broken"
    assert (answer["first_bad_table"], answer["first_bad_row"]) == ("veriff_consent",
                                                                    str(upload.seq))
