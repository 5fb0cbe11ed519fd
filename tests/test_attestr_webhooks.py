"""Attestr's webhooks through the core outbox, against a real HTTP receiver on loopback, the
expiry that happens by itself (the worker's sweep, the clock moved), and the asynchronous
audit-trail export (a spreadsheet that opens and holds the consent's events)."""
from __future__ import annotations

import datetime as dt
import io
import json
import logging
import time

import pytest
from openpyxl import load_workbook

from consent.core import outbox, usage
from consent.core.storage import AuditEvent, ConsentEvent, WebhookDelivery
from consent.dialects.attestr import consents, exports, worker
from consent.dialects.attestr.models import AttestrAsync, AttestrConsent
from tests.attestr_helpers import Client, attestr, body, clock, iso, register  # noqa: F401
from tests.concurrency import together
from tests.receiver import Receiver


@pytest.fixture(autouse=True)
def fast(app, monkeypatch):
    monkeypatch.setattr(outbox, "POLICY", outbox.Policy(
        max_attempts=3, backoff_base=0.05, backoff_cap=0.2, timeout=2, poll_interval=0.05))
    monkeypatch.setattr(worker, "INTERVAL", 0.05)
    worker.WORKER.wake()   # a worker waiting out the default interval takes up the short one


@pytest.fixture
def receiver():
    with Receiver() as rx:
        yield rx


@pytest.fixture
def hooked(org, receiver):
    return Client(org.org, webhook_url=receiver.url + "/attestr")


def events(received):
    return [json.loads(r.body) for r in received]


def use(client, org, consent_id, operation="VERIFY"):
    ledger_id = AttestrConsent.get_by_id(consent_id).consent_id
    return client.post("/ledger/v1/checks", json={"consent_id": ledger_id,
                                                  "operation": operation, "use": True},
                       headers=org.headers()).json


def test_registered_is_posted_with_basic_auth_and_attestrs_envelope(client, hooked, receiver,
                                                                    clock):
    r = register(client, hooked, webhook=True, consentReferenceId="ref-hook")
    got = receiver.wait_for(1)[0]
    assert got.method == "POST" and got.path == "/attestr"
    assert got.headers["authorization"] == f"Basic {hooked.issued.webhook_token}"
    assert got.headers["content-type"] == "application/json"
    assert json.loads(got.body) == {"event": "consent.registered", "payload": {
        "_id": r.json["_id"], "number": r.json["number"], "consentReferenceId": "ref-hook",
        "consentType": "multi_use", "status": "active",
        "updated": int((clock.at - dt.datetime(1970, 1, 1)).total_seconds() * 1000)}}


def test_nothing_is_posted_without_webhook_true(client, hooked, receiver):
    register(client, hooked)   # webhook defaults to false
    register(client, hooked, webhook=False)
    time.sleep(0.3)
    assert receiver.received == [] and WebhookDelivery.select().count() == 0


def test_revoked_and_consumed_are_posted(client, org, hooked, receiver):
    revoked = register(client, hooked, webhook=True).json["_id"]
    client.post(f"/api/v3/public/consent/{revoked}/revoke", headers=hooked.headers())
    single = register(client, hooked, webhook=True, consentType="single_use").json["_id"]
    assert use(client, org, single)["allowed"] is True
    assert use(client, org, single)["reason"] == "already_used"
    got = [(e["event"], e["payload"]["_id"], e["payload"]["status"])
           for e in events(receiver.wait_for(4))]
    # One consent's webhooks arrive in the order of its changes (two consents' may interleave:
    # a destination takes two deliveries at once).
    assert [e for e in got if e[1] == revoked] == [
        ("consent.registered", revoked, "active"), ("consent.revoked", revoked, "revoked")]
    assert [e for e in got if e[1] == single] == [
        ("consent.registered", single, "active"), ("consent.consumed", single, "consumed")]
    time.sleep(0.2)
    assert len(receiver.received) == 4   # one consumed, however often it is used


def test_deliveries_are_listed_and_replayed_by_the_operator(client, org, hooked, receiver):
    consent_id = register(client, hooked, webhook=True).json["_id"]
    receiver.wait_for(1)
    listed = client.get("/ledger/v1/webhooks?topic=consent.registered",
                        headers=org.headers()).json["items"]
    assert [d["reference"] for d in listed] == [consent_id]
    deadline = time.monotonic() + 5
    while WebhookDelivery.get_by_id(listed[0]["id"]).status != "delivered":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert client.post(f"/ledger/v1/webhooks/{listed[0]['id']}/replay",
                       headers=org.headers()).status_code == 202
    first, again = receiver.wait_for(2)
    assert first.body == again.body


def test_the_webhook_token_is_shown_once_never_in_a_delivery_view(client, org, hooked, receiver,
                                                                   runner, caplog):
    caplog.set_level(logging.INFO, logger="consent")
    token = hooked.issued.webhook_token
    consent_id = register(client, hooked, webhook=True).json["_id"]
    assert receiver.wait_for(1)[0].headers["authorization"] == f"Basic {token}"
    [listed] = client.get("/ledger/v1/webhooks", headers=org.headers()).json["items"]
    detail = client.get(f"/ledger/v1/webhooks/{listed['id']}", headers=org.headers())
    assert detail.json["headers"] == {"Content-Type": "application/json",
                                      "Authorization": "Basic ***"}
    assert detail.json["reference"] == consent_id
    shown = runner.invoke(args=["webhooks", "show", "--org", org.slug, str(listed["id"])])
    assert shown.exit_code == 0 and "  Authorization: Basic ***\n" in shown.output
    listed_cli = runner.invoke(args=["webhooks", "list", "--org", org.slug]).output
    for text in (detail.get_data(as_text=True), shown.output, listed_cli, caplog.text):
        assert token not in text


def test_retried_with_backoff_when_the_receiver_fails(client, org):
    with Receiver(statuses=[503]) as rx:
        c = Client(org.org, webhook_url=rx.url)
        register(client, c, webhook=True)
        first, second = rx.wait_for(2)
        assert first.body == second.body


def test_a_rolled_back_registration_sends_nothing(client, hooked, receiver, monkeypatch):
    queue = consents.webhooks.consent_event

    def queued_then_broken(*args, **kwargs):
        assert queue(*args, **kwargs) is not None
        raise RuntimeError("the registration fails after its webhook was queued")

    monkeypatch.setattr(consents.webhooks, "consent_event", queued_then_broken)
    assert register(client, hooked, webhook=True).status_code == 500
    time.sleep(0.3)
    assert receiver.received == [] and WebhookDelivery.select().count() == 0


# -- expiry, by itself -----------------------------------------------------------------------------

def test_expiry_is_posted_without_anyone_asking(client, org, hooked, receiver, clock):
    consent_id = register(client, hooked, webhook=True,
                          consentValidTill=iso(clock.at + dt.timedelta(minutes=5))).json["_id"]
    receiver.wait_for(1)
    time.sleep(0.2)
    assert len(receiver.received) == 1   # not yet
    clock.advance(minutes=5)
    got = events(receiver.wait_for(2))[1]
    assert got["event"] == "consent.expired"
    assert got["payload"]["_id"] == consent_id and got["payload"]["status"] == "expired"
    row = AttestrConsent.get_by_id(consent_id)
    assert row.expired_at == clock.at and row.sweep_at is None
    expired = ConsentEvent.get(ConsentEvent.type == "expired")
    assert expired.data == {"attestr_consent_id": consent_id, "number": row.number}
    assert AuditEvent.get(AuditEvent.event_id == expired.audit_event_id).action == \
        "consent.expired"
    time.sleep(0.2)
    assert len(receiver.received) == 2   # once
    assert client.get("/ledger/v1/audit/verify", headers=org.headers()).json["ok"] is True


def test_revoked_or_consumed_consents_never_expire(client, org, hooked, receiver, clock):
    till = iso(clock.at + dt.timedelta(minutes=5))
    revoked = register(client, hooked, webhook=True, consentValidTill=till).json["_id"]
    client.post(f"/api/v3/public/consent/{revoked}/revoke", headers=hooked.headers())
    single = register(client, hooked, webhook=True, consentType="single_use",
                      consentValidTill=till).json["_id"]
    use(client, org, single)
    receiver.wait_for(4)
    clock.advance(minutes=10)
    worker.WORKER.wake()
    time.sleep(0.3)
    assert [e["event"] for e in events(receiver.received)].count("consent.expired") == 0
    assert ConsentEvent.select().where(ConsentEvent.type == "expired").count() == 0


def test_each_expiry_is_claimed_once_across_sweepers(app, client, org, attestr, clock):
    worker.WORKER.enabled = False
    try:
        for _ in range(5):
            register(client, attestr, consentValidTill=iso(clock.at + dt.timedelta(minutes=1)))
        clock.advance(minutes=1)
        counts = together(4, consents.expire_due)
        assert sum(counts) == 5
        assert ConsentEvent.select().where(ConsentEvent.type == "expired").count() == 5
        assert consents.expire_due() == 0
    finally:
        worker.WORKER.enabled = True


def test_cli_sweep_does_one_round(app, client, runner, attestr, clock):
    worker.WORKER.enabled = False
    try:
        register(client, attestr, consentValidTill=iso(clock.at + dt.timedelta(seconds=30)))
        clock.advance(seconds=30)
        out = runner.invoke(args=["attestr", "sweep"])
        assert json.loads(out.output) == {"expired": 1, "exports": 0}
    finally:
        worker.WORKER.enabled = True


# -- single use under concurrency, on an Attestr consent ------------------------------------------

def test_concurrent_uses_one_wins_one_consumed_webhook(app, client, org, hooked, receiver):
    consent_id = register(client, hooked, webhook=True, consentType="single_use").json["_id"]
    ledger_id = AttestrConsent.get_by_id(consent_id).consent_id
    results = together(6, lambda: usage.check(org.org.id, "VERIFY", consent_id=ledger_id,
                                              use=True).allowed)
    assert sorted(results) == [False] * 5 + [True]
    got = events(receiver.wait_for(2))
    time.sleep(0.2)
    assert [e["event"] for e in events(receiver.received)] == ["consent.registered",
                                                                "consent.consumed"]
    assert got[1]["payload"]["_id"] == consent_id


# -- the asynchronous export -------------------------------------------------------------------

def wait_completed(client, c, async_id, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(f"/api/v3/public/common/async/{async_id}", headers=c.headers())
        assert r.status_code == 200
        if r.json["status"] != "pending" or time.monotonic() > deadline:
            return r.json
        time.sleep(0.05)


def test_export_spreadsheet_holds_the_consents_events(client, org, hooked, receiver):
    consent_id = register(client, hooked, webhook=True, consentType="multi_use",
                          consentReferenceId="=HYPERLINK(\"http://evil\")").json["_id"]
    use(client, org, consent_id, "VERIFY")
    client.post(f"/api/v3/public/consent/{consent_id}/revoke", headers=hooked.headers())
    r = client.post(f"/api/v3/public/consent/{consent_id}/export", headers=hooked.headers())
    assert r.status_code == 200 and set(r.json) == {"_id", "number"}
    async_id = r.json["_id"]
    done = wait_completed(client, hooked, async_id)
    assert done["status"] == "completed" and done["error"] is None
    assert done["_id"] == async_id and done["type"] == "consent_export"
    assert done["consentId"] == consent_id
    output = done["output"]
    assert output["url"] == f"http://consent.test/api/v3/public/common/media/{output['mediaId']}"
    media = client.get(f"/api/v3/public/common/media/{output['mediaId']}",
                       headers=hooked.headers())
    assert media.status_code == 200 and media.mimetype == exports.XLSX
    assert len(media.data) == output["size"]
    book = load_workbook(io.BytesIO(media.data))
    summary = {row[0].value: row[1] for row in book["Consent"].iter_rows(min_row=2)}
    assert summary["_id"].value == consent_id and summary["status"].value == "revoked"
    reference = summary["consentReferenceId"]
    assert reference.value == "=HYPERLINK(\"http://evil\")" and reference.data_type == "s"
    trail = [[c.value for c in row] for row in book["Events"].iter_rows()]
    assert trail[0][:2] == ["at", "event"]
    assert [row[1] for row in trail[1:]] == ["recorded", "used", "withdrawn"]
    assert [row[3] for row in trail[1:]] == ["consent.recorded", "consent.used",
                                             "consent.recorded"]
    assert all(isinstance(row[4], int) and len(row[7]) == 64 for row in trail[1:])
    hooks = events(receiver.wait_for(3))
    completed = [e for e in hooks if e["event"] == "async.completed"]
    assert completed and completed[0]["payload"]["_id"] == async_id
    assert completed[0]["payload"]["output"]["mediaId"] == output["mediaId"]
    assert AuditEvent.select().where(AuditEvent.action == "attestr.async.completed").count() == 1


def test_export_is_pending_until_the_worker_runs_it(client, attestr):
    worker.WORKER.enabled = False
    try:
        consent_id = register(client, attestr).json["_id"]
        async_id = client.post(f"/api/v3/public/consent/{consent_id}/export",
                               headers=attestr.headers()).json["_id"]
        pending = client.get(f"/api/v3/public/common/async/{async_id}",
                             headers=attestr.headers()).json
        assert pending["status"] == "pending" and pending["output"] is None
        assert exports.run_due() == 1
        assert exports.run_due() == 0     # claimed and done once
    finally:
        worker.WORKER.enabled = True
    assert client.get(f"/api/v3/public/common/async/{async_id}",
                      headers=attestr.headers()).json["status"] == "completed"


def test_a_failing_export_is_retried_then_errored(client, attestr, monkeypatch, clock):
    worker.WORKER.enabled = False
    try:
        def broken(row):
            raise ValueError("cannot build")

        monkeypatch.setattr(exports, "workbook", broken)
        consent_id = register(client, attestr).json["_id"]
        async_id = client.post(f"/api/v3/public/consent/{consent_id}/export",
                               headers=attestr.headers()).json["_id"]
        for _ in range(exports.MAX_ATTEMPTS):
            assert exports.run_due() == 1
            clock.advance(seconds=exports.LEASE.total_seconds() + 1)
        job = AttestrAsync.get_by_id(async_id)
        assert job.status == "errored" and job.attempts == exports.MAX_ATTEMPTS
    finally:
        worker.WORKER.enabled = True
    r = client.get(f"/api/v3/public/common/async/{async_id}", headers=attestr.headers()).json
    assert r["status"] == "errored" and r["error"] == "ValueError" and r["output"] is None


def test_jobs_and_files_stay_in_their_organisation(client, org, other_org, attestr):
    consent_id = register(client, attestr).json["_id"]
    async_id = client.post(f"/api/v3/public/consent/{consent_id}/export",
                           headers=attestr.headers()).json["_id"]
    media_id = wait_completed(client, attestr, async_id)["output"]["mediaId"]
    outsider = Client(other_org.org)
    r = client.get(f"/api/v3/public/common/async/{async_id}", headers=outsider.headers())
    assert r.status_code == 400 and r.json["details"] == f"No async request {async_id!r}"
    r = client.get(f"/api/v3/public/common/media/{media_id}", headers=outsider.headers())
    assert r.status_code == 400 and r.json["details"] == f"No media {media_id!r}"
    assert client.post(f"/api/v3/public/consent/{consent_id}/export",
                       headers=outsider.headers()).status_code == 400
