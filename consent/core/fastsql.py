"""Hand-written, parameterised SQL for the statements on every request's hot path.

Peewee builds a query's SQL anew on every call; for a joined query that costs about as much as the
rest of a request (measured: 0.9 ms to build the consent query's SQL, 0.05 ms to run it). The
statements here are written once with ``?`` placeholders, converted to the backend's own
placeholder on first use and cached. Everything else stays on the ORM.

Two levels:

* :func:`execute`, :func:`one`, :func:`insert`: statements and rows as tuples.
* :func:`get`, :func:`select`, :func:`create`: the same, for one model's rows. Columns come from
  the model's fields and every value goes through the field's own ``db_value`` /
  ``python_value``, so rows written or read here are exactly what the ORM would write or read.
"""
from __future__ import annotations

from functools import lru_cache

from peewee import AutoField, __exception_wrapper__

from .storage import canonical_json, db, is_postgres


@lru_cache(maxsize=256)
def _sql(statement: str, postgres: bool) -> str:
    return statement.replace("?", "%s") if postgres else statement


def execute(statement: str, params=()):
    postgres = is_postgres()
    with __exception_wrapper__:  # driver errors become peewee's (IntegrityError, ...)
        cursor = db.connection().cursor()
        cursor.execute(_sql(statement, postgres), params)
    return cursor


def one(statement: str, params=()):
    return execute(statement, params).fetchone()


def insert(table: str, columns: tuple[str, ...], values: tuple, returning: str | None = None):
    """INSERT one row; returns the ``returning`` column's value (the new auto id) if asked."""
    cursor = execute(_insert_sql(table, columns, returning, is_postgres()), values)
    if returning:
        return cursor.fetchone()[0] if is_postgres() else cursor.lastrowid
    return None


@lru_cache(maxsize=64)
def _insert_sql(table: str, columns: tuple[str, ...], returning: str | None,
                postgres: bool) -> str:
    cols = ", ".join(f'"{c}"' for c in columns)
    statement = f'INSERT INTO "{table}" ({cols}) VALUES ({", ".join(["?"] * len(columns))})'
    if returning and postgres:
        statement += f' RETURNING "{returning}"'
    return statement


def json_value(value):
    return None if value is None else canonical_json(value)


# -- model rows ------------------------------------------------------------------------------------

@lru_cache(maxsize=128)
def _select_sql(model, where: str) -> str:
    cols = ", ".join(f'"{f.column_name}"' for f in model._meta.sorted_fields)
    return f'SELECT {cols} FROM "{model._meta.table_name}" WHERE {where}'


def _row_to_model(model, row):
    fields = model._meta.sorted_fields
    return model(__no_default__=1, **{f.name: (None if v is None else f.python_value(v))
                                      for f, v in zip(fields, row)})


def select(model, where: str, params=()) -> list:
    """Rows of ``model`` matching a ``?``-parameterised WHERE clause (it may end in ORDER BY or
    LIMIT), as model instances."""
    cursor = execute(_select_sql(model, where), params)
    return [_row_to_model(model, row) for row in cursor.fetchall()]


def get(model, where: str, params=()):
    """The first row of ``model`` matching ``where``, or None."""
    row = execute(_select_sql(model, where), params).fetchone()
    return None if row is None else _row_to_model(model, row)


def create(model, **values):
    """Insert one row like ``model.create(**values)``: field defaults fill what is missing, values
    are adapted by their fields, and an auto-incremented primary key is set on the instance."""
    meta = model._meta
    for f in meta.sorted_fields:
        if f.name not in values and not isinstance(f, AutoField) and f.default is not None:
            values[f.name] = f.default() if callable(f.default) else f.default
    instance = model(__no_default__=1, **values)
    fields = [f for f in meta.sorted_fields if f.name in values]
    row = tuple(None if (v := instance.__data__.get(f.name)) is None else f.db_value(v)
                for f in fields)
    pk = meta.primary_key
    auto = pk if isinstance(pk, AutoField) and pk.name not in values else None
    new_id = insert(meta.table_name, tuple(f.column_name for f in fields), row,
                    returning=auto.column_name if auto else None)
    if auto is not None:
        setattr(instance, auto.name, new_id)
    return instance
