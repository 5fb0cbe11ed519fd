"""The ledger core's hand-written statements (see :mod:`consent.core.sql`), and the rows they give.

Every statement the core runs on a request's hot path is here, once. Column lists come from the
models, so a column is added in one place (its model) and appears in every row below.
"""
from __future__ import annotations

from . import sql
from .storage import (
    AuditEvent,
    Consent,
    ConsentEvent,
    Credential,
    Notice,
    NoticeVersion,
    Organisation,
    Purpose,
    PurposeVersion,
    Subject,
)

# -- organisations ----------------------------------------------------------------------------------

ORG = sql.model_select(Organisation)
ORG_BY_REF = ORG.where('(t."slug" = ? OR t."id" = ?)')
ORG_BY_SUBDOMAIN = ORG.where('t."subdomain" = ?')
# Writers of one organisation queue on its row (PostgreSQL; SQLite's BEGIN IMMEDIATE already
# serialises every writer). FOR NO KEY UPDATE, not FOR UPDATE: inserting rows that reference the
# organisation takes KEY SHARE on it, which FOR UPDATE would deadlock against.
LOCK_ORG = sql.Statement('SELECT "id" FROM "organisation" WHERE "id" = ? FOR NO KEY UPDATE')


# -- credentials --------------------------------------------------------------------------------------

def scope_set(scopes: str) -> set[str]:
    return set(filter(None, (scopes or "").split(",")))


class _CredentialRecord:
    """Methods of a credential row joined with its organisation."""

    __slots__ = ()

    @property
    def scope_set(self) -> set[str]:
        return scope_set(self.scopes)

    @property
    def org(self):
        return ORG.cls(id=self.org_id, slug=self.org_slug, name=self.org_name,
                       subdomain=self.org_subdomain, created_at=self.org_created_at)


CREDENTIAL = sql.Select(
    "CredentialRecord",
    sql.columns(Credential, "c") + [
        sql.column("o", Organisation.slug, "org_slug"),
        sql.column("o", Organisation.name, "org_name"),
        sql.column("o", Organisation.subdomain, "org_subdomain"),
        sql.column("o", Organisation.created_at, "org_created_at"),
    ],
    'FROM "credential" c JOIN "organisation" o ON o."id" = c."org_id"',
    base=_CredentialRecord)
CREDENTIAL_BY_KEY_HASH = CREDENTIAL.where('c."key_hash" = ?')


# -- subjects and purposes ------------------------------------------------------------------------

SUBJECT_BY_IDENTIFIER = sql.model_select(Subject).where('t."org_id" = ?', 't."identifier" = ?')
PURPOSE_BY_CODE = sql.model_select(Purpose).where('t."org_id" = ?', 't."code" = ?')
PURPOSE_VERSION = sql.model_select(PurposeVersion).where('t."purpose_id" = ?', 't."version" = ?')
NOTICE_BY_CODE = sql.model_select(Notice).where('t."org_id" = ?', 't."code" = ?')
NOTICE_VERSION = sql.model_select(NoticeVersion).where('t."notice_id" = ?', 't."version" = ?')


# -- consents ------------------------------------------------------------------------------------------

# A consent with the identifiers it is known by: ``subject`` (the current holder),
# ``recorded_subject`` (who it was recorded under), ``purpose`` (the code) and ``purpose_name``.
CONSENT_JOINS = ('FROM "consent" c JOIN "subject" h ON h."id" = c."subject_id" '
                 'JOIN "subject" r ON r."id" = c."recorded_subject_id" '
                 'JOIN "purpose" p ON p."id" = c."purpose_id"')
CONSENT_RECORD_COLUMNS = sql.columns(Consent, "c") + [
    sql.column("h", Subject.identifier, "subject"),
    sql.column("r", Subject.identifier, "recorded_subject"),
    sql.column("p", Purpose.code, "purpose"),
    sql.column("p", Purpose.name, "purpose_name"),
]
CONSENT = sql.Select("ConsentRecord", CONSENT_RECORD_COLUMNS, CONSENT_JOINS)
ConsentRecord = CONSENT.cls
CONSENT_BY_ID = CONSENT.where('c."org_id" = ?', 'c."id" = ?')
# A subject's own rows, newest first per purpose (index org, subject, purpose, seq).
CONSENTS_OF_SUBJECT = CONSENT.where('c."org_id" = ?', 'c."subject_id" = ?',
                                    order='c."purpose_id", c."seq" DESC')
# The newest record of a subject and purpose (seq > 0) or the newest after a given one.
NEWER_CONSENT = CONSENT.where('c."org_id" = ?', 'c."subject_id" = ?', 'c."purpose_id" = ?',
                              'c."seq" > ?', order='c."seq" DESC', limit=True)
# Keyset pages in the order they were recorded (export, verify).
CONSENTS_AFTER = CONSENT.where('c."org_id" = ?', 'c."seq" > ?', order='c."seq"', limit=True)

# Filters of the consent list, by name; ``list_consents`` ANDs those given.
CONSENT_FILTERS = {
    "subject_id": 'c."subject_id" = ?',
    "purpose_id": 'c."purpose_id" = ?',
    "status": 'c."status" = ?',
    "source": 'c."source" = ?',
    "date_from": 'c."created_at" >= ?',
    "date_to": 'c."created_at" < ?',
    "before_seq": 'c."seq" < ?',
}

# Verification: each consent with the audit event that recorded it (NULLs when it has none).
CONSENT_AUDIT = sql.Select(
    "ConsentAudit",
    CONSENT_RECORD_COLUMNS + [
        sql.column("a", AuditEvent.payload, "audit_payload"),
        sql.column("a", AuditEvent.event_id, "audit_event"),
    ],
    CONSENT_JOINS + ' LEFT JOIN "audit_event" a ON a."org_id" = c."org_id" '
    'AND a."seq" = c."audit_seq" AND a."entity_id" = c."id"')
CONSENT_AUDIT_AFTER = CONSENT_AUDIT.where('c."org_id" = ?', 'c."seq" > ?', order='c."seq"',
                                          limit=True)
# The mapping events of a range of consents, in order: replayed, they give each one's holder.
MAPPED_EVENTS_BETWEEN = sql.Select(
    "MappedEvent", [sql.column("e", ConsentEvent.consent, "consent_seq"),
                    sql.column("e", ConsentEvent.data)],
    'FROM "consent_event" e').where('e."consent_id" >= ?', 'e."consent_id" <= ?',
                                    "e.\"type\" = 'mapped'", order='e."id"')
# A consent's events after its recording, each with the audit event behind it.
CONSENT_TRAIL = sql.Select(
    "TrailRow",
    [sql.column("e", ConsentEvent.type), sql.column("e", ConsentEvent.at),
     sql.column("e", ConsentEvent.data), sql.column("a", AuditEvent.event_id),
     sql.column("a", AuditEvent.seq), sql.column("a", AuditEvent.action),
     sql.column("a", AuditEvent.actor), sql.column("a", AuditEvent.hash)],
    'FROM "consent_event" e JOIN "audit_event" a ON a."event_id" = e."audit_event_id"',
).where('e."consent_id" = ?', order='e."id"')
TrailRow = CONSENT_TRAIL.row.cls
AUDIT_EVENT_AT = sql.model_select(AuditEvent).where('t."org_id" = ?', 't."seq" = ?')
# A recorded consent the audit chain names but the table lacks.
MISSING_CONSENT = sql.Statement(
    'SELECT a."event_id", a."seq", a."entity_id" FROM "audit_event" a '
    'LEFT JOIN "consent" c ON c."id" = a."entity_id" AND c."org_id" = a."org_id" '
    "WHERE a.\"org_id\" = ? AND a.\"seq\" > ? AND a.\"action\" = 'consent.recorded' "
    'AND c."seq" IS NULL ORDER BY a."seq" LIMIT 1')
COUNT_CONSENTS = sql.Statement('SELECT COUNT(*) FROM "consent" WHERE "org_id" = ?')


# -- audit chain ---------------------------------------------------------------------------------------

AUDIT_HEAD = sql.Statement('SELECT "seq", "hash" FROM "audit_event" WHERE "org_id" = ? '
                           'ORDER BY "seq" DESC LIMIT 1')
AUDIT_EVENT = sql.model_select(AuditEvent)
AUDIT_AFTER = AUDIT_EVENT.where('t."org_id" = ?', 't."seq" > ?', order='t."seq"', limit=True)
AUDIT_FILTERS = {
    "event_id": 't."event_id" = ?',
    "from_seq": 't."seq" >= ?',
    "to_seq": 't."seq" <= ?',
    "since": 't."at" >= ?',
    "until": 't."at" < ?',
}
