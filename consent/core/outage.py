"""A database that does not answer is an outage, not a bug: which errors say so, and one log line
per outage instead of a traceback per request.

:func:`is_unavailable` recognises, precisely, the errors of a database that cannot be reached or
cannot serve now:

* PostgreSQL (psycopg2, wrapped by peewee): a connection that cannot be opened or was lost
  (``OperationalError`` without a SQLSTATE, ``InterfaceError`` "connection already closed"), and
  the server's own "not now" SQLSTATEs: class 08 (connection exception), 53 (insufficient
  resources: too many connections, disk full), 57 (operator intervention: shutting down,
  starting up, statement timeout), 58 (system error: I/O) and 55P03 (lock not available);
* SQLite: the result codes of a file that cannot be opened or read or written now
  (``SQLITE_CANTOPEN``, ``SQLITE_IOERR``, ``SQLITE_BUSY`` and ``SQLITE_LOCKED`` after the busy
  timeout, ``SQLITE_FULL``, ``SQLITE_READONLY``, ``SQLITE_PROTOCOL``); not ``SQLITE_CORRUPT``
  nor ``SQLITE_NOTADB``: a damaged file is not an outage that passes by itself;
* :class:`DatabaseUnavailable`, raised by this service where the cause is an ``OSError`` (the
  SQLite file's directory, or its writer lock, cannot be opened).

Anything else (a syntax error, a missing column, a constraint) is a bug and stays a 500 with its
traceback. The web layer answers an outage 503 with ``Retry-After`` in each dialect's shape
(``consent.web.dialect``), the CLI in one line, and the background loops wait for their next
round.

:data:`OUTAGE` keeps the state of this process: the first failure of an outage logs one line
(the cause), a long outage one more line every :attr:`Outage.every` seconds, and the first
statement that succeeds afterwards one line saying it is over (with how long it lasted and how
many failures it caused). Start lines closer together than ``every`` are not logged, so a
database that flaps (or writers that time out on a lock now and then) cannot fill the log.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
import time

from peewee import InterfaceError, OperationalError

log = logging.getLogger(__name__)

RETRY_AFTER = 5   # seconds a client is asked to wait (the 503's Retry-After)
MESSAGE = "Service unavailable: the database does not answer; try again shortly"


class DatabaseUnavailable(OperationalError):
    """The database cannot be reached, for a reason the driver does not raise itself."""


# SQLite primary result codes (https://www.sqlite.org/rescode.html)
SQLITE_UNAVAILABLE = {
    5: "SQLITE_BUSY", 6: "SQLITE_LOCKED", 8: "SQLITE_READONLY", 10: "SQLITE_IOERR",
    13: "SQLITE_FULL", 14: "SQLITE_CANTOPEN", 15: "SQLITE_PROTOCOL",
}
PG_CLASSES = ("08", "53", "57", "58")
PG_CODES = ("55P03",)


def _chain(exc: BaseException):
    """The exception, the driver's error peewee wrapped in it (``orig``) and its explicit causes
    (``raise ... from``); never the exceptions it was merely raised while handling: a bug in an
    ``except`` block is a bug."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, getattr(current, "orig", None)]   # peewee keeps it there


def _driver_error(exc: BaseException) -> BaseException | None:
    """The first driver (sqlite3, psycopg2) or :class:`DatabaseUnavailable` error in the chain."""
    for current in _chain(exc):
        if isinstance(current, DatabaseUnavailable):
            return current
        module = type(current).__module__ or ""
        if isinstance(current, sqlite3.Error) or module.startswith("psycopg2"):
            return current
    return None


def is_unavailable(exc: BaseException) -> bool:
    """Whether an error says the database does not answer (see the module's docstring)."""
    module = type(exc).__module__ or ""
    if not (isinstance(exc, (OperationalError, InterfaceError, sqlite3.OperationalError))
            or module.startswith("psycopg2")):
        return False
    driver = _driver_error(exc)
    if isinstance(driver, DatabaseUnavailable):
        return True
    if isinstance(driver, sqlite3.Error):
        code = getattr(driver, "sqlite_errorcode", None)
        return code is not None and (code & 0xFF) in SQLITE_UNAVAILABLE
    if driver is not None and type(driver).__module__.startswith("psycopg2"):
        import psycopg2

        if isinstance(driver, psycopg2.InterfaceError):
            return True        # "connection already closed"
        if isinstance(driver, psycopg2.OperationalError):
            code = getattr(driver, "pgcode", None)
            return code is None or code[:2] in PG_CLASSES or code in PG_CODES
    return False


def describe(exc: BaseException) -> str:
    """One line naming the cause (for the log and the CLI; never sent to a client)."""
    driver = _driver_error(exc) or exc
    text = " ".join(str(driver).split()) or type(driver).__name__
    name = getattr(driver, "sqlite_errorname", None) or getattr(driver, "pgcode", None)
    return f"{type(driver).__name__}{f' ({name})' if name else ''}: {text}"[:500]


class Outage:
    """Whether this process last saw the database away, and the log lines that say so."""

    def __init__(self, every: float = 60.0):
        self.every = every
        self.active = False          # read without the lock on every statement: cheap
        self._lock = threading.Lock()
        self._since = 0.0
        self._failures = 0
        self._logged_at = float("-inf")
        self._announced = False      # this outage's start was logged (so its end will be)

    def failed(self, exc: BaseException) -> None:
        """A statement failed because the database does not answer."""
        now = time.monotonic()
        with self._lock:
            if not self.active:
                self.active, self._since, self._failures = True, now, 0
                self._announced = now - self._logged_at >= self.every
                if self._announced:
                    self._logged_at = now
                    log.error("database unavailable: %s; answering 503 until it answers again",
                              describe(exc))
            elif now - self._logged_at >= self.every:
                self._logged_at, self._announced = now, True
                log.error("database still unavailable after %.0f s (%d failures): %s",
                          now - self._since, self._failures + 1, describe(exc))
            self._failures += 1

    def ok(self) -> None:
        """A statement succeeded: an outage in progress is over."""
        if not self.active:
            return
        with self._lock:
            if not self.active:
                return
            self.active = False
            if self._announced:
                log.warning("database answers again after %.1f s (%d failures)",
                            time.monotonic() - self._since, self._failures)

    def reset(self) -> None:
        """Forget everything (a new database replaces the old one)."""
        with self._lock:
            self.active, self._announced = False, False
            self._failures, self._logged_at = 0, float("-inf")


OUTAGE = Outage()
