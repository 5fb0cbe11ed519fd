"""The audit log: a SHA-256 hash chain per organisation.

Every write in the ledger calls :func:`append` inside its own transaction, so an event exists exactly
when the write it describes was committed. Each event's hash covers its content and the previous
event's hash; changing, removing or reordering any stored event breaks every hash after it.

Appends are serialised per organisation: on SQLite the write transaction is ``BEGIN IMMEDIATE``
(one writer at a time); on PostgreSQL the organisation's row is locked ``FOR NO KEY UPDATE`` first, so two
service instances sharing one database still build one chain. The ``(org, seq)`` unique index is the
last line of defence against a fork in the chain.

How an event is hashed (canonical JSON, the content covered, SHA-256) is defined once in the
dependency-free ``auditchain.hashing``, which the standalone verifier (``python -m auditchain``)
uses too. A chain has no key of its own: signed checkpoints (``consent.core.checkpoints``) are
what catch a chain re-hashed after an edit.

A write that creates or changes rows of a covered table (:mod:`consent.core.covered`) begins its
event first (:func:`begin`): under the write lock the event's seq is already known, so the rows
are written pointing at it (``audit_seq``) through the :class:`Pending` event, which hashes each
one, and the event appended last records their hashes (payload ``rows``). No event of the same
organisation may be appended between a ``begin`` and its ``append``. :func:`append` is
``begin(...).append(...)`` for a write without covered rows.
"""
from __future__ import annotations

from dataclasses import dataclass

from auditchain import hashing

from . import covered, personal, queries, scope, sql
from .storage import AuditEvent, is_postgres, new_uuid, utcnow

GENESIS = hashing.GENESIS


def _content(event_id: str, org_id: str, seq: int, at, actor: str, action: str,
             entity_type: str, entity_id: str, payload, prev_hash: str) -> dict:
    return hashing.event_content(event_id, org_id, seq, at, actor, action, entity_type,
                                 entity_id, payload, prev_hash)


def event_content(event) -> dict:
    """The fields an event's hash covers (everything but the hash itself)."""
    return _content(event.event_id, event.org_id, event.seq, event.at, event.actor, event.action,
                    event.entity_type, event.entity_id, event.payload, event.prev_hash)


_hash = hashing.content_hash


def compute_hash(event) -> str:
    """The hash of an audit event row (a model instance or a named row)."""
    return _hash(event_content(event))


@dataclass(slots=True, frozen=True)
class Appended:
    """What :func:`append` wrote: enough to point at the event."""

    event_id: str
    seq: int
    hash: str


def lock_org(org_id: str) -> None:
    """Serialise writers of one organisation (PostgreSQL; SQLite's BEGIN IMMEDIATE already does).

    ``FOR NO KEY UPDATE`` rather than ``FOR UPDATE``: inserting rows that reference the
    organisation takes ``KEY SHARE`` on it, which ``FOR UPDATE`` would deadlock against. Ledger
    writes take this lock first, before any get-or-create, so concurrent writers queue here."""
    if is_postgres():
        queries.LOCK_ORG.execute((org_id,))


NOTHING_HELD = (None, personal.ERASED, [], {})   # what a personal column holds when empty


def _holds_personal(cov: "covered.Covered", values: dict) -> bool:
    """Whether a covered row's values hold personal data (so its hash must be salted): a
    personal column holding NULL, ``personal.ERASED`` or an empty JSON list or object holds
    none (a NOT NULL JSON column's erased value)."""
    return any(values.get(name) not in NOTHING_HELD for name in cov.personal)


class Pending:
    """An organisation's next audit event, begun (:func:`begin`) but not appended yet: its
    ``seq`` and ``event_id`` are known, so the covered rows its write creates or changes are
    written first, pointing at it, and their hashes go into the event (payload ``rows``)."""

    __slots__ = ("org_id", "seq", "prev_hash", "event_id", "at", "rows", "appended")

    def __init__(self, org_id: str, seq: int, prev_hash: str, event_id: str, at):
        self.org_id, self.seq, self.prev_hash = org_id, seq, prev_hash
        self.event_id, self.at = event_id, at
        self.rows: dict[str, dict[str, str]] = {}
        self.appended: Appended | None = None

    def record_hash(self, cov: "covered.Covered", key, digest: str) -> None:
        self.rows.setdefault(cov.table, {})[cov.key_text(key)] = digest

    def insert(self, model, values: dict):
        """INSERT a covered row (``{column: value}``, no defaults filled in) pointing at this
        event, and record its hash. Returns the new auto-increment key, if any."""
        cov = covered.of(model)
        values = {**values, covered.POINTER: self.seq}
        if covered.SALT not in values and _holds_personal(cov, values):
            values[covered.SALT] = personal.new_salt()
        new_id = sql.insert(model, values)
        key = values.get(cov.key, new_id)
        if new_id is not None:
            values[cov.key] = new_id
        self.record_hash(cov, key, covered.row_hash(cov, values))
        return new_id

    def create(self, model, **values):
        """Like ``sql.create`` (defaults filled in; returns the named row), for a covered row
        pointing at this event, its hash recorded."""
        row = sql.filled(model, values)
        given = set(values)
        values = {k: v for k, v in row.items() if v is not None or k in given}
        new_id = self.insert(model, values)
        cov = covered.of(model)
        if new_id is not None:
            row[cov.key] = new_id
        if covered.SALT in values:
            row[covered.SALT] = values[covered.SALT]
        row[covered.POINTER] = self.seq
        cls = sql.row_class(model)
        return cls(**{name: row.get(name) for name in cls._fields})

    def update(self, model, row, condition: str = "", _salted: bool = True, **changes):
        """UPDATE a covered row (``row``: the model's named row as it is now, every hashed
        column in it or in ``changes``) with ``changes``, pointing it at this event, and record
        its new hash. ``condition``: an SQL condition the row must also meet (a fragment of
        the owner's queries); when it does not, nothing changes and None is returned. Returns
        the row as it now is."""
        cov = covered.of(model)
        key = getattr(row, cov.key)
        values = {**row._asdict(), **changes, covered.POINTER: self.seq}
        if _salted and values.get(covered.SALT) is None and _holds_personal(cov, values):
            changes = {**changes, covered.SALT: personal.new_salt()}   # personal data: salted
            values[covered.SALT] = changes[covered.SALT]
        missing = [name for name, _, _ in cov.columns if name not in values]
        if missing:   # its hash would take them as NULL
            raise TypeError(f"{cov.table}: the row lacks {', '.join(missing)}")
        if cov.update(key, {**changes, covered.POINTER: self.seq}, condition) != 1:
            return None
        self.record_hash(cov, key, covered.row_hash(cov, values))
        return row._replace(**{k: v for k, v in values.items() if k in row._fields})

    def erase(self, model, row, **replacements):
        """Erase the personal data of a covered row (``row``: its named row as it is now):
        its personal columns (``cover(..., personal=...)``) become ``replacements`` (default
        NULL; ``personal.ERASED`` for a NOT NULL text column) and its salt NULL, through this
        event, which records the new hash. The hashes recorded before were salted commitments:
        without the salt they confirm nothing. Returns the row as it now is."""
        cov = covered.of(model)
        unknown = set(replacements) - set(cov.personal)
        if unknown:
            raise TypeError(f"{cov.table}: {', '.join(sorted(unknown))} is not personal")
        changes = {name: replacements.get(name) for name in cov.personal}
        changes[covered.SALT] = None
        return self.update(model, row, _salted=False, **changes)

    def append(self, *, actor: str, action: str, entity_type: str, entity_id: str,
               payload: dict) -> Appended:
        """Append the event, with the hashes of the rows written through it (through the
        module's :func:`append`, the one door every event goes through)."""
        return append(self.org_id, actor=actor, action=action, entity_type=entity_type,
                      entity_id=entity_id, payload=payload, event=self)

    def _append(self, actor: str, action: str, entity_type: str, entity_id: str,
                payload: dict) -> Appended:
        if self.appended is not None:
            raise RuntimeError("this event was already appended")
        if self.rows:
            payload = {**payload, "rows": self.rows}
        entity_id = str(entity_id)
        digest = _hash(_content(self.event_id, self.org_id, self.seq, self.at, actor, action,
                                entity_type, entity_id, payload, self.prev_hash))
        sql.insert(AuditEvent, {
            "event_id": self.event_id, "org_id": self.org_id, "seq": self.seq, "at": self.at,
            "actor": actor, "action": action, "entity_type": entity_type,
            "entity_id": entity_id, "payload": payload, "prev_hash": self.prev_hash,
            "hash": digest})
        self.appended = Appended(self.event_id, self.seq, digest)
        known = scope.current()
        if known is not None:   # the next event of this transaction follows this one
            known[("audit head", self.org_id)] = (self.seq, digest)
        return self.appended


def begin(org_id: str, *, event_id: str | None = None, at=None) -> Pending:
    """Begin the organisation's next event (inside a transaction): takes the organisation's
    write lock and reads the chain's head, the first time in a transaction; after an event of
    this transaction the head is the one it appended (kept in :mod:`consent.core.scope`, the
    lock still held). Append it with :meth:`Pending.append` before any other event of the
    organisation."""
    known = scope.current()
    last = known.get(("audit head", org_id)) if known is not None else None
    if last is None:   # the first event of this organisation in this transaction
        lock_org(org_id)
        last = queries.AUDIT_HEAD.execute((org_id,)).fetchone()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
    return Pending(org_id, seq, prev_hash, event_id or new_uuid(), at or utcnow())


def append(org_id: str, *, actor: str, action: str, entity_type: str, entity_id: str,
           payload: dict, event_id: str | None = None, at=None,
           event: Pending | None = None) -> Appended:
    """Append one event to the organisation's chain. Call inside a transaction. ``event``: the
    event begun for it (:func:`begin`), with the rows it records; else it is begun now."""
    if event is None:
        event = begin(org_id, event_id=event_id, at=at)
    elif event.org_id != org_id:
        raise ValueError("an event begun for another organisation")
    return event._append(actor, action, entity_type, entity_id, payload)


def events_by_id(org_id: str, event_ids) -> dict:
    """The organisation's audit events (named rows) of these event ids, by event id (ids of
    another organisation, or of no event, are left out)."""
    ids = sorted(set(filter(None, event_ids)))
    out = {}
    for chunk in sql.chunks(ids):
        for event in queries.events_by_id(sql.padded(len(chunk))).all((org_id, *sql.pad(chunk))):
            out[event.event_id] = event
    return out


def sealed_events_about(org_id: str, entity_type: str, entity_ids) -> list:
    """The organisation's events of its sealed prefix (``personal.sealed_seq``: written before
    personal data became erasable, so they may hold some) about these entities of one type, in
    seq order (named rows): what an owner's erasure hook looks through for the events to redact
    (``consent.core.rights.Person.redact``)."""
    sealed = personal.sealed_seq(org_id)
    ids = sorted({str(i) for i in entity_ids if i})
    out = []
    if not sealed or not ids:
        return out
    for chunk in sql.chunks(ids):
        out.extend(queries.sealed_events_about(sql.padded(len(chunk))).all(
            (org_id, sealed, entity_type, *sql.pad(chunk))))
    return sorted(out, key=lambda e: e.seq)


def content_fault(event, sealed_seq: int) -> str | None:
    """Why an event's stored hash does not stand for its content, or None. An event of the
    sealed prefix (seq up to ``sealed_seq``, see ``consent.core.personal``) whose payload was
    redacted by an erasure is taken by its hash alone: its content is gone, and the hash is
    still bound to its neighbours by their ``prev_hash`` (and by signed checkpoints)."""
    if compute_hash(event) == event.hash:
        return None
    if event.seq <= sealed_seq and personal.is_redacted(event.payload):
        return None
    return "stored hash does not match the event's content"


@dataclass
class ChainResult:
    ok: bool
    checked: int
    first_bad_event: str | None = None
    first_bad_seq: int | None = None
    reason: str | None = None
    head_hash: str | None = None


def verify_chain(org_id: str, batch: int = 2000) -> ChainResult:
    """Walk the organisation's chain alone, in order, in constant memory: every event's
    sequence number follows the previous one, its ``prev_hash`` is the previous event's hash,
    and its stored hash matches its content. What a signed checkpoint is judged against
    (``consent.core.checkpoints``); the consents and covered rows are checked by
    ``consent.core.verify``."""
    prev_hash, expected_seq, checked, last_seq = GENESIS, 1, 0, 0
    sealed = personal.sealed_seq(org_id)
    while True:
        rows = queries.AUDIT_AFTER.all((org_id, last_seq, batch))
        for event in rows:
            reason = None
            if event.seq != expected_seq:
                reason = f"sequence gap: expected {expected_seq}, found {event.seq}"
            elif event.prev_hash != prev_hash:
                reason = "prev_hash does not match the previous event's hash"
            else:
                reason = content_fault(event, sealed)
            if reason:
                return ChainResult(False, checked, event.event_id, event.seq, reason)
            prev_hash, expected_seq, last_seq = event.hash, expected_seq + 1, event.seq
            checked += 1
        if len(rows) < batch:
            return ChainResult(True, checked, head_hash=prev_hash if checked else None)
