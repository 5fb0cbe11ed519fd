"""Storage mechanics the write path relies on: cached model SQL (fastsql) reads and writes exactly
what the ORM would; on SQLite, writers queue on a file lock, WAL checkpoints happen in the
background, and indexes an earlier version created are dropped."""
from __future__ import annotations

import multiprocessing as mp
import os
import sqlite3
import threading
import time

import pytest

from consent.core import fastsql, ledger, storage
from consent.core.storage import Consent, Subject, is_sqlite
from consent.dialects.truconsent.models import TcAsset, TcCollectionPoint
from consent.dialects.veriff.models import VeriffConsent


def _sqlite_path() -> str:
    return storage.db.obj.database


def test_fastsql_create_matches_the_orm(app, org):
    asset = fastsql.create(TcAsset, org=org.org.id, display_id="AS900", name="Shop")
    cp = fastsql.create(TcCollectionPoint, org=org.org.id, asset=asset.id, display_id="CP900",
                        title="Signup", notice_text="We use your data.",
                        purposes=[{"id": "p1", "name": "Marketing", "version": "2"}])
    # Defaults were applied (uuid primary key, created_at, notice_version) ...
    assert len(asset.id) == 36 and cp.notice_version == "1" and cp.created_at is not None
    # ... and the ORM reads back exactly what was given.
    row = TcCollectionPoint.get_by_id(cp.id)
    assert row.purposes == [{"id": "p1", "name": "Marketing", "version": "2"}]
    assert row.asset_id == asset.id and row.org_id == org.org.id
    assert row.created_at == cp.created_at
    # An auto-increment primary key is set on the instance.
    subject = fastsql.create(Subject, org=org.org.id, identifier="someone")
    assert Subject.get_by_id(subject.id).identifier == "someone"


def test_fastsql_get_and_select_match_the_orm(app, org):
    fastsql.create(TcAsset, org=org.org.id, display_id="AS901", name="One")
    fastsql.create(TcAsset, org=org.org.id, display_id="AS902", name="Two")
    got = fastsql.get(TcAsset, '"org_id" = ? AND "display_id" = ?', (org.org.id, "AS902"))
    orm = TcAsset.get((TcAsset.org == org.org.id) & (TcAsset.display_id == "AS902"))
    assert got.__data__ == orm.__data__
    assert fastsql.get(TcAsset, '"display_id" = ?', ("nope",)) is None
    names = [a.name for a in fastsql.select(TcAsset, '"org_id" = ? ORDER BY "display_id"',
                                            (org.org.id,))]
    assert names == ["One", "Two"]


def test_fastsql_errors_are_peewee_errors(app, org):
    from peewee import IntegrityError

    fastsql.create(Subject, org=org.org.id, identifier="twice")
    with pytest.raises(IntegrityError):
        with storage.transaction():
            fastsql.create(Subject, org=org.org.id, identifier="twice")


def test_a_boolean_and_a_foreign_key_by_value_round_trip(app, org):
    consent = ledger.record_one(org.org, ledger.Decision(subject="s", purpose="p",
                                                         status="granted"))
    from consent.dialects.veriff.models import VeriffSession

    from consent.core import auth

    cred = auth.find_credential(org.admin_key)
    session = fastsql.create(VeriffSession, org=org.org.id, integration=cred.id, token_hash="x")
    row = fastsql.create(VeriffConsent, session=session.id, consent=consent.id, type="bipa",
                         approved=False, created_at=consent.created_at)
    stored = VeriffConsent.get_by_id(row.seq)
    assert stored.approved is False and stored.consent_id == consent.id


def test_fastsql_create_takes_a_related_instance_and_refuses_unknown_fields(app, org):
    subject = fastsql.create(Subject, org=org.org, identifier="by-instance")
    assert subject.__data__["org"] == org.org.id and subject.org is org.org  # no query needed
    assert Subject.get_by_id(subject.id).org_id == org.org.id
    with pytest.raises(TypeError, match="no field colour"):
        fastsql.create(Subject, org=org.org.id, identifier="x", colour="red")


def test_fastsql_instances_behave_like_rows_the_orm_read(app, org):
    """Hot-path rows are built without peewee's per-field setattr; they must be indistinguishable
    from the ORM's: same data, nothing dirty, foreign keys resolved without a query, savable."""
    recorded = ledger.record_one(org.org, ledger.Decision(subject="inst", purpose="p-inst",
                                                          status="granted"))
    orm = Consent.get(Consent.id == recorded.id)
    assert recorded.__data__ == orm.__data__
    assert recorded._dirty == orm._dirty == set()
    assert recorded.subject.identifier == "inst" and recorded.purpose.code == "p-inst"
    assert recorded.subject_id == orm.subject_id and recorded.purpose_id == orm.purpose_id

    subject = ledger.find_subject(org.org, "inst")  # an existing subject, read by cached SQL
    assert subject.__data__ == Subject.get_by_id(subject.id).__data__
    subject.identifier = "renamed"
    subject.save()
    assert Subject.get_by_id(subject.id).identifier == "renamed"


# -- SQLite only ------------------------------------------------------------------------------------

sqlite_only = pytest.mark.skipif(bool(os.environ.get("CONSENT_TEST_DATABASE_URL")),
                                 reason="SQLite mechanics")


@sqlite_only
def test_obsolete_indexes_are_dropped(app):
    storage.db.execute_sql('CREATE INDEX "consent_org_id" ON "consent" ("org_id")')
    storage.db.execute_sql('CREATE INDEX "veriff_consent_session_id" ON "veriff_consent" '
                           '("session_id")')
    storage.create_tables()
    names = {r[0] for r in storage.db.execute_sql(
        "SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()}
    assert "consent_org_id" not in names and "veriff_consent_session_id" not in names
    assert "consent_org_id_seq" in names  # the composite ones stay


@sqlite_only
def test_request_connections_leave_checkpoints_to_the_background(app, org):
    assert is_sqlite()
    backstop = storage.db.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0]
    assert backstop == storage.AUTOCHECKPOINT_BACKSTOP
    consent = ledger.record_one(org.org, ledger.Decision(subject="bg", purpose="p",
                                                         status="granted"))
    # The main database file alone (the WAL ignored) holds the row once the background
    # checkpoint has run.
    uri = f"file:{_sqlite_path()}?immutable=1"
    deadline = time.time() + 10
    found = None
    while time.time() < deadline and not found:
        time.sleep(0.1)
        conn = sqlite3.connect(uri, uri=True)
        try:
            found = conn.execute('SELECT 1 FROM "consent" WHERE "id" = ?',
                                 (consent.id,)).fetchone()
        except sqlite3.DatabaseError:
            found = None
        finally:
            conn.close()
    assert found, "the background checkpointer never copied the commit into the database file"


def _hold_writer_lock(path: str, held, release):
    lock = storage.WriterLock(path)
    lock.acquire()
    held.set()
    release.wait(10)
    lock.release()


@sqlite_only
def test_writers_queue_on_the_writer_lock(app, org):
    """While another process holds the writer lock, a write waits for it (no 'database is
    locked', no busy-handler polling) and goes through as soon as it is released."""
    ctx = mp.get_context("fork")
    held, release = ctx.Event(), ctx.Event()
    lock_path = storage.db.obj.writer_lock.path
    holder = ctx.Process(target=_hold_writer_lock, args=(lock_path, held, release))
    holder.start()
    assert held.wait(10)
    done = threading.Event()

    def write():
        ledger.record_one(org.org, ledger.Decision(subject="queued", purpose="p",
                                                   status="granted"))
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    assert not done.wait(0.5), "the write went through while another process held the lock"
    release.set()
    assert done.wait(10), "the write did not go through after the lock was released"
    writer.join()
    holder.join(10)
    assert Consent.select().where(Consent.org == org.org.id).count() == 1
