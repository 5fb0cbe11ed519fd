"""Short versions of ``make crashtest`` (bench/crash/), through real gunicorn processes over
HTTP: SIGKILL of the whole process group under load on every dialect's writes, restart, and every
acknowledged write present exactly once, idempotent retries not duplicating, nothing half-written,
``audit verify`` passing; and concurrent writers (4 workers x 32 connections on one SQLite file;
two instances on one PostgreSQL database) leaving no 5xx, no "database is locked" and one chain.

The PostgreSQL cases run when CONSENT_TEST_DATABASE_URL is set (each on a new database)."""
from __future__ import annotations

import pytest

from bench import crash
from tests.helpers import PG_URL

_skip_without_pg = pytest.mark.skipif(not PG_URL, reason="CONSENT_TEST_DATABASE_URL is not set")


def needs_pg(test):
    return pytest.mark.postgres(_skip_without_pg(test))


pytestmark = pytest.mark.crash
# the SQLite cases run in the SQLite suite; the PostgreSQL suite runs the PostgreSQL cases only
sqlite_suite = pytest.mark.skipif(bool(PG_URL), reason="run in the SQLite suite")


def _passed(report) -> None:
    assert not report.violations, "\n".join([report.line(), *report.violations[:20]])


@sqlite_suite
def test_crash_sqlite(tmp_path):
    url = crash.fresh_sqlite("crash", tmp_path)
    test = crash.CrashTest(url, instances=1, workers=1, cycles=3, clients=6, seed=1,
                           log_dir=tmp_path, kill_window=(0.2, 0.6), cli_every_cycle=False)
    report = test.run()
    _passed(report)
    assert report.cycles == 3 and report.verified == 4
    assert report.acknowledged > len(crash.kinds()) and report.retries > 0
    assert set(report.by_kind) == {k.name for k in crash.kinds()}

    # the row counts do see a half-written write: a truConsent consent without its log row
    sent = next(s for s in test.acked if s.kind == "truconsent-record")
    kind = test.by_name[sent.kind]
    with crash.Database(url) as db:
        assert kind.counts(db, sent) == test.expected[kind.name]
        db.rows("DELETE FROM truconsent_log WHERE consent_seq = "
                "(SELECT seq FROM consent WHERE id = ?)", (sent.ids[0],))
        assert kind.counts(db, sent) != test.expected[kind.name]


@sqlite_suite
def test_concurrency_sqlite(tmp_path):
    report = crash.concurrency(crash.fresh_sqlite("concurrency", tmp_path), instances=1,
                               workers=4, connections=32, requests=256, log_dir=tmp_path)
    _passed(report)
    assert report.requests == 256


@needs_pg
def test_crash_postgres_two_instances(tmp_path):
    with crash.PgDatabase(PG_URL, prefix="t_crash") as url:
        report = crash.CrashTest(url, instances=2, workers=1, cycles=3, clients=6, seed=2,
                                 log_dir=tmp_path, kill_window=(0.2, 0.6),
                                 cli_every_cycle=False).run()
    _passed(report)
    assert report.verified == 4 and report.retries > 0


@needs_pg
def test_concurrency_postgres_two_instances_one_chain(tmp_path):
    with crash.PgDatabase(PG_URL, prefix="t_conc") as url:
        report = crash.concurrency(url, instances=2, workers=2, connections=32, requests=256,
                                   log_dir=tmp_path)
    _passed(report)
    assert report.events > 320
