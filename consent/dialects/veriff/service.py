"""What the Veriff endpoints do to the database. Every write is one transaction with its audit event.

Consent mapping (Veriff upload -> ledger decision):

* subject: the session's ``vendorData`` when the session was created with one (Veriff documents it
  as the customer's own identifier of the end-user, so the ledger joins it with that person's other
  consents), else ``veriff-session:<session id>``. A vendorData longer than the ledger's 255
  characters, or blank, falls back to the session form. The session keeps the keyed hash of that
  identifier (``VeriffSession.subject_lookup``), which its person's erasure and access report
  find it by (:mod:`.people`).
* purpose: ``veriff:<type>`` (``veriff:ine``, ``veriff:bipa``, ``veriff:aadhaar``).
* status: ``granted`` when ``approved`` is true, else ``denied``; source ``veriff``.
* notice_version: the SHA-256 (hex) of the exact consent text.
* evidence: the session id, type, approved flag, the exact text, the integration (credential id)
  and the API key's prefix.

The ledger keeps every upload (records are never updated); the newest per (subject, purpose) is
its current state. Veriff's own rule, "the latest upload per session is binding", is what
``GET /v1/sessions/{id}/consents`` marks: exactly one ``binding: true``, the newest.

A session's token (the last part of its ``url``, which opens its flow page) is derived, not
stored: the HMAC-SHA256 of the session id with the service's secret key (:func:`session_token`),
so ``PATCH /v1/sessions/{id}`` can hand it out again as Veriff does; only its SHA-256 is in the
database, to find the session by it. A session whose token was made otherwise (before this
version, or under a secret key since rotated out) gets a new one at its next ``PATCH``.

Media keep their bytes (``GET /v1/media/{id}``) until the session is deleted, and the attempt
they belong to (``GET /v1/attempts/{id}/media``).

How a session moves (started, submitted, decided, deleted) is :mod:`.lifecycle`; the functions
here find the session (by integration, organisation, id or page token), hold it, and call it.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from types import SimpleNamespace

from consent.core import audit, auth, ledger, personal
from consent.core.errors import Conflict, Invalid, NotFound
from consent.core.storage import new_uuid, transaction

from . import codes, lifecycle, queries, screening, webhooks
from .lifecycle import SessionStateError
from .models import VeriffConsent, VeriffMedia, VeriffSession, VeriffSessionState

SUBJECT_PREFIX = "veriff-session:"
PURPOSE_PREFIX = "veriff:"
PURPOSE_NAMES = {
    "ine": "Veriff INE database check (Mexico)",
    "bipa": "Veriff biometric data processing (BIPA, Illinois)",
    "aadhaar": "Veriff Aadhaar verification (India)",
}
# What is kept of the person and document a session is created with (strings only): the decision
# and GET /person return them. Never written to the audit chain.
PERSON_KEYS = ("firstName", "lastName", "fullName", "idNumber", "gender", "dateOfBirth",
               "nationality", "citizenship", "placeOfBirth", "email", "phoneNumber")
DOCUMENT_KEYS = ("number", "type", "country", "validFrom", "validUntil", "firstIssue",
                 "category")

__all__ = ["SessionStateError"]


class BadMedia(Exception):
    """The image content is not valid base64."""


def actor_for(cred) -> str:
    return f"credential:{cred.id}"


def subject_for(session) -> str:
    """The ledger subject a session's consents are recorded under (see the module's
    docstring), and the person its data is about (``consent.dialects.veriff.people``)."""
    vendor = personal.normalise(session.vendor_data or "")
    if vendor and len(vendor) <= 255:
        return vendor
    return SUBJECT_PREFIX + session.id


def subject_lookup(org_id: str, session_id: str, vendor_data: str | None) -> str:
    """Inside a write transaction: the keyed hash of the session's subject
    (``consent.core.personal.lookup``; the organisation's key, and the subject, made if there
    is none yet), which the session is found by for its person
    (``VeriffSession.subject_lookup``)."""
    identifier = subject_for(SimpleNamespace(id=session_id, vendor_data=vendor_data))
    # the person's subject, made now if the session is its first record: their erasure and
    # access report find them even before any consent is uploaded
    ledger.ensure_subject(org_id, identifier)
    return personal.lookup(org_id, identifier, create=True)


def fresh(session):
    """A session as it answers now: one past its lifetime is expired first, in a transaction
    of its own (:func:`lifecycle.expire_one`), so it never answers as live before the sweep
    reaches it. Outside a transaction."""
    if not lifecycle.lapsed(session):
        return session
    with transaction():
        lifecycle.expire_one(session.id)
    return queries.SESSION_BY_ID.one((session.id,))


def find_session(cred, session_id: str, *, lock: bool = False):
    """The session with this id belonging to this integration, or None. ``lock``: hold the row
    (inside a write transaction). Either way a session past its lifetime is expired first."""
    if lock:
        return lifecycle.locked(queries.SESSION_OF_INTEGRATION, (session_id, cred.id))
    return fresh(queries.SESSION_OF_INTEGRATION.one((session_id, cred.id)))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _keys(secret_key) -> list:
    keys = list(secret_key) if isinstance(secret_key, (list, tuple)) else [secret_key]
    return [k.encode() if isinstance(k, str) else k for k in keys]


def session_token(secret_key, session_id: str, *, key=None) -> str:
    """The session's token: HMAC-SHA256 of its id with the (newest) secret key, base64url."""
    key = key if key is not None else _keys(secret_key)[-1]
    digest = hmac.new(key, f"veriff-session-token.v1:{session_id}".encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_of(session, secret_key, actor: str) -> str:
    """Inside a write transaction holding the session: the token its ``url`` carries. One made
    otherwise than :func:`session_token` with a current key is replaced (an audit event), and
    the old URL stops opening the flow page."""
    for key in reversed(_keys(secret_key)):
        token = session_token(secret_key, session.id, key=key)
        if token_hash(token) == session.token_hash:
            return token
    token = session_token(secret_key, session.id)
    event = audit.begin(session.org_id)
    row = queries.covered_session().one((session.id,))
    event.update(VeriffSession, row, token_hash=token_hash(token))
    event.append(actor=actor, action="veriff.session.token_reissued",
                 entity_type="veriff_session", entity_id=session.id, payload={})
    return token


def session_by_token(token: str):
    """The session a session token (the last part of its ``url``) names, or None."""
    return fresh(queries.SESSION_BY_TOKEN_HASH.one((token_hash(token),)))


def _open_session(cred, session_id: str):
    """Inside a write transaction: the integration's session, locked, or None; raises
    SessionStateError once it is submitted (nothing more may be added to it until a
    resubmission is requested)."""
    session = find_session(cred, session_id, lock=True)
    if session is not None and session.status not in codes.OPEN:
        raise SessionStateError(session.status)
    return session


def _kept(given: dict | None, keys: tuple[str, ...]) -> dict | None:
    if not given:
        return None
    kept = {k: given[k] for k in keys if isinstance(given.get(k), str)}
    return kept or None


def create_integration(org, name: str = "veriff integration", actor: str = "system",
                       event_url: str | None = None, decision_url: str | None = None):
    """An integration: a credential of kind ``hmac`` (API key + shared secret), its API key kept
    for its webhooks, and its webhook URLs if given. One transaction."""
    with transaction():
        issued = auth.create_credential(org.id, kind="hmac", name=name, scopes=("consent",),
                                        actor=actor)
        webhooks.remember_key(issued.credential, issued.key)
        if event_url or decision_url:
            webhooks.configure(org, issued.credential.id, event_url=event_url,
                               decision_url=decision_url, actor=actor)
    return issued


def create_session(cred, verification: dict, secret_key):
    """Returns (session, session token). The ``verification`` object is kept as sent (the
    state's ``request``), its person and document also as the decision shows them."""
    session_id = new_uuid()
    token = session_token(secret_key, session_id)
    vendor_data = verification.get("vendorData")
    person = _kept(verification.get("person"), PERSON_KEYS)
    document = _kept(verification.get("document"), DOCUMENT_KEYS)
    with transaction():
        event = audit.begin(cred.org_id)
        # the rows hold personal data: audit.Pending salts their hashes (see models)
        session = event.create(
            VeriffSession, id=session_id, org_id=cred.org_id, integration_id=cred.id,
            vendor_data=vendor_data, end_user_id=verification.get("endUserId"),
            callback=verification.get("callback"), token_hash=token_hash(token),
            subject_lookup=subject_lookup(cred.org_id, session_id, vendor_data))
        event.create(VeriffSessionState, session_id=session.id, status=session.status,
                     person=person, document=document, updated_at=session.created_at,
                     request=verification)
        # no personal data in the chain: which parts were sent, not their content
        event.append(actor=actor_for(cred), action="veriff.session.created",
                     entity_type="veriff_session", entity_id=session.id, payload={
                         "integration": cred.id,
                         "sent": sorted(k for k, v in verification.items() if v is not None)})
    return queries.SESSION_OF_INTEGRATION.one((session.id, cred.id)), token


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
    find_session(cred, session_id)   # one past its lifetime expires first (then refuses this)
    with transaction():
        session = _open_session(cred, session_id)
        if session is None:
            return None
        # an attempt in progress (the flow page was opened) takes it; else the next attempt
        attempt_id = session.attempt_id if session.status == codes.STARTED else None
        event = audit.begin(cred.org_id)
        media = event.create(VeriffMedia, session_id=session.id, context=image["context"],
                             timestamp=image.get("timestamp"), size=len(data), sha256=digest,
                             mimetype=mimetype, content=data, attempt_id=attempt_id)
        event.append(actor=actor_for(cred), action="veriff.media.added",
                     entity_type="veriff_media", entity_id=media.id, payload={
                         "session": session.id, "context": media.context, "size": media.size,
                         "sha256": digest, "mimetype": mimetype,
                         "timestamp": media.timestamp.isoformat() if media.timestamp else None})
    return media


def list_media(session) -> list:
    return queries.MEDIA_OF_SESSION.all((session.id,))


def media_file(cred, media_id: str):
    """A medium (with its bytes) of a session of this integration that is not deleted, or
    None."""
    return queries.MEDIA_FILE.one((media_id, cred.id))


def attempt_of(cred, attempt_id: str):
    """An attempt of a session of this integration that is not deleted, or None."""
    return queries.ATTEMPT_OF_INTEGRATION.one((attempt_id, cred.id))


def attempt_media(attempt) -> list:
    return queries.MEDIA_OF_ATTEMPT.all((attempt.id,))


def submit_session(cred, session_id: str, verification: dict, secret_key):
    """``PATCH /v1/sessions/{id}``: submit the session (see :func:`lifecycle.submit`; submitting
    again changes nothing). Returns (session, its token), or None when not found."""
    with transaction():
        session = find_session(cred, session_id, lock=True)
        if session is None:
            return None
        token = token_of(session, secret_key, actor_for(cred))
        return lifecycle.submit(session, actor_for(cred), verification), token


def screening_of(cred, session_id: str):
    """(session, its screening or None), or None when the session is not found."""
    session = find_session(cred, session_id)
    return None if session is None else (session, screening.of(session))


def change_screening(cred, session_id: str, change: dict):
    """``PATCH /v1/sessions/{id}/watchlist-screening``: ``monitorStatus`` or ``hit`` (see
    :mod:`.screening`). Returns (session, screening, the hit reviewed or None); None when the
    session is not found; raises LookupError when it has no screening yet, and
    ``screening.ScreeningError`` for a change refused."""
    with transaction():
        session = find_session(cred, session_id, lock=True)
        if session is None:
            return None
        current = screening.of(session)
        if current is None:
            raise LookupError(session_id)
        if "monitorStatus" in change:
            return session, screening.disable_monitoring(session, current, actor_for(cred)), None
        return (session, *screening.review_hit(session, current, change["hit"],
                                               actor_for(cred)))


def delete_session(cred, session_id: str):
    """``DELETE /v1/sessions/{id}`` (see :func:`lifecycle.delete`). None when not found."""
    with transaction():
        session = find_session(cred, session_id, lock=True)
        if session is None:
            return None
        return lifecycle.delete(session, actor_for(cred))


def decision(session) -> dict:
    """``GET /v1/sessions/{id}/decision``'s body."""
    return webhooks.decision(session, lifecycle.current_attempt(session))


def record_consent(cred, session_id: str, upload: dict):
    """Record one consent upload. Returns the VeriffConsent row, or None when not found.
    Raises SessionStateError once the session is submitted."""
    text = upload["text"]
    find_session(cred, session_id)   # one past its lifetime expires first (then refuses this)
    with transaction():
        session = _open_session(cred, session_id)
        if session is None:
            return None
        uploads = []

        def upload_row(event, consent):   # recorded by the consent's own audit event
            uploads.append(event.create(VeriffConsent, session_id=session.id,
                                        consent_id=consent.id, type=upload["type"],
                                        approved=upload["approved"],
                                        created_at=consent.created_at))

        ledger.in_transaction_record(cred.org_id, [ledger.Decision(
            subject=subject_for(session), purpose=PURPOSE_PREFIX + upload["type"],
            purpose_name=PURPOSE_NAMES[upload["type"]],
            status="granted" if upload["approved"] else "denied", source="veriff",
            notice_version=hashlib.sha256(text.encode()).hexdigest(),
            evidence={"veriff_session_id": session.id, "type": upload["type"],
                      "approved": upload["approved"], "text": text,
                      "integration": cred.id, "api_key_prefix": cred.key_prefix},
        )], actor=actor_for(cred), rows=upload_row)
        return uploads[0]


def session_consents(session) -> list:
    """The session's consent uploads newest first, each with its exact text in ``evidence``
    (its ledger consent's)."""
    uploads = queries.UPLOADS_OF_SESSION.all((session.id,))
    consents = ledger.consents_by_id(session.org_id, [u.consent_id for u in uploads])
    return [queries.UploadRow(*u, evidence=consents[u.consent_id].evidence) for u in uploads]


# -- the flow page, the CLI and the ledger API --------------------------------------------------

PAGE_ACTOR = "veriff-flow-page"


def open_flow(token: str):
    """The session a page's token names, started if it was waiting for the end-user (a new
    attempt, event 7001), or None."""
    session = session_by_token(token)
    if session is None or session.status not in (codes.CREATED, codes.RESUBMISSION):
        return session
    with transaction():
        session = lifecycle.locked(queries.SESSION_BY_TOKEN_HASH, (token_hash(token),))
        return session and lifecycle.start(session, PAGE_ACTOR)


def change(statement, params: tuple, action, *args, **kwargs):
    """Run a lifecycle change (``action(session, *args, **kwargs)``) in one transaction on the
    session a statement finds, locked; None when there is none."""
    fresh(statement.one(params))   # expired first in its own transaction (action may refuse)
    with transaction():
        session = lifecycle.locked(statement, params)
        return session and action(session, *args, **kwargs)


def decide(org, session_id: str, status: str, reason_code, actor: str, via: str):
    """Decide one of the organisation's sessions as a tester would (the operator's API and the
    console): sends the decision webhook. Invalid for a decision Veriff has no such code for,
    Conflict when the session's decision is final, NotFound for no such session of the
    organisation."""
    try:
        session = change(*in_org(org, session_id), lifecycle.decide, status, reason_code,
                         actor, via=via)
    except codes.InvalidDecision as exc:
        raise Invalid(str(exc)) from None
    except SessionStateError as exc:
        raise Conflict(str(exc)) from None
    if session is None:
        raise NotFound(f"no Veriff session {session_id} in this organisation")
    return session


def by_token(token: str) -> tuple:
    return queries.SESSION_BY_TOKEN_HASH, (token_hash(token),)


def by_id(session_id: str) -> tuple:
    return queries.SESSION_BY_ID, (session_id,)


def in_org(org, session_id: str) -> tuple:
    return queries.SESSION_OF_ORG, (session_id, org.id)


def sessions_page(org, limit: int = 50, before: tuple | None = None) -> tuple[list, tuple | None]:
    """The organisation's sessions (not deleted), newest first, with their status and decided
    attempt (``decision_code``, ``decision_reason``, ``decided_at``): one keyset page.
    ``before``: the (created_at, id) the previous page ended with. Returns (rows, the next
    page's ``before`` or None)."""
    if before is None:
        rows = queries.SESSIONS_OF_ORG.all((org.id, limit + 1))
    else:
        at, session_id = before
        rows = queries.SESSIONS_OF_ORG_BEFORE.all((org.id, at, at, session_id, limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, ((rows[-1].created_at, rows[-1].id) if more and rows else None)
