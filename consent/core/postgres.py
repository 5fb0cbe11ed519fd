"""PostgreSQL: connections that survive a server restart.

A worker keeps one connection for its lifetime. When the server restarts (or drops the connection
for any reason) the next statement on it fails. peewee's ``ReconnectMixin`` then reconnects and
retries the statement once, provided no transaction was open (a transaction's earlier statements
are lost with the connection, so that request fails and its caller retries). The psycopg2 messages
below are the ones a lost connection produces; peewee ships the mixin with MySQL's only.
:func:`consent.core.storage.release_broken_connection` drops a connection that failed inside a
transaction, so the next request opens a fresh one.
"""
from __future__ import annotations

from peewee import InterfaceError, OperationalError, PostgresqlDatabase
from playhouse.shortcuts import ReconnectMixin

from .errors import Invalid
from .outage import OUTAGE
from .scope import TransactionScope

NUL = "\x00"


class LedgerPostgresqlDatabase(TransactionScope, ReconnectMixin, PostgresqlDatabase):
    reconnect_errors = (
        (OperationalError, "server closed the connection"),
        (OperationalError, "terminating connection"),
        (OperationalError, "connection not open"),
        (OperationalError, "could not receive data from server"),
        (OperationalError, "could not send data to server"),
        (OperationalError, "ssl connection has been closed"),
        (InterfaceError, "connection already closed"),
    )

    def execute_sql(self, sql, params=None, *args, **kwargs):
        """PostgreSQL's text holds no NUL character (psycopg2 raises a bare ValueError, a 500):
        a value with one is invalid input, whichever field or filter it came from. SQLite
        stores it; no dialect needs one."""
        if params and any(type(p) is str and NUL in p for p in params):
            raise Invalid("text must not contain NUL (0x00) characters")
        cursor = super().execute_sql(sql, params, *args, **kwargs)
        if OUTAGE.active:   # the database answers: an outage this process saw is over
            OUTAGE.ok()
        return cursor

    def retire(self) -> None:
        """Nothing runs in the background."""
