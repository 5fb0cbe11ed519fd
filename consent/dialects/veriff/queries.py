"""The Veriff dialect's statements (see :mod:`consent.core.sql`): its own tables only (the core's
are reached through core functions), column names from the models."""
from __future__ import annotations

import collections
import functools

from consent.core import covered, sql
from consent.core.sql import Table, eq

from . import codes
from .models import (
    VeriffAttempt,
    VeriffConsent,
    VeriffIntegration,
    VeriffMedia,
    VeriffScreening,
    VeriffSession,
    VeriffSessionState,
)

# A session with its state: ``status`` is the state's (the creation status for a session that
# has no state row), and deleted sessions are not found.
_s, _st = Table(VeriffSession, "s"), Table(VeriffSessionState, "st")
SESSION = sql.Select(
    "SessionRow",
    [c for c in sql.columns(VeriffSession, "s") if c.name != "status"] + [
        sql.Column(f"COALESCE({_st.status}, {_s.status})", "status"),
        sql.column("st", VeriffSessionState.attempt),
        sql.column("st", VeriffSessionState.person),
        sql.column("st", VeriffSessionState.document),
    ],
    f"FROM {_s} LEFT JOIN {_st} ON {_st.session} = {_s.id}")
ACTIVE = f"{_st.deleted_at} IS NULL"
# PostgreSQL: the session's row only (the state is the nullable side of the join).
LOCK = "FOR UPDATE OF s"
SESSION_OF_INTEGRATION = SESSION.where(*eq(_s.id, _s.integration), ACTIVE)
SESSION_OF_INTEGRATION_LOCKED = SESSION.where(*eq(_s.id, _s.integration), ACTIVE, suffix=LOCK)
SESSION_OF_ORG = SESSION.where(*eq(_s.id, _s.org), ACTIVE)
SESSION_OF_ORG_LOCKED = SESSION.where(*eq(_s.id, _s.org), ACTIVE, suffix=LOCK)
SESSION_BY_ID = SESSION.where(*eq(_s.id), ACTIVE)
SESSION_BY_ID_LOCKED = SESSION.where(*eq(_s.id), ACTIVE, suffix=LOCK)
SESSION_BY_TOKEN_HASH = SESSION.where(*eq(_s.token_hash), ACTIVE)
SESSION_BY_TOKEN_HASH_LOCKED = SESSION.where(*eq(_s.token_hash), ACTIVE, suffix=LOCK)
# The expiry sweep (lifecycle.expire_due): sessions still waiting for their end-user, created
# before the cutoff (now minus the lifetime), found through the state's status index (the
# open sessions are few; the decided ones are never walked).
_OPEN = ", ".join(f"'{status}'" for status in codes.OPEN)
EXPIRY = sql.Select("DueSessionRow", [sql.column("s", VeriffSession.id),
                                      sql.column("s", VeriffSession.org)],
                    f"FROM {_st} JOIN {_s} ON {_s.id} = {_st.session}")
_DUE = (f"{_st.status} IN ({_OPEN})", ACTIVE, f"{_s.created_at} <= ?")
EXPIRY_DUE = EXPIRY.where(*_DUE, limit=True)
EXPIRY_DUE_OF_ORG = EXPIRY.where(*eq(_s.org), *_DUE, limit=True)
# The operator console: an organisation's sessions newest first, keyset pages on (created_at,
# id) through the (org, created_at, id) index, each with its decided attempt (if any).
_da = Table(VeriffAttempt, "da")
SESSION_LISTED = sql.Select(
    "ListedSessionRow",
    [sql.column("s", VeriffSession.id), sql.column("s", VeriffSession.integration),
     sql.column("s", VeriffSession.created_at),
     sql.Column(f"COALESCE({_st.status}, {_s.status})", "status"),
     sql.column("da", VeriffAttempt.code, "decision_code"),
     sql.column("da", VeriffAttempt.reason, "decision_reason"),
     sql.column("da", VeriffAttempt.decided_at, "decided_at")],
    f"FROM {_s} LEFT JOIN {_st} ON {_st.session} = {_s.id} "
    f"LEFT JOIN {_da} ON {_da.id} = {_st.attempt}")
_NEWEST = f"{_s.created_at} DESC, {_s.id} DESC"
SESSIONS_OF_ORG = SESSION_LISTED.where(*eq(_s.org), ACTIVE, order=_NEWEST, limit=True)
SESSIONS_OF_ORG_BEFORE = SESSION_LISTED.where(
    *eq(_s.org), ACTIVE, f"({_s.created_at} < ? OR ({_s.created_at} = ? AND {_s.id} < ?))",
    order=_NEWEST, limit=True)
_t = Table(VeriffSessionState, "t")
STATE = sql.model_select(VeriffSessionState).where(*eq(_t.session))

_t = Table(VeriffAttempt, "t")
ATTEMPT = sql.model_select(VeriffAttempt)
ATTEMPT_BY_ID = ATTEMPT.where(*eq(_t.id))
ATTEMPTS_OF_SESSION = ATTEMPT.where(*eq(_t.session), order=_t.seq)

_t = Table(VeriffIntegration, "t")
INTEGRATION = sql.model_select(VeriffIntegration).where(*eq(_t.integration))

# Media without their bytes (lists), and one medium with them (GET /v1/media/{id}), each found
# only through a session of the integration that is not deleted.
_m = Table(VeriffMedia, "t")
MEDIA = sql.Select("MediaRow", [c for c in sql.columns(VeriffMedia, "t") if c.name != "content"],
                   f"FROM {_m}")
MEDIA_OF_SESSION = MEDIA.where(*eq(_m.session), order=f"{_m.created_at}, {_m.id}")
MEDIA_OF_ATTEMPT = MEDIA.where(*eq(_m.attempt_id), order=f"{_m.created_at}, {_m.id}")
_mf = Table(VeriffMedia, "m")
MEDIA_FILE = sql.Select(
    "MediaFileRow", sql.columns(VeriffMedia, "m"),
    f"FROM {_mf} JOIN {_s} ON {_s.id} = {_mf.session} LEFT JOIN {_st} ON {_st.session} = {_s.id}",
).where(*eq(_mf.id, _s.integration), ACTIVE)
# An attempt of a session of the integration that is not deleted.
_a = Table(VeriffAttempt, "t")
ATTEMPT_OF_INTEGRATION = sql.Select(
    "AttemptOfRow", sql.columns(VeriffAttempt, "t"),
    f"FROM {_a} JOIN {_s} ON {_s.id} = {_a.session} LEFT JOIN {_st} ON {_st.session} = {_s.id}",
).where(*eq(_a.id, _s.integration), ACTIVE)

_t = Table(VeriffScreening, "t")
SCREENING = sql.model_select(VeriffScreening).where(*eq(_t.session))
# A session's consent uploads, newest first (their ledger consents: ledger.consents_by_id).
_u = Table(VeriffConsent, "t")
UPLOADS_OF_SESSION = sql.model_select(VeriffConsent).where(*eq(_u.session),
                                                          order=f"{_u.seq} DESC")
# An upload with its ledger consent's evidence (which keeps the exact text).
UploadRow = collections.namedtuple("UploadRow", (*UPLOADS_OF_SESSION.row.names, "evidence"))


# -- rows as the audit chain covers them (consent.core.covered: to change them through an event) --

_cs, _cm = Table(VeriffSession, "t"), Table(VeriffMedia, "t")
MEDIA_UNATTACHED = f"{_cm.attempt_id} IS NULL"      # uploaded while no attempt was in progress
MEDIA_HOLDING_BYTES = f"{_cm.content} IS NOT NULL"  # not erased


def covered_session() -> sql.Statement:
    """A session's row (by id) as the chain covers it."""
    return covered.of(VeriffSession).select.where(*eq(_cs.id))


def covered_media(condition: str) -> sql.Statement:
    """A session's media (by session id) that meet ``condition`` (one of the fragments above),
    as the chain covers them (the bytes as their SHA-256, computed by the database)."""
    return covered.of(VeriffMedia).select.where(*eq(_cm.session), condition, order=_cm.id)


# -- people's rights (consent.dialects.veriff.people) ---------------------------------------------

def sessions_of_subject() -> sql.Statement:
    """The sessions of a subject (params: org, its keyed lookup; by the (org, subject_lookup)
    index), deleted ones included, as the chain covers them (to erase them through an event)."""
    return covered.of(VeriffSession).select.where(*eq(_cs.org, _cs.subject_lookup), order=_cs.id)


def media_held_before() -> sql.Statement:
    """A session's media still holding their bytes, received before a cutoff (params: session
    id, cutoff), as the chain covers them."""
    return covered.of(VeriffMedia).select.where(
        *eq(_cm.session), MEDIA_HOLDING_BYTES, f"{_cm.created_at} < ?", order=_cm.id)


# A session (deleted or not) with its state, as the lifecycle reads it.
SESSION_ANY = SESSION.where(*eq(_s.id))
_uc = Table(VeriffConsent, "t")


@functools.lru_cache(maxsize=None)
def uploads_of_consents(n: int) -> sql.Statement:
    """The consent uploads of an ``IN`` list of ``n`` (padded) ledger consent ids."""
    return sql.model_select(VeriffConsent).where(f"{_uc.consent} IN ({sql.marks(n)})",
                                                 order=_uc.seq)


# Retention: the sessions of an organisation holding bytes of media received before a cutoff.
_rm, _rs = Table(VeriffMedia, "m"), Table(VeriffSession, "s")
SESSIONS_WITH_MEDIA_BEFORE = sql.Statement(
    f"SELECT DISTINCT {_rm.session} FROM {_rm} JOIN {_rs} ON {_rs.id} = {_rm.session} "
    f"WHERE {_rs.org} = ? AND {_rm.content} IS NOT NULL AND {_rm.created_at} < ? "
    f"ORDER BY {_rm.session} LIMIT ?")
