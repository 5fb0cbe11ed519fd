"""Storage mechanics the write path relies on: hand-written SQL (consent.core.sql) reads and writes
exactly what the ORM would; on SQLite, writers queue on a file lock, WAL checkpoints happen in the
background, and indexes an earlier version created are dropped."""
from __future__ import annotations

import multiprocessing as mp
import os
import sqlite3
import threading
import time

import pytest

from consent.core import ledger, sql, sqlite, storage
from consent.core.storage import Consent, Subject, is_sqlite
from consent.dialects.truconsent.models import TcAsset, TcCollectionPoint
from consent.dialects.veriff.models import VeriffConsent


def _sqlite_path() -> str:
    return storage.db.obj.database


@pytest.mark.tampered
def test_sql_create_matches_the_orm(app, org):
    asset = sql.create(TcAsset, org_id=org.org.id, display_id="AS900", name="Shop")
    cp = sql.create(TcCollectionPoint, org_id=org.org.id, asset_id=asset.id, display_id="CP900",
                    title="Signup", notice_text="We use your data.",
                    purposes=[{"id": "p1", "name": "Marketing", "version": "2"}])
    # Defaults were applied (uuid primary key, created_at, notice_version) ...
    assert len(asset.id) == 36 and cp.notice_version == "1" and cp.created_at is not None
    # ... and the ORM reads back exactly what was given.
    row = TcCollectionPoint.get_by_id(cp.id)
    assert row.purposes == [{"id": "p1", "name": "Marketing", "version": "2"}]
    assert row.asset_id == asset.id and row.org_id == org.org.id
    assert row.created_at == cp.created_at
    # An auto-increment primary key is returned in the row.
    subject = sql.create(Subject, org_id=org.org.id, identifier="someone")
    assert Subject.get_by_id(subject.id).identifier == "someone"


def _orm_row(model, instance) -> dict:
    """What the ORM read, by column name (the names a named row uses)."""
    return {f.column_name: getattr(instance, f.column_name) for f in model._meta.sorted_fields}


@pytest.mark.tampered
def test_model_select_rows_match_the_orm(app, org):
    sql.create(TcAsset, org_id=org.org.id, display_id="AS901", name="One")
    sql.create(TcAsset, org_id=org.org.id, display_id="AS902", name="Two")
    by_display_id = sql.model_select(TcAsset).where('t."org_id" = ?', 't."display_id" = ?')
    got = by_display_id.one((org.org.id, "AS902"))
    orm = TcAsset.get((TcAsset.org == org.org.id) & (TcAsset.display_id == "AS902"))
    assert got._asdict() == _orm_row(TcAsset, orm)
    assert by_display_id.one((org.org.id, "nope")) is None
    in_order = sql.model_select(TcAsset).where('t."org_id" = ?', order='t."display_id"')
    assert [a.name for a in in_order.all((org.org.id,))] == ["One", "Two"]
    assert sql.model_select(TcAsset).count('t."org_id" = ?').value((org.org.id,)) == 2


def test_sql_errors_are_peewee_errors(app, org):
    from peewee import IntegrityError

    sql.create(Subject, org_id=org.org.id, identifier="twice", lookup="twice")
    with pytest.raises(IntegrityError):
        with storage.transaction():
            sql.create(Subject, org_id=org.org.id, identifier="twice", lookup="twice")


@pytest.mark.tampered
def test_a_boolean_and_a_foreign_key_by_value_round_trip(app, org):
    consent = ledger.record_one(org.org.id, ledger.Decision(subject="s", purpose="p",
                                                         status="granted"))
    from consent.core import auth
    from consent.dialects.veriff.models import VeriffSession

    cred = auth.find_credential(org.admin_key)
    session = sql.create(VeriffSession, org_id=org.org.id, integration_id=cred.id,
                         token_hash="x")
    row = sql.create(VeriffConsent, session_id=session.id, consent_id=consent.id, type="bipa",
                     approved=False, created_at=consent.created_at)
    stored = VeriffConsent.get_by_id(row.seq)
    assert stored.approved is False and stored.consent_id == consent.id
    read = sql.model_select(VeriffConsent).where('t."seq" = ?').one((row.seq,))
    assert read.approved is False and read == row


def test_sql_create_refuses_unknown_columns(app, org):
    with pytest.raises(TypeError, match="no column colour"):
        sql.create(Subject, org_id=org.org.id, identifier="x", colour="red")


def test_consent_records_read_like_the_orm(app, org):
    """A consent as the write path returns it and as the hand-written select reads it: the same
    columns as the ORM reads, plus the identifiers it is known by."""
    recorded = ledger.record_one(org.org.id, ledger.Decision(subject="inst", purpose="p-inst",
                                                          status="granted", evidence={"a": 1}))
    orm = Consent.get(Consent.id == recorded.id)
    columns = {k: v for k, v in recorded._asdict().items()
               if k not in ("subject", "recorded_subject", "purpose", "purpose_name")}
    assert columns == _orm_row(Consent, orm)
    assert recorded.subject == "inst" and recorded.purpose == "p-inst"
    assert ledger.get_consent(org.org.id, recorded.id) == recorded
    subject = ledger.find_subject(org.org.id, "inst")
    assert subject._asdict() == _orm_row(Subject, Subject.get_by_id(subject.id))


# -- SQLite only ------------------------------------------------------------------------------------

sqlite_only = pytest.mark.skipif(bool(os.environ.get("CONSENT_TEST_DATABASE_URL")),
                                 reason="SQLite mechanics")


@sqlite_only
def test_obsolete_indexes_are_dropped(app):
    """A database from before versioned migrations (no ``schema_migration``) with the indexes
    those versions created: the baselines drop them."""
    storage.db.execute_sql('CREATE INDEX "consent_org_id" ON "consent" ("org_id")')
    storage.db.execute_sql('CREATE INDEX "veriff_consent_session_id" ON "veriff_consent" '
                           '("session_id")')
    storage.db.execute_sql('DROP TABLE "schema_migration"')
    storage.create_tables()
    names = {r[0] for r in storage.db.execute_sql(
        "SELECT name FROM sqlite_master WHERE type = 'index'").fetchall()}
    assert "consent_org_id" not in names and "veriff_consent_session_id" not in names
    assert "consent_org_id_seq" in names  # the composite ones stay


@sqlite_only
def test_request_connections_leave_checkpoints_to_the_background(app, org):
    assert is_sqlite()
    backstop = storage.db.execute_sql("PRAGMA wal_autocheckpoint").fetchone()[0]
    assert backstop == sqlite.AUTOCHECKPOINT_BACKSTOP
    consent = ledger.record_one(org.org.id, ledger.Decision(subject="bg", purpose="p",
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
    lock = sqlite.WriterLock(path)
    lock.acquire()
    held.set()
    release.wait(10)
    lock.release()


@sqlite_only
def test_writers_queue_on_the_writer_lock(app, org):
    """While another process holds the writer lock, a write waits for it (no 'database is
    locked', no busy-handler polling) and goes through as soon as it is released."""
    ctx = mp.get_context("forkserver")  # clean children: a fork could inherit a held lock
    held, release = ctx.Event(), ctx.Event()
    lock_path = storage.db.obj.writer_lock.path
    holder = ctx.Process(target=_hold_writer_lock, args=(lock_path, held, release))
    holder.daemon = True
    holder.start()
    assert held.wait(30)
    done = threading.Event()

    def write():
        ledger.record_one(org.org.id, ledger.Decision(subject="queued", purpose="p",
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


def test_an_older_database_gets_audit_seq_from_its_recorded_events(app, org):
    """Databases from before ``consent.audit_seq`` linked each consent to its audit event by a
    ``recorded`` consent event: create_tables adds the column and fills it in from those."""
    from consent.core.storage import AuditEvent, ConsentEvent

    consents = [ledger.record_one(org.org.id, ledger.Decision(subject=f"old{i}", purpose="p",
                                                           status="granted")) for i in range(3)]
    for c in consents:  # what the older version wrote
        event = AuditEvent.get((AuditEvent.org == org.org.id) & (AuditEvent.seq == c.audit_seq))
        ConsentEvent.create(consent=c.seq, type="recorded", at=c.created_at,
                            audit_event_id=event.event_id,
                            data={"status": c.status, "source": c.source})
    storage.db.execute_sql('ALTER TABLE "consent" DROP COLUMN "audit_seq"')
    storage.db.execute_sql('ALTER TABLE "consent_event" RENAME COLUMN "consent_seq" '
                           'TO "consent_id"')   # its name then
    storage.db.execute_sql('DROP TABLE "schema_migration"')  # from before versioned migrations
    assert "audit_seq" not in {col.name for col in storage.db.get_columns("consent")}
    storage.create_tables()
    assert [Consent.get(Consent.id == c.id).audit_seq for c in consents] == \
        [c.audit_seq for c in consents]
    assert ledger.verify(org.org.id)["ok"]
    trail = ledger.consent_events(ledger.get_consent(org.org.id, consents[0].id))
    assert [e.type for e in trail] == ["recorded"]  # once, not twice
    storage.create_tables()  # again: nothing changes
