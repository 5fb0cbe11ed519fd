"""What an erasure test checks everywhere: that none of a person's old values is left in the
database (on SQLite, the bytes of the database file and its write-ahead log; on PostgreSQL,
the text of every live row of every table) nor in the local outbox."""
from __future__ import annotations

import os

from consent.core import storage


def _tables() -> list[str]:
    return sorted(storage.db.obj.get_tables())


def _page_owner(path: str, page: int) -> str:
    import sqlite3
    conn = sqlite3.connect(path)
    try:
        row = conn.execute("SELECT name, pagetype FROM dbstat WHERE pageno = ?", (page,)).fetchone()
    except sqlite3.Error as exc:
        return str(exc)
    finally:
        conn.close()
    return "free page" if row is None else f"{row[0]} {row[1]}"


def leftovers(values) -> list[str]:
    """The values (strings or bytes) still found, with where."""
    found = []
    wanted = [v.encode() if isinstance(v, str) else bytes(v) for v in values]
    if storage.is_sqlite():
        path = storage.db.obj.database
        storage.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        for name in (path, path + "-wal"):
            if not os.path.exists(name):
                continue
            with open(name, "rb") as f:
                data = f.read()
            for v in wanted:
                at = data.find(v)
                if at >= 0:
                    page = at // 4096 + 1
                    found.append(f"{v!r} in {os.path.basename(name)} (page {page}: "
                                 f"{_page_owner(path, page)}; around: "
                                 f"{data[max(0, at - 80):at + 40]!r})")
        return found
    for table in _tables():
        for v in values:
            text = v if isinstance(v, str) else bytes(v).hex()
            column = f't::text' if isinstance(v, str) else "encode(t::text::bytea, 'hex')"
            n = storage.db.execute_sql(
                f'SELECT count(*) FROM "{table}" t WHERE strpos({column}, %s) > 0',
                (text,)).fetchone()[0]
            if n:
                found.append(f"{v!r} in {n} row(s) of {table}")
    return found


def assert_gone(values) -> None:
    left = leftovers(values)
    assert not left, "personal data left after erasure: " + "; ".join(left)


def assert_present(values) -> None:
    """The same search finds every value before the erasure (so the check above means
    something)."""
    missing = [v for v in values if not leftovers([v])]
    assert not missing, f"the search does not find {missing!r} even before erasure"
