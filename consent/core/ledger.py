"""The consent ledger: organisations, subjects, purposes, notices, consent decisions, withdrawal,
current state, identity mapping, idempotency, verification and export.

Every function that writes runs one transaction that also appends the audit event(s) describing
the write, so a caller that got a return value knows both are committed.

Every function takes the organisation as ``org_id``, its id (a string), and returns named rows
(``consent.core.sql``); the statements are in ``consent.core.queries``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from peewee import IntegrityError

from . import audit, hooks, personal, queries, scope, sql
from .errors import Conflict, Invalid, NotFound
from .queries import ConsentRecord
from .storage import (
    Consent,
    ConsentEvent,
    IdempotencyRecord,
    Notice,
    NoticeVersion,
    Organisation,
    Purpose,
    PurposeVersion,
    Subject,
    SubjectLink,
    canonical_json,
    new_uuid,
    transaction,
    utcnow,
)

STATUSES = ("granted", "denied", "withdrawn")
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


# -- organisations --------------------------------------------------------------------------------

def create_org(slug: str, name: str, subdomain: str | None = None, actor: str = "system"):
    subdomain = subdomain or slug
    for label, value in (("slug", slug), ("subdomain", subdomain)):
        if not SLUG_RE.match(value or ""):
            raise Invalid(f"{label} must be lowercase letters, digits and hyphens (1-64)")
    with transaction():
        if queries.ORG_TAKEN.value((slug, subdomain)):
            raise Conflict(f"an organisation with slug {slug!r} or subdomain {subdomain!r} exists")
        org = sql.create(Organisation, slug=slug, name=name, subdomain=subdomain)
        audit.append(org.id, actor=actor, action="org.created", entity_type="org",
                     entity_id=org.id, payload={"slug": slug, "name": name,
                                                "subdomain": subdomain})
    return org


def get_org(slug_or_id: str | None):
    """The organisation with this slug or id (a named row), or None."""
    if not slug_or_id:
        return None
    return queries.ORG_BY_REF.one((slug_or_id, slug_or_id))


def org_by_subdomain(subdomain: str):
    return queries.ORG_BY_SUBDOMAIN.one((subdomain,))


def org_by_id(org_id: str):
    """The organisation with this id (a named row), or None."""
    return queries.ORG_BY_ID.one((org_id,))


def all_orgs() -> list:
    return queries.ORGS.all()


def all_org_ids() -> list[str]:
    return [org_id for (org_id,) in queries.ORG_IDS.execute().fetchall()]


# -- subjects, purposes, notices -------------------------------------------------------------------

def _subject(org_id: str, identifier: str, create: bool = True):
    """The subject row with this identifier, created on first use (``create``)."""
    identifier = personal.normalise(identifier)
    if not identifier:
        raise Invalid("a subject identifier is required")
    if len(identifier) > 255:
        raise Invalid("a subject identifier is at most 255 characters")
    lookup = personal.subject_lookup(org_id, identifier, create=create)
    if lookup is None:   # the organisation has no key yet: no subject either
        return None
    known = scope.current()   # a write that names the person twice looks them up once
    row = known.get(("subject", org_id, lookup)) if known is not None else None
    if row is None:
        row = queries.SUBJECT_BY_LOOKUP.one((org_id, lookup))
    if row is None and create:
        row = sql.create(Subject, org_id=org_id, identifier=identifier, lookup=lookup,
                         secret=personal.new_secret())
    if row is not None and known is not None:
        known[("subject", org_id, lookup)] = row
    return row


def ensure_subject(org_id: str, identifier: str):
    """The subject row with this identifier, created (with its keyed lookup and secret) if it
    has none; call inside the write's transaction."""
    return _subject(org_id, identifier)


def find_subject(org_id: str, identifier: str):
    """The subject row with this identifier, or None."""
    return _subject(org_id, identifier, create=False)


def _code(code: str | None, what: str) -> str:
    code = (code or "").strip()
    if not code or len(code) > 100:
        raise Invalid(f"a {what} code of 1-100 characters is required")
    return code


def ensure_purpose(org_id: str, code: str, name: str | None = None, version: str | None = None,
                   description: str = "", actor: str = "system"):
    """The purpose with this code (a named row), created (with an audit event) on first use, and
    given ``version`` as a new current version if it lacks it. Call inside a transaction when
    part of a larger write."""
    code = _code(code, "purpose")
    purpose = queries.PURPOSE_BY_CODE.one((org_id, code))
    if purpose is None:
        event = audit.begin(org_id)
        purpose = event.create(Purpose, org_id=org_id, code=code, name=name or code,
                               current_version=version or "1")
        event.create(PurposeVersion, purpose_id=purpose.id, version=purpose.current_version,
                      description=description)
        event.append(actor=actor, action="purpose.created", entity_type="purpose",
                     entity_id=str(purpose.id), payload={"code": code, "name": purpose.name,
                                                         "version": purpose.current_version})
    elif version and version != purpose.current_version and \
            queries.PURPOSE_VERSION.one((purpose.id, version)) is None:
        event = audit.begin(org_id)
        event.create(PurposeVersion, purpose_id=purpose.id, version=version,
                     description=description)
        purpose = event.update(Purpose, purpose, current_version=version)
        event.append(actor=actor, action="purpose.versioned", entity_type="purpose",
                     entity_id=str(purpose.id), payload={"code": code, "version": version})
    return purpose


def ensure_notice(org_id: str, code: str, title: str | None = None, actor: str = "system",
                  version: str | None = None):
    """The notice with this code (a named row), created on first use (version ``version``, or
    "1") with an audit event: a notice a client names without publishing its text. Given a
    ``version`` it lacks, that version is added (empty text) and becomes the current one, with a
    ``notice.published`` audit event. Call inside a transaction when part of a larger write;
    :func:`publish_notice` adds versions with their text."""
    code = _code(code, "notice")
    version = (version or "").strip() or None
    if version is not None and len(version) > 32:
        raise Invalid("a notice version has at most 32 characters")
    notice = queries.NOTICE_BY_CODE.one((org_id, code))
    if notice is None:
        event = audit.begin(org_id)
        notice = event.create(Notice, org_id=org_id, code=code, title=(title or code)[:200],
                              current_version=version or "1")
        event.create(NoticeVersion, notice_id=notice.id, version=notice.current_version, text="")
        event.append(actor=actor, action="notice.published", entity_type="notice",
                     entity_id=str(notice.id), payload={
                         "code": code, "version": notice.current_version, "title": notice.title,
                         "text_sha256": hashlib.sha256(b"").hexdigest()})
    elif version and version != notice.current_version and \
            queries.NOTICE_VERSION.one((notice.id, version)) is None:
        event = audit.begin(org_id)
        event.create(NoticeVersion, notice_id=notice.id, version=version, text="")
        notice = event.update(Notice, notice, current_version=version)
        event.append(actor=actor, action="notice.published", entity_type="notice",
                     entity_id=str(notice.id), payload={
                         "code": code, "version": version, "title": notice.title,
                         "text_sha256": hashlib.sha256(b"").hexdigest()})
    return notice


def publish_notice(org_id: str, code: str, title: str, text: str, version: str,
                   actor: str = "system"):
    """Create a notice or add a version to it. Returns the new version (a named row)."""
    with transaction():
        event = audit.begin(org_id)
        notice = queries.NOTICE_BY_CODE.one((org_id, code))
        if notice is None:
            notice = event.create(Notice, org_id=org_id, code=code, title=title,
                                  current_version=version)
        elif queries.NOTICE_VERSION.one((notice.id, version)) is not None:
            raise Conflict(f"notice {code} already has version {version}")
        else:
            notice = event.update(Notice, notice, current_version=version, title=title)
        nv = event.create(NoticeVersion, notice_id=notice.id, version=version, text=text)
        event.append(actor=actor, action="notice.published", entity_type="notice",
                     entity_id=str(notice.id), payload={
                         "code": code, "version": version, "title": title,
                         "text_sha256": hashlib.sha256(text.encode()).hexdigest()})
    return nv


# -- consent decisions ----------------------------------------------------------------------------

@dataclass
class Decision:
    """One decision to record. ``subject`` and ``purpose`` are identifier strings."""

    subject: str
    purpose: str
    status: str
    source: str = "ledger"
    purpose_name: str | None = None
    purpose_version: str | None = None
    notice_version: str | None = None
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    evidence: dict | None = None
    supersedes: str | None = None
    id: str = field(default_factory=new_uuid)


def _ts(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="microseconds") if value else None


def _content(id, org, recorded_subject, purpose, purpose_version, notice_version, status, source,
             supersedes, valid_from, valid_until, evidence, created_at,
             subject_commitment: str | None = None) -> dict:
    content = {
        "id": id, "org": org, "recorded_subject": recorded_subject, "purpose": purpose,
        "purpose_version": purpose_version, "notice_version": notice_version, "status": status,
        "source": source, "supersedes": supersedes, "valid_from": _ts(valid_from),
        "valid_until": _ts(valid_until), "evidence": evidence, "created_at": _ts(created_at),
    }
    if subject_commitment is not None:   # records written since personal data is erasable
        content["subject"] = subject_commitment
    return content


def consent_content(c, secret, commitment: str | None = None) -> dict:
    """The immutable fields a consent's record hash covers (``c``: a consent row). ``secret``:
    its recorded subject's, which its evidence is committed under, and ``commitment``: the
    commitment to its recorded subject's identifier (``personal.subject_commitment``); both
    None for a record hashed before personal data became erasable (its plain evidence, no
    commitment: see ``consent.core.personal``)."""
    return _content(c.id, c.org_id, c.recorded_subject_id, c.purpose_id, c.purpose_version,
                    c.notice_version, c.status, c.source, c.supersedes, c.valid_from,
                    c.valid_until, personal.evidence_digest(secret, c.evidence), c.created_at,
                    commitment)


def _hash(content: dict) -> str:
    return hashlib.sha256(canonical_json(content).encode()).hexdigest()


def consent_hash(c, secret, commitment: str | None = None) -> str:
    return _hash(consent_content(c, secret, commitment))


@dataclass(slots=True)
class Recorded:
    """What :func:`record` returns per decision: the consent row as it was written, and the audit
    event that recorded it."""

    consent: ConsentRecord
    audit_event_id: str


RowsHook = Callable[["audit.Pending", ConsentRecord], None]


def _write_decision(org_id: str, d: Decision, actor: str, now: dt.datetime,
                    subjects: dict | None = None, rows: RowsHook | None = None,
                    event_id: str | None = None) -> Recorded:
    """Insert one decision and the audit event that records it (the consent keeps its seq).
    ``subjects`` remembers the subjects already resolved in this transaction (several decisions
    of one person). ``rows(event, consent)``, called once the consent row is written and before
    its event is appended, writes covered rows that belong to the decision through that event
    (``consent.core.covered``)."""
    if d.status not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)}")
    valid_from = d.valid_from or now
    if d.valid_until is not None and d.valid_until <= valid_from:
        raise Invalid("valid_until must be after valid_from")
    subject = subjects.get(d.subject) if subjects is not None else None
    if subject is None:
        subject = _subject(org_id, d.subject)
        if subjects is not None:
            subjects[d.subject] = subject
    purpose = ensure_purpose(org_id, d.purpose, name=d.purpose_name, version=d.purpose_version,
                             actor=actor)
    purpose_version = d.purpose_version or purpose.current_version
    record_hash = _hash(_content(d.id, org_id, subject.id, purpose.id, purpose_version,
                                 d.notice_version, d.status, d.source, d.supersedes, valid_from,
                                 d.valid_until, personal.evidence_digest(subject.secret,
                                                                         d.evidence), now,
                                 personal.subject_commitment(subject.secret,
                                                             subject.identifier)))
    event = audit.begin(org_id, event_id=event_id, at=now)
    row = {"id": d.id, "org_id": org_id, "subject_id": subject.id,
           "recorded_subject_id": subject.id, "purpose_id": purpose.id,
           "purpose_version": purpose_version, "notice_version": d.notice_version,
           "status": d.status, "source": d.source, "supersedes": d.supersedes,
           "valid_from": valid_from, "valid_until": d.valid_until, "evidence": d.evidence,
           "created_at": now, "record_hash": record_hash, "audit_seq": event.seq}
    row["seq"] = sql.insert(Consent, row)
    consent = ConsentRecord(**row, subject=subject.identifier,
                            recorded_subject=subject.identifier, purpose=purpose.code,
                            purpose_name=purpose.name)
    if rows is not None:
        rows(event, consent)
    hooks.emit(hooks.RECORDED, org_id=org_id, consent=consent, event=event)
    event.append(actor=actor, action="consent.recorded", entity_type="consent", entity_id=d.id,
                 payload={"record_hash": record_hash, "subject_ref": subject.id,
                          "purpose": purpose.code, "status": d.status, "source": d.source,
                          **({"supersedes": d.supersedes} if d.supersedes else {})})
    return Recorded(consent, event.event_id)


def record(org_id: str, decisions: Iterable[Decision],
           actor: str = "system") -> list[ConsentRecord]:
    """Record decisions in one transaction, one audit event each."""
    decisions = list(decisions)
    if not decisions:
        raise Invalid("nothing to record")
    with transaction():
        return [r.consent for r in in_transaction_record(org_id, decisions, actor)]


def record_one(org_id: str, decision: Decision, actor: str = "system") -> ConsentRecord:
    return record(org_id, [decision], actor)[0]


def in_transaction_record(org_id: str, decisions: Iterable[Decision], actor: str = "system",
                          now: dt.datetime | None = None,
                          rows: RowsHook | None = None) -> list[Recorded]:
    """Like :func:`record`, for callers that already hold a transaction (dialects that write their
    own rows in the same commit); also returns each decision's audit event. ``rows(event,
    consent)`` writes a dialect's covered rows of each decision through its event (see
    :func:`_write_decision`)."""
    now = now or utcnow()
    audit.lock_org(org_id)
    subjects: dict = {}
    return [_write_decision(org_id, d, actor, now, subjects=subjects, rows=rows)
            for d in decisions]


def withdraw(org_id: str, consent_id: str, *, actor: str = "system", source: str = "ledger",
             evidence: dict | None = None) -> ConsentRecord:
    """Withdraw a binding grant: a new ``withdrawn`` record that supersedes it, plus a
    ``withdrawn`` event on the original, both recorded by the withdrawal's audit event (and so
    is what the ``consent.withdrawn`` listeners change). Returns the withdrawal record."""
    with transaction():
        audit.lock_org(org_id)
        original = get_consent(org_id, consent_id)
        if original.status != "granted":
            raise Conflict(f"consent {consent_id} is {original.status}; only a grant can be "
                           "withdrawn")
        newer = newer_consent(original)
        if newer is not None:
            if newer.status == "withdrawn" and newer.supersedes == original.id:
                raise Conflict(f"consent {consent_id} is already withdrawn")
            raise Conflict(f"consent {consent_id} is superseded by {newer.id}")
        if not original.subject:
            raise Conflict(f"consent {consent_id} belongs to an erased subject")
        return in_transaction_withdraw(org_id, original, actor=actor, source=source,
                                       evidence=evidence)


def in_transaction_withdraw(org_id: str, original, *, actor: str, source: str,
                            evidence: dict | None = None) -> ConsentRecord:
    """:func:`withdraw` of a binding grant (a ``ConsentRecord``) already checked, inside the
    caller's transaction (an erasure ends its subject's grants so)."""
    now = utcnow()

    def rows(event, withdrawal):
        event.insert(ConsentEvent, {
            "consent_seq": original.seq, "type": "withdrawn", "at": now,
            "audit_event_id": event.event_id,
            "data": {"withdrawal_id": withdrawal.id, "source": source}})
        hooks.emit(hooks.WITHDRAWN, org_id=org_id, consent=original,
                   withdrawal=withdrawal, actor=actor, at=now, event=event)

    withdrawal = _write_decision(org_id, Decision(
        subject=original.subject, purpose=original.purpose, status="withdrawn",
        source=source, purpose_version=original.purpose_version,
        notice_version=original.notice_version, evidence=evidence, supersedes=original.id,
    ), actor, now, rows=rows)
    return withdrawal.consent


def get_consent(org_id: str, consent_id: str) -> ConsentRecord:
    consent = queries.CONSENT_BY_ID.one((org_id, consent_id))
    if consent is None:
        raise NotFound(f"consent {consent_id} not found")
    return consent


def consents_by_id(org_id: str, consent_ids) -> dict[str, ConsentRecord]:
    """The organisation's consents of these ids, by id (another organisation's are left out)."""
    ids = sorted(set(consent_ids))
    out = {}
    for chunk in sql.chunks(ids):
        statement = queries.consents_by_id(sql.padded(len(chunk)))
        out.update((c.id, c) for c in statement.all((org_id, *sql.pad(chunk))))
    return out


def consents_by_seq(org_id: str, seqs) -> dict[int, ConsentRecord]:
    """The organisation's consents of these seqs, by seq (another organisation's are left
    out)."""
    seqs = sorted(set(seqs))
    out = {}
    for chunk in sql.chunks(seqs):
        statement = queries.consents_by_seq(sql.padded(len(chunk)))
        out.update((c.seq, c) for c in statement.all((org_id, *sql.pad(chunk))))
    return out


# -- the binding rule ---------------------------------------------------------------------------
# The newest record (highest seq) of a holder and purpose is the binding one; every older record
# of the same holder and purpose is superseded. Written once: NEWER_CONSENT and SUPERSEDED in
# consent.core.queries.

def newer_consent(consent) -> ConsentRecord | None:
    """The newest record of ``consent``'s holder and purpose after it (None: it binds)."""
    return queries.NEWER_CONSENT.one((consent.org_id, consent.subject_id, consent.purpose_id,
                                      consent.seq, 1))


def binding(org_id: str, seqs) -> dict[int, bool]:
    """Whether each of these consents (seqs of the organisation) still binds, by seq (another
    organisation's are left out): one query per few hundred consents, whatever their number."""
    seqs = sorted(set(seqs))
    out = {}
    for chunk in sql.chunks(seqs):
        statement = queries.binding_of(sql.padded(len(chunk)))
        out.update((seq, bool(binds)) for seq, binds in
                   statement.execute((org_id, *sql.pad(chunk))).fetchall())
    return out


def latest_consent(org_id: str, subject: str, purpose: str) -> ConsentRecord | None:
    """The binding (newest) record of a subject and purpose, by their identifiers, or None."""
    found = _subject(org_id, subject, create=False)
    purpose_row = queries.PURPOSE_BY_CODE.one((org_id, purpose)) if found else None
    if purpose_row is None:
        return None
    return queries.NEWER_CONSENT.one((org_id, found.id, purpose_row.id, 0, 1))


def consent_events(consent) -> list:
    """A consent's trail, oldest first: its recording (from its audit event), then every event
    on it (withdrawn, mapped, used...), each with the audit event behind it (``event_id``,
    ``seq``, ``action``, ``actor``, ``hash``)."""
    trail = queries.CONSENT_TRAIL.all((consent.seq,))
    if consent.audit_seq is not None and not any(e.type == "recorded" for e in trail):
        event = queries.AUDIT_EVENT_AT.one((consent.org_id, consent.audit_seq))
        if event is not None:
            trail.insert(0, queries.TrailRow(
                type="recorded", at=event.at, data={"status": consent.status,
                                                    "source": consent.source},
                event_id=event.event_id, seq=event.seq, action=event.action, actor=event.actor,
                hash=event.hash))
    return trail


def events_of_consents(org_id: str, seqs, *, mapped_only: bool = False) -> list:
    """The events on these consents of the organisation (by seq), oldest first: withdrawn,
    mapped, used, expired (not a legacy ``recorded`` one); ``mapped_only``: their identity
    mappings only. Named rows of ``ConsentEvent`` (``consent_seq``, ``type``, ``at``,
    ``data``...)."""
    seqs = sorted(set(seqs))
    out = []
    for chunk in sql.chunks(seqs):
        statement = queries.events_of_consents(sql.padded(len(chunk)), mapped_only)
        out += statement.all((org_id, *sql.pad(chunk)))
    out.sort(key=lambda e: e.id)
    return out


@dataclass
class ConsentFilter:
    subject: str | None = None
    purpose: str | None = None
    status: str | None = None
    source: str | None = None
    date_from: dt.datetime | None = None
    date_to: dt.datetime | None = None


def list_consents(org_id: str, flt: ConsentFilter, *, limit: int = 50,
                  before_seq: int | None = None) -> tuple[list[ConsentRecord], int | None]:
    """Newest first, keyset-paginated on the internal sequence. Returns (page, next cursor)."""
    given = {"status": flt.status, "source": flt.source, "date_from": flt.date_from,
             "date_to": flt.date_to, "before_seq": before_seq}
    if flt.subject is not None:
        subject = _subject(org_id, flt.subject, create=False)
        if subject is None:
            return [], None
        given["subject_id"] = subject.id
    if flt.purpose is not None:
        purpose = queries.PURPOSE_BY_CODE.one((org_id, flt.purpose))
        if purpose is None:
            return [], None
        given["purpose_id"] = purpose.id
    names = tuple(n for n in queries.CONSENT_FILTERS if given.get(n) not in (None, ""))
    rows = queries.consent_page(names).all((org_id, *(given[n] for n in names), limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].seq if more and rows else None)


@dataclass
class PurposeState:
    """The binding decision on one purpose, and whether it allows processing now."""

    purpose: str
    purpose_name: str
    status: str          # granted | denied | withdrawn | expired | pending
    active: bool         # may the data be processed for this purpose right now
    consent: ConsentRecord


def effective_status(c, now: dt.datetime) -> str:
    if c.status == "granted":
        if c.valid_until is not None and c.valid_until <= now:
            return "expired"
        if c.valid_from > now:
            return "pending"
    return c.status


def subject_state(org_id: str, identifier: str, now: dt.datetime | None = None) -> list[PurposeState]:
    """The binding (newest) decision per purpose for a subject, with its validity now.

    One indexed read of the subject's own rows (index org, subject, purpose, seq), so its cost does
    not grow with the size of the ledger."""
    subject = _subject(org_id, identifier, create=False)
    if subject is None:
        return []
    now = now or utcnow()
    states, seen = [], set()
    for c in queries.CONSENTS_OF_SUBJECT.all((org_id, subject.id)):
        if c.purpose_id in seen:
            continue
        seen.add(c.purpose_id)
        status = effective_status(c, now)
        states.append(PurposeState(c.purpose, c.purpose_name, status, status == "granted", c))
    states.sort(key=lambda s: s.purpose)
    return states


# -- identity mapping -----------------------------------------------------------------------------

def map_identity(org_id: str, anonymous_id: str, authenticated_id: str, *, actor: str = "system",
                 metadata: dict | None = None, source: str = "ledger") -> tuple[int, object]:
    """Move every consent held by the anonymous subject to the authenticated one: one transaction,
    one audit event, one ``mapped`` ConsentEvent per moved record. Returns (moved count, the
    link's named row)."""
    if anonymous_id == authenticated_id:
        raise Invalid("anonymousId and authenticatedUserId must differ")
    with transaction():
        audit.lock_org(org_id)
        anonymous = _subject(org_id, anonymous_id)
        authenticated = _subject(org_id, authenticated_id)
        moving = [seq for (seq,) in queries.CONSENT_SEQS_OF_SUBJECT.execute(
            (org_id, anonymous.id)).fetchall()]
        event = audit.begin(org_id)
        link = event.create(SubjectLink, id=new_uuid(), org_id=org_id,
                            anonymous_id=anonymous.id, authenticated_id=authenticated.id,
                            moved_count=len(moving), metadata=metadata)
        if moving:
            for chunk in sql.chunks(moving):
                queries.move_consents(sql.padded(len(chunk))).execute(
                    (authenticated.id, *sql.pad(chunk)))
            for seq in moving:
                event.insert(ConsentEvent, {
                    "consent_seq": seq, "type": "mapped", "at": event.at,
                    "audit_event_id": event.event_id,
                    "data": {"from_subject": anonymous.id, "to_subject": authenticated.id,
                             "link_id": link.id}})
        # The identifiers and the metadata are in the link's row (erasable), not the payload.
        event.append(actor=actor, action="subject.mapped", entity_type="subject_link",
                     entity_id=link.id, payload={
                         "anonymous_ref": anonymous.id, "authenticated_ref": authenticated.id,
                         "moved": len(moving), "source": source})
    return len(moving), link


# -- idempotency ----------------------------------------------------------------------------------

IDEMPOTENCY_KEY_MAX = 255

def idempotent(org_id: str, scope: str, key: str | None, request: dict,
               produce: Callable[[], tuple[int, dict]]) -> tuple[int, dict, bool]:
    """Run ``produce`` once per (org, scope, key) and store its (status, body) in the same
    transaction. A repeat returns the stored result and writes nothing. A repeat with a different
    request raises Conflict. Returns (status, body, replayed)."""
    if not key:
        with transaction():
            status, body = produce()
        return status, body, False
    if len(key) > IDEMPOTENCY_KEY_MAX:  # the column's width (PostgreSQL enforces it: a 500)
        raise Invalid(f"an idempotency key is at most {IDEMPOTENCY_KEY_MAX} characters")
    request_hash = hashlib.sha256(canonical_json(request).encode()).hexdigest()

    def stored():
        row = queries.IDEMPOTENCY.one((org_id, scope, key))
        if row is None:
            return None
        if row.request_hash != request_hash:
            raise Conflict("this idempotency key was already used with a different request")
        return row.status, row.body, True

    previous = stored()
    if previous:
        return previous
    try:
        with transaction():
            audit.lock_org(org_id)
            previous = stored()  # re-check under the write lock
            if previous:
                return previous
            status, body = produce()
            sql.create(IdempotencyRecord, org_id=org_id, scope=scope, key=key,
                       request_hash=request_hash, status=status, body=body)
        return status, body, False
    except IntegrityError:  # a concurrent request with the same key committed first
        previous = stored()
        if previous:
            return previous
        raise


# -- audit queries and verification ---------------------------------------------------------------

def audit_events(org_id: str, *, event_id: str | None = None, from_seq: int | None = None,
                 to_seq: int | None = None, since: dt.datetime | None = None,
                 until: dt.datetime | None = None, limit: int = 100) -> list:
    """Audit events in sequence order: one by id, or a range by sequence number and/or time.
    A range by time alone is read through the (org, at) index, in time order (the sequence's
    own order but where two writers' events fall within the same moment)."""
    given = {"event_id": event_id, "from_seq": from_seq, "to_seq": to_seq, "since": since,
             "until": until}
    names = tuple(n for n in queries.AUDIT_FILTERS if given[n] is not None)
    return queries.audit_page(names).all((org_id, *(given[n] for n in names), limit))


def audit_newest(org_id: str, *, before_seq: int | None = None,
                 limit: int = 50) -> tuple[list, int | None]:
    """A page of the audit chain, newest first: the events before ``before_seq`` (None: from the
    head), keyset on the (org, seq) index. Returns (page, the ``before_seq`` of the next page,
    None on the last)."""
    before = before_seq if before_seq is not None else 2 ** 63 - 1
    rows = queries.AUDIT_BEFORE.all((org_id, before, limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].seq if more and rows else None)


def verify(org_id: str) -> dict:
    """Verify the organisation's audit chain and every consent against it, in full, in constant
    memory (see :mod:`consent.core.verify` for what is checked, and for verifications in slices)."""
    from .verify import full  # verify builds on this module

    return full(org_id)


# -- export -------------------------------------------------------------------------------------

def export_rows(org_id: str, batch: int = 1000) -> Iterator[ConsentRecord]:
    """Every consent of the organisation, oldest first, in keyset batches (constant memory)."""
    last = 0
    while True:
        rows = queries.CONSENTS_AFTER.all((org_id, last, batch))
        yield from rows
        if len(rows) < batch:
            return
        last = rows[-1].seq


def count_consents(org_id: str) -> int:
    return queries.COUNT_CONSENTS.value((org_id,))

