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
"""
from __future__ import annotations

from dataclasses import dataclass

from auditchain import hashing

from . import queries, sql
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


def append(org_id: str, *, actor: str, action: str, entity_type: str, entity_id: str,
           payload: dict, event_id: str | None = None, at=None) -> Appended:
    """Append one event to the organisation's chain. Call inside a transaction."""
    lock_org(org_id)
    last = queries.AUDIT_HEAD.execute((org_id,)).fetchone()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS)
    event_id = event_id or new_uuid()
    at = at or utcnow()
    entity_id = str(entity_id)
    digest = _hash(_content(event_id, org_id, seq, at, actor, action, entity_type, entity_id,
                            payload, prev_hash))
    sql.insert(AuditEvent, {
        "event_id": event_id, "org_id": org_id, "seq": seq, "at": at, "actor": actor,
        "action": action, "entity_type": entity_type, "entity_id": entity_id, "payload": payload,
        "prev_hash": prev_hash, "hash": digest})
    return Appended(event_id, seq, digest)


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    first_bad_event: str | None = None
    first_bad_seq: int | None = None
    reason: str | None = None
    head_hash: str | None = None

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "first_bad_event": self.first_bad_event,
            "first_bad_seq": self.first_bad_seq,
            "reason": self.reason,
            "head_hash": self.head_hash,
        }


def verify(org_id: str, batch: int = 2000) -> VerifyResult:
    """Walk the organisation's chain in order, in constant memory.

    Checks, for every event: its sequence number follows the previous one, its ``prev_hash`` is the
    previous event's hash, and its stored hash matches its content. Consent rows are then checked
    against the hashes their audit events recorded (see ``ledger.verify``).
    """
    prev_hash, expected_seq, checked, last_seq = GENESIS, 1, 0, 0
    while True:
        rows = queries.AUDIT_AFTER.all((org_id, last_seq, batch))
        got = 0
        for event in rows:
            got += 1
            reason = None
            if event.seq != expected_seq:
                reason = f"sequence gap: expected {expected_seq}, found {event.seq}"
            elif event.prev_hash != prev_hash:
                reason = "prev_hash does not match the previous event's hash"
            elif compute_hash(event) != event.hash:
                reason = "stored hash does not match the event's content"
            if reason:
                return VerifyResult(False, checked, event.event_id, event.seq, reason)
            prev_hash, expected_seq, last_seq = event.hash, expected_seq + 1, event.seq
            checked += 1
        if got < batch:
            return VerifyResult(True, checked, head_hash=prev_hash if checked else None)
