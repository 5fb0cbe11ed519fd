"""Checkpoints sent on a schedule to the operator's witnesses: a webhook URL (through the outbox,
to a real receiver on 127.0.0.1) and a file outside the database; and the witness settings that
are refused."""
from __future__ import annotations

import datetime as dt
import json
import os
import stat
import uuid
from contextlib import contextmanager

import pytest

from consent import create_app
from consent.core import checkpoints, ledger, outbox, storage
from consent.core.storage import utcnow
from tests.checkpoint_helpers import rewrite_consent, signature_holds
from tests.concurrency import together
from tests.helpers import OrgFixture
from tests.receiver import Receiver


@contextmanager
def witnessed_app(database_url, tmp_path, **config):
    app = create_app({
        "TESTING": True, "CONSENT_DATABASE_URL": database_url,
        "CONSENT_SECRET_KEY": "test-secret-key-" + uuid.uuid4().hex,
        "CONSENT_CHECKPOINT_KEY_DIR": str(tmp_path / "checkpoint-keys"),
        "CONSENT_WEBHOOK_BACKOFF_BASE": 0.05,
        # The schedule's own loop stays asleep unless a test asks for it: the tests call its
        # step themselves, so what it does is deterministic.
        "CONSENT_CHECKPOINT_POLL_SECONDS": 600.0, **config})
    try:
        with app.app_context():
            storage.create_tables()
            yield app
    finally:
        app.extensions["consent.background"].stop()
        if storage.db.obj is not None and not storage.db.is_closed():
            storage.db.close()


def grant(org, subject):
    ledger.record_one(org.org.id, ledger.Decision(subject=subject, purpose="p", status="granted"))


def head_seq(org):
    return checkpoints.head(org.org.id)[0]


def public_pem(app):
    return app.test_cli_runner().invoke(args=["audit", "key", "show"]).output


def test_every_n_events_a_checkpoint_goes_to_the_webhook_witness(database_url, tmp_path):
    with Receiver() as receiver, witnessed_app(
            database_url, tmp_path, CONSENT_CHECKPOINT_WITNESS_URL=receiver.url + "/witness",
            CONSENT_CHECKPOINT_EVERY_EVENTS=3, CONSENT_CHECKPOINT_EVERY_MINUTES=0) as app:
        org = OrgFixture("acme")          # org.created and two credentials: 3 events
        assert head_seq(org) == 3
        assert checkpoints.witness_due() == 1
        assert checkpoints.witness_due() == 0          # the head has not moved
        grant(org, "a")                                 # purpose.created, consent.recorded
        assert checkpoints.witness_due() == 0          # 2 events since the last one
        grant(org, "b")
        assert head_seq(org) == 6 and checkpoints.witness_due() == 1
        received = receiver.wait_for(2)
        bodies = [json.loads(r.body) for r in received]
        assert sorted(b["seq"] for b in bodies) == [3, 6]
        pem = public_pem(app)
        for request, body in zip(received, bodies):
            assert request.method == "POST" and request.path == "/witness"
            assert request.headers["content-type"] == "application/json"
            assert set(body) == {"org", "seq", "head_hash", "at", "key_id", "signature"}
            assert body["org"] == org.org.id and signature_holds(body, pem)
        deliveries = outbox.deliveries(org.org.id, topic="audit.checkpoint")
        assert sorted(d.reference for d in deliveries) == ["3", "6"]
        rows = checkpoints.listing(org.org.id)
        assert [(r.seq, r.origin, r.witnessed, r.witness_file) for r in rows] == [
            (6, "schedule", True, None), (3, "schedule", True, None)]


def test_the_schedules_loop_runs_in_the_serving_process(database_url, tmp_path):
    with Receiver() as receiver, witnessed_app(
            database_url, tmp_path, CONSENT_CHECKPOINT_WITNESS_URL=receiver.url,
            CONSENT_CHECKPOINT_EVERY_EVENTS=2, CONSENT_CHECKPOINT_POLL_SECONDS=0.05) as app:
        org = OrgFixture("acme")
        grant(org, "a")
        assert app.test_client().get("/readyz").status_code == 200   # starts the loops
        body = json.loads(receiver.wait_for(1, timeout=30)[0].body)
        assert body["org"] == org.org.id and body["seq"] == head_seq(org)


def test_every_m_minutes_when_the_head_moved(database_url, tmp_path):
    out = tmp_path / "witness" / "checkpoints.jsonl"
    out.parent.mkdir()
    with witnessed_app(database_url, tmp_path, CONSENT_CHECKPOINT_WITNESS_FILE=str(out),
                       CONSENT_CHECKPOINT_EVERY_EVENTS=0, CONSENT_CHECKPOINT_EVERY_MINUTES=5):
        org = OrgFixture("acme")
        now = utcnow()
        assert checkpoints.witness_due(now) == 1        # the first one at once
        grant(org, "a")
        assert checkpoints.witness_due(now + dt.timedelta(minutes=4)) == 0
        assert checkpoints.witness_due(now + dt.timedelta(minutes=6)) == 1
        assert checkpoints.witness_due(now + dt.timedelta(minutes=60)) == 0   # no move


def test_the_witness_file_gets_a_line_per_checkpoint_and_catches_a_rewrite(database_url,
                                                                             tmp_path):
    out = tmp_path / "witness" / "checkpoints.jsonl"
    out.parent.mkdir()
    with witnessed_app(database_url, tmp_path, CONSENT_CHECKPOINT_WITNESS_FILE=str(out),
                       CONSENT_CHECKPOINT_EVERY_EVENTS=1) as app:
        runner = app.test_cli_runner()
        org, other = OrgFixture("acme"), OrgFixture("globex")
        target = ledger.record_one(org.org.id, ledger.Decision(subject="a", purpose="p",
                                                            status="granted"))
        assert checkpoints.witness_due() == 2           # one per organisation
        assert not out.exists()                          # written by the loop's next step
        assert checkpoints.write_witness_file() == 2
        assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
        grant(org, "b")
        assert checkpoints.run_witness() is False       # the loop's step: issue, then write
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        written = [(cp["org"], cp["seq"]) for cp in lines]
        assert sorted(written[:2]) == sorted([(org.org.id, head_seq(org) - 1),
                                              (other.org.id, head_seq(other))])
        assert written[2] == (org.org.id, head_seq(org))
        acme_lines = [n for n, cp in enumerate(lines, 1) if cp["org"] == org.org.id]
        globex_line = ({1, 2} - set(acme_lines)).pop()
        pem = public_pem(app)
        assert all(signature_holds(cp, pem) for cp in lines)
        assert {r.witness_file for r in checkpoints.AuditCheckpoint.select()} == {"written"}

        ok = runner.invoke(args=["audit", "verify", "--checkpoint", str(out)])
        assert ok.exit_code == 0 and ok.output.count("the chain extends it") == 3
        rewrite_consent(org.org.id, target.id, "denied")
        assert runner.invoke(args=["audit", "verify"]).exit_code == 0
        caught = runner.invoke(args=["audit", "verify", "--checkpoint", str(out)])
        assert caught.exit_code == 1
        for n in acme_lines:
            assert f"BROKEN: checkpoint {out}:{n} (org acme" in caught.stderr
        assert f"OK: checkpoint {out}:{globex_line} (org globex" in caught.output  # its own


def test_a_line_whose_write_was_not_recorded_is_written_again_identical(database_url,
                                                                          tmp_path):
    out = tmp_path / "witness.jsonl"
    with witnessed_app(database_url, tmp_path, CONSENT_CHECKPOINT_WITNESS_FILE=str(out)):
        OrgFixture("acme")
        checkpoints.run_witness()
        # As if the process died after the append, before marking the line written.
        checkpoints.AuditCheckpoint.update(witness_file="pending").execute()
        checkpoints.run_witness()
        first, second = out.read_text().splitlines()
        assert first == second


def test_concurrent_schedulers_witness_a_head_once(database_url, tmp_path):
    with Receiver() as receiver, witnessed_app(
            database_url, tmp_path, CONSENT_CHECKPOINT_WITNESS_URL=receiver.url,
            CONSENT_CHECKPOINT_EVERY_EVENTS=1):
        org = OrgFixture("acme")
        assert sum(together(4, checkpoints.witness_due)) == 1
        assert [r.seq for r in checkpoints.listing(org.org.id)] == [head_seq(org)]
        assert len(outbox.deliveries(org.org.id, topic="audit.checkpoint")) == 1


def test_no_witness_no_schedule(database_url, tmp_path):
    with witnessed_app(database_url, tmp_path, CONSENT_CHECKPOINT_EVERY_EVENTS=1):
        OrgFixture("acme")
        assert checkpoints.witness_due() == 0 and checkpoints.run_witness() is False
        assert checkpoints.AuditCheckpoint.select().count() == 0


def refused(database_url, tmp_path, message, **config):
    with pytest.raises(ValueError, match=message):
        create_app({"TESTING": True, "CONSENT_DATABASE_URL": database_url,
                    "CONSENT_SECRET_KEY": "k", **config})


def test_witness_settings_that_cannot_witness_are_refused(database_url, tmp_path):
    instance = create_app({"TESTING": True, "CONSENT_DATABASE_URL": database_url,
                           "CONSENT_SECRET_KEY": "k"}).instance_path
    refused(database_url, tmp_path, "must be outside",
            CONSENT_CHECKPOINT_WITNESS_FILE=os.path.join(instance, "checkpoints.jsonl"))
    refused(database_url, tmp_path, "must be outside",
            CONSENT_CHECKPOINT_KEY_DIR=str(tmp_path / "keys"),
            CONSENT_CHECKPOINT_WITNESS_FILE=str(tmp_path / "keys"))
    (tmp_path / "keys").mkdir()
    refused(database_url, tmp_path, "must be outside",
            CONSENT_CHECKPOINT_KEY_DIR=str(tmp_path / "keys"),
            CONSENT_CHECKPOINT_WITNESS_FILE=str(tmp_path / "keys" / "w.jsonl"))
    refused(database_url, tmp_path, "absolute path", CONSENT_CHECKPOINT_WITNESS_FILE="w.jsonl")
    refused(database_url, tmp_path, "no directory",
            CONSENT_CHECKPOINT_WITNESS_FILE=str(tmp_path / "missing" / "w.jsonl"))
    refused(database_url, tmp_path, "is a directory",
            CONSENT_CHECKPOINT_WITNESS_FILE=str(tmp_path))
    refused(database_url, tmp_path, "http", CONSENT_CHECKPOINT_WITNESS_URL="ftp://example.org/x")
    refused(database_url, tmp_path, "http", CONSENT_CHECKPOINT_WITNESS_URL="not a url")


def test_the_database_files_are_refused_as_witness(tmp_path):
    url = f"sqlite:///{tmp_path / 'consent.sqlite3'}"
    for name in ("consent.sqlite3", "consent.sqlite3-wal", "consent.sqlite3-writer.lock"):
        refused(url, tmp_path, "one of the database's files",
                CONSENT_CHECKPOINT_WITNESS_FILE=str(tmp_path / name))
