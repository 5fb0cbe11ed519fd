"""The Attestr dialect's statements (see :mod:`consent.core.sql`): its own tables only (the ledger
consents its rows name are reached through core functions), column names from the models."""
from __future__ import annotations

from consent.core import sql
from consent.core.sql import Table, eq

from .models import AttestrAsync, AttestrClient, AttestrConsent, AttestrMedia, AttestrRateCounter

_t = Table(AttestrClient, "t")
CLIENT = sql.model_select(AttestrClient).where(*eq(_t.credential))
CLIENTS_OF_ORG = sql.model_select(AttestrClient).where(*eq(_t.org), order=_t.created_at)
_c = Table(AttestrClient)
DEBIT = sql.Statement(f"UPDATE {_c} SET {_c.credits} = {_c.credits} - 1 "
                      f"WHERE {_c.credential} = ? AND {_c.credits} > 0")
CREDITS = sql.Statement(f"SELECT {_c.credits} FROM {_c} WHERE {_c.credential} = ?")

_t = Table(AttestrConsent, "t")
CONSENT = sql.model_select(AttestrConsent)
CONSENT_BY_ID = CONSENT.where(*eq(_t.id))
# What the API knows: a consent whose person was erased is no consent of the account any more.
ERASED = "[erased]"   # consent.core.personal.ERASED, in an erased consent's reference_id
KNOWN = f"{_t.reference_id} <> '{ERASED}'"
CONSENT_OF_ORG = CONSENT.where(*eq(_t.org, _t.id), KNOWN)
# The operator console: an organisation's consents newest first, keyset pages on (created_at,
# id) through the (org, created_at, id) index.
_NEWEST = f"{_t.created_at} DESC, {_t.id} DESC"
_BEFORE = f"({_t.created_at} < ? OR ({_t.created_at} = ? AND {_t.id} < ?))"
CONSENTS_OF_ORG = CONSENT.where(*eq(_t.org), KNOWN, order=_NEWEST, limit=True)
CONSENTS_OF_ORG_BEFORE = CONSENT.where(*eq(_t.org), KNOWN, _BEFORE, order=_NEWEST, limit=True)
# by the keyed hash of its reference id (consents.reference_lookup)
CONSENT_BY_REFERENCE = CONSENT.where(*eq(_t.client, _t.reference_lookup))
CONSENT_BY_LEDGER_ID = CONSENT.where(*eq(_t.consent))
_ac, _aa = Table(AttestrConsent), Table(AttestrAsync)
NUMBER_TAKEN = sql.Statement(f"SELECT 1 FROM {_ac} WHERE {_ac.number} = ? "
                             f"UNION ALL SELECT 1 FROM {_aa} WHERE {_aa.number} = ?")
# The expiry sweep: consents whose validity ended and that nothing else ended first; a claim
# (an update on condition that ``sweep_at`` is still set) succeeds for exactly one process (the
# organisation's lock on PostgreSQL, the write lock on SQLite). Revoking and consuming clear
# ``sweep_at`` the same way.
EXPIRY_DUE = CONSENT.where(f"{_t.sweep_at} IS NOT NULL", f"{_t.sweep_at} <= ?",
                           order=_t.sweep_at, limit=True)
# ... of one organisation (control mode: its own clock moved)
EXPIRY_DUE_OF_ORG = CONSENT.where(*eq(_t.org), f"{_t.sweep_at} IS NOT NULL",
                                  f"{_t.sweep_at} <= ?", order=_t.sweep_at, limit=True)
# Conditions of updates of one consent (``event.update(..., condition=...)``).
NOT_REVOKED = f"{_ac.revoked_at} IS NULL"
NOT_CONSUMED = f"{_ac.consumed_at} IS NULL"
STILL_SWEPT = f"{_ac.sweep_at} IS NOT NULL"

_t = Table(AttestrAsync, "t")
ASYNC = sql.model_select(AttestrAsync)
ASYNC_BY_ID = ASYNC.where(*eq(_t.id))
ASYNC_OF_CONSENT = ASYNC.where(*eq(_t.attestr_consent))   # a few per consent
# People's rights: an erased consent's export files go (the workbook names the person).
DETACH_MEDIA = sql.Statement(f"UPDATE {_aa} SET {_aa.media} = NULL "
                             f"WHERE {_aa.attestr_consent} = ?")
ASYNC_OF_ORG = ASYNC.where(*eq(_t.org, _t.id))
# The operator console: an organisation's jobs newest first (the (org, created_at, id) index).
_NEWEST = f"{_t.created_at} DESC, {_t.id} DESC"
_BEFORE = f"({_t.created_at} < ? OR ({_t.created_at} = ? AND {_t.id} < ?))"
JOBS_OF_ORG = ASYNC.where(*eq(_t.org), order=_NEWEST, limit=True)
JOBS_OF_ORG_BEFORE = ASYNC.where(*eq(_t.org), _BEFORE, order=_NEWEST, limit=True)
ASYNC_DUE = ASYNC.where(f"{_t.status} = 'pending'",
                        f"({_t.lease_until} IS NULL OR {_t.lease_until} < ?)",
                        order=_t.created_at, limit=True)
CLAIM_ASYNC = sql.Statement(
    f"UPDATE {_aa} SET {_aa.lease_until} = ?, {_aa.attempts} = {_aa.attempts} + 1 "
    f"WHERE {_aa.id} = ? AND {_aa.status} = 'pending' "
    f"AND ({_aa.lease_until} IS NULL OR {_aa.lease_until} < ?)")

_t = Table(AttestrMedia, "t")
MEDIA_OF_ORG = sql.model_select(AttestrMedia).where(*eq(_t.org, _t.id))
_m = Table(AttestrMedia)
DELETE_MEDIA = sql.Statement(f"DELETE FROM {_m} WHERE {_m.org} = ? AND {_m.id} = ?")

# Rate limits: one row per (client, scope, unit, window), counted up atomically.
_r = Table(AttestrRateCounter)
_KEY = f"{_r.client_id}, {_r.scope}, {_r.unit}, {_r.window_start}"
COUNT_HIT = sql.Statement(
    f"INSERT INTO {_r} ({_KEY}, {_r.count}) VALUES (?, ?, ?, ?, 1) ON CONFLICT ({_KEY}) "
    f"DO UPDATE SET {_r.count} = {_r}.{_r.count} + 1 RETURNING {_r.count}")
PURGE_COUNTERS = sql.Statement(f"DELETE FROM {_r} WHERE {_r.unit} = ? AND {_r.window_start} < ?")
