"""What one write transaction already knows: a per-thread dict that lives exactly as long as
the outermost transaction it was filled in.

A write often asks the database the same question twice: a request that appends three audit
events read the chain's head three times, and a dialect write that records two decisions for
one person looked the person up twice. Inside one transaction the answers cannot change under
it (SQLite's ``BEGIN IMMEDIATE`` and PostgreSQL's organisation row lock keep other writers out
of what a write reads under them), except by the transaction itself; so the first answer is
kept in the transaction's scope and the later questions are answered from it.

The scope is emptied whenever the transaction's state could differ from what was kept: at
BEGIN, COMMIT and ROLLBACK, and at ``ROLLBACK TO SAVEPOINT`` (a nested ``db.atomic()`` that
failed undoes what was kept since it began). Code that changes what is kept in any other way
(the erasure of a subject, a control-mode reset deleting an organisation's chain) calls
:func:`forget`. Outside a transaction there is no scope (:func:`current` is None) and nothing is
kept. Both database classes (:mod:`consent.core.sqlite`, :mod:`consent.core.postgres`) take
:class:`TransactionScope` first in their bases.
"""
from __future__ import annotations

import threading


class TransactionScope:
    """A database mixin: :meth:`scope` is the current outermost transaction's dict."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._scopes = threading.local()

    def scope(self) -> dict | None:
        if not self._state.transactions:
            return None
        found = getattr(self._scopes, "value", None)
        if found is None:
            found = self._scopes.value = {}
        return found

    def forget_scope(self) -> None:
        self._scopes.value = None

    def begin(self, *args, **kwargs):
        self.forget_scope()
        return super().begin(*args, **kwargs)

    def commit(self):
        self.forget_scope()
        return super().commit()

    def rollback(self):
        self.forget_scope()
        return super().rollback()

    def execute_sql(self, sql, params=None, *args, **kwargs):
        # A savepoint is rolled back by a statement (peewee's ``_savepoint``, made by the
        # DatabaseProxy every model uses, so no method of this class sees it otherwise).
        if sql.startswith("ROLLBACK TO SAVEPOINT"):
            self.forget_scope()
        return super().execute_sql(sql, params, *args, **kwargs)


def current() -> dict | None:
    """The current transaction's scope (None outside a transaction or without a database)."""
    from .database import db

    database = db.obj
    return None if database is None else database.scope()


def forget() -> None:
    """Drop what the current transaction kept (after a change the scope cannot see)."""
    from .database import db

    if db.obj is not None:
        db.obj.forget_scope()
