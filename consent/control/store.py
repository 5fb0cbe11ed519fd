"""What the control API does, without Flask: reset, state, each organisation's clock, fault
rules and request journal (see :mod:`consent.control`).

**Reset.** One transaction under the organisation's write lock: every row of the organisation
in every registered table is deleted, except the tables that hold credentials and seeded
configuration (the core's below, and each dialect's ``Stub.keep``). Which tables hold an
organisation's rows is read from the models' foreign keys: a table with an ``org`` key, or a key
to such a table (a Veriff attempt through its session), children before parents. The audit chain
is deleted too and restarts at ``seq`` 1 with a ``reset`` event (``prev_hash`` the genesis
value) whose payload names the head it replaced (``previous_head``: seq and hash) and how many
rows of each table were removed; the covered rows that stay (collection points, webspaces...)
are re-pointed at that event, which records their hashes, so ``audit verify`` passes at once.
"""
from __future__ import annotations

import datetime as dt
import fnmatch
import threading
from dataclasses import dataclass

from peewee import ForeignKeyField

from consent.core import audit, clock, components, covered, ids, queries, scope, sql, storage
from consent.core.storage import (
    Credential,
    Membership,
    Notice,
    NoticeVersion,
    Organisation,
    OrgKey,
    Purpose,
    PurposeVersion,
    RetentionPolicy,
    SessionToken,
    SessionTokenRevocation,
    User,
    db,
    transaction,
)

from .models import ControlClock, ControlFault, ControlRequest

# The core's tables whose rows a reset keeps: who may call, and what they configured.
CORE_KEEP = (Organisation, User, Membership, SessionToken, SessionTokenRevocation, Credential,
             Purpose, PurposeVersion, Notice, NoticeVersion, OrgKey, RetentionPolicy)
CONTROL_TABLES = (ControlClock, ControlFault, ControlRequest)
RESET_ACTION = "reset"
JOURNAL_RING = 10_000       # requests kept per organisation
BODY_LIMIT = 64 * 1024      # bytes of a body kept in the journal


@dataclass
class Stub:
    """What a dialect declares to join the stub (``Dialect.stub``).

    ``keep``: its tables whose rows a reset keeps (configuration: collection points, webspaces,
    integrations, clients). ``clear(org_id)``: rows of the organisation that no foreign key
    reaches (returns how many it removed). ``clock_moved(org_id)``: its sweeps for one
    organisation, run under that organisation's clock when it moves and every few seconds while
    it is moved (an Attestr consent's expiry). ``decorate_fault(response, principal)``: what the
    dialect adds to every answer of its own (Veriff's signatures) on an injected fault."""

    keep: tuple = ()
    clear: object = None
    clock_moved: object = None
    decorate_fault: object = None


_dialect_stubs: list[tuple[str, Stub]] = []


def register(name: str, stub: Stub | None) -> None:
    if stub is not None and all(n != name for n, _ in _dialect_stubs):
        _dialect_stubs.append((name, stub))


def stubs() -> list[tuple[str, Stub]]:
    return list(_dialect_stubs)


def stub_of(name: str | None) -> Stub | None:
    return next((s for n, s in _dialect_stubs if n == name), None)


# -- which tables hold an organisation's rows ------------------------------------------------------

def _kept() -> set:
    kept = set(CORE_KEEP)
    for _, stub in _dialect_stubs:
        kept.update(stub.keep)
    return kept


def _org_paths(models) -> dict:
    """model -> a function of org_id giving the peewee condition on that model's rows."""
    paths: dict = {}
    changed = True
    while changed:
        changed = False
        for model in models:
            if model in paths or model is Organisation:
                continue
            fks = [f for f in model._meta.sorted_fields if isinstance(f, ForeignKeyField)]
            direct = next((f for f in fks if f.rel_model is Organisation), None)
            if direct is not None:
                paths[model] = (lambda field: lambda org_id: field == org_id)(direct)
                changed = True
                continue
            via = next((f for f in fks if f.rel_model in paths), None)
            if via is not None:
                parent = via.rel_model
                paths[model] = (lambda field, parent, cond: lambda org_id: field.in_(
                    parent.select(field.rel_field).where(cond(org_id))))(
                        via, parent, paths[parent])
                changed = True
    return paths


def plan() -> list[tuple]:
    """The tables a reset empties for an organisation, in order (children first), each with
    its condition."""
    models = components.all_models()
    paths = _org_paths(models)
    kept = _kept()
    cleared = [m for m in models if m in paths and m not in kept]
    for model in kept:
        for f in model._meta.sorted_fields:
            if isinstance(f, ForeignKeyField) and f.rel_model in cleared:
                raise RuntimeError(f"{model.__name__} is kept but points at {f.rel_model.__name__}")
    ordered, placed = [], set()
    while len(ordered) < len(cleared):
        progress = False
        for model in cleared:
            if model in placed:
                continue
            children = [m for m in cleared if m not in placed and m is not model and any(
                isinstance(f, ForeignKeyField) and f.rel_model is model
                for f in m._meta.sorted_fields)]
            if not children:
                ordered.append(model)
                placed.add(model)
                progress = True
        if not progress:
            raise RuntimeError("foreign keys form a cycle among the tables a reset empties")
    return [(m, paths[m]) for m in ordered]


def reset(org_id: str, actor: str) -> dict:
    """Empty the organisation's records (see the module's docstring). Returns what was done."""
    steps = plan()
    with transaction():
        audit.lock_org(org_id)
        head = queries.AUDIT_HEAD.execute((org_id,)).fetchone()
        removed = {}
        for model, condition in steps:
            count = model.delete().where(condition(org_id)).execute()
            if count:
                removed[model._meta.table_name] = count
        for name, stub in _dialect_stubs:
            if stub.clear is not None:
                count = stub.clear(org_id)
                if count:
                    removed[f"{name}:other"] = count
        scope.forget()   # what this transaction kept (the chain's head) is deleted
        event = audit.begin(org_id)     # the chain is empty: seq 1, after the genesis hash
        kept = _kept()
        rows = 0
        for cov in covered.tables():
            if cov.model not in kept:
                continue
            keys, last = [], None
            while True:
                found = cov.walk(org_id, last, covered.IN_CHUNK)
                if not found:
                    break
                batch = []
                for row in found:
                    key = getattr(row, cov.key)
                    batch.append(key)
                    event.record_hash(cov, key, covered.row_hash(cov, row, stored=True))
                cov.point(batch, event.seq)
                keys += batch
                last = batch[-1]
            rows += len(keys)
        previous = {"seq": head[0], "hash": head[1]} if head else None
        appended = event.append(actor=actor, action=RESET_ACTION, entity_type="organisation",
                                entity_id=org_id, payload={"previous_head": previous,
                                                           "removed": removed,
                                                           "kept_rows": rows})
    return {"event_id": appended.event_id, "seq": appended.seq, "previous_head": previous,
            "removed": removed}


# -- state -----------------------------------------------------------------------------------------

def _json_value(value):
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytes": len(bytes(value))}
    return value


def _shown(column: str, value):
    """A value as the state shows it: credentials in stored webhook headers masked as the
    outbox's views mask them, a link's signed token (a capability) masked."""
    from consent.core import outbox

    if column == "headers" and isinstance(value, dict):
        return outbox.masked_headers(value)
    if column == "token" and value:
        return outbox.MASK
    return _json_value(value)


def state(org_id: str) -> dict:
    """The organisation's records, every table a reset empties, as one JSON-able document:
    ``{component: {table: [row, ...]}}``, rows in key order (control's own tables left out)."""
    component_of = {m: c.name for c in components.installed() for m in c.models}
    out: dict = {}
    head = queries.AUDIT_HEAD.execute((org_id,)).fetchone()
    for model, condition in plan():
        if model in CONTROL_TABLES:
            continue
        pk = model._meta.primary_key
        query = model.select().where(condition(org_id))
        if pk is not None and not isinstance(pk, type(None)) and hasattr(pk, "asc"):
            query = query.order_by(pk.asc())
        rows = [{k: _shown(k, v) for k, v in row.items()} for row in query.dicts()]
        out.setdefault(component_of.get(model, "core"), {})[model._meta.table_name] = rows
    return {"org_id": org_id, "audit_head": {"seq": head[0], "hash": head[1]} if head else None,
            "records": out}


# -- the clock -------------------------------------------------------------------------------------

def clock_offset(org_id: str) -> float:
    row = ControlClock.get_or_none(ControlClock.org == org_id)
    return row.offset_seconds if row else 0.0


def set_clock(org_id: str, offset_seconds: float) -> None:
    with transaction():
        ControlClock.delete().where(ControlClock.org == org_id).execute()
        ControlClock.insert(org=org_id, offset_seconds=offset_seconds,
                            set_at=clock.real_utcnow()).execute()


def clear_clock(org_id: str) -> None:
    with transaction():
        ControlClock.delete().where(ControlClock.org == org_id).execute()


def moved_clocks() -> list[tuple[str, float]]:
    return [(r.org_id, r.offset_seconds) for r in ControlClock.select()]


def run_clock_moved(org_id: str, offset_seconds: float) -> None:
    """The dialects' sweeps for one organisation, under its clock; and the webhooks it waits
    to retry come due as the time it skipped passes."""
    with clock.offset(offset_seconds):
        for _, stub in _dialect_stubs:
            if stub.clock_moved is not None:
                stub.clock_moved(org_id)


def advance_deliveries(org_id: str, seconds: float) -> int:
    """The organisation's pending webhook retries come ``seconds`` closer (its clock moved
    forward: the waits between attempts elapse with it)."""
    if seconds <= 0:
        return 0
    from consent.core.storage import WebhookDelivery

    with transaction():
        pending = list(WebhookDelivery.select(WebhookDelivery.id, WebhookDelivery.next_attempt_at)
                       .where((WebhookDelivery.org == org_id)
                              & (WebhookDelivery.status == "pending")))
        for row in pending:
            WebhookDelivery.update(next_attempt_at=row.next_attempt_at - dt.timedelta(
                seconds=seconds)).where(WebhookDelivery.id == row.id).execute()
    if pending:
        from consent.core import outbox

        outbox.SENDER.wake()
    return len(pending)


# -- faults ----------------------------------------------------------------------------------------

_fault_lock = threading.Lock()


def add_fault(org_id: str, values: dict) -> ControlFault:
    with transaction():
        return ControlFault.create(org=org_id, target=values.get("target", "request"),
                                   method=(values.get("method") or None) and
                                   values["method"].upper(),
                                   path=values["path"], status=values.get("status"),
                                   remaining=values.get("count"), count=values.get("count"),
                                   percent=values.get("percent"),
                                   latency_ms=values.get("latency_ms") or 0,
                                   drop=bool(values.get("drop")))


def faults(org_id: str) -> list:
    return list(ControlFault.select().where(ControlFault.org == org_id).order_by(ControlFault.id))


def delete_faults(org_id: str, fault_id: int | None = None) -> int:
    with transaction():
        query = ControlFault.delete().where(ControlFault.org == org_id)
        if fault_id is not None:
            query = query.where(ControlFault.id == fault_id)
        return query.execute()


def take_fault(org_id: str, target: str, method: str | None, path: str):
    """The first rule of the organisation matching a request (or a delivery's URL) that fires
    now; its count is taken and its ``fired`` counted in one transaction. None: none fires."""
    rules = list(ControlFault.select().where((ControlFault.org == org_id)
                                             & (ControlFault.target == target))
                 .order_by(ControlFault.id))
    for rule in rules:
        if rule.method and method and rule.method != method.upper():
            continue
        if not fnmatch.fnmatchcase(path, rule.path):
            continue
        if rule.remaining is not None and rule.remaining <= 0:
            continue
        if rule.percent is not None:
            with _fault_lock:
                if ids.randbelow(10_000, "fault-chance") >= rule.percent * 100:
                    continue
        with transaction():
            changes = {ControlFault.fired: ControlFault.fired + 1}
            where = ControlFault.id == rule.id
            if rule.remaining is not None:
                changes[ControlFault.remaining] = ControlFault.remaining - 1
                where &= ControlFault.remaining > 0
            if ControlFault.update(changes).where(where).execute() != 1:
                continue   # another request took its last count
        rule.fired += 1
        return rule
    return None


# -- the journal -----------------------------------------------------------------------------------

def record_request(org_id: str, entry: dict) -> None:
    """Add a request to the organisation's journal; keep its newest :data:`JOURNAL_RING`."""
    with transaction():
        new_id = ControlRequest.insert(org=org_id, **entry).execute()
        if new_id and new_id % 100 == 0:
            # ids are shared by every organisation: the ring is kept by count (every 100th
            # insert trims, so an organisation holds at most JOURNAL_RING + 99 for a moment)
            cutoff = (ControlRequest.select(ControlRequest.id)
                      .where(ControlRequest.org == org_id)
                      .order_by(ControlRequest.id.desc()).offset(JOURNAL_RING).limit(1).scalar())
            if cutoff is not None:
                ControlRequest.delete().where((ControlRequest.org == org_id)
                                              & (ControlRequest.id <= cutoff)).execute()


def journal(org_id: str, *, method=None, path=None, dialect=None, since=None, limit=100):
    query = ControlRequest.select().where(ControlRequest.org == org_id)
    if method:
        query = query.where(ControlRequest.method == method.upper())
    if dialect:
        query = query.where(ControlRequest.dialect == dialect)
    if since is not None:
        query = query.where(ControlRequest.at >= since)
    rows = []
    for row in query.order_by(ControlRequest.id.desc()).iterator():
        if path and not fnmatch.fnmatchcase(row.path, path):
            continue
        rows.append(row)
        if len(rows) >= limit:
            break
    return rows


def clear_journal(org_id: str) -> int:
    with transaction():
        return ControlRequest.delete().where(ControlRequest.org == org_id).execute()


__all__ = ["Stub", "reset", "state", "db"]


def forget(person) -> dict:
    """Erasure (``consent.core.rights``): the journal's requests that name the person (one of
    their identifiers or addresses in the path or the query, decoded, or in the body, as sent
    or JSON-escaped) are deleted. The journal is a bounded ring per organisation
    (:data:`JOURNAL_RING`), so it is read whole. Runs after every dialect's erasure, in its
    transaction."""
    import json
    from urllib.parse import unquote, unquote_plus

    values = [v for v in set(person.identifiers) | set(person.addresses) if v]
    needles = {n for v in values for n in (v, json.dumps(v)[1:-1])}
    t = ControlRequest
    doomed = []
    for row in t.select(t.id, t.path, t.query, t.body).where(t.org == person.org_id):
        text = "\n".join((unquote(row.path or ""), unquote_plus(row.query or ""),
                          row.body or ""))
        if any(n in text for n in needles):
            doomed.append(row.id)
    gone = 0
    for start in range(0, len(doomed), 256):
        gone += t.delete().where(t.id.in_(doomed[start:start + 256])).execute()
    return {"control_request": gone} if gone else {}
