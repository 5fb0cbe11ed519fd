""""May I process?": whether a consent allows an operation now, and using it.

The answer for a consent and an operation, in this order:

1. ``denied`` / ``withdrawn``: the record is a refusal, or a withdrawal record itself;
   ``withdrawn`` also when a newer record withdraws it; ``superseded`` when a newer decision of
   the same subject and purpose replaced it.
2. ``not_yet_valid`` before its ``valid_from``; ``expired`` from its ``valid_until`` on.
3. ``operation_not_granted`` when its terms list the operations it grants and this is not one.
4. ``already_used`` when its terms make it single-use and it was used.

Otherwise it is allowed. Asked by subject and purpose, the binding (newest) record answers, and
``no_consent`` when there is none.

A consent is named by the ledger's id, or by an id a dialect handed out for it (Attestr's
``_id``...): each dialect that hands out ids of its own declares a lookup in its entry
(``Dialect.consent_lookup``, installed by :func:`install_consent_lookups`) from such an id to the
ledger consent's, within one organisation; the core names no dialect.

Terms (:class:`ConsentTerms`) are written by whoever records the consent, in
the same transaction (:func:`set_terms`, with an audit event): the operations granted and the
single-use flag. Consents without terms grant any operation, any number of times.

*Using* a consent (``use=True``) records a :class:`ConsentUse`, a ``used``
event on the consent and a ``consent.used`` audit event, in one transaction, and emits
``consent.used`` (:mod:`consent.core.hooks`). A single-use consent is consumed atomically: the
organisation's writers are serialised (SQLite's write lock; the organisation's row lock on
PostgreSQL) and the re-check happens under that lock, and a unique index on the single-use key
is the last line of defence, so of any number of concurrent uses exactly one wins.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable, Iterable

from peewee import IntegrityError

from . import audit, hooks, ledger, queries
from .errors import Invalid, NotFound
from .queries import ConsentRecord
# The tables of terms and uses are the core's (storage); named here too, where they are written.
from .storage import ConsentEvent, ConsentTerms, ConsentUse, db, transaction, utcnow  # noqa: F401

REASONS = ("no_consent", "denied", "withdrawn", "superseded", "not_yet_valid", "expired",
           "operation_not_granted", "already_used")


@dataclass(frozen=True)
class Terms:
    operations: list[str] | None = None   # None: any operation
    single_use: bool = False


NO_TERMS = Terms()


@dataclass
class Answer:
    allowed: bool
    reason: str | None
    operation: str
    checked_at: dt.datetime
    consent: ConsentRecord | None = None
    terms: Terms = NO_TERMS
    use: object = None              # the ConsentUse row, when this check used the consent

    @property
    def consent_id(self) -> str | None:
        return self.consent.id if self.consent else None

    @property
    def subject(self) -> str | None:
        return self.consent.subject if self.consent else None

    @property
    def purpose(self) -> str | None:
        return self.consent.purpose if self.consent else None


def set_terms(org_id: str, consent_id: str, *, operations: list[str] | None = None,
              single_use: bool = False, actor: str = "system",
              event: "audit.Pending | None" = None) -> Terms:
    """Give a just-recorded consent its terms, with a ``consent.terms`` audit event. Call inside
    the transaction that recorded it. ``event``: that event, begun by a caller that writes covered
    rows of its own through it first."""
    if operations is not None:
        operations = list(dict.fromkeys(operations))
        if not operations or not all(isinstance(o, str) and 0 < len(o) <= 64
                                     for o in operations):
            raise Invalid("operations must be a non-empty list of names of 1-64 characters")
    event = event or audit.begin(org_id)
    event.insert(ConsentTerms, {"consent_id": consent_id, "operations": operations,
                                "single_use": bool(single_use)})
    event.append(actor=actor, action="consent.terms", entity_type="consent",
                 entity_id=consent_id, payload={"operations": operations,
                                                "single_use": bool(single_use)})
    return Terms(operations, bool(single_use))


def terms_of(consent_id: str) -> Terms:
    row = queries.TERMS_OF.one((consent_id,))
    return NO_TERMS if row is None else Terms(row.operations, bool(row.single_use))


def _refusal(org_id: str, consent, operation: str, now: dt.datetime, terms: Terms) -> str | None:
    """Why ``consent`` does not allow ``operation`` at ``now`` (None: it does)."""
    if consent.status in ("denied", "withdrawn"):
        return consent.status
    newer = ledger.newer_consent(consent)
    if newer is not None:
        if newer.status == "withdrawn" and newer.supersedes == consent.id:
            return "withdrawn"
        return "superseded"
    if consent.valid_from > now:
        return "not_yet_valid"
    if consent.valid_until is not None and consent.valid_until <= now:
        return "expired"
    if terms.operations is not None and operation not in terms.operations:
        return "operation_not_granted"
    if terms.single_use and queries.FIRST_USE_OF.one((consent.id,)) is not None:
        return "already_used"
    return None


# Lookups from an id a dialect handed out to the ledger consent's id: ``lookup(org_id, id)``
# returns the ledger consent id, or None when the id is none of the dialect's in that organisation.
# Declared in the dialects' entries (``Dialect.consent_lookup``), installed by the app factory.
_lookups: tuple[Callable[[str, str], str | None], ...] | None = None


def consent_lookup(fn: Callable[[str, str], str | None]) -> Callable[[str, str], str | None]:
    """Mark a function as a dialect's consent lookup (registers nothing: its dialect's entry
    declares it, ``Dialect.consent_lookup``)."""
    fn.is_consent_lookup = True
    return fn


def install_consent_lookups(lookups: Iterable[Callable[[str, str], str | None]]) -> None:
    """Let :func:`check` (and :func:`find_consent`) accept the ids these dialects hand out
    (replacing the lookups installed before)."""
    global _lookups
    _lookups = tuple(dict.fromkeys(lookups))


def find_consent(org_id: str, consent_id: str) -> ConsentRecord:
    """The organisation's consent with this ledger id, or with this id a dialect handed out;
    NotFound otherwise (another organisation's ids included)."""
    try:
        return ledger.get_consent(org_id, consent_id)
    except NotFound:
        if _lookups is None:
            from .components import NotDeclared

            raise NotDeclared("consent lookups") from None
        for lookup in _lookups:
            found = lookup(org_id, consent_id)
            if found is not None:
                return ledger.get_consent(org_id, found)
        raise


def _target(org_id: str, consent_id: str | None, subject: str | None, purpose: str | None):
    if consent_id is not None:
        return find_consent(org_id, consent_id)              # NotFound for another org's
    if subject is None or purpose is None:
        raise Invalid("name a consent, or a subject and a purpose")
    return ledger.latest_consent(org_id, subject, purpose)


def check(org_id: str, operation: str, *, consent_id: str | None = None, subject: str | None = None,
          purpose: str | None = None, use: bool = False, actor: str = "system",
          now: dt.datetime | None = None) -> Answer:
    """May ``operation`` be performed under this consent now? With ``use``, an allowed answer
    also records the use (and consumes a single-use consent), in one transaction."""
    if not use:
        now = now or utcnow()
        return _answer(org_id, operation, _target(org_id, consent_id, subject, purpose), now)
    with transaction():
        audit.lock_org(org_id)           # uses of one organisation queue here (PostgreSQL)
        now = now or utcnow()
        answer = _answer(org_id, operation, _target(org_id, consent_id, subject, purpose), now)
        if answer.allowed:
            try:
                with db.atomic():        # a savepoint: a lost race leaves the transaction usable
                    answer.use = _use(org_id, answer, actor, now)
            except IntegrityError:       # another use of this single-use consent won
                answer.allowed, answer.reason = False, "already_used"
    return answer


def _answer(org_id: str, operation: str, consent, now: dt.datetime) -> Answer:
    if consent is None:
        return Answer(False, "no_consent", operation, now)
    terms = terms_of(consent.id)
    reason = _refusal(org_id, consent, operation, now, terms)
    return Answer(reason is None, reason, operation, now, consent, terms)


def _use(org_id: str, answer: Answer, actor: str, now: dt.datetime):
    consent, terms = answer.consent, answer.terms
    event = audit.begin(org_id, at=now)
    row = event.create(ConsentUse, org_id=org_id, consent_id=consent.id,
                       operation=answer.operation, used_at=now, actor=actor,
                       audit_event_id=event.event_id,
                       single_use_key=consent.id if terms.single_use else None)
    event.insert(ConsentEvent, {"consent_seq": consent.seq, "type": "used", "at": now,
                                "audit_event_id": event.event_id,
                                "data": {"operation": answer.operation, "use_id": row.id}})
    hooks.emit(hooks.USED, org_id=org_id, consent=consent, use=row,
               single_use=terms.single_use, actor=actor, at=now, event=event)
    event.append(actor=actor, action="consent.used", entity_type="consent",
                 entity_id=consent.id, payload={
                     "operation": answer.operation, "single_use": terms.single_use})
    return row


def uses(consent_id: str) -> list:
    return queries.USES_OF.all((consent_id,))


def record_expiry(org_id: str, consent, *, at: dt.datetime, actor: str = "system",
                  data: dict | None = None, event: "audit.Pending | None" = None) -> str:
    """Record that a consent's validity ended: an ``expired`` event on it and a
    ``consent.expired`` audit event. Call inside a transaction; returns the audit event id.
    ``event``: that event, begun by a caller that writes covered rows of its own through it
    first."""
    event = event or audit.begin(org_id, at=at)
    event.insert(ConsentEvent, {"consent_seq": consent.seq, "type": "expired", "at": at,
                                "audit_event_id": event.event_id, "data": data})
    event.append(actor=actor, action="consent.expired", entity_type="consent",
                 entity_id=consent.id, payload={
                     "valid_until": consent.valid_until.isoformat()
                     if consent.valid_until else None, **(data or {})})
    return event.event_id
