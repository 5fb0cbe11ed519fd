"""Covered tables: the rows besides consents whose content decides what an API answers, and how
the audit chain covers them.

A consent is checked against the ``record_hash`` its ``consent.recorded`` event recorded
(:mod:`consent.core.verify`). Every other row that an answer depends on (a consent's terms and
uses, its events, a dialect's own record of a consent, a session's decision, a link's state...)
lives in a *covered table*, which its owner declares next to its models with :func:`cover`: the
core for its own tables, each dialect for its own (the core names no dialect), each in its
schema component's ``covered`` (``consent.core.components``), which installs them. The
declaration says which column names a row (its primary key), how to reach the row's
organisation (its ``org`` foreign key, or a path of foreign keys to a table that has one), which
columns are bookkeeping no answer depends on (left out of the hash), and the names columns
renamed since the table was covered are hashed under (``hashed_as``: their names when the hashes already recorded
were taken, so those stay true after the rename; the statements use the new names).

For every covered table:

* each row has an ``audit_seq`` column: the seq, in its organisation's chain, of the audit event
  that last wrote it;
* that event records the row's hash in its payload, ``"rows": {table: {key: hash}}`` (``key``:
  the primary key as text; ``hash``: SHA-256 of the canonical JSON of the row's columns, all but
  ``audit_seq`` and the skipped ones, each under its column name or its ``hashed_as`` name, see
  :func:`row_hash`; a blob column counts as the SHA-256 of its bytes, which verify has the
  database compute, so a batch never holds the bytes);
* every write of such a row goes through :class:`consent.core.audit.Pending`
  (``audit.begin``): under the organisation's write lock the next event's seq is known, so the
  rows are written first, already pointing at it, and the event appended last carries their
  hashes. A row that changes (a revocation, a status) is hashed again by the event of each
  change, and points at that event from then on.

:mod:`consent.core.verify` checks both directions: every row of a covered table against the hash
the event it points at recorded (an edited, inserted or re-pointed row fails), and every row an
event recorded against the table (a deleted row, or one set back to an older version, fails).
Covered rows are never deleted: what ends a row (a revocation, a session's deletion) is a new
version of it.

Databases written before a table was covered get its ``audit_seq`` column by a migration, which
then *attests* the rows already there (:func:`attest`): one ``rows.attested`` event per
organisation and up to :data:`ATTEST_CHUNK` rows records their hashes as they were at the
upgrade. A migration that later adds a column to a covered table must attest again
(``attest(tables, again=True)``), since the column changes every row's hash; a migration that
renames a column of a covered table declares the old name (``cover(..., hashed_as={new: old})``)
instead, which changes no hash. The statements this module runs are built, once per table, in
``consent.core.queries``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Iterable

from peewee import (
    BlobField,
    BooleanField,
    CompositeKey,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
)

from . import queries, sql
from .database import is_postgres
from .storage import JSONField, canonical_json

POINTER = "audit_seq"
ATTEST_CHUNK = 500
ATTEST_ACTION = "rows.attested"
ATTEST_ACTOR = "system:migration"


def _kind(field) -> str:
    target = field.rel_field if isinstance(field, ForeignKeyField) else field
    if isinstance(field, JSONField):
        return "json"
    if isinstance(target, DateTimeField):
        return "datetime"
    if isinstance(target, BooleanField):
        return "bool"
    if isinstance(target, IntegerField):
        return "int"
    if isinstance(target, BlobField):
        return "blob"
    return "text"


@dataclass(frozen=True, eq=False)
class Covered:
    """One covered table (see the module's docstring)."""

    model: type
    table: str
    key: str                                  # the column that names a row (primary key)
    key_field: object
    key_is_int: bool
    columns: tuple[tuple[str, str, object], ...]   # (column, kind, field), hashed, in order
    org_path: tuple                           # foreign keys to follow, then the org's column
    hashed_as: dict                           # {column: the name it is hashed under}
    personal: tuple = ()                      # columns holding personal data (erasable)
    pointer: str = POINTER

    def key_text(self, value) -> str:
        return str(value)

    def key_value(self, text: str):
        """A key as the table holds it, from its text (None: no key of this table)."""
        if not self.key_is_int:
            return text
        try:
            return int(text)
        except ValueError:
            return None

    # -- statements (built once per table, in consent.core.queries) ----------------------------
    @property
    def select(self) -> sql.Select:
        """Every hashed column of the rows (JSON as stored, a blob as its SHA-256) and
        ``audit_seq``, from alias ``t``."""
        return queries.covered_select(self, is_postgres())

    def walk(self, org_id: str, after, limit: int, *, unattested: bool = False) -> list:
        """A batch of the organisation's rows in key order, after the key ``after`` (None: from
        the first); ``unattested``: only rows no event records yet. JSON columns come as stored
        (canonical text)."""
        statement = queries.covered_rows(self, is_postgres(), after=after is not None,
                                         unattested=unattested)
        params = (org_id, limit) if after is None else (org_id, after, limit)
        return statement.all(params)

    def pointers(self, org_id: str, keys: list) -> dict:
        """``{key text: audit_seq}`` of those of ``keys`` (texts) the organisation has."""
        out = {}
        keys = [k for k in (self.key_value(k) for k in keys) if k is not None]
        for chunk in sql.chunks(keys, IN_CHUNK):
            statement = queries.covered_pointers(self, sql.padded(len(chunk)))
            for key, seq in statement.execute([org_id, *sql.pad(chunk)]).fetchall():
                out[str(key)] = seq
        return out

    def point(self, keys: list, seq: int) -> None:
        """Point rows (by key) at the event ``seq``."""
        for chunk in sql.chunks(keys, IN_CHUNK):
            queries.point_at(self, sql.padded(len(chunk))).execute((seq, *sql.pad(chunk)))

    def update(self, key, values: dict, condition: str = "") -> int:
        """UPDATE one row's columns (values through their fields); ``condition``: an SQL
        fragment of the owner's queries the row must also meet. Returns the rowcount."""
        return sql.update(self.model, key, values, condition)


IN_CHUNK = 256
padded = sql.padded


def blob_digest(value) -> str | None:
    """What a blob column's hash covers: the SHA-256 (hex) of its bytes (None stays None)."""
    return None if value is None else hashlib.sha256(bytes(value)).hexdigest()


_covered: dict[str, Covered] | None = None


def _declared() -> dict[str, Covered]:
    if _covered is None:
        from .components import NotDeclared

        raise NotDeclared("covered tables")
    return _covered


SALT = "pd_salt"


def cover(model, *, org: tuple = (), skip: Iterable[str] = (),
          hashed_as: dict[str, str] | None = None, personal: Iterable[str] = ()) -> Covered:
    """Declare ``model``'s table covered (see the module's docstring). ``org``: how a row
    reaches its organisation, a path of fields: the foreign keys to follow from ``model``, then
    the ``org`` field of the model reached (default: ``model``'s own ``org``); ``skip``: columns
    that are bookkeeping no answer depends on, left out of the hash; ``hashed_as``: ``{column:
    name}`` for a column renamed since hashes of it were recorded, hashed under that name. The
    model needs an ``audit_seq`` column (nullable integer). ``personal``: the columns that
    hold personal data (``consent.core.personal``): the model then needs a ``pd_salt`` column
    (nullable text), which every write through ``audit.Pending`` fills while one of them holds
    a value, and erasure (``Pending.erase``) blanks with them. The declaration takes effect
    once its component is installed."""
    meta = model._meta
    if POINTER not in meta.fields:
        raise TypeError(f"{model.__name__} needs an {POINTER} column to be covered")
    if isinstance(meta.primary_key, CompositeKey):
        raise TypeError(f"{model.__name__}: a covered table needs a single-column key")
    skip, hashed_as, personal = set(skip), dict(hashed_as or {}), tuple(personal)
    known = {f.column_name for f in meta.sorted_fields}
    if personal and SALT not in known:
        raise TypeError(f"{model.__name__} holds personal data: it needs a {SALT} column")
    unknown = (skip | set(hashed_as) | set(personal)) - known
    if unknown:
        raise TypeError(f"{model.__name__} has no column {', '.join(sorted(unknown))}")
    org_path = tuple(org) or (meta.fields["org"],)
    reached = model
    for fk in org_path[:-1]:
        if not isinstance(fk, ForeignKeyField) or fk.model is not reached:
            raise TypeError(f"{model.__name__}: org path {org_path} is no chain of foreign keys")
        reached = fk.rel_model
    if org_path[-1].model is not reached:
        raise TypeError(f"{model.__name__}: org path ends outside {reached.__name__}")
    key = meta.primary_key
    columns = tuple((f.column_name, _kind(f), f) for f in meta.sorted_fields
                    if f.column_name != POINTER and f.column_name not in skip)
    return Covered(model, meta.table_name, key.column_name, key, _kind(key) == "int", columns,
                   org_path, hashed_as, personal)


def install(entries: Iterable[Covered]) -> None:
    """Make these the covered tables (replacing those installed before); called by
    ``consent.core.components.install`` with every installed component's."""
    global _covered
    declared: dict[str, Covered] = {}
    for entry in entries:
        if entry.table in declared:
            raise ValueError(f"{entry.table} is declared covered twice")
        declared[entry.table] = entry
    _covered = declared


def tables() -> list[Covered]:
    """Every covered table, by name (the order verify walks them in)."""
    declared = _declared()
    return [declared[name] for name in sorted(declared)]


def get(table: str) -> Covered | None:
    return _declared().get(table)


def of(model) -> Covered:
    found = _declared().get(model._meta.table_name)
    if found is None or found.model is not model:
        raise TypeError(f"{model.__name__} is not a covered table")
    return found


def after(table: str) -> Covered | None:
    """The covered table verify walks after ``table`` (None: it was the last)."""
    for entry in tables():
        if entry.table > table:
            return entry
    return None


# -- the hash of a row ----------------------------------------------------------------------------

def _value(kind: str, field, value, stored: bool):
    if value is None:
        return None
    if kind == "datetime":
        if isinstance(value, str):
            value = field.python_value(value)
        return value.isoformat(timespec="microseconds") if isinstance(value, dt.datetime) \
            else str(value)
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return int(value)
    if kind == "json":
        return value if stored else canonical_json(value)
    if kind == "blob":   # bytes as written; their digest as read (see consent.core.queries.covered_select)
        return value if isinstance(value, str) else blob_digest(value)
    return value


def content(cov: Covered, row, stored: bool = False) -> dict:
    """What a row's hash covers: ``{column (or its hashed_as name): value}`` (``row``: a mapping
    of column names, or a named row). ``stored``: JSON columns are as the database holds them
    (text), not values."""
    get_ = row.get if isinstance(row, dict) else (lambda name: getattr(row, name, None))
    names = cov.hashed_as
    return {names.get(name, name): _value(kind, field, get_(name), stored)
            for name, kind, field in cov.columns}


def row_hash(cov: Covered, row, stored: bool = False) -> str:
    """SHA-256 (hex) of the canonical JSON of :func:`content`."""
    return hashlib.sha256(canonical_json(content(cov, row, stored)).encode()).hexdigest()


def recorded(payload) -> dict:
    """The rows an event's payload records: ``{table: {key: hash}}`` (empty if none)."""
    rows = payload.get("rows") if isinstance(payload, dict) else None
    return rows if isinstance(rows, dict) else {}


# -- attesting rows written before they were covered ----------------------------------------

def attest(entries: Iterable[Covered], *, again: bool = False, note: str = "") -> int:
    """Record the hashes of rows no event records yet (``audit_seq`` NULL; every row with
    ``again``) in ``rows.attested`` events of their organisations, up to :data:`ATTEST_CHUNK`
    rows per event, and point the rows at them. Call inside a transaction (a migration's).
    Returns how many rows were attested."""
    from . import audit  # audit builds on this module

    entries = list(entries)
    done = 0
    for (org_id,) in queries.ORG_IDS.execute().fetchall():
        for cov in entries:
            last = None
            while True:
                rows = cov.walk(org_id, last, ATTEST_CHUNK, unattested=not again)
                if not rows:
                    break
                pending = audit.begin(org_id)
                keys = []
                for row in rows:
                    key = getattr(row, cov.key)
                    keys.append(key)
                    pending.record_hash(cov, key, row_hash(cov, row, stored=True))
                cov.point(keys, pending.seq)
                pending.append(actor=ATTEST_ACTOR, action=ATTEST_ACTION, entity_type="table",
                               entity_id=cov.table, payload={
                                   "count": len(rows), "note": note or
                                   "rows as they were when the table became covered"})
                done += len(rows)
                last = keys[-1]
    return done
