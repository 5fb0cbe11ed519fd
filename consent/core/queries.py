"""The core's statements (see :mod:`consent.core.sql`), and the rows they give: every statement
the core runs on its own tables is here, once, and nowhere else. Column lists and column names
come from the models, so a column is added (or renamed) in one place: its model.

Dialects never run these, nor any statement of their own on these tables: they call the core's
functions (``consent.core.ledger``, ``auth``, ``audit``...), which do.
"""
from __future__ import annotations

from functools import lru_cache

from . import sql
from .sql import Table, eq
from .storage import (
    AuditCheckpoint,
    AuditEvent,
    Consent,
    ConsentEvent,
    ConsentTerms,
    ConsentUse,
    Credential,
    IdempotencyRecord,
    Membership,
    Notice,
    NoticeVersion,
    Organisation,
    OrgKey,
    OutboxMessage,
    Purpose,
    PurposeVersion,
    RetentionPolicy,
    RightsRequest,
    SchemaMigration,
    SessionToken,
    SessionTokenRevocation,
    Subject,
    SubjectLink,
    User,
    Verification,
    WebhookAttempt,
    WebhookDelivery,
)

# Every model-wide statement below selects with alias ``t`` (sql.model_select).
T_ORG = Table(Organisation, "t")

# -- the database itself ----------------------------------------------------------------------------

PING = sql.Statement("SELECT 1")


# -- organisations ----------------------------------------------------------------------------------

ORG = sql.model_select(Organisation)
ORGS = ORG.where(order=T_ORG.slug)
ORG_BY_ID = ORG.where(*eq(T_ORG.id))
ORG_BY_REF = ORG.where(f"({T_ORG.slug} = ? OR {T_ORG.id} = ?)")
ORG_BY_SUBDOMAIN = ORG.where(*eq(T_ORG.subdomain))
ORG_TAKEN = ORG.count(f"({T_ORG.slug} = ? OR {T_ORG.subdomain} = ?)")
ORG_IDS = sql.Statement(f"SELECT {T_ORG.id} FROM {T_ORG} ORDER BY {T_ORG.id}")
# Writers of one organisation queue on its row (PostgreSQL; SQLite's BEGIN IMMEDIATE already
# serialises every writer). FOR NO KEY UPDATE, not FOR UPDATE: inserting rows that reference the
# organisation takes KEY SHARE on it, which FOR UPDATE would deadlock against.
LOCK_ORG = sql.Statement(f"SELECT {T_ORG.id} FROM {T_ORG} WHERE {T_ORG.id} = ? "
                         "FOR NO KEY UPDATE")


# -- migrations (consent.core.migrate) ----------------------------------------------------------------

_sm = Table(SchemaMigration)
# Each component's version: the highest recorded.
MIGRATED_VERSIONS = sql.Statement(f"SELECT {_sm.component}, MAX({_sm.version}) FROM {_sm} "
                                  f"GROUP BY {_sm.component}")
# Migrating processes queue on one advisory lock (PostgreSQL; params: the lock's key).
MIGRATION_LOCK = sql.Statement("SELECT pg_advisory_xact_lock(?)")


# -- credentials --------------------------------------------------------------------------------------

def scope_set(scopes: str) -> set[str]:
    return set(filter(None, (scopes or "").split(",")))


class _Credential:
    """Methods of a credential row."""

    __slots__ = ()

    @property
    def scope_set(self) -> set[str]:
        return scope_set(self.scopes)

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class _CredentialRecord(_Credential):
    """Methods of a credential row joined with its organisation."""

    __slots__ = ()

    @property
    def org(self):
        return ORG.cls(id=self.org_id, slug=self.org_slug, name=self.org_name,
                       subdomain=self.org_subdomain, created_at=self.org_created_at)


_cr, _co = Table(Credential, "c"), Table(Organisation, "o")
CREDENTIAL = sql.Select(
    "CredentialRecord",
    sql.columns(Credential, "c") + [
        sql.column("o", Organisation.slug, "org_slug"),
        sql.column("o", Organisation.name, "org_name"),
        sql.column("o", Organisation.subdomain, "org_subdomain"),
        sql.column("o", Organisation.created_at, "org_created_at"),
    ],
    f"FROM {_cr} JOIN {_co} ON {_co.id} = {_cr.org}",
    base=_CredentialRecord)
CREDENTIAL_BY_KEY_HASH = CREDENTIAL.where(*eq(_cr.key_hash))
_t = Table(Credential, "t")
CREDENTIAL_ROW = sql.model_select(Credential, base=_Credential)
CREDENTIAL_BY_ID = CREDENTIAL_ROW.where(*eq(_t.id))
CREDENTIAL_OF_ORG = CREDENTIAL_ROW.where(*eq(_t.id, _t.org))
# The organisation's credentials of one kind, newest first (the console's list; LIMIT).
CREDENTIALS_OF_ORG_KIND = CREDENTIAL_ROW.where(*eq(_t.org, _t.kind),
                                               order=f"{_t.created_at} DESC, {_t.id} DESC",
                                               limit=True)


# -- operators: users, memberships, session tokens -----------------------------------------------

_t = Table(User, "t")
USER = sql.model_select(User)
USER_BY_EMAIL = USER.where(*eq(_t.email))
USER_BY_ID = USER.where(*eq(_t.id))

_t = Table(Membership, "t")
MEMBERSHIP = sql.model_select(Membership).where(*eq(_t.org, _t.user))
MEMBER_ORG_IDS = sql.Statement(f"SELECT {_t.org} FROM {_t} WHERE {_t.user} = ? "
                               f"ORDER BY {_t.org}")
DELETE_MEMBERSHIP = sql.Statement(f"DELETE FROM {Table(Membership)} "
                                  f"WHERE {sql.name(Membership.id)} = ?")

# The organisation's members with their user's email and name, oldest first.
_m, _u = Table(Membership, "m"), Table(User, "u")
MEMBER = sql.Select(
    "MemberRow",
    [sql.column("m", Membership.id, "membership_id"), sql.column("m", Membership.user),
     sql.column("u", User.email), sql.column("u", User.name), sql.column("m", Membership.role),
     sql.column("m", Membership.created_at)],
    f"FROM {_m} JOIN {_u} ON {_u.id} = {_m.user}")
MEMBERS = MEMBER.where(*eq(_m.org), order=f"{_m.created_at}, {_m.id}")
MEMBERS_BY_EMAIL = MEMBER.where(*eq(_m.org, _u.email), order=f"{_m.created_at}, {_m.id}")
MEMBER_OF_ORG = MEMBER.where(*eq(_m.org, _m.user))


class _SessionRecord:
    """Methods of a session token row joined with its user."""

    __slots__ = ()

    @property
    def user(self):
        return USER.cls(id=self.user_id, email=self.user_email, name=self.user_name,
                        created_at=self.user_created_at)


_s, _u = Table(SessionToken, "s"), Table(User, "u")
SESSION = sql.Select(
    "SessionRecord",
    sql.columns(SessionToken, "s") + [
        sql.column("u", User.email, "user_email"), sql.column("u", User.name, "user_name"),
        sql.column("u", User.created_at, "user_created_at")],
    f"FROM {_s} JOIN {_u} ON {_u.id} = {_s.user}", base=_SessionRecord)
SESSION_BY_TOKEN_HASH = SESSION.where(*eq(_s.token_hash))
SESSION_BY_ID = SESSION.where(*eq(_s.id))

# May a session's user act for an organisation: their membership's role, and the token's
# revocation for it (NULL: none). One query on every request.
_m, _r = Table(Membership, "m"), Table(SessionTokenRevocation, "r")
SESSION_ACCESS = sql.Statement(
    f"SELECT {_m.role}, {_r.id} FROM {_m} LEFT JOIN {_r} ON {_r.org} = {_m.org} "
    f"AND {_r.token} = ? WHERE {_m.org} = ? AND {_m.user} = ?")

# A user's tokens that still work somewhere (unexpired, not revoked everywhere) and are not yet
# revoked for an organisation, oldest first.
_t = Table(SessionToken, "t")
LIVE_TOKEN_IDS = sql.Statement(
    f"SELECT {_t.id} FROM {_t} WHERE {_t.user} = ? AND {_t.revoked_at} IS NULL "
    f"AND {_t.expires_at} > ? AND {_t.id} NOT IN (SELECT {_r.token} FROM {_r} "
    f"WHERE {_r.org} = ?) ORDER BY {_t.created_at}, {_t.id}")
# A user's tokens not revoked everywhere yet (all, or the one named), oldest first.
UNREVOKED_TOKEN_IDS = sql.Statement(
    f"SELECT {_t.id} FROM {_t} WHERE {_t.user} = ? AND {_t.revoked_at} IS NULL "
    f"ORDER BY {_t.created_at}, {_t.id}")
UNREVOKED_TOKEN_ID = sql.Statement(
    f"SELECT {_t.id} FROM {_t} WHERE {_t.user} = ? AND {_t.revoked_at} IS NULL "
    f"AND {_t.id} = ?")
TOKENS_OF_USER = sql.model_select(SessionToken).where(
    *eq(_t.user), order=f"{_t.created_at} DESC, {_t.id}")


@lru_cache(maxsize=None)
def revoke_tokens(n: int) -> sql.Statement:
    """Revoke everywhere the tokens of an ``IN`` list of ``n`` (padded) ids (params: at, ids)."""
    t = Table(SessionToken)
    return sql.Statement(f"UPDATE {t} SET {t.revoked_at} = ? WHERE {t.id} IN ({sql.marks(n)})")


# The organisations (slugs) each of a user's tokens is revoked for.
_o = Table(Organisation, "o")
REVOKED_IN = sql.Statement(
    f"SELECT {_r.token}, {_o.slug} FROM {_r} JOIN {_t} ON {_t.id} = {_r.token} "
    f"JOIN {_o} ON {_o.id} = {_r.org} WHERE {_t.user} = ? ORDER BY {_o.slug}")

# Session tokens of an organisation's members, with their revocation for it (as it sees them).
_s, _m, _u = Table(SessionToken, "s"), Table(Membership, "m"), Table(User, "u")
MEMBER_TOKEN = sql.Select(
    "MemberTokenRow",
    [sql.column("s", SessionToken.id), sql.column("s", SessionToken.user),
     sql.column("u", User.email), sql.column("s", SessionToken.hint),
     sql.column("s", SessionToken.created_at), sql.column("s", SessionToken.expires_at),
     sql.column("s", SessionToken.revoked_at),
     sql.column("r", SessionTokenRevocation.revoked_at, "revoked_here")],
    f"FROM {_s} JOIN {_u} ON {_u.id} = {_s.user} "
    f"JOIN {_m} ON {_m.user} = {_s.user} AND {_m.org} = ? "
    f"LEFT JOIN {_r} ON {_r.token} = {_s.id} AND {_r.org} = ?")
MEMBER_TOKEN_ORDER = f"{_s.created_at} DESC, {_s.id}"
_REVOKED = f"({_s.revoked_at} IS NOT NULL OR {_r.revoked_at} IS NOT NULL)"
# Filters of the member token list, by name (params after the organisation's two).
MEMBER_TOKEN_FILTERS = {
    "id": f"{_s.id} = ?",
    "user_id": f"{_s.user} = ?",
    "email": f"{_u.email} = ?",
    "revoked": _REVOKED,
    "expired": f"NOT {_REVOKED} AND {_s.expires_at} <= ?",
    "active": f"NOT {_REVOKED} AND {_s.expires_at} > ?",
}


# -- subjects and purposes ------------------------------------------------------------------------

_t = Table(Subject, "t")
SUBJECT_BY_LOOKUP = sql.model_select(Subject).where(*eq(_t.org, _t.lookup))
SUBJECT_BY_ID = sql.model_select(Subject).where(*eq(_t.org, _t.id))
_k = Table(OrgKey, "t")
ORG_KEY = sql.model_select(OrgKey).where(*eq(_k.org))
_k = Table(OrgKey)
ORG_KEY_CREATE = sql.Statement(
    f"INSERT INTO {_k} ({_k.org}, {_k.lookup_key}, {_k.sealed_seq}) VALUES (?, ?, 0) "
    "ON CONFLICT DO NOTHING")
# The subjects an identity mapping linked to one (its anonymous identifiers, transitively
# walked by consent.core.rights): the anonymous subjects of the links into it.
_l = Table(SubjectLink, "t")
LINKED_INTO = sql.Statement(
    f"SELECT {_l.anonymous} FROM {_l} WHERE {_l.org} = ? AND {_l.authenticated} = ?")
# ... and the other way: the subjects a subject was mapped into (who holds its records now).
LINKED_FROM = sql.Statement(
    f"SELECT {_l.authenticated} FROM {_l} WHERE {_l.org} = ? AND {_l.anonymous} = ?")


@lru_cache(maxsize=None)
def subject_secrets(n: int) -> sql.Statement:
    """``(id, secret, identifier)`` of the organisation's subjects of an ``IN`` list of ``n``
    (padded) ids."""
    t = Table(Subject, "t")
    return sql.Statement(f"SELECT {t.id}, {t.secret}, {t.identifier} FROM {t} WHERE {t.org} = ? "
                         f"AND {t.id} IN ({sql.marks(n)})")


_t = Table(Purpose, "t")
PURPOSE_BY_CODE = sql.model_select(Purpose).where(*eq(_t.org, _t.code))
_t = Table(PurposeVersion, "t")
PURPOSE_VERSION = sql.model_select(PurposeVersion).where(*eq(_t.purpose, _t.version))
_t = Table(Notice, "t")
NOTICE_BY_CODE = sql.model_select(Notice).where(*eq(_t.org, _t.code))
_t = Table(NoticeVersion, "t")
NOTICE_VERSION = sql.model_select(NoticeVersion).where(*eq(_t.notice, _t.version))


# -- consents ------------------------------------------------------------------------------------------

# A consent with the identifiers it is known by: ``subject`` (the current holder),
# ``recorded_subject`` (who it was recorded under), ``purpose`` (the code) and ``purpose_name``.
_c, _h, _rs, _p = (Table(Consent, "c"), Table(Subject, "h"), Table(Subject, "r"),
                   Table(Purpose, "p"))
CONSENT_JOINS = (f"FROM {_c} JOIN {_h} ON {_h.id} = {_c.subject} "
                 f"JOIN {_rs} ON {_rs.id} = {_c.recorded_subject} "
                 f"JOIN {_p} ON {_p.id} = {_c.purpose}")
CONSENT_RECORD_COLUMNS = sql.columns(Consent, "c") + [
    sql.column("h", Subject.identifier, "subject"),
    sql.column("r", Subject.identifier, "recorded_subject"),
    sql.column("p", Purpose.code, "purpose"),
    sql.column("p", Purpose.name, "purpose_name"),
]
CONSENT = sql.Select("ConsentRecord", CONSENT_RECORD_COLUMNS, CONSENT_JOINS)
ConsentRecord = CONSENT.cls
CONSENT_BY_ID = CONSENT.where(*eq(_c.org, _c.id))
# A subject's own rows, newest first per purpose (index org, subject, purpose, seq).
CONSENTS_OF_SUBJECT = CONSENT.where(*eq(_c.org, _c.subject), order=f"{_c.purpose}, {_c.seq} DESC")
# The binding rule: the newest record of a holder and purpose binds; a record is superseded when
# a newer one of the same holder and purpose exists. NEWER_CONSENT: the newest record of a
# subject and purpose (seq > 0), or the newest after a given one.
NEWER_CONSENT = CONSENT.where(*eq(_c.org, _c.subject, _c.purpose), f"{_c.seq} > ?",
                              order=f"{_c.seq} DESC", limit=True)
_n = Table(Consent, "n")
SUPERSEDED = (f"EXISTS (SELECT 1 FROM {_n} WHERE {_n.org} = {_c.org} "
              f"AND {_n.subject} = {_c.subject} AND {_n.purpose} = {_c.purpose} "
              f"AND {_n.seq} > {_c.seq})")
# Keyset pages in the order they were recorded (export, verify).
CONSENTS_AFTER = CONSENT.where(*eq(_c.org), f"{_c.seq} > ?", order=_c.seq, limit=True)
COUNT_CONSENTS = CONSENT.count(*eq(_c.org))
_t = Table(Consent, "t")
CONSENT_SEQS_OF_SUBJECT = sql.Statement(
    f"SELECT {_t.seq} FROM {_t} WHERE {_t.org} = ? AND {_t.subject} = ? ORDER BY {_t.seq}")


@lru_cache(maxsize=None)
def consents_by_id(n: int) -> sql.Statement:
    """The organisation's consents of an ``IN`` list of ``n`` (padded) ids."""
    return CONSENT.where(*eq(_c.org), f"{_c.id} IN ({sql.marks(n)})")


@lru_cache(maxsize=None)
def consents_by_seq(n: int) -> sql.Statement:
    """The organisation's consents of an ``IN`` list of ``n`` (padded) seqs."""
    return CONSENT.where(*eq(_c.org), f"{_c.seq} IN ({sql.marks(n)})")


@lru_cache(maxsize=None)
def binding_of(n: int) -> sql.Statement:
    """``(seq, 1 if it binds else 0)`` of the organisation's consents of an ``IN`` list of ``n``
    (padded) seqs."""
    return sql.Statement(f"SELECT {_c.seq}, CASE WHEN {SUPERSEDED} THEN 0 ELSE 1 END FROM {_c} "
                         f"WHERE {_c.org} = ? AND {_c.seq} IN ({sql.marks(n)})")


@lru_cache(maxsize=None)
def move_consents(n: int) -> sql.Statement:
    """Give an ``IN`` list of ``n`` (padded) consents a new holder (params: subject, seqs)."""
    t = Table(Consent)
    return sql.Statement(f"UPDATE {t} SET {t.subject} = ? WHERE {t.seq} IN ({sql.marks(n)})")


# Filters of the consent list, by name; ``list_consents`` ANDs those given.
CONSENT_FILTERS = {
    "subject_id": f"{_c.subject} = ?",
    "purpose_id": f"{_c.purpose} = ?",
    "status": f"{_c.status} = ?",
    "source": f"{_c.source} = ?",
    "date_from": f"{_c.created_at} >= ?",
    "date_to": f"{_c.created_at} < ?",
    "before_seq": f"{_c.seq} < ?",
    "after_seq": f"{_c.seq} > ?",
}
CONSENT_BY_ORG = f"{_c.org} = ?"
CONSENT_NEWEST_FIRST = f"{_c.seq} DESC"
CONSENT_OLDEST_FIRST = _c.seq


@lru_cache(maxsize=None)
def consent_page(names: tuple[str, ...]) -> sql.Select:
    """A page of the consent list, newest first, filtered by these of :data:`CONSENT_FILTERS`
    (params: org id, the filters' values, limit)."""
    return CONSENT.where(CONSENT_BY_ORG, *(CONSENT_FILTERS[n] for n in names),
                         order=CONSENT_NEWEST_FIRST, limit=True)


def consent_with(name: str, link, columns: list, joins: tuple = ()) -> sql.Select:
    """Consents (:data:`ConsentRecord`'s columns), each with what a dialect's table adds to it:
    ``link``, a foreign key of the dialect's table to :class:`Consent` (LEFT JOIN: NULLs where a
    consent has no such row, alias ``x``); ``columns``: ``(name, field)`` pairs of that table's
    fields, or of a table it reaches through ``joins`` (foreign keys of the dialect's table,
    each joined LEFT under alias ``x1``, ``x2``... in order; ``(name, field, n)`` takes the field
    from ``xn``). Filter with :data:`CONSENT_FILTERS` and :func:`extension_filter`; the
    dialect names no table or column of the core's."""
    x = Table(link.model, "x")
    source = f"{CONSENT_JOINS} LEFT JOIN {x} ON {getattr(x, link.name)} = " \
             f"{getattr(_c, link.rel_field.name)}"
    for i, fk in enumerate(joins, 1):
        y = Table(fk.rel_model, f"x{i}")
        source += f" LEFT JOIN {y} ON {getattr(y, fk.rel_field.name)} = {getattr(x, fk.name)}"
    cols = list(CONSENT_RECORD_COLUMNS)
    for entry in columns:
        label, field = entry[0], entry[1]
        alias = f"x{entry[2]}" if len(entry) > 2 else "x"
        cols.append(sql.column(alias, field, label))
    return sql.Select(name, cols, source)


def extension_filter(field, op: str = "=", n: int = 0) -> str:
    """A WHERE fragment on a column of a :func:`consent_with` statement's dialect table
    (``n``: of the table its ``n``-th join reached)."""
    alias = f"x{n}" if n else "x"
    return f"{getattr(Table(field.model, alias), field.name)} {op} ?"


PURPOSE_CODE_FILTER = f"{_p.code} = ?"
# A consent held by a subject, or recorded under it (a data principal's timeline).
HELD_OR_RECORDED = f"({_c.subject} = ? OR {_c.recorded_subject} = ?)"


# -- events on consents ---------------------------------------------------------------------------

# The mapping events of a range of consents, in order: replayed, they give each one's holder.
_e = Table(ConsentEvent, "e")
MAPPED_EVENTS_BETWEEN = sql.Select(
    "MappedEvent", [sql.column("e", ConsentEvent.consent), sql.column("e", ConsentEvent.data)],
    f"FROM {_e}").where(f"{_e.consent} >= ?", f"{_e.consent} <= ?", f"{_e.type} = 'mapped'",
                        order=_e.id)
_ce = Table(Consent, "c")
CONSENT_EVENT = sql.Select("ConsentEventRow", sql.columns(ConsentEvent, "e"),
                           f"FROM {_e} JOIN {_ce} ON {_ce.seq} = {_e.consent}")


@lru_cache(maxsize=None)
def events_of_consents(n: int, mapped_only: bool) -> sql.Statement:
    """The events (but a legacy ``recorded`` one) on an ``IN`` list of ``n`` (padded) consent
    seqs of an organisation, oldest first; ``mapped_only``: their mapping events only."""
    kind = f"{_e.type} = 'mapped'" if mapped_only else f"{_e.type} <> 'recorded'"
    return CONSENT_EVENT.where(*eq(_ce.org), f"{_e.consent} IN ({sql.marks(n)})", kind,
                               order=_e.id)


# A consent's events after its recording, each with the audit event behind it.
_a = Table(AuditEvent, "a")
CONSENT_TRAIL = sql.Select(
    "TrailRow",
    [sql.column("e", ConsentEvent.type), sql.column("e", ConsentEvent.at),
     sql.column("e", ConsentEvent.data), sql.column("a", AuditEvent.event_id),
     sql.column("a", AuditEvent.seq), sql.column("a", AuditEvent.action),
     sql.column("a", AuditEvent.actor), sql.column("a", AuditEvent.hash)],
    f"FROM {_e} JOIN {_a} ON {_a.event_id} = {_e.audit_event_id}",
).where(*eq(_e.consent), order=_e.id)
TrailRow = CONSENT_TRAIL.row.cls

# Verification: each consent with the audit event that recorded it (NULLs when it has none).
CONSENT_AUDIT = sql.Select(
    "ConsentAudit",
    CONSENT_RECORD_COLUMNS + [
        sql.column("a", AuditEvent.payload, "audit_payload"),
        sql.column("a", AuditEvent.event_id, "audit_event"),
        sql.column("r", Subject.secret, "recorded_secret"),
        sql.column("r", Subject.lookup, "recorded_lookup"),
        sql.column("r", Subject.commitment, "recorded_commitment"),
    ],
    f"{CONSENT_JOINS} LEFT JOIN {_a} ON {_a.org} = {_c.org} "
    f"AND {_a.seq} = {_c.audit_seq} AND {_a.entity_id} = {_c.id}")
CONSENT_AUDIT_AFTER = CONSENT_AUDIT.where(*eq(_c.org), f"{_c.seq} > ?", order=_c.seq, limit=True)
# A recorded consent the audit chain names but the table lacks.
_c2 = Table(Consent, "c")
MISSING_CONSENT = sql.Statement(
    f"SELECT {_a.event_id}, {_a.seq}, {_a.entity_id} FROM {_a} "
    f"LEFT JOIN {_c2} ON {_c2.id} = {_a.entity_id} AND {_c2.org} = {_a.org} "
    f"WHERE {_a.org} = ? AND {_a.seq} > ? AND {_a.action} = 'consent.recorded' "
    f"AND {_c2.seq} IS NULL ORDER BY {_a.seq} LIMIT 1")


# -- terms and uses --------------------------------------------------------------------------------

_t = Table(ConsentTerms, "t")
TERMS_OF = sql.model_select(ConsentTerms).where(*eq(_t.consent))
_t = Table(ConsentUse, "t")
USES_OF = sql.model_select(ConsentUse).where(*eq(_t.consent), order=_t.id)
FIRST_USE_OF = sql.model_select(ConsentUse).where(*eq(_t.consent), order=_t.id,
                                                  suffix="LIMIT 1")


# -- idempotency ------------------------------------------------------------------------------------

_t = Table(IdempotencyRecord, "t")
IDEMPOTENCY = sql.model_select(IdempotencyRecord).where(*eq(_t.org, _t.scope, _t.key))


# -- audit chain ---------------------------------------------------------------------------------------

_ae = Table(AuditEvent, "t")
AUDIT_HEAD = sql.Statement(f"SELECT {_ae.seq}, {_ae.hash} FROM {_ae} WHERE {_ae.org} = ? "
                           f"ORDER BY {_ae.seq} DESC LIMIT 1")
AUDIT_EVENT = sql.model_select(AuditEvent)
AUDIT_AFTER = AUDIT_EVENT.where(*eq(_ae.org), f"{_ae.seq} > ?", order=_ae.seq, limit=True)
AUDIT_EVENT_AT = AUDIT_EVENT.where(*eq(_ae.org, _ae.seq))
# Keyset pages of the chain, newest first (the (org, seq) index read backwards): the console.
AUDIT_BEFORE = AUDIT_EVENT.where(*eq(_ae.org), f"{_ae.seq} < ?", order=f"{_ae.seq} DESC",
                                 limit=True)
AUDIT_BY_ORG = f"{_ae.org} = ?"
AUDIT_IN_SEQ_ORDER = _ae.seq
AUDIT_IN_TIME_ORDER = f"{_ae.at}, {_ae.seq}"
AUDIT_FILTERS = {
    "event_id": f"{_ae.event_id} = ?",
    "from_seq": f"{_ae.seq} >= ?",
    "to_seq": f"{_ae.seq} <= ?",
    "since": f"{_ae.at} >= ?",
    "until": f"{_ae.at} < ?",
}


@lru_cache(maxsize=None)
def audit_page(names: tuple[str, ...]) -> sql.Select:
    """A page of the audit log filtered by these of :data:`AUDIT_FILTERS` (params: org id, the
    filters' values, limit): in time order when filtered by time alone, else in seq order."""
    by_time = bool(names) and set(names) <= {"since", "until"}
    return AUDIT_EVENT.where(AUDIT_BY_ORG, *(AUDIT_FILTERS[n] for n in names),
                             order=AUDIT_IN_TIME_ORDER if by_time else AUDIT_IN_SEQ_ORDER,
                             limit=True)
# What verify needs of the events covered rows point at.
EVENT_REF = sql.Select("EventRef", [sql.column("t", AuditEvent.seq),
                                    sql.column("t", AuditEvent.event_id),
                                    sql.column("t", AuditEvent.payload)], f"FROM {_ae}")


@lru_cache(maxsize=None)
def events_at(n: int) -> sql.Statement:
    """An organisation's events (seq, event_id, payload) of an ``IN`` list of ``n`` seqs."""
    return EVENT_REF.where(*eq(_ae.org), f"{_ae.seq} IN ({sql.marks(n)})")


@lru_cache(maxsize=None)
def sealed_events_about(n: int) -> sql.Statement:
    """An organisation's events up to a seq (its sealed prefix) about an ``IN`` list of ``n``
    (padded) entities of one type (params: org, seq, type, ids), in seq order. Walks the
    prefix by the (org, seq) index: erasure only, and the prefix never grows."""
    return AUDIT_EVENT.where(*eq(_ae.org), f"{_ae.seq} <= ?", *eq(_ae.entity_type),
                             f"{_ae.entity_id} IN ({sql.marks(n)})", order=_ae.seq)


@lru_cache(maxsize=None)
def events_by_id(n: int) -> sql.Statement:
    """An organisation's events of an ``IN`` list of ``n`` (padded) event ids."""
    return AUDIT_EVENT.where(*eq(_ae.org), f"{_ae.event_id} IN ({sql.marks(n)})")


# -- verifications kept in the database -------------------------------------------------------------

_t = Table(Verification, "t")
VERIFICATION = sql.model_select(Verification)
CURRENT_PASS = VERIFICATION.where(
    *eq(_t.org), f"{_t.kind} = 'pass'", f"{_t.status} = 'running'", order=f"{_t.id} DESC",
    limit=True)
VERIFICATION_OF_ORG = VERIFICATION.where(*eq(_t.org, _t.id))
# The organisation's newest finished verification, of a given status (done or broken).
LAST_FINISHED = VERIFICATION.where(*eq(_t.org, _t.status), order=f"{_t.id} DESC", limit=True)
DUE_FULL = VERIFICATION.where(
    f"{_t.kind} = 'background'", f"{_t.status} = 'running'",
    f"({_t.lease_until} IS NULL OR {_t.lease_until} < ?)", order=_t.id, limit=True)
_v = Table(Verification)
CLAIM_VERIFICATION = sql.Statement(
    f"UPDATE {_v} SET {_v.lease_until} = ? WHERE {_v.id} = ? AND {_v.status} = 'running' "
    f"AND ({_v.lease_until} IS NULL OR {_v.lease_until} < ?)")


# -- the webhook outbox --------------------------------------------------------------------------------

_wd = Table(WebhookDelivery, "t")
DELIVERY = sql.model_select(WebhookDelivery)
DELIVERY_OF_ORG = DELIVERY.where(*eq(_wd.org, _wd.id))
# How many of the organisation's deliveries have a status (the (status, next_attempt_at) index,
# then the organisation: few deliveries are failing or waiting).
DELIVERIES_WITH_STATUS = DELIVERY.count(*eq(_wd.status, _wd.org))
# The same, counting no further than a cap (params: org, status, cap): the organisation's rows
# by the (org, id) index, newest first, stopping at the cap, so a status most deliveries have
# (delivered) costs at most ``cap`` index steps, whatever the other organisations hold.
_wc = Table(WebhookDelivery, "w")
DELIVERIES_WITH_STATUS_UP_TO = sql.Statement(
    f"SELECT COUNT(*) FROM (SELECT 1 FROM {_wc} WHERE {_wc.org} = ? AND {_wc.status} = ? "
    f"ORDER BY {_wc.id} DESC LIMIT ?) AS capped")
# Due deliveries no sender holds, in the order they fell due (keyset: after (at, id)).
DUE = (f"{_wd.status} = 'pending'", f"{_wd.next_attempt_at} <= ?",
       f"({_wd.lease_until} IS NULL OR {_wd.lease_until} < ?)",
       f"({_wd.next_attempt_at} > ? OR ({_wd.next_attempt_at} = ? AND {_wd.id} > ?))")
DUE_ORDER = f"{_wd.next_attempt_at}, {_wd.id}"


@lru_cache(maxsize=None)
def due_deliveries(skipped: int) -> sql.Statement:
    """A page of due deliveries (see :data:`DUE`) but to ``skipped`` (padded) URLs."""
    skip = (f"{_wd.url} NOT IN ({sql.marks(skipped)})",) if skipped else ()
    return DELIVERY.where(*DUE, *skip, order=DUE_ORDER, limit=True)


# Filters of the operator's list of deliveries, by name (newest first).
DELIVERY_BY_ORG = f"{_wd.org} = ?"
DELIVERY_NEWEST_FIRST = f"{_wd.id} DESC"
DELIVERY_FILTERS = {
    "status": f"{_wd.status} = ?",
    "topic": f"{_wd.topic} = ?",
    "reference": f"{_wd.reference} = ?",
    "before_id": f"{_wd.id} < ?",
}
_d = Table(WebhookDelivery)
CLAIM_DELIVERY = sql.Statement(
    f"UPDATE {_d} SET {_d.lease_until} = ?, {_d.attempts} = {_d.attempts} + 1 "
    f"WHERE {_d.id} = ? AND {_d.status} = 'pending' AND {_d.next_attempt_at} <= ? "
    f"AND ({_d.lease_until} IS NULL OR {_d.lease_until} < ?)")
RELEASE_DELIVERY = sql.Statement(
    f"UPDATE {_d} SET {_d.lease_until} = NULL, {_d.attempts} = {_d.attempts} - 1 "
    f"WHERE {_d.id} = ? AND {_d.status} = 'pending' AND {_d.lease_until} IS NOT NULL")
# Erasure (outbox.forget): the organisation's deliveries about an ``IN`` list of references.
@lru_cache(maxsize=None)
def deliveries_about(n: int, topic: bool) -> sql.Statement:
    t = Table(WebhookDelivery, "t")
    return DELIVERY.where(*eq(t.org), f"{t.reference} IN ({sql.marks(n)})",
                          *((f"{t.topic} = ?",) if topic else ()), order=t.id)


FORGET_DELIVERY = sql.Statement(
    f"UPDATE {_d} SET {_d.body} = '', {_d.headers} = ?, {_d.lease_until} = NULL, "
    f"{_d.status} = CASE WHEN {_d.status} = 'pending' THEN 'failed' ELSE {_d.status} END, "
    f"{_d.last_error} = CASE WHEN {_d.status} = 'pending' THEN ? ELSE {_d.last_error} END "
    f"WHERE {_d.id} = ?")
_wd = Table(WebhookAttempt, "t")
ATTEMPTS_OF = sql.model_select(WebhookAttempt).where(*eq(_wd.delivery), order=_wd.id)


# -- signed checkpoints ----------------------------------------------------------------------------

_t = Table(AuditCheckpoint, "t")
CHECKPOINT = sql.model_select(AuditCheckpoint)
CHECKPOINT_KEPT = CHECKPOINT.where(*eq(_t.org, _t.seq, _t.head_hash, _t.key_id), limit=True)
CHECKPOINT_BY_ID = CHECKPOINT.where(*eq(_t.id))
CHECKPOINTS_OF_ORG = CHECKPOINT.where(*eq(_t.org), order=f"{_t.id} DESC", limit=True)
# The first checkpoint signed over a head at or after a seq (what proves an event to a reader).
CHECKPOINT_COVERING = CHECKPOINT.where(*eq(_t.org), f"{_t.seq} >= ?", order=f"{_t.seq}, {_t.id}",
                                       limit=True)
LAST_WITNESSED = CHECKPOINT.where(*eq(_t.org), f"{_t.witnessed} = ?", order=f"{_t.id} DESC",
                                  limit=True)
WITNESS_PENDING = CHECKPOINT.where(f"{_t.witness_file} = 'pending'", order=_t.id, limit=True)


@lru_cache(maxsize=None)
def witness_written(n: int) -> sql.Statement:
    """Mark an ``IN`` list of ``n`` (padded) checkpoints written to the witness file."""
    t = Table(AuditCheckpoint)
    return sql.Statement(f"UPDATE {t} SET {t.witness_file} = 'written' "
                         f"WHERE {t.id} IN ({sql.marks(n)})")


# -- the local mail outbox --------------------------------------------------------------------------

_t = Table(OutboxMessage, "t")
KEPT_MAIL = sql.model_select(OutboxMessage)
KEPT_MAIL_OF_ORG = (*eq(_t.org), f"{_t.transport} = 'outbox'")
KEPT_MAIL_WAITING = f"{_t.status} = 'queued'"
KEPT_MAIL_BY_ID = KEPT_MAIL.where(*KEPT_MAIL_OF_ORG, *eq(_t.id))
KEPT_MAIL_NEWEST_FIRST = f"{_t.id} DESC"


@lru_cache(maxsize=None)
def mail_delivered(n: int) -> sql.Statement:
    """Mark an ``IN`` list of ``n`` (padded) kept messages delivered, forgetting the address."""
    t = Table(OutboxMessage)
    return sql.Statement(f"UPDATE {t} SET {t.status} = 'delivered', {t.to_address} = NULL "
                         f"WHERE {t.id} IN ({sql.marks(n)})")


# -- covered tables (consent.core.covered): built once per declared table -------------------------

# The SHA-256 (hex) of a blob column, computed by the database (SQLite: a function every
# connection of consent.core.sqlite registers).
BLOB_DIGEST = {True: "encode(sha256({}), 'hex')", False: "ledger_sha256({})"}


def covered_source(cov) -> tuple[str, str]:
    """A covered table's FROM (alias ``t``, with the joins that reach its organisation) and the
    reference of its organisation's id."""
    t = Table(cov.model, "t")
    source, current, ref = f"FROM {t}", t, None
    for i, fk in enumerate(cov.org_path[:-1], 1):
        joined = Table(fk.rel_model, f"o{i}")
        source += f" JOIN {joined} ON {getattr(joined, fk.rel_field.name)} = " \
                  f"{getattr(current, fk.name)}"
        current = joined
    ref = getattr(current, cov.org_path[-1].name)
    return source, ref


@lru_cache(maxsize=None)
def covered_select(cov, postgres: bool) -> sql.Select:
    """Every hashed column of a covered table's rows (JSON as stored, a blob as its SHA-256),
    and ``audit_seq``."""
    t = Table(cov.model, "t")
    cols = []
    for column, kind, field in cov.columns:
        ref = getattr(t, field.name)
        if kind == "json":   # as stored: the canonical text the hash was taken over
            cols.append(sql.Column(ref, column))
        elif kind == "blob":  # its SHA-256, never the bytes (a batch stays small)
            cols.append(sql.Column(BLOB_DIGEST[postgres].format(ref), column))
        else:
            cols.append(sql.column("t", field))
    cols.append(sql.column("t", cov.model._meta.fields[cov.pointer]))
    return sql.Select(f"{cov.model.__name__}Covered", cols, covered_source(cov)[0])


def covered_rows(cov, postgres: bool, *, after: bool, unattested: bool = False) -> sql.Statement:
    """An organisation's rows of a covered table in key order (params: org id, [the key they
    come after,] limit); ``unattested``: only those no event records yet."""
    t = Table(cov.model, "t")
    key, pointer = getattr(t, cov.key_field.name), getattr(t, cov.pointer)
    conditions = [f"{covered_source(cov)[1]} = ?"]
    if unattested:
        conditions.append(f"{pointer} IS NULL")
    if after:
        conditions.append(f"{key} > ?")
    return covered_select(cov, postgres).where(*conditions, order=key, limit=True)


@lru_cache(maxsize=None)
def covered_pointers(cov, n: int) -> sql.Statement:
    """``(key, audit_seq)`` of the organisation's rows of an ``IN`` list of ``n`` keys."""
    t = Table(cov.model, "t")
    key, pointer = getattr(t, cov.key_field.name), getattr(t, cov.pointer)
    source, org = covered_source(cov)
    return sql.Statement(f"SELECT {key}, {pointer} {source} "
                         f"WHERE {org} = ? AND {key} IN ({sql.marks(n)})")


@lru_cache(maxsize=None)
def point_at(cov, n: int) -> sql.Statement:
    """Point an ``IN`` list of ``n`` rows of a covered table at an event (params: seq, keys)."""
    t = Table(cov.model)
    return sql.Statement(f"UPDATE {t} SET {getattr(t, cov.pointer)} = ? "
                         f"WHERE {getattr(t, cov.key_field.name)} IN ({sql.marks(n)})")


# -- people: erasure, access, rights requests (consent.core.rights) -------------------------------

_t = Table(Subject)
ERASE_SUBJECT = sql.Statement(
    f"UPDATE {_t} SET {_t.identifier} = '', {_t.lookup} = NULL, {_t.secret} = NULL, "
    f"{_t.commitment} = ?, {_t.erased_at} = ? WHERE {_t.org} = ? AND {_t.id} = ?")
_t = Table(Consent)
SET_EVIDENCE = sql.Statement(f"UPDATE {_t} SET {_t.evidence} = ? WHERE {_t.seq} = ?")
_t = Table(AuditEvent)
REDACT_EVENT = sql.Statement(
    f"UPDATE {_t} SET {_t.payload} = ? WHERE {_t.org} = ? AND {_t.seq} = ? AND {_t.seq} <= ?")
_t = Table(AuditEvent, "t")
EVENT_AT_SEQ = sql.model_select(AuditEvent).where(*eq(_t.org, _t.seq))


@lru_cache(maxsize=None)
def consents_held_by(n: int) -> sql.Statement:
    """The organisation's consents held by an ``IN`` list of ``n`` (padded) subject ids, in
    order (the (subject, seq) index)."""
    return CONSENT.where(*eq(_c.org), f"{_c.subject} IN ({sql.marks(n)})", order=_c.seq)


@lru_cache(maxsize=None)
def links_of_subjects(n: int) -> sql.Statement:
    """The organisation's identity links from or to an ``IN`` list of ``n`` (padded) subject
    ids (the list twice in the parameters)."""
    t = Table(SubjectLink, "t")
    marks = sql.marks(n)
    return sql.model_select(SubjectLink).where(
        *eq(t.org), f"({t.anonymous} IN ({marks}) OR {t.authenticated} IN ({marks}))",
        order=t.id)


@lru_cache(maxsize=None)
def consent_events_of(n: int) -> sql.Statement:
    """The consent events (model rows) of an ``IN`` list of ``n`` (padded) consent seqs."""
    t = Table(ConsentEvent, "t")
    return sql.model_select(ConsentEvent).where(f"{t.consent} IN ({sql.marks(n)})", order=t.id)


@lru_cache(maxsize=None)
def uses_of(n: int) -> sql.Statement:
    """The uses of an ``IN`` list of ``n`` (padded) consent ids of an organisation."""
    t = Table(ConsentUse, "t")
    return sql.model_select(ConsentUse).where(*eq(t.org), f"{t.consent} IN ({sql.marks(n)})",
                                              order=t.id)


_t = Table(IdempotencyRecord)
FORGET_IDEMPOTENCY = sql.Statement(
    f"DELETE FROM {_t} WHERE {_t.org} = ? AND {_t.body} LIKE ? ESCAPE '\\'")
_t = Table(OutboxMessage)
FORGET_MAIL = sql.Statement(
    f"DELETE FROM {_t} WHERE {_t.org} = ? AND ({_t.to_address} = ? OR {_t.body_text} LIKE ? "
    "ESCAPE '\\')")


@lru_cache(maxsize=None)
def forget_mail_by_id(n: int) -> sql.Statement:
    """Delete the organisation's messages of an ``IN`` list of ``n`` (padded) ids."""
    t = Table(OutboxMessage)
    return sql.Statement(f"DELETE FROM {t} WHERE {t.org} = ? AND {t.id} IN ({sql.marks(n)})")

_t = Table(RightsRequest, "t")
RIGHTS_REQUEST = sql.model_select(RightsRequest)
RIGHTS_REQUEST_BY_ID = RIGHTS_REQUEST.where(*eq(_t.org, _t.id))
RIGHTS_REQUESTS_OF_SUBJECT = RIGHTS_REQUEST.where(*eq(_t.org, _t.subject))
RIGHTS_REQUEST_FILTERS = {
    "status": f"{_t.status} = ?",
    "kind": f"{_t.kind} = ?",
    "source": f"{_t.source} = ?",
    "due_before": f"{_t.due_at} < ?",
}
# The organisation's audit events about one entity within a time window, on the (org, at, seq)
# index (a rights request's steps: consent.core.rights.step_events).
_ae2 = Table(AuditEvent, "a")
EVENTS_ABOUT_NEAR = sql.Statement(
    f"SELECT {_ae2.seq}, {_ae2.event_id}, {_ae2.at}, {_ae2.actor}, {_ae2.action}, {_ae2.hash} "
    f"FROM {_ae2} WHERE {_ae2.org} = ? AND {_ae2.at} >= ? AND {_ae2.at} <= ? "
    f"AND {_ae2.entity_type} = ? AND {_ae2.entity_id} = ? ORDER BY {_ae2.at}, {_ae2.seq}")
# How many of the organisation's requests of a status are due before a time (org, status, due).
RIGHTS_REQUESTS_DUE = RIGHTS_REQUEST.count(*eq(_t.org, _t.status), f"{_t.due_at} < ?")
_t = Table(RightsRequest)
FORGET_REQUESTS = sql.Statement(
    f"UPDATE {_t} SET {_t.identifier} = NULL, {_t.reason} = NULL, {_t.metadata} = NULL "
    f"WHERE {_t.org} = ? AND {_t.subject} = ?")
_t = Table(RetentionPolicy, "t")
RETENTION_POLICY = sql.model_select(RetentionPolicy).where(*eq(_t.org))
RETENTION_POLICIES = sql.model_select(RetentionPolicy).where(order=_t.org)
_t = Table(Subject, "t")
# The organisation's subjects not erased, by id (retention's walk).
SUBJECTS_AFTER = sql.model_select(Subject).where(*eq(_t.org), f"{_t.id} > ?",
                                                 f"{_t.erased_at} IS NULL", order=_t.id,
                                                 limit=True)
