"""Versioned schema migrations.

The schema belongs to *components* (``consent.core.components``): the core
(``consent.core.schema.CORE``) and each dialect (the ``schema`` of its ``Dialect`` entry), the
ones the process installed. Each component has an ordered list of :class:`Migration`\\ s
numbered 1, 2, 3...; the database records the migrations applied to it in ``schema_migration``
(component, version, description, when, how long), and a component's version is the highest
recorded.

:func:`upgrade` (``flask --app app migrate``, also run by ``init-db``, ``seed-demo`` and
``make run``) brings every component to its latest version:

* a component none of whose tables exist yet (a new database, or a dialect added since) has
  its tables created from its models, in their current shape (and filled by its ``fill``
  from the rows already there, for a table derived from others'), and is recorded at its
  latest version: there is nothing to migrate;
* a component with tables but no recorded version was written by a version of this service from
  before migrations were versioned: it is at version 0, and its migration 1 (the *baseline*)
  brings every such older shape to the first versioned one;
* otherwise the migrations after its recorded version run, oldest first.

Every migration runs in a transaction of its own, under the migration lock (SQLite: the writer
lock and ``BEGIN IMMEDIATE``; PostgreSQL: a transaction-level advisory lock), and reads the
recorded version again once it holds the lock: several instances started at once on one
PostgreSQL database migrate it once, the others wait and find nothing left to do. A migration
that fails rolls back whole, and the versions before it stay applied.

A serving process never runs on a schema other than the one its code was written for:
:func:`problem` says what is wrong (behind, ahead, no tables), and the service answers 503 with
that message until it is mended (see ``consent.web.service``), or migrates first when
``CONSENT_AUTO_MIGRATE`` is on.

The baselines are tested on databases written by every earlier version that had a schema of its
own (``tests/upgrade/``, ``tests/test_upgrade.py``): after ``upgrade`` each has the schema a new
database gets, and every record reads back as its version answered it.

Writing a migration: append ``Migration(n, "what it does", up)`` to the component's list, where
``up(schema)`` changes the tables from their shape at version n-1 to their shape at version n with
the :class:`Schema` helpers (``playhouse.migrate`` underneath) or plain SQL. The models always
describe the latest shape; a fresh database is created from them.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

from . import components, queries, sql
from .database import db, is_postgres
from .schema import Schema
from .storage import SchemaMigration

log = logging.getLogger(__name__)

COMMAND = "flask --app app migrate"
# pg_advisory_xact_lock key: any constant that no other program on the server uses ("consent!")
PG_LOCK_KEY = 0x636F6E73656E7421


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    current: int | None     # None: none of its tables exist and nothing is recorded
    latest: int
    legacy: bool = False    # tables from before versioning, nothing recorded

    @property
    def behind(self) -> bool:
        return self.current is None or self.current < self.latest

    @property
    def ahead(self) -> bool:
        return self.current is not None and self.current > self.latest


def _recorded() -> dict[str, int]:
    if SchemaMigration._meta.table_name not in db.get_tables():
        return {}
    return dict(queries.MIGRATED_VERSIONS.execute().fetchall())


def status() -> list[ComponentStatus]:
    """Each component's recorded and latest version."""
    recorded = _recorded()
    tables = set(db.get_tables())
    out = []
    for component in components.installed():
        current = recorded.get(component.name)
        legacy = current is None and any(m._meta.table_name in tables for m in component.models)
        out.append(ComponentStatus(component.name, 0 if legacy else current,
                                   component.latest, legacy))
    return out


def problem() -> str | None:
    """Why this code must not serve on this database's schema, or None when it may."""
    states = status()
    ahead = [s for s in states if s.ahead]
    if ahead:
        return ("the database schema is newer than this code ("
                + ", ".join(f"{s.name} {s.current} > {s.latest}" for s in ahead)
                + "): run the newer version of the service")
    behind = [s for s in states if s.behind]
    if not behind:
        return None
    if all(s.current is None for s in states):
        return f"the database has no tables yet: run `{COMMAND}`"
    return ("the database schema is older than this code ("
            + ", ".join(f"{s.name} {s.current or 0} < {s.latest}" for s in behind)
            + f"): run `{COMMAND}`")


@dataclass(frozen=True)
class Applied:
    component: str
    version: int
    description: str
    seconds: float


class _Locked:
    """One transaction holding the migration lock."""

    def __enter__(self):
        self._tx = db.atomic()          # SQLite: writer lock + BEGIN IMMEDIATE
        self._tx.__enter__()
        if is_postgres():
            queries.MIGRATION_LOCK.execute((PG_LOCK_KEY,))
        return self

    def __exit__(self, *exc):
        return self._tx.__exit__(*exc)


def upgrade() -> list[Applied]:
    """Bring every component to its latest version (see the module's docstring). Safe to run
    again, and from several processes at once. Returns what was applied."""
    applied: list[Applied] = []
    parts = components.installed()   # refuses before anything is written when none are
    with _Locked():
        db.create_tables([SchemaMigration], safe=True)
    for component in parts:
        while True:
            with _Locked():
                step = _next_step(component)
                if step is None:
                    break
                started = time.monotonic()
                version, description = step()
                seconds = time.monotonic() - started
                sql.create(SchemaMigration, component=component.name, version=version,
                           description=description, duration_ms=int(seconds * 1000))
            applied.append(Applied(component.name, version, description, seconds))
            log.info("schema: %s at version %d (%s) in %.2f s", component.name, version,
                     description, seconds)
    return applied


def _next_step(component) -> Callable[[], tuple[int, str]] | None:
    """What to do next for a component (under the lock), or None when it is up to date."""
    current = _recorded().get(component.name)
    if current is None:
        tables = set(db.get_tables())
        if not any(m._meta.table_name in tables for m in component.models):
            def create() -> tuple[int, str]:
                db.create_tables(component.models, safe=True)
                if component.fill is not None:   # rows it derives from those already there
                    component.fill(Schema())
                return component.latest, f"created at version {component.latest}"
            return create
        current = 0
    if current > component.latest:
        raise RuntimeError(f"the database's {component.name} schema is at version {current}, "
                           f"newer than this code's {component.latest}")
    if current == component.latest:
        return None
    migration = component.migrations[current]   # versions are 1..n, in order

    def run() -> tuple[int, str]:
        migration.up(Schema())
        return migration.version, migration.description
    return run
