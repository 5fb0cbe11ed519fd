"""Background loops belong to their app and stop with it; nothing of one app's background work
reaches the database of the next (the cause of a flaky suite: a webhook sender of one test's app
querying the half-built database of the next test)."""
from __future__ import annotations

import gc
import sys
import threading
import time
import uuid

import pytest

from consent import create_app
from consent.core import background, outbox, storage, verify
from consent.dialects.attestr import exports, worker
from tests.attestr_helpers import body  # noqa: F401
from tests.attestr_helpers import attestr  # noqa: F401  (fixture)


# Every app's loops (control mode adds "control-clocks", tests/test_control.py).
LOOPS = {"webhook-sender", "audit-verifier", "audit-checkpoints", "attestr-worker",
         "veriff-expiry", "retention"}


def loop_threads() -> list[threading.Thread]:
    names = set(LOOPS)
    return [t for t in threading.enumerate() if t.name in names and t.is_alive()]


def make_app(url):
    return create_app({"TESTING": True, "CONSENT_DATABASE_URL": url,
                       "CONSENT_SECRET_KEY": "k-" + uuid.uuid4().hex})


def test_the_app_declares_every_loop_and_its_first_request_starts_them(app, client):
    runner = app.extensions["consent.background"]
    assert {loop.name for loop in runner.loops} == LOOPS
    assert worker.WORKER in runner.loops and outbox.SENDER in runner.loops
    client.get("/healthz")          # the liveness probe never touches the database: not it
    assert not runner.running and loop_threads() == []
    client.get("/readyz")
    assert runner.running and len(loop_threads()) == len(LOOPS)


def test_stop_ends_every_thread_and_a_stopped_runner_never_restarts(app, client):
    runner = app.extensions["consent.background"]
    client.get("/readyz")
    assert len(loop_threads()) == len(LOOPS)
    runner.stop()
    assert loop_threads() == [] and not runner.running
    client.get("/readyz")           # a request after the stop starts nothing
    outbox.SENDER.wake()
    assert loop_threads() == []


def test_a_new_app_stops_the_previous_apps_loops_before_opening_its_database(tmp_path):
    first = make_app(f"sqlite:///{tmp_path / 'a.sqlite3'}")
    with first.app_context():
        storage.create_tables()
    first.test_client().get("/readyz")
    old = loop_threads()
    assert len(old) == len(LOOPS)
    seen_alive = []
    real_init = storage.init_database

    def init_database(url, **kwargs):   # what runs of the old app while the new db opens
        seen_alive.extend(t for t in old if t.is_alive())
        return real_init(url, **kwargs)

    storage.init_database = init_database
    try:
        second = make_app(f"sqlite:///{tmp_path / 'b.sqlite3'}")
    finally:
        storage.init_database = real_init
    assert seen_alive == [] and all(not t.is_alive() for t in old)
    assert outbox.SENDER.runner is second.extensions["consent.background"]
    assert verify.RUNNER.runner is second.extensions["consent.background"]
    second.extensions["consent.background"].stop()


def test_a_loop_never_sees_a_missing_table(tmp_path, caplog):
    """The original flake: app A's sender polls while app B's tables are being created."""
    for i in range(5):
        app = make_app(f"sqlite:///{tmp_path / f'{i}.sqlite3'}")
        with app.app_context():
            storage.create_tables()
        app.extensions["consent.background"].ensure_running()
        outbox.SENDER.wake()             # polling now, while the next app builds its tables
        time.sleep(0.02)
    app.extensions["consent.background"].stop()
    assert "no such table" not in caplog.text


def test_names_are_unique_per_app():
    runner = background.Runner([outbox.SENDER])
    with pytest.raises(ValueError, match="two background loops"):
        runner.add(background.Loop("webhook-sender", lambda: False, lambda: 1.0))


# -- the export writer -------------------------------------------------------------------------------

@pytest.fixture
def unraisable(monkeypatch):
    """Exceptions raised where nobody can catch them (a generator closed by the collector)."""
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    yield seen


def export_row(client, attestr):  # noqa: F811
    r = client.post("/api/v3/public/consent/register", json=body(), headers=attestr.headers())
    assert r.status_code == 200, r.get_json()
    from consent.dialects.attestr import queries
    return queries.CONSENT_BY_ID.one((r.get_json()["_id"],))


@pytest.mark.parametrize("fails", ["reading the events", "writing a cell"])
def test_a_workbook_that_fails_half_way_leaves_nothing_open(client, attestr, monkeypatch,  # noqa: F811
                                                            unraisable, fails):
    row = export_row(client, attestr)
    if fails == "reading the events":
        def broken(*args):
            raise RuntimeError("the database went away")
        monkeypatch.setattr(exports.ledger, "consent_events", broken)
    else:
        calls = []
        real = exports._cell

        def broken(sheet, value):
            calls.append(value)
            if len(calls) == 9:
                raise RuntimeError("cannot write this cell")
            return real(sheet, value)
        monkeypatch.setattr(exports, "_cell", broken)
    with pytest.raises(RuntimeError):
        exports.workbook(row)
    gc.collect()
    assert unraisable == []


def test_a_workbook_is_whole(client, attestr, unraisable):  # noqa: F811
    content = exports.workbook(export_row(client, attestr))
    gc.collect()
    assert content[:2] == b"PK" and unraisable == []
