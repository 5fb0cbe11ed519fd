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

from peewee import AutoField, ForeignKeyField, Model, __exception_wrapper__

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

def instance(model, data: dict, rel: dict | None = None):
    """A ``model`` instance in the state a database read leaves it (nothing dirty, no field
    defaults), built without peewee's per-field ``setattr``: about a tenth of the cost.

    ``data`` maps field names to Python values; a foreign key holds the related row's id.
    ``rel`` maps foreign-key names to related instances already at hand (what ``c.subject``
    returns without a query). The dicts are used as given, not copied."""
    obj = model.__new__(model)
    obj.__data__ = data
    obj._dirty = set()
    obj.__rel__ = rel if rel is not None else {}
    return obj


@lru_cache(maxsize=128)
def _select_sql(model, where: str) -> str:
    cols = ", ".join(f'"{f.column_name}"' for f in model._meta.sorted_fields)
    return f'SELECT {cols} FROM "{model._meta.table_name}" WHERE {where}'


def _row_to_model(model, row):
    fields = model._meta.sorted_fields
    return instance(model, {f.name: (None if v is None else f.python_value(v))
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
    are adapted by their fields, and an auto-incremented primary key is set on the instance.
    A foreign key may be given as the related instance or as its id."""
    meta = model._meta
    unknown = values.keys() - meta.fields.keys()
    if unknown:
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    data, rel, columns, row = {}, {}, [], []
    for f in meta.sorted_fields:
        if f.name in values:
            value = values[f.name]
            if isinstance(value, Model) and isinstance(f, ForeignKeyField):
                rel[f.name] = value
                value = getattr(value, f.rel_field.name)
        elif not isinstance(f, AutoField) and f.default is not None:
            value = f.default() if callable(f.default) else f.default
        else:
            continue
        data[f.name] = value
        columns.append(f.column_name)
        row.append(None if value is None else f.db_value(value))
    pk = meta.primary_key
    auto = pk if isinstance(pk, AutoField) and pk.name not in data else None
    new_id = insert(meta.table_name, tuple(columns), tuple(row),
                    returning=auto.column_name if auto else None)
    if auto is not None:
        data[auto.name] = new_id
    return instance(model, data, rel)
