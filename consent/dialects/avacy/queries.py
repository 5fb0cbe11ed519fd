"""The Avacy dialect's hand-written statements (see :mod:`consent.core.sql`)."""
from __future__ import annotations

from consent.core import sql
from consent.core.storage import AuditEvent, Consent

from .models import AvacyConsent, AvacyDecision, AvacyWebspace

WEBSPACE = sql.model_select(AvacyWebspace)
WEBSPACE_BY_NUMBER = WEBSPACE.where('t."org_id" = ?', 't."number" = ?')
WEBSPACE_BY_KEY = WEBSPACE.where('t."org_id" = ?', 't."key" = ?')
WEBSPACES_OF_ORG = WEBSPACE.where('t."org_id" = ?', order='t."number"')
LAST_WEBSPACE_NUMBER = sql.Statement(
    'SELECT MAX("number") FROM "avacy_webspace" WHERE "org_id" = ?')

# An archive entry with what its audit event recorded (to check the entry against the chain).
ENTRY = sql.Select(
    "EntryRow",
    sql.columns(AvacyConsent, "a") + [sql.column("e", AuditEvent.payload, "audit_payload")],
    'FROM "avacy_consent" a LEFT JOIN "audit_event" e ON e."event_id" = a."audit_event_id" '
    'AND e."org_id" = a."org_id"')
ENTRY_BY_ID = ENTRY.where('a."org_id" = ?', 'a."id" = ?')

# Filters of the archive list, by name; ``archive.page`` ANDs those given (newest first).
ENTRY_FILTERS = {
    "identifier": 'a."identifier" = ?',
    "webspace_number": 'a."webspace_number" = ?',
    "channel": 'a."channel" = ?',
    "date_from": 'a."created_at" >= ?',
    "date_to": 'a."created_at" < ?',
    "before_id": 'a."id" < ?',
}

# The decisions of some entries, each with its ledger consent's id and status.
DECISION = sql.Select(
    "DecisionRow",
    sql.columns(AvacyDecision, "d") + [
        sql.column("c", Consent.id, "consent_uuid"),
        sql.column("c", Consent.status),
        sql.column("c", Consent.subject, "holder_id"),
        sql.column("c", Consent.purpose, "purpose_id"),
    ],
    'FROM "avacy_decision" d JOIN "consent" c ON c."seq" = d."consent_id"')


def decisions_of(count: int) -> sql.Statement:
    """The decisions of ``count`` entries (``entry_id IN (?, ...)``), in recorded order."""
    marks = ", ".join("?" * count)
    return DECISION.where(f'd."entry_id" IN ({marks})', order='d."consent_id"')


# Is a consent still the newest of its holder and purpose (the binding one)?
NEWER_EXISTS = sql.Statement(
    'SELECT 1 FROM "consent" WHERE "org_id" = ? AND "subject_id" = ? AND "purpose_id" = ? '
    'AND "seq" > ? LIMIT 1')
