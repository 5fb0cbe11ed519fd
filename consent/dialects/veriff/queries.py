"""The Veriff dialect's hand-written statements (see :mod:`consent.core.sql`)."""
from __future__ import annotations

from consent.core import sql
from consent.core.storage import Consent

from .models import VeriffConsent, VeriffMedia, VeriffSession

SESSION = sql.model_select(VeriffSession)
SESSION_OF_INTEGRATION = SESSION.where('t."id" = ?', 't."integration_id" = ?')
SESSION_OF_INTEGRATION_LOCKED = SESSION.where('t."id" = ?', 't."integration_id" = ?',
                                              suffix="FOR UPDATE")
SESSION_BY_TOKEN_HASH = SESSION.where('t."token_hash" = ?')
MEDIA_OF_SESSION = sql.model_select(VeriffMedia).where('t."session_id" = ?',
                                                       order='t."created_at", t."id"')
# A session's consent uploads, newest first, each with the exact text its ledger consent kept.
UPLOADS_OF_SESSION = sql.Select(
    "UploadRow",
    sql.columns(VeriffConsent, "u") + [sql.column("c", Consent.evidence, "evidence")],
    'FROM "veriff_consent" u JOIN "consent" c ON c."id" = u."consent_id"',
).where('u."session_id" = ?', order='u."seq" DESC')
