"""What the Veriff endpoints do to the database. Every write is one transaction with its audit event.

Consent mapping (Veriff upload -> ledger decision):

* subject: the session's ``vendorData`` when the session was created with one (Veriff documents it
  as the customer's own identifier of the end-user, so the ledger joins it with that person's other
  consents), else ``veriff-session:<session id>``. A vendorData longer than the ledger's 255
  characters, or blank, falls back to the session form.
* purpose: ``veriff:<type>`` (``veriff:ine``, ``veriff:bipa``, ``veriff:aadhaar``).
* status: ``granted`` when ``approved`` is true, else ``denied``; source ``veriff``.
* notice_version: the SHA-256 (hex) of the exact consent text.
* evidence: the session id, type, approved flag, the exact text, the integration (credential id)
  and the API key's prefix.

The ledger keeps every upload (records are never updated); the newest per (subject, purpose) is
its current state. Veriff's own rule, "the latest upload per session is binding", is what
``GET /v1/sessions/{id}/consents`` marks: exactly one ``binding: true``, the newest.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets

from consent.core import audit, ledger, sql
from consent.core.storage import is_postgres, transaction, utcnow

from . import queries
from .models import SESSION_SUBMITTED, VeriffConsent, VeriffMedia, VeriffSession

SUBJECT_PREFIX = "veriff-session:"
PURPOSE_PREFIX = "veriff:"
PURPOSE_NAMES = {
    "ine": "Veriff INE database check (Mexico)",
    "bipa": "Veriff biometric data processing (BIPA, Illinois)",
    "aadhaar": "Veriff Aadhaar verification (India)",
}


class SessionStateError(Exception):
    """The session is in a state that refuses this operation."""


class BadMedia(Exception):
    """The image content is not valid base64."""


def actor_for(cred) -> str:
    return f"credential:{cred.id}"


def subject_for(session) -> str:
    vendor = (session.vendor_data or "").strip()
    if vendor and len(vendor) <= 255:
        return vendor
    return SUBJECT_PREFIX + session.id


def find_session(cred, session_id: str, *, lock: bool = False):
    """The session with this id belonging to this integration, or None. ``lock``: hold the row
    (PostgreSQL; on SQLite the write transaction already excludes other writers)."""
    statement = (queries.SESSION_OF_INTEGRATION_LOCKED if lock and is_postgres()
                 else queries.SESSION_OF_INTEGRATION)
    return statement.one((session_id, cred.id))


def session_by_token(token: str):
    """The session a session token (the last part of its ``url``) names, or None."""
    return queries.SESSION_BY_TOKEN_HASH.one((hashlib.sha256(token.encode()).hexdigest(),))


def _open_session(cred, session_id: str):
    """Inside a write transaction: the integration's session, locked, or None; raises
    SessionStateError once it is submitted (nothing more may be added to it)."""
    session = find_session(cred, session_id, lock=True)
    if session is not None and session.status == SESSION_SUBMITTED:
        raise SessionStateError()
    return session


def create_session(cred, verification: dict):
    """Returns (session, session token)."""
    token = secrets.token_urlsafe(32)
    vendor_data = verification.get("vendorData")
    with transaction():
        session = sql.create(
            VeriffSession, org_id=cred.org_id, integration_id=cred.id, vendor_data=vendor_data,
            end_user_id=verification.get("endUserId"), callback=verification.get("callback"),
            token_hash=hashlib.sha256(token.encode()).hexdigest())
        audit.append(cred.org_id, actor=actor_for(cred), action="veriff.session.created",
                     entity_type="veriff_session", entity_id=session.id, payload={
                         "integration": cred.id, "vendorData": vendor_data,
                         "callback": session.callback,
                         # which parts were sent, not their (personal) content
                         "sent": sorted(k for k, v in verification.items() if v is not None)})
    return session, token


_DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[^,]*)?;base64,", re.I)
_MAGIC = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"),
          (b"%PDF", "application/pdf"), (b"GIF8", "image/gif"))


def decode_image(content: str) -> tuple[bytes, str | None]:
    declared = None
    match = _DATA_URI.match(content)
    if match:
        declared = match.group("mime")
        content = content[match.end():]
    try:
        data = base64.b64decode("".join(content.split()), validate=True)
    except (binascii.Error, ValueError):
        raise BadMedia() from None
    if not data:
        raise BadMedia()
    mimetype = next((m for magic, m in _MAGIC if data.startswith(magic)), None)
    if mimetype is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        mimetype = "image/webp"
    if mimetype is None and data[4:8] == b"ftyp":
        mimetype = "image/heic"
    return data, mimetype or declared


def add_media(cred, session_id: str, image: dict):
    """Returns the new media row, or None when the session is not this integration's."""
    data, mimetype = decode_image(image["content"])
    digest = hashlib.sha256(data).hexdigest()
    with transaction():
        session = _open_session(cred, session_id)
        if session is None:
            return None
        media = sql.create(VeriffMedia, session_id=session.id, context=image["context"],
                           timestamp=image.get("timestamp"), size=len(data), sha256=digest,
                           mimetype=mimetype)
        audit.append(cred.org_id, actor=actor_for(cred), action="veriff.media.added",
                     entity_type="veriff_media", entity_id=media.id, payload={
                         "session": session.id, "context": media.context, "size": media.size,
                         "sha256": digest, "mimetype": mimetype,
                         "timestamp": media.timestamp.isoformat() if media.timestamp else None})
    return media


def list_media(session) -> list:
    return queries.MEDIA_OF_SESSION.all((session.id,))


def submit_session(cred, session_id: str, verification: dict):
    """Mark the session submitted. Submitting again changes nothing. None when not found."""
    with transaction():
        session = find_session(cred, session_id, lock=True)
        if session is None or session.status == SESSION_SUBMITTED:
            return session
        now = utcnow()
        VeriffSession.update(status=SESSION_SUBMITTED, submitted_at=now).where(
            VeriffSession.id == session.id).execute()
        session = session._replace(status=SESSION_SUBMITTED, submitted_at=now)
        audit.append(cred.org_id, actor=actor_for(cred), action="veriff.session.submitted",
                     entity_type="veriff_session", entity_id=session.id, at=now, payload={
                         "frontState": verification.get("frontState"),
                         "timestamp": verification.get("timestamp")})
    return session


def record_consent(cred, session_id: str, upload: dict):
    """Record one consent upload. Returns the VeriffConsent row, or None when not found.
    Raises SessionStateError once the session is submitted."""
    text = upload["text"]
    with transaction():
        session = _open_session(cred, session_id)
        if session is None:
            return None
        recorded = ledger.in_transaction_record(cred.org_id, [ledger.Decision(
            subject=subject_for(session), purpose=PURPOSE_PREFIX + upload["type"],
            purpose_name=PURPOSE_NAMES[upload["type"]],
            status="granted" if upload["approved"] else "denied", source="veriff",
            notice_version=hashlib.sha256(text.encode()).hexdigest(),
            evidence={"veriff_session_id": session.id, "type": upload["type"],
                      "approved": upload["approved"], "text": text,
                      "integration": cred.id, "api_key_prefix": cred.key_prefix},
        )], actor=actor_for(cred))[0].consent
        return sql.create(VeriffConsent, session_id=session.id, consent_id=recorded.id,
                          type=upload["type"], approved=upload["approved"],
                          created_at=recorded.created_at)


def session_consents(session) -> list:
    """The session's consent uploads newest first, each with its exact text in ``evidence``."""
    return queries.UPLOADS_OF_SESSION.all((session.id,))
