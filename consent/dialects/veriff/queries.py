"""The Veriff dialect's hand-written statements (see :mod:`consent.core.sql`)."""
from __future__ import annotations

from consent.core import sql
from consent.core.storage import Consent

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
SESSION = sql.Select(
    "SessionRow",
    [c for c in sql.columns(VeriffSession, "s") if c.name != "status"] + [
        sql.Column('COALESCE(st."status", s."status")', "status"),
        sql.column("st", VeriffSessionState.attempt),
        sql.column("st", VeriffSessionState.person),
        sql.column("st", VeriffSessionState.document),
    ],
    'FROM "veriff_session" s LEFT JOIN "veriff_session_state" st ON st."session_id" = s."id"')
ACTIVE = 'st."deleted_at" IS NULL'
# PostgreSQL: the session's row only (the state is the nullable side of the join).
LOCK = "FOR UPDATE OF s"
SESSION_OF_INTEGRATION = SESSION.where('s."id" = ?', 's."integration_id" = ?', ACTIVE)
SESSION_OF_INTEGRATION_LOCKED = SESSION.where('s."id" = ?', 's."integration_id" = ?', ACTIVE,
                                              suffix=LOCK)
SESSION_OF_ORG = SESSION.where('s."id" = ?', 's."org_id" = ?', ACTIVE)
SESSION_OF_ORG_LOCKED = SESSION.where('s."id" = ?', 's."org_id" = ?', ACTIVE, suffix=LOCK)
SESSION_BY_ID = SESSION.where('s."id" = ?', ACTIVE)
SESSION_BY_ID_LOCKED = SESSION.where('s."id" = ?', ACTIVE, suffix=LOCK)
SESSION_BY_TOKEN_HASH = SESSION.where('s."token_hash" = ?', ACTIVE)
SESSION_BY_TOKEN_HASH_LOCKED = SESSION.where('s."token_hash" = ?', ACTIVE, suffix=LOCK)
STATE = sql.model_select(VeriffSessionState).where('t."session_id" = ?')

ATTEMPT = sql.model_select(VeriffAttempt)
ATTEMPT_BY_ID = ATTEMPT.where('t."id" = ?')
ATTEMPTS_OF_SESSION = ATTEMPT.where('t."session_id" = ?', order='t."seq"')

INTEGRATION = sql.model_select(VeriffIntegration).where('t."integration_id" = ?')

# Media without their bytes (lists), and one medium with them (GET /v1/media/{id}), each found
# only through a session of the integration that is not deleted.
MEDIA = sql.Select("MediaRow", [c for c in sql.columns(VeriffMedia, "t") if c.name != "content"],
                   'FROM "veriff_media" t')
MEDIA_OF_SESSION = MEDIA.where('t."session_id" = ?', order='t."created_at", t."id"')
MEDIA_OF_ATTEMPT = MEDIA.where('t."attempt_id" = ?', order='t."created_at", t."id"')
MEDIA_FILE = sql.Select(
    "MediaFileRow", sql.columns(VeriffMedia, "m"),
    'FROM "veriff_media" m JOIN "veriff_session" s ON s."id" = m."session_id" '
    'LEFT JOIN "veriff_session_state" st ON st."session_id" = s."id"',
).where('m."id" = ?', 's."integration_id" = ?', ACTIVE)
# An attempt of a session of the integration that is not deleted.
ATTEMPT_OF_INTEGRATION = sql.Select(
    "AttemptOfRow", sql.columns(VeriffAttempt, "t"),
    'FROM "veriff_attempt" t JOIN "veriff_session" s ON s."id" = t."session_id" '
    'LEFT JOIN "veriff_session_state" st ON st."session_id" = s."id"',
).where('t."id" = ?', 's."integration_id" = ?', ACTIVE)

SCREENING = sql.model_select(VeriffScreening).where('t."session_id" = ?')
# A session's consent uploads, newest first, each with the exact text its ledger consent kept.
UPLOADS_OF_SESSION = sql.Select(
    "UploadRow",
    sql.columns(VeriffConsent, "u") + [sql.column("c", Consent.evidence, "evidence")],
    'FROM "veriff_consent" u JOIN "consent" c ON c."id" = u."consent_id"',
).where('u."session_id" = ?', order='u."seq" DESC')
