"""Hand-written, parameterised SQL for the few statements on every request's hot path.

Peewee builds a query's SQL anew on every call; for a joined query that costs about as much as the
rest of a request (measured: 0.9 ms to build the consent query's SQL, 0.05 ms to run it). The
statements here are written once with ``?`` placeholders and converted to the backend's own
placeholder on first use. Everything else stays on the ORM. Column names follow Peewee's (foreign
keys end in ``_id``), and values are adapted exactly as Peewee adapts them (datetimes passed as
objects, JSON as canonical text), so rows written here read back through the models unchanged.
"""
from __future__ import annotations

from functools import lru_cache

from .storage import canonical_json, db, is_postgres


@lru_cache(maxsize=256)
def _sql(statement: str, postgres: bool) -> str:
    return statement.replace("?", "%s") if postgres else statement


def execute(statement: str, params=()):
    return db.execute_sql(_sql(statement, is_postgres()), params)


def one(statement: str, params=()):
    return execute(statement, params).fetchone()


def insert(table: str, columns: tuple[str, ...], values: tuple, returning: str | None = None):
    """INSERT one row; returns the ``returning`` column's value (the new auto id) if asked."""
    statement = _insert_sql(table, columns, returning, is_postgres())
    cursor = db.execute_sql(statement, values)
    if returning:
        return cursor.fetchone()[0] if is_postgres() else cursor.lastrowid
    return None


@lru_cache(maxsize=64)
def _insert_sql(table: str, columns: tuple[str, ...], returning: str | None,
                postgres: bool) -> str:
    marks = ", ".join(["%s" if postgres else "?"] * len(columns))
    cols = ", ".join(f'"{c}"' for c in columns)
    statement = f'INSERT INTO "{table}" ({cols}) VALUES ({marks})'
    if returning and postgres:
        statement += f' RETURNING "{returning}"'
    return statement


def json_value(value):
    return None if value is None else canonical_json(value)
