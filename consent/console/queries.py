"""Every statement over the console's own tables (``consent.core.sql``'s conventions: names from
the models). The console reads the core's and the dialects' tables only through their
functions."""
from __future__ import annotations

from consent.core import sql
from consent.core.sql import Table
from consent.core.storage import Purpose

from .models import ConsoleDay, ConsoleSignIn

# One more consent on its day, source, status and purpose (the consent.recorded hook).
_d = Table(ConsoleDay)
COUNT_ONE = sql.Statement(
    f"INSERT INTO {_d} ({_d.org}, {_d.day}, {_d.source}, {_d.status}, {_d.purpose}, "
    f"{_d.count}) VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT ({_d.org}, {_d.day}, {_d.source}, "
    f"{_d.status}, {_d.purpose}) DO UPDATE SET {_d.count} = {_d}.{_d.count} + 1")
# The organisation's counts from a day on, by day, source and status; and by purpose and status
# (its unique index: (org, day, ...)).
_t, _p = Table(ConsoleDay, "t"), Table(Purpose, "p")
BY_DAY = sql.Statement(
    f"SELECT {_t.day}, {_t.source}, {_t.status}, SUM({_t.count}) FROM {_t} "
    f"WHERE {_t.org} = ? AND {_t.day} >= ? GROUP BY {_t.day}, {_t.source}, {_t.status}")
BY_PURPOSE = sql.Statement(
    f"SELECT {_p.code}, {_t.status}, SUM({_t.count}) FROM {_t} JOIN {_p} ON {_p.id} = "
    f"{_t.purpose} WHERE {_t.org} = ? AND {_t.day} >= ? GROUP BY {_p.code}, {_t.status} "
    f"ORDER BY {_p.code}")
# Used sign-in nonces older than a time (their links can no longer be presented).
_u = Table(ConsoleSignIn)
FORGET_USED = sql.Statement(f"DELETE FROM {_u} WHERE {_u.used_at} < ?")
