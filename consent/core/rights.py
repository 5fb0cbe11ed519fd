"""The people in the ledger: erasure and access that keep the proof, and rights requests.

**Erasure** (:func:`erase`) destroys a subject's personal data everywhere it is kept, in one
transaction with its ``subject.erased`` audit event, and keeps the pseudonymous decision history
that proves what was consented to and when (see ``consent.core.personal`` for why the chain
still verifies):

* every grant it still holds that binds is withdrawn first (source ``erasure``, each with
  its own event): nothing may be done with data that is gone, and the history says when;
* the subject's row (and those of the anonymous identifiers mapped into it) loses its
  identifier, lookup and secret: no identifier finds it again;
* its consents' evidence becomes a tombstone holding only the commitment the record hash took;
* covered rows that hold its personal data are written again through the erasure event with
  those columns blanked and their salts gone (each owner's ``People.erase`` for its tables);
* events of the sealed prefix that named it are redacted (and the records they recorded are
  re-attested by the erasure event, ``reattested``);
* what is not covered (mails in the outbox, stored responses of idempotent requests, rights
  requests' words, webhook bodies, files) is deleted or blanked; files after the commit.

Erasure is idempotent (the identifier no longer finds anything: nothing to do) and atomic: a
crash half-way rolls the transaction back, and the files deleted after the commit are deleted
again by the next erasure or retention pass that finds them (their owners check).

**Access** (:func:`report`): everything held about a subject, each decision with its proof (the
audit event that recorded it, its hash, and the first signed checkpoint covering it).

**Requests** (:func:`create_request` ...): a request is a record with a lifecycle (received →
in_progress → completed | refused), a due date (a month: GDPR art. 12(3), DPDP rules) and an
audit event at each step. An erasure request completed runs :func:`erase`; an access request
completed stores nothing of the report (it is produced on demand).

Dialects join through ``People`` on their ``Dialect`` entry: what they erase of their own tables,
what they add to a report, what retention removes of their evidence files.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Callable

from . import audit, personal, queries, scope, sql
from .errors import Conflict, Invalid, NotFound
from .storage import (
    RightsRequest,
    SubjectLink,
    ConsentEvent,
    canonical_json,
    db,
    is_sqlite,
    transaction,
    utcnow,
)

KINDS = ("access", "erasure")
STATUSES = ("received", "in_progress", "completed", "refused")
OPEN = ("received", "in_progress")
DUE_DAYS = 30
ERASED_ACTION = "subject.erased"

log = logging.getLogger(__name__)


@dataclass
class Person:
    """A data principal as an erasure or a report sees it: the subject and the anonymous
    subjects mapped into it (``subject_ids``, the first its own), their identifiers, and every
    consent held by or recorded under them (``consents``, ``ConsentRecord`` rows).

    During an erasure ``event`` is the ``subject.erased`` event being built (write covered
    rows through it: ``event.erase(model, row)``), ``redact`` collects seqs of sealed events
    to redact, ``addresses`` e-mail addresses and phone numbers whose mails to forget,
    ``after_commit`` callables run once the erasure is committed (deleting files)."""

    org_id: str
    subject_ids: tuple
    identifiers: tuple
    consents: list
    now: dt.datetime
    event: "audit.Pending | None" = None
    redact: set = field(default_factory=set)
    addresses: set = field(default_factory=set)
    after_commit: list = field(default_factory=list)
    secrets: dict = field(default_factory=dict)
    names: dict = field(default_factory=dict)

    @property
    def subject_id(self) -> int:
        return self.subject_ids[0]

    @property
    def consent_seqs(self) -> list[int]:
        return [c.seq for c in self.consents]

    @property
    def consent_ids(self) -> list[str]:
        return [c.id for c in self.consents]


@dataclass(frozen=True)
class People:
    """A dialect's part in people's rights (its ``Dialect.people``).

    ``erase(person) -> {table: rows}``: inside the erasure's transaction, blank the personal
    data of the person in its tables (covered rows through ``person.event.erase``; events of
    the sealed prefix that hold it into ``person.redact``; files into ``person.after_commit``).
    ``report(person) -> dict``: its section of the access report (JSON values).
    ``retention(org_id, cutoff) -> {table: rows}``: erase evidence files (proofs, media)
    received before ``cutoff``, in its own transaction(s) with an audit event each.
    ``forget(person) -> {table: rows}``: after every part's ``erase`` (so ``person.addresses``
    holds every address they found), delete what is kept of the person outside the tables
    any erase covers (control mode's request journal)."""

    erase: Callable[[Person], dict] | None = None
    report: Callable[[Person], dict] | None = None
    retention: Callable[[str, dt.datetime], dict] | None = None
    forget: Callable[[Person], dict] | None = None


_people: dict[str, People] = {}


def install(people: dict[str, People]) -> None:
    """Make these the dialects' parts (``{dialect name: People}``), replacing those before."""
    global _people
    _people = dict(people)


def installed() -> dict[str, People]:
    return dict(_people)


# -- who a person is ------------------------------------------------------------------------------

def _linked(org_id: str, start: list, statement, seen: set) -> list:
    """The subjects reached from ``start`` through identity links, transitively, one way
    (``statement``: LINKED_INTO, the anonymous ids mapped into a subject; LINKED_FROM, the
    subjects it was mapped into), not already ``seen`` (which it adds to), in the order found."""
    found, frontier = [], list(start)
    while frontier:
        nxt = []
        for sid in frontier:
            for (other,) in statement.execute((org_id, sid)).fetchall():
                if other not in seen:
                    seen.add(other)
                    nxt.append(other)
        found.extend(nxt)
        frontier = nxt
    return found


def _person(org_id: str, subject, now: dt.datetime) -> Person:
    """The person of a subject row: it, the anonymous subjects mapped into it (transitively),
    and their consents."""
    seen = {subject.id}
    ids = [subject.id, *_linked(org_id, [subject.id], queries.LINKED_INTO, seen)]
    rows, names = {}, {}
    for chunk in sql.chunks(ids):
        for sid, secret, identifier in queries.subject_secrets(sql.padded(len(chunk))).execute(
                (org_id, *sql.pad(chunk))).fetchall():
            rows[sid] = None if secret is None else bytes(secret)
            names[sid] = identifier
    identifiers = [names[sid] for sid in ids if names.get(sid)]
    # Their consents: those they hold, and those recorded under them that a mapping moved to
    # whoever they were mapped into (found by walking the links forward), each read on the
    # (subject, seq) index: recorded_subject has none, and no read walks the organisation.
    mine = set(ids)
    holders = ids + _linked(org_id, ids, queries.LINKED_FROM, seen)
    consents = []
    for chunk in sql.chunks(holders):
        consents.extend(c for c in queries.consents_held_by(sql.padded(len(chunk))).all(
            (org_id, *sql.pad(chunk)))
            if c.subject_id in mine or c.recorded_subject_id in mine)
    consents.sort(key=lambda c: c.seq)
    return Person(org_id, tuple(ids), tuple(identifiers), consents, now, secrets=rows,
                  names=names)


def find(org_id: str, identifier: str):
    """The subject row an identifier names (None: unknown, or erased)."""
    from . import ledger

    return ledger.find_subject(org_id, identifier)


# -- erasure --------------------------------------------------------------------------------------

def like_json(value: str) -> str:
    """A LIKE pattern matching text whose JSON holds the string ``value``."""
    text = json.dumps(value, ensure_ascii=False)[1:-1]
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _erase_core(person: Person) -> dict:
    """The core's tables: consents' evidence, identity links, mapping events, subjects,
    mails, stored responses and rights requests' words."""
    from .ledger import consent_hash

    org_id, event, counts = person.org_id, person.event, {}
    sealed = personal.sealed_seq(org_id)
    reattest = {}
    for c in person.consents:
        if c.audit_seq is not None and c.audit_seq <= sealed:
            person.redact.add(c.audit_seq)
            reattest[c.id] = consent_hash(c, None)
    links = []
    for chunk in sql.chunks(list(person.subject_ids)):
        n = sql.padded(len(chunk))
        links.extend(queries.links_of_subjects(n).all((org_id, *sql.pad(chunk), *sql.pad(chunk))))
    erased_links = 0
    for link in links:
        if link.metadata is not None or link.pd_salt is not None:
            event.erase(SubjectLink, link)
            erased_links += 1
        if link.audit_seq is not None and link.audit_seq <= sealed:
            person.redact.add(link.audit_seq)
    counts["subject_link"] = erased_links
    # Mapping events written before the upgrade held both identifiers and the metadata.
    erased_events = 0
    seqs = person.consent_seqs
    for chunk in sql.chunks(seqs):
        for row in queries.consent_events_of(sql.padded(len(chunk))).all(sql.pad(chunk)):
            data = row.data or {}
            if row.type == "mapped" and ({"from", "to", "metadata"} & set(data)):
                kept = {k: v for k, v in data.items() if k not in ("from", "to", "metadata")}
                event.update(ConsentEvent, row, data=kept)
                erased_events += 1
    counts["consent_event"] = erased_events
    for sid in person.subject_ids:
        queries.FORGET_REQUESTS.execute((org_id, sid))
        secret, identifier = person.secrets.get(sid), person.names.get(sid)
        kept = personal.subject_commitment(secret, identifier) if secret and identifier else None
        queries.ERASE_SUBJECT.execute((kept, person.now, org_id, sid))
    scope.forget()   # the transaction's kept subject rows are erased ones now
    counts["subject"] = len(person.subject_ids)
    return counts, reattest


def _tombstone_evidence(person: Person) -> int:
    """Each consent's evidence becomes its tombstone (the commitment its record hash took):
    first of all, before anything the erasure writes moves rows between pages (a page rebuilt
    from its cells can keep an old copy in the gap it leaves, which secure_delete does not
    clear)."""
    sealed = personal.sealed_seq(person.org_id)
    erased = 0
    for c in person.consents:
        if c.evidence is None or personal.is_tombstone(c.evidence):
            continue
        legacy = c.audit_seq is not None and c.audit_seq <= sealed
        stone = personal.tombstone(None if legacy else person.secrets.get(
            c.recorded_subject_id), c.evidence)
        queries.SET_EVIDENCE.execute((canonical_json(stone), c.seq))
        erased += 1
    return erased


def _end_grants(person: Person, actor: str) -> int:
    """Withdraw every grant the person still holds that binds (source ``erasure``), each with
    its own audit event and the dialects' withdrawal listeners, before the erasure's event
    begins: nothing can be done with their data once it is gone, and the history says when it
    ended. Returns how many."""
    from . import ledger

    held = [c for c in person.consents
            if c.status == "granted" and c.subject_id in person.subject_ids]
    binds = ledger.binding(person.org_id, [c.seq for c in held])
    ended = 0
    for c in held:
        if binds.get(c.seq):
            ledger.in_transaction_withdraw(person.org_id, c, actor=actor, source="erasure")
            ended += 1
    return ended


def _forget_uncovered(person: Person) -> dict:
    """The core's tables no audit event covers: mails in the outbox to or about the person,
    and stored answers of idempotent requests that name them (by any identifier or address
    the erasure found)."""
    person.addresses.update(person.identifiers)
    mails = stored = 0
    for address in sorted(a for a in person.addresses if a):
        mails += queries.FORGET_MAIL.execute(
            (person.org_id, address, like_json(address))).rowcount
        stored += queries.FORGET_IDEMPOTENCY.execute(
            (person.org_id, like_json(address))).rowcount
    return {"outbox_message": mails, "idempotency_record": stored}


def erase(org_id: str, identifier: str, *, actor: str, source: str = "ledger",
          request_id: str | None = None) -> dict | None:
    """Erase the personal data of the subject an identifier names (see the module's
    docstring). Returns what was erased (``{"subject_ref", "consents", "tables": {...},
    "audit_seq", "audit_event_id"}``), or None when the identifier names no one (never known,
    or already erased: erasure is idempotent)."""
    after: list = []
    with transaction():
        result = _erase(org_id, identifier, actor=actor, source=source, request_id=request_id,
                        after=after)
    _finish(after)
    return result


def _finish(after: list) -> None:
    for callback in after:
        callback()
    compact()


def _erase(org_id: str, identifier: str, *, actor: str, source: str, request_id: str | None,
           after: list) -> dict | None:
    """:func:`erase` inside the caller's transaction; what to run after the commit goes into
    ``after``."""
    from . import ledger

    identifier = personal.normalise(identifier)
    if not identifier:
        raise Invalid("a subject identifier is required")
    audit.lock_org(org_id)
    subject = ledger.find_subject(org_id, identifier)
    if subject is None:
        return None
    now = utcnow()
    person = _person(org_id, subject, now)
    evidence = _tombstone_evidence(person)
    ended = _end_grants(person, actor)
    person = _person(org_id, subject, now)   # the evidence as it now is, the withdrawals
    person.event = audit.begin(org_id, at=now)
    tables, reattest = _erase_core(person)
    tables["consent.evidence"] = evidence
    tables["consent.withdrawn"] = ended
    for name, part in sorted(_people.items()):
        if part.erase is not None:
            for table, n in (part.erase(person) or {}).items():
                tables[table] = tables.get(table, 0) + n
    for table, n in _forget_uncovered(person).items():
        tables[table] = tables.get(table, 0) + n
    for name, part in sorted(_people.items()):
        if part.forget is not None:
            for table, n in (part.forget(person) or {}).items():
                tables[table] = tables.get(table, 0) + n
    sealed = personal.sealed_seq(org_id)
    redacted = 0
    for seq in sorted(person.redact):
        if seq > sealed:
            continue
        found = queries.EVENT_AT_SEQ.one((org_id, seq))
        if found is None or personal.is_redacted(found.payload):
            continue
        stone = personal.redacted_payload(found.payload, person.event.seq)
        redacted += queries.REDACT_EVENT.execute(
            (canonical_json(stone), org_id, seq, sealed)).rowcount
    tables["audit_event.redacted"] = redacted
    payload = {"subject_ref": subject.id, "subjects": list(person.subject_ids),
               "consents": len(person.consents), "tables": tables, "source": source}
    if request_id:
        payload["request_id"] = request_id
    if reattest:
        payload["reattested"] = reattest
    appended = person.event.append(actor=actor, action=ERASED_ACTION, entity_type="subject",
                                   entity_id=str(subject.id), payload=payload)
    after.extend(person.after_commit)
    return {"subject_ref": subject.id, "consents": len(person.consents), "tables": tables,
            "audit_seq": appended.seq, "audit_event_id": appended.event_id}


def compact(timeout: float = 10.0) -> bool:
    """After an erasure on SQLite: fold the write-ahead log into the database file and truncate
    it, so the overwritten values are gone from both files (``secure_delete`` zeroes freed
    space). The checkpoint answers "busy" without waiting while another connection (the
    background WAL checkpointer) runs one, and waits on the busy timeout for readers holding an
    old snapshot; it is tried again until it completes or ``timeout`` seconds pass (then a
    warning: the next erasure or checkpoint does it). True when the log was emptied.
    PostgreSQL keeps dead row versions until VACUUM (autovacuum), see the README."""
    if not is_sqlite():
        return True
    deadline = time.monotonic() + timeout
    while True:
        try:
            busy = db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except Exception as exc:   # noqa: BLE001 -- locked: tried again below
            busy, error = 1, exc
        else:
            error = None
        if not busy:
            return True
        if time.monotonic() >= deadline:
            log.warning("erasure: the write-ahead log could not be truncated (%s); the next "
                        "checkpoint folds it in", error or "busy")
            return False
        time.sleep(0.05)


# -- access ---------------------------------------------------------------------------------------

def _checkpoint_covering(org_id: str, seq: int):
    """The first signed checkpoint whose head is at or after ``seq`` (None: none yet)."""
    return queries.CHECKPOINT_COVERING.one((org_id, seq, 1))


def report(org_id: str, identifier: str) -> dict | None:
    """Everything held about the subject an identifier names, across the core and every
    dialect, each decision with its proof; None when the identifier names no one."""
    from . import ledger

    subject = find(org_id, identifier)
    if subject is None:
        return None
    person = _person(org_id, subject, utcnow())
    decisions = []
    for c in person.consents:
        event = queries.EVENT_AT_SEQ.one((org_id, c.audit_seq)) if c.audit_seq else None
        cp = _checkpoint_covering(org_id, c.audit_seq) if c.audit_seq else None
        decisions.append({
            "id": c.id, "purpose": c.purpose, "purpose_name": c.purpose_name,
            "status": c.status, "effective_status": ledger.effective_status(c, person.now),
            "source": c.source, "purpose_version": c.purpose_version,
            "notice_version": c.notice_version, "supersedes": c.supersedes,
            "valid_from": _iso(c.valid_from), "valid_until": _iso(c.valid_until),
            "recorded_at": _iso(c.created_at), "evidence": c.evidence,
            "recorded_under": c.recorded_subject, "held_by": c.subject,
            "proof": {
                "record_hash": c.record_hash, "audit_seq": c.audit_seq,
                "audit_event_id": event.event_id if event else None,
                "audit_hash": event.hash if event else None,
                "checkpoint": None if cp is None else {
                    "seq": cp.seq, "head_hash": cp.head_hash, "at": _iso(cp.at),
                    "key_id": cp.key_id, "signature": cp.signature},
            },
        })
    links = []
    for chunk in sql.chunks(list(person.subject_ids)):
        n = sql.padded(len(chunk))
        for link in queries.links_of_subjects(n).all(
                (org_id, *sql.pad(chunk), *sql.pad(chunk))):
            links.append({"id": link.id, "anonymous_ref": link.anonymous_id,
                          "authenticated_ref": link.authenticated_id,
                          "moved": link.moved_count, "metadata": link.metadata,
                          "at": _iso(link.created_at)})
    uses = []
    ids = person.consent_ids
    for chunk in sql.chunks(ids):
        for use in queries.uses_of(sql.padded(len(chunk))).all((org_id, *sql.pad(chunk))):
            uses.append({"consent_id": use.consent_id, "operation": use.operation,
                         "used_at": _iso(use.used_at), "actor": use.actor,
                         "audit_event_id": use.audit_event_id})
    requests = [request_view(r) for r in queries.RIGHTS_REQUESTS_OF_SUBJECT.all(
        (org_id, subject.id))]
    sections = {}
    for name, part in sorted(_people.items()):
        if part.report is not None:
            section = part.report(person)
            if section:
                sections[name] = section
    return {
        "subject": subject.identifier, "subject_ref": subject.id,
        "identifiers": list(person.identifiers), "generated_at": _iso(person.now),
        "first_seen": _iso(subject.created_at), "consents": decisions,
        "identity_links": links, "uses": uses, "rights_requests": requests,
        "providers": sections,
    }


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to a person (:func:`timeline`): ``kind`` is ``decision`` (a
    grant or a refusal), ``withdrawal``, ``mapping`` (an identity link), ``use`` (a check that
    used a consent, ``POST /ledger/v1/checks`` with ``use``) or ``expiry``; with the audit event
    that recorded it (``audit_seq`` and/or ``audit_event_id``; None for a record older than
    its pointer)."""

    at: dt.datetime
    kind: str
    summary: str
    consent_id: str | None = None
    purpose: str | None = None
    status: str | None = None
    source: str | None = None
    actor: str | None = None
    audit_seq: int | None = None
    audit_event_id: str | None = None


def timeline(org_id: str, identifier: str) -> list[TimelineEntry] | None:
    """Everything that happened to the person an identifier names, across every dialect (their
    consents are the ledger's, whichever dialect recorded them), oldest first: decisions,
    withdrawals, identity mappings into or out of them, uses and expiries, each with its audit
    event. None when the identifier names no one. Indexed reads of the person's own rows only
    (the same as :func:`report`)."""
    from . import ledger

    subject = find(org_id, identifier)
    if subject is None:
        return None
    person = _person(org_id, subject, utcnow())
    out = []
    by_seq = {c.seq: c for c in person.consents}
    by_id = {c.id: c for c in person.consents}
    for c in person.consents:
        kind = "withdrawal" if c.status == "withdrawn" else "decision"
        summary = (f"withdrew {c.purpose}" if kind == "withdrawal"
                   else f"{c.status} {c.purpose}")
        out.append(TimelineEntry(c.created_at, kind, summary, c.id, c.purpose, c.status,
                                 c.source, audit_seq=c.audit_seq))
    for e in ledger.events_of_consents(org_id, list(by_seq)):
        if e.type != "expired":    # withdrawals, mappings and uses come from their own rows
            continue
        c = by_seq.get(e.consent_seq)
        out.append(TimelineEntry(e.at, "expiry", f"{c.purpose if c else 'consent'} expired",
                                 c.id if c else None, c.purpose if c else None, "expired",
                                 c.source if c else None, audit_seq=e.audit_seq,
                                 audit_event_id=e.audit_event_id))
    for chunk in sql.chunks(list(person.subject_ids)):
        n = sql.padded(len(chunk))
        for link in queries.links_of_subjects(n).all(
                (org_id, *sql.pad(chunk), *sql.pad(chunk))):
            source = person.names.get(link.anonymous_id) or f"subject {link.anonymous_id}"
            target = person.names.get(link.authenticated_id) or \
                f"subject {link.authenticated_id}"
            out.append(TimelineEntry(
                link.created_at, "mapping",
                f"{source} mapped to {target} ({link.moved_count} moved)",
                audit_seq=link.audit_seq))
    for chunk in sql.chunks(person.consent_ids):
        for use in queries.uses_of(sql.padded(len(chunk))).all((org_id, *sql.pad(chunk))):
            c = by_id.get(use.consent_id)
            out.append(TimelineEntry(
                use.used_at, "use", f"used for {use.operation}", use.consent_id,
                c.purpose if c else None, source=c.source if c else None, actor=use.actor,
                audit_seq=use.audit_seq, audit_event_id=use.audit_event_id))
    out.sort(key=lambda e: (e.at, e.audit_seq or 0))
    return out


def iso(value) -> str | None:
    """A stored time as the reports show it (ISO 8601, microseconds, ``Z``); None stays None,
    text stays as it is."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="microseconds") + "Z"
    return str(value)


_iso = iso


# -- rights requests ------------------------------------------------------------------------------

def request_view(r) -> dict:
    return {"id": r.id, "kind": r.kind, "status": r.status, "source": r.source,
            "subject": r.identifier, "subject_ref": r.subject_id, "reason": r.reason,
            "refusal": r.refusal, "metadata": r.metadata, "result": r.result,
            "due_at": _iso(r.due_at), "created_at": _iso(r.created_at),
            "updated_at": _iso(r.updated_at), "completed_at": _iso(r.completed_at)}


def _event(org_id: str, action: str, r, actor: str, extra: dict | None = None) -> None:
    audit.append(org_id, actor=actor, action=action, entity_type="rights_request",
                 entity_id=r.id, payload={"kind": r.kind, "status": r.status,
                                          "source": r.source, "subject_ref": r.subject_id,
                                          **(extra or {})})


def create_request(org_id: str, kind: str, identifier: str, *, actor: str, source: str = "ledger",
                   reason: str | None = None, metadata: dict | None = None):
    """A rights request received (status ``received``, due in :data:`DUE_DAYS` days), with its
    ``rights.received`` audit event. The subject need not be known: the request is kept, and
    the operator answers it (an erasure of no one erases nothing)."""
    if kind not in KINDS:
        raise Invalid(f"kind must be one of {', '.join(KINDS)}")
    identifier = personal.normalise(identifier)
    if not identifier:
        raise Invalid("a subject identifier is required")
    if len(identifier) > 255:
        raise Invalid("a subject identifier is at most 255 characters")
    with transaction():
        return _create(org_id, kind, identifier, actor=actor, source=source, reason=reason,
                       metadata=metadata)


def _create(org_id: str, kind: str, identifier: str, *, actor: str, source: str,
            reason: str | None, metadata: dict | None):
    audit.lock_org(org_id)
    subject = find(org_id, identifier)
    now = utcnow()
    r = sql.create(RightsRequest, id=_new_id(), org_id=org_id, kind=kind,
                   subject_id=subject.id if subject else None, identifier=identifier,
                   status="received", source=source, reason=reason, metadata=metadata,
                   due_at=now + dt.timedelta(days=DUE_DAYS), created_at=now, updated_at=now)
    _event(org_id, "rights.received", r, actor)
    return r


def erase_now(org_id: str, identifier: str, *, actor: str, source: str = "ledger",
              reason: str | None = None, metadata: dict | None = None) -> tuple:
    """An erasure an operator makes at once (admin API, CLI): the request received and
    completed, and the erasure, in one transaction. Returns (request, erasure result or None
    when the identifier names no one)."""
    identifier = personal.normalise(identifier)
    if not identifier:
        raise Invalid("a subject identifier is required")
    if len(identifier) > 255:
        raise Invalid("a subject identifier is at most 255 characters")
    after: list = []
    with transaction():
        r = _create(org_id, "erasure", identifier, actor=actor, source=source, reason=reason,
                    metadata=metadata)
        r, result = _complete(org_id, r.id, actor, after)
    _finish(after)
    return r, result


def _new_id() -> str:
    from .storage import new_uuid

    return new_uuid()


def get_request(org_id: str, request_id: str):
    r = queries.RIGHTS_REQUEST_BY_ID.one((org_id, request_id))
    if r is None:
        raise NotFound(f"rights request {request_id} not found")
    return r


def list_requests(org_id: str, *, status: str | None = None, kind: str | None = None,
                  source: str | None = None, overdue: bool = False, after: str | None = None,
                  limit: int = 50) -> list:
    """The organisation's requests, oldest due first (open ones first when no status)."""
    t = sql.Table(RightsRequest, "t")
    conds, params = [f"{t.org} = ?"], [org_id]
    if status:
        conds.append(queries.RIGHTS_REQUEST_FILTERS["status"])
        params.append(status)
    if kind:
        conds.append(queries.RIGHTS_REQUEST_FILTERS["kind"])
        params.append(kind)
    if source:
        conds.append(queries.RIGHTS_REQUEST_FILTERS["source"])
        params.append(source)
    if overdue:
        conds.append(queries.RIGHTS_REQUEST_FILTERS["due_before"])
        conds.append(f"{t.status} IN ('received', 'in_progress')")
        params.append(utcnow())
    if after:
        conds.append(f"{t.id} > ?")
        params.append(after)
    statement = queries.RIGHTS_REQUEST.where(*conds, order=f"{t.id}", limit=True)
    return statement.all((*params, limit))


def queue(org_id: str, status: str, *, kind: str | None = None,
          due_before: dt.datetime | None = None,
          after: tuple[dt.datetime, str] | None = None, limit: int = 50) -> list:
    """The organisation's requests of one status, the soonest due first: keyset pages on
    (due_at, id) after ``after``, on the (org, status, due_at) index. ``due_before``: only
    those due before that time (the overdue ones, given now)."""
    if status not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)}")
    t = sql.Table(RightsRequest, "t")
    conds, params = [f"{t.org} = ?", f"{t.status} = ?"], [org_id, status]
    if kind:
        conds.append(queries.RIGHTS_REQUEST_FILTERS["kind"])
        params.append(kind)
    if due_before is not None:
        conds.append(queries.RIGHTS_REQUEST_FILTERS["due_before"])
        params.append(due_before)
    if after is not None:
        conds.append(f"({t.due_at} > ? OR ({t.due_at} = ? AND {t.id} > ?))")
        params.extend((after[0], after[0], after[1]))
    statement = queries.RIGHTS_REQUEST.where(*conds, order=f"{t.due_at}, {t.id}", limit=True)
    return statement.all((*params, limit))


# The audit events of a request's steps are appended in the step's transaction, a moment after
# the time the step wrote on the row; they are looked up on the (org, at, seq) index in a short
# window around each time the row keeps (created, updated, completed), never by walking the
# chain. A step whose time the row no longer keeps (a start later followed by a completion)
# is not found this way.
STEP_WINDOW = dt.timedelta(seconds=5)


def step_events(org_id: str, r) -> list:
    """The audit events of a request's steps that its row's times find (see
    :data:`STEP_WINDOW`), oldest first: dicts of seq, event_id, at, actor, action, hash."""
    times = sorted({t for t in (r.created_at, r.updated_at, r.completed_at) if t is not None})
    found: dict[int, dict] = {}
    for t in times:
        for row in queries.EVENTS_ABOUT_NEAR.execute(
                (org_id, t - STEP_WINDOW, t + STEP_WINDOW, "rights_request", r.id)).fetchall():
            found.setdefault(row[0], {"seq": row[0], "event_id": row[1], "at": row[2],
                                      "actor": row[3], "action": row[4], "hash": row[5]})
    return [found[seq] for seq in sorted(found)]


def count_open_due(org_id: str, before: dt.datetime) -> int:
    """How many of the organisation's open requests (received or in progress) are due before
    ``before``."""
    return sum(queries.RIGHTS_REQUESTS_DUE.value((org_id, status, before)) or 0
               for status in ("received", "in_progress"))


def _move(org_id: str, request_id: str, actor: str, allowed: tuple, status: str,
          **changes):
    audit.lock_org(org_id)
    r = get_request(org_id, request_id)
    if r.status not in allowed:
        raise Conflict(f"rights request {request_id} is {r.status}")
    now = utcnow()
    values = {"status": status, "updated_at": now, **changes}
    if status in ("completed", "refused"):
        values["completed_at"] = now
    sql.update(RightsRequest, r.id, values)
    return r._replace(**values)


def start_request(org_id: str, request_id: str, *, actor: str):
    """received → in_progress."""
    with transaction():
        r = _move(org_id, request_id, actor, ("received",), "in_progress")
        _event(org_id, "rights.in_progress", r, actor)
    return r


def refuse_request(org_id: str, request_id: str, *, actor: str, reason: str):
    """received | in_progress → refused, with the reason the requester is given."""
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("a refusal needs a reason")
    with transaction():
        r = _move(org_id, request_id, actor, OPEN, "refused", refusal=reason)
        _event(org_id, "rights.refused", r, actor)
    return r


def complete_request(org_id: str, request_id: str, *, actor: str):
    """received | in_progress → completed. An erasure request erases its subject (one
    transaction: the erasure and the request's completion commit together); an access
    request's report is produced on demand (``report``) and not stored."""
    after: list = []
    with transaction():
        r, _ = _complete(org_id, request_id, actor, after)
    _finish(after)
    return r


def _complete(org_id: str, request_id: str, actor: str, after: list) -> tuple:
    r = _move(org_id, request_id, actor, OPEN, "in_progress")
    result = None
    if r.kind == "erasure" and r.identifier:
        result = _erase(org_id, r.identifier, actor=actor, source=r.source, request_id=r.id,
                        after=after)
    summary = {"erased": result is not None}
    if result is not None:
        summary.update(consents=result["consents"], audit_seq=result["audit_seq"])
    r = _move(org_id, request_id, actor, ("in_progress",), "completed", result=summary,
              identifier=None, reason=None, metadata=None)
    _event(org_id, "rights.completed", r, actor, {"result": summary})
    return r, result
