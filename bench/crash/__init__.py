"""``make crashtest``: crash and concurrency proof anyone can re-run.

Crash (``--database sqlite|postgres|both``): the service under gunicorn on loopback, loaded by
this package's own client threads with every dialect's writes (each registered dialect's crash
kinds, declared in its package's ``testing.py``: ``consent.testing.CrashKind``), so it knows
exactly which requests got a 2xx. At a random moment of every cycle the whole process group of
each instance gets SIGKILL; then:

* ``flask --app app audit verify`` runs on what the crash left (every organisation);
* the instances restart; every write acknowledged with a 2xx is read back through the dialect's
  own read API, and counted in the database by the unique marker its request carried (a subject,
  a phone, a reference, a notice text): present exactly once, with every row that belongs to it
  (its audit event, its dialect's rows);
* every write that was not acknowledged is either wholly there or wholly absent (never a consent
  without its audit event, an Avacy entry without its decisions, a link request without its link);
* the requests that carry an idempotency key (ledger ``Idempotency-Key``, truConsent
  ``requestId``, Attestr ``consentReferenceId``) are sent again with the same key: the same record
  comes back (the same ids when it had been acknowledged) and nothing is duplicated.

After the last cycle every acknowledged write is checked again and verify runs once more. SQLite
runs one instance; PostgreSQL runs two instances (two gunicorn servers on two ports) on one
database, each killed at its own random moment.

Concurrency (``--concurrency``, on by default): gunicorn with 4 sync workers on one SQLite file,
32 client connections writing the same mix for a bounded number of requests: zero 5xx, zero
"database is locked" in the responses and the server log; on PostgreSQL two instances writing
to one organisation: one valid chain, audit sequence numbers 1..n without a gap.

Exit status 1 on any violation. ``tests/test_crash.py`` runs a short version of both.

The parts: :mod:`.supervision` (gunicorn instances, killed and restarted), :mod:`.client`
(requests, the load of client threads), :mod:`.database` (fresh databases, counting rows),
:mod:`.report` (what a run reports), :mod:`.run` (the crash and concurrency checks) and
``__main__`` (the command line, and a PostgreSQL server started for the run when none answers).
"""
from __future__ import annotations

from .database import Database, PgDatabase, fresh_sqlite, pg_reachable
from .report import ConcurrencyReport, Report
from .run import CrashTest, concurrency, kinds

__all__ = ["ConcurrencyReport", "CrashTest", "Database", "PgDatabase", "Report", "concurrency",
           "fresh_sqlite", "kinds", "pg_reachable"]
