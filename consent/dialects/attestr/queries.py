"""The Attestr dialect's hand-written statements (see :mod:`consent.core.sql`)."""
from __future__ import annotations

from consent.core import sql


from .models import AttestrAsync, AttestrClient, AttestrConsent, AttestrMedia

CLIENT = sql.model_select(AttestrClient).where('t."credential_id" = ?')
DEBIT = sql.Statement('UPDATE "attestr_client" SET "credits" = "credits" - 1 '
                      'WHERE "credential_id" = ? AND "credits" > 0')
CREDITS = sql.Statement('SELECT "credits" FROM "attestr_client" WHERE "credential_id" = ?')

CONSENT = sql.model_select(AttestrConsent)
CONSENT_BY_ID = CONSENT.where('t."id" = ?')
CONSENT_OF_ORG = CONSENT.where('t."org_id" = ?', 't."id" = ?')
CONSENT_BY_REFERENCE = CONSENT.where('t."client_id" = ?', 't."reference_id" = ?')
CONSENT_BY_LEDGER_ID = CONSENT.where('t."consent_id" = ?')
NUMBER_TAKEN = sql.Statement('SELECT 1 FROM "attestr_consent" WHERE "number" = ? '
                             'UNION ALL SELECT 1 FROM "attestr_async" WHERE "number" = ?')
# The expiry sweep: consents whose validity ended and that nothing else ended first; a claim
# (an update on condition that ``sweep_at`` is still set) succeeds for exactly one process (the
# organisation's lock on PostgreSQL, the write lock on SQLite). Revoking and consuming clear
# ``sweep_at`` the same way.
EXPIRY_DUE = CONSENT.where('t."sweep_at" IS NOT NULL', 't."sweep_at" <= ?',
                           order='t."sweep_at"', limit=True)
# ... of one organisation (control mode: its own clock moved)
EXPIRY_DUE_OF_ORG = CONSENT.where('t."org_id" = ?', 't."sweep_at" IS NOT NULL',
                                  't."sweep_at" <= ?', order='t."sweep_at"', limit=True)

ASYNC = sql.model_select(AttestrAsync)
ASYNC_BY_ID = ASYNC.where('t."id" = ?')
ASYNC_OF_ORG = ASYNC.where('t."org_id" = ?', 't."id" = ?')
ASYNC_DUE = ASYNC.where("t.\"status\" = 'pending'",
                        '(t."lease_until" IS NULL OR t."lease_until" < ?)',
                        order='t."created_at"', limit=True)
CLAIM_ASYNC = sql.Statement(
    'UPDATE "attestr_async" SET "lease_until" = ?, "attempts" = "attempts" + 1 '
    "WHERE \"id\" = ? AND \"status\" = 'pending' "
    'AND ("lease_until" IS NULL OR "lease_until" < ?)')

MEDIA_OF_ORG = sql.model_select(AttestrMedia).where('t."org_id" = ?', 't."id" = ?')

# Rate limits: one row per (client, scope, unit, window), counted up atomically.
COUNT_HIT = sql.Statement(
    'INSERT INTO "attestr_rate_counter" ("client_id", "scope", "unit", "window_start", "count") '
    'VALUES (?, ?, ?, ?, 1) ON CONFLICT ("client_id", "scope", "unit", "window_start") '
    'DO UPDATE SET "count" = "attestr_rate_counter"."count" + 1 RETURNING "count"')
PURGE_COUNTERS = sql.Statement('DELETE FROM "attestr_rate_counter" '
                               'WHERE "unit" = ? AND "window_start" < ?')

