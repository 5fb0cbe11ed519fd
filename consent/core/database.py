"""The process's one database: the proxy every model is bound to, the connection it opens, and
what happens to that connection after a failure and across a fork.

One ``DatabaseProxy`` is initialised by the app factory (or a test) with :func:`init_database`.
On SQLite (:mod:`consent.core.sqlite`) every ``db.atomic()`` starts with ``BEGIN IMMEDIATE``
(set through ``lock_type``), the journal is WAL and a busy timeout applies; PostgreSQL
(:mod:`consent.core.postgres`) reconnects after the server went away. A worker keeps one
connection for its lifetime and opens its own after a fork.

The tables are elsewhere: the ledger's in :mod:`consent.core.storage`, each dialect's in its own
``models.py``; which tables and migrations the process has is :mod:`consent.core.components`.
"""
from __future__ import annotations

import logging
import os

from peewee import DatabaseProxy, PostgresqlDatabase, SqliteDatabase
from playhouse.db_url import parse as parse_url

db = DatabaseProxy()


def make_database(url: str, *, synchronous: str = "NORMAL", busy_timeout_ms: int = 10000,
                  writer_lock: str = "flock", checkpoints: str = "background"):
    """Build (not open) the database a URL names: ``sqlite:///path`` or ``postgresql://...``."""
    if url.startswith("sqlite"):
        from .sqlite import LedgerSqliteDatabase

        options = parse_url(url)
        return LedgerSqliteDatabase(options.pop("database"), synchronous=synchronous,
                                    busy_timeout_ms=busy_timeout_ms, writer_lock=writer_lock,
                                    checkpoints=checkpoints, **options)
    if url.startswith(("postgres://", "postgresql://")):
        from .postgres import LedgerPostgresqlDatabase

        options = parse_url(url)
        return LedgerPostgresqlDatabase(options.pop("database"), autoconnect=True, **options)
    raise ValueError(f"unsupported database URL: {url!r} (use sqlite:/// or postgresql://)")


def init_database(url: str, **kwargs):
    """Point the proxy at the database a URL names. Returns the database object."""
    current = db.obj
    if current is not None:
        if not current.is_closed():
            current.close()
        current.retire()
    database = make_database(url, **kwargs)
    db.initialize(database)
    from .outage import OUTAGE

    OUTAGE.reset()   # an outage of the database replaced is not this one's
    return database


def release_broken_connection() -> None:
    """After a failed request: roll back what is open, and drop the connection if it can no
    longer be used (a PostgreSQL server that went away), so the next request opens a new one."""
    database = db.obj
    if database is None or database.is_closed():
        return
    try:
        if database.in_transaction():
            database.rollback()
    except Exception:  # the connection itself is gone
        logging.getLogger(__name__).warning("rollback failed; dropping the connection")
    if database.in_transaction() or not database.is_connection_usable():
        database.dispose()


def _after_fork_in_child() -> None:
    # A connection inherited from the parent must never be used by the child: forget it without
    # closing (closing would tell a PostgreSQL server the parent's session is over).
    database = db.obj
    if database is not None:
        database.dispose()


os.register_at_fork(after_in_child=_after_fork_in_child)


def is_postgres() -> bool:
    return isinstance(db.obj, PostgresqlDatabase)


def is_sqlite() -> bool:
    return isinstance(db.obj, SqliteDatabase)


def transaction():
    """One write transaction (BEGIN IMMEDIATE on SQLite)."""
    return db.atomic()


def create_tables() -> None:
    """Bring the schema to this version (``consent.core.migrate.upgrade``). Safe to run again."""
    from .migrate import upgrade

    upgrade()
