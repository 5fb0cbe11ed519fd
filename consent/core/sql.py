"""Hand-written SQL: the one mechanism every owner's statements go through.

Peewee builds a query's SQL anew on every call; for a joined query that costs more than running it
(measured: about 1 ms to build the consent query, 0.05 ms to run it). Every statement is therefore
written once and cached, and lives with its owner, one module each: ``consent/core/queries.py``
for the core's tables, ``consent/dialects/<name>/queries.py`` for a dialect's own (a dialect
reaches the core's tables only through core functions). The models declare the tables (and
create them); they build no queries.

Statements never spell a table or column name: :class:`Table` gives the references from the
models' fields (``c = Table(Consent, "c")``; ``f"{c.org} = ?"`` is ``c."org_id" = ?``), so a
column is named, and renamed, in one place: its model.

Rows come back as named tuples whose names are the column names (``org_id``, ``created_at``), the
same names peewee gives a model instance's attributes, and whose values went through the model
field's own ``python_value``: the one row type every data-access function returns. Column lists
are taken from the models, so a column is added in one place: its model.

* :class:`Table`: a model's table under an alias; its attributes are column references.
* :class:`Select`: a SELECT over named :class:`Column` s; ``.where(...)`` returns a cached
  :class:`Statement` per combination of WHERE fragments.
* :func:`model_select`: a :class:`Select` over every column of one model.
* :func:`create` / :func:`insert`: INSERT one model row; :func:`update`: UPDATE one row by its
  key (both built once per table and set of columns).
* :class:`Statement`: any other statement (``?`` placeholders, converted for PostgreSQL).
* :func:`marks` / :func:`padded`: ``IN (?, ...)`` lists of a few distinct lengths.

Statements run through ``Database.execute_sql``, so driver errors arrive as peewee's
(``IntegrityError``...) and a lost PostgreSQL connection is reconnected like any other query.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable

from peewee import AutoField, BooleanField, DateField, DateTimeField, Field, TimeField

from .storage import JSONField, db, is_postgres

# Field kinds whose values a raw cursor returns in another form than the ORM would (SQLite gives
# datetimes as text and booleans as 0/1; JSON is text on every backend).
_CONVERTED = (DateTimeField, DateField, TimeField, BooleanField, JSONField)


@dataclass(frozen=True)
class Column:
    """One selected column: its SQL expression and the name it takes in the row."""

    sql: str
    name: str
    convert: Callable | None = None


def column(alias: str, field: Field, name: str | None = None) -> Column:
    """``alias."column"`` of a model field, named ``name`` (default: the column's own name)."""
    convert = field.python_value if isinstance(field, _CONVERTED) else None
    return Column(f'{alias}."{field.column_name}"', name or field.column_name, convert)


def columns(model, alias: str) -> list[Column]:
    """Every column of ``model``, in its declared order, named after the columns."""
    return [column(alias, f) for f in model._meta.sorted_fields]


class Table:
    """A model's table in a statement, under an alias; its attributes are the references of
    the model's columns, taken from its fields (a foreign key by its field's name)::

        c = Table(Consent, "c")
        f"FROM {c} WHERE {c.org} = ?"    # 'FROM "consent" c WHERE c."org_id" = ?'

    Without an alias (the target of an UPDATE or DELETE) references are bare quoted names."""

    __slots__ = ("_model", "_alias", "_refs")

    def __init__(self, model, alias: str = ""):
        self._model, self._alias = model, alias
        prefix = f"{alias}." if alias else ""
        self._refs = {name: f'{prefix}"{f.column_name}"'
                      for name, f in model._meta.fields.items()}

    def __getattr__(self, name: str) -> str:
        try:
            return self._refs[name]
        except KeyError:
            raise AttributeError(f"{self._model.__name__} has no field {name!r}") from None

    def __str__(self) -> str:
        table = f'"{self._model._meta.table_name}"'
        return f"{table} {self._alias}" if self._alias else table


def name(field) -> str:
    """A field's column name, quoted (for a statement over one unaliased table)."""
    return f'"{field.column_name}"'


def eq(*refs: str) -> tuple[str, ...]:
    """``ref = ?`` for each column reference (WHERE fragments joined by AND)."""
    return tuple(f"{ref} = ?" for ref in refs)


def padded(n: int) -> int:
    """The length of an ``IN`` list for ``n`` values: a power of two, so few distinct
    statements are built (see :func:`pad`)."""
    size = 1
    while size < n:
        size *= 2
    return size


def marks(n: int) -> str:
    """``?, ?, ...``: ``n`` placeholders."""
    return ", ".join("?" * n)


def pad(values: list) -> list:
    """``values`` repeated at the end to the :func:`padded` length (an ``IN`` list's params)."""
    return [*values, *[values[-1]] * (padded(len(values)) - len(values))]


def chunks(values: list, size: int = 256):
    """``values`` in slices of at most ``size`` (an ``IN`` list's bound)."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


class Statement:
    """One parameterised statement (``?`` placeholders), its PostgreSQL form cached."""

    __slots__ = ("text", "_pg_text", "row")

    def __init__(self, text: str, row: "RowType | None" = None):
        self.text = text
        self._pg_text = text.replace("?", "%s")
        self.row = row

    def execute(self, params: Iterable = ()):
        return db.execute_sql(self._pg_text if is_postgres() else self.text, tuple(params))

    def one(self, params: Iterable = ()):
        found = self.execute(params).fetchone()
        return None if found is None else self.row.make(found)

    def all(self, params: Iterable = ()) -> list:
        make = self.row.make
        return [make(found) for found in self.execute(params).fetchall()]

    def value(self, params: Iterable = ()):
        """The first column of the first row, or None."""
        found = self.execute(params).fetchone()
        return None if found is None else found[0]


class RowType:
    """A named-tuple class for rows of given columns, and the conversions their values need."""

    def __init__(self, name: str, cols: list[Column], base: type | None = None):
        tuple_type = collections.namedtuple(name, [c.name for c in cols])
        self.cls = type(name, (base, tuple_type), {"__slots__": ()}) if base else tuple_type
        self.names = tuple_type._fields
        self._converters = [(i, c.convert) for i, c in enumerate(cols) if c.convert]

    def make(self, values):
        if self._converters:
            values = list(values)
            for i, convert in self._converters:
                if values[i] is not None:
                    values[i] = convert(values[i])
        return self.cls._make(values)


class Select:
    """A SELECT of named columns FROM a fixed source; ``where`` adds fragments joined by AND.

    The row class is ``.row.cls``; pass ``base`` to give it methods of its own."""

    def __init__(self, name: str, cols: list[Column], source: str, base: type | None = None):
        self.row = RowType(name, cols, base)
        self.source = source
        self.head = f"SELECT {', '.join(c.sql for c in cols)} {source}"
        self._cache: dict = {}

    @property
    def cls(self) -> type:
        return self.row.cls

    def where(self, *conditions: str, order: str | None = None, limit: bool = False,
              suffix: str = "") -> Statement:
        """The statement for these WHERE fragments (``?`` placeholders), ORDER BY, and a LIMIT
        parameter; built once per combination."""
        key = (conditions, order, limit, suffix)
        found = self._cache.get(key)
        if found is None:
            text = self.head
            if conditions:
                text += " WHERE " + " AND ".join(conditions)
            if order:
                text += " ORDER BY " + order
            if limit:
                text += " LIMIT ?"
            if suffix:
                text += " " + suffix
            found = self._cache[key] = Statement(text, self.row)
        return found

    def count(self, *conditions: str) -> Statement:
        """``SELECT COUNT(*)`` over the same source and WHERE fragments (run with ``.value``)."""
        key = ("count", conditions)
        found = self._cache.get(key)
        if found is None:
            text = f"SELECT COUNT(*) {self.source}"
            if conditions:
                text += " WHERE " + " AND ".join(conditions)
            found = self._cache[key] = Statement(text)
        return found


@lru_cache(maxsize=None)
def model_select(model, base: type | None = None) -> Select:
    """Every column of one model's table (alias ``t``): ``model_select(M).where('t."id" = ?')``."""
    return Select(model.__name__ + "Row", columns(model, "t"),
                  f'FROM "{model._meta.table_name}" t', base)


def row_class(model) -> type:
    """The named-tuple class of ``model``'s rows (the one :func:`model_select` returns)."""
    return model_select(model).cls


@lru_cache(maxsize=256)
def _insert_text(table: str, names: tuple[str, ...], returning: str | None,
                 postgres: bool) -> str:
    placeholder = "%s" if postgres else "?"
    cols = ", ".join(f'"{n}"' for n in names)
    text = f'INSERT INTO "{table}" ({cols}) VALUES ({", ".join([placeholder] * len(names))})'
    if returning and postgres:
        text += f' RETURNING "{returning}"'
    return text


def insert(model, values: dict) -> int | None:
    """INSERT one row of ``model`` from ``{column name: Python value}`` (no defaults filled in).
    Values go through the fields' ``db_value``. Returns the new auto-increment id, if the table
    has one and it was not given."""
    meta = model._meta
    by_column = fields_by_column(model)
    try:
        adapted = tuple(None if v is None else by_column[k].db_value(v) for k, v in values.items())
    except KeyError as exc:
        raise TypeError(f"{model.__name__} has no column {exc.args[0]}") from None
    pk = meta.primary_key
    auto = (pk.column_name if isinstance(pk, AutoField) and pk.column_name not in values
            else None)
    postgres = is_postgres()
    cursor = db.execute_sql(_insert_text(meta.table_name, tuple(values), auto, postgres), adapted)
    if auto is None:
        return None
    return cursor.fetchone()[0] if postgres else cursor.lastrowid


def filled(model, values: dict) -> dict:
    """``values`` (by column name) with the field defaults filled in for the columns missing
    (None where a column has no default; not the auto-increment key)."""
    row = {}
    given = set(values)
    for f in model._meta.sorted_fields:
        name = f.column_name
        if name in given:
            row[name] = values[name]
        elif not isinstance(f, AutoField) and f.default is not None:
            row[name] = f.default() if callable(f.default) else f.default
        elif not isinstance(f, AutoField):
            row[name] = None
    unknown = given - row.keys() - {model._meta.primary_key.column_name}
    if unknown:
        raise TypeError(f"{model.__name__} has no column {', '.join(sorted(unknown))}")
    return row


def create(model, **values):
    """INSERT one row like ``model.create(**values)`` (keyword names are column names, so a
    foreign key is ``org_id=...``); field defaults fill what is missing. Returns the row as
    :func:`row_class` gives it, auto-increment id included."""
    row = filled(model, values)
    given = set(values)
    new_id = insert(model, {k: v for k, v in row.items()
                            if v is not None or k in given})
    pk = model._meta.primary_key
    if isinstance(pk, AutoField):
        row[pk.column_name] = values.get(pk.column_name, new_id)
    cls = row_class(model)
    return cls(**{name: row.get(name) for name in cls._fields})


@lru_cache(maxsize=None)
def fields_by_column(model) -> dict:
    return {f.column_name: f for f in model._meta.sorted_fields}


@lru_cache(maxsize=256)
def _update_text(model, names: tuple[str, ...], condition: str, postgres: bool) -> str:
    mark = "%s" if postgres else "?"
    sets = ", ".join(f'"{n}" = {mark}' for n in names)
    key = model._meta.primary_key.column_name
    text = f'UPDATE "{model._meta.table_name}" SET {sets} WHERE "{key}" = {mark}'
    if condition:
        text += f" AND ({condition})"
    return text


def update(model, key, values: dict, condition: str = "") -> int:
    """UPDATE one row of ``model`` by its primary key: ``values`` (``{column name: Python
    value}``, through the fields' ``db_value``); ``condition``: an SQL condition the row must
    also meet (a fragment of the owner's queries). Returns the rowcount."""
    fields = fields_by_column(model)
    try:
        params = [None if v is None else fields[n].db_value(v) for n, v in values.items()]
    except KeyError as exc:
        raise TypeError(f"{model.__name__} has no column {exc.args[0]}") from None
    text = _update_text(model, tuple(values), condition, is_postgres())
    return db.execute_sql(text, (*params, key)).rowcount
