"""How a session moves, as Veriff's status table describes it.

``created`` --(the flow page is opened)--> ``started`` --(submitted: the page, or
``PATCH /v1/sessions/{id}``)--> ``submitted`` --(a decision)--> ``approved`` | ``declined`` |
``resubmission_requested`` | ``review`` | ``expired`` | ``abandoned``.

* Each pass through the flow is an attempt; opening the page again after
  ``resubmission_requested`` starts a new one, and so does a submission through the API.
* A decision may be forced from any status that is not final (a tester, the CLI or the ledger
  API does it; Veriff's test integrations allow the same), ``review`` and
  ``resubmission_requested`` included; ``approved``, ``declined``, ``expired`` and ``abandoned``
  are final.
* Veriff's test-mode convention: when a session whose person's first name is ``Approve``,
  ``Decline`` or ``Resubmit`` is submitted, it gets that decision at once.
* Deleting a session that is ``created``, ``started`` or ``resubmission_requested`` first decides
  it ``expired`` (never started) or ``abandoned``, as Veriff does; ``submitted`` and ``review``
  sessions cannot be deleted.
* A session lives :data:`LIFETIME` (Veriff's 7 days, ``CONSENT_VERIFF_SESSION_LIFETIME``) from
  its creation, on the organisation's clock (:mod:`consent.core.clock`: control mode moves it).
  Past it, a session still ``created`` is decided ``expired`` and one ``started`` (or
  ``resubmission_requested``, whose new attempt never came) ``abandoned``, both 9104 with the
  decision webhook, as Veriff ends them (:func:`expire`). Three doors lead there: the background
  sweep (:func:`expire_due`), the control clock's ``clock_moved`` hook (the same sweep for one
  organisation), and every read of a session (``service``), so a session past its lifetime
  never answers as live before a sweep reaches it. Each session is claimed by one writer only
  (:func:`expire_one`).
* Media uploaded while no attempt is in progress belong to the next attempt (claimed when it
  begins); each submission screens the person (:mod:`.screening`, the local stand-in) before
  any test-mode decision.

Every function here runs inside the caller's transaction on a session row it locked
(:func:`locked`), writes the change through its audit event (which records the new hashes of the
rows it wrote), and queues the webhook that reports it (:mod:`.webhooks`). It returns the session
as it now is.
"""
from __future__ import annotations

import datetime as dt

from consent.core import audit, background
from consent.core.storage import is_postgres, transaction, utcnow

from . import codes, queries, screening, webhooks
from .models import VeriffAttempt, VeriffMedia, VeriffSessionState


class SessionStateError(Exception):
    """The session is in a status that refuses this operation."""

    def __init__(self, status: str, message: str = ""):
        super().__init__(message or f"the session is {status}")
        self.status = status


def locked(statement, params: tuple, *, fresh: bool = True):
    """Inside a write transaction: the session a statement finds, its row held (PostgreSQL; on
    SQLite the write transaction already excludes other writers), or None. ``fresh``: a session
    past its lifetime is expired first, in this transaction (:func:`expire_held`)."""
    if is_postgres():
        statement = {queries.SESSION_OF_INTEGRATION: queries.SESSION_OF_INTEGRATION_LOCKED,
                     queries.SESSION_OF_ORG: queries.SESSION_OF_ORG_LOCKED,
                     queries.SESSION_BY_ID: queries.SESSION_BY_ID_LOCKED,
                     queries.SESSION_BY_TOKEN_HASH: queries.SESSION_BY_TOKEN_HASH_LOCKED,
                     }.get(statement, statement)
    session = statement.one(params)
    if fresh and lapsed(session):
        session = expire_held(session)
    return session


def current_attempt(session):
    return queries.ATTEMPT_BY_ID.one((session.attempt_id,)) if session.attempt_id else None


def attempts(session) -> list:
    return queries.ATTEMPTS_OF_SESSION.all((session.id,))


def _set_state(event, session, **changes):
    """Write the session's state row (creating it for a session that has none) through the
    change's audit event (``changes`` by column name)."""
    now = utcnow()
    state = queries.STATE.one((session.id,))
    if state is None:   # salted if it holds personal data (audit.Pending)
        state = event.create(VeriffSessionState, session_id=session.id, status=session.status,
                             attempt_id=session.attempt_id, person=session.person,
                             document=session.document, updated_at=now)
    event.update(VeriffSessionState, state, updated_at=now, **changes)
    return session._replace(**{k: v for k, v in changes.items() if k in session._fields})


def _new_attempt(event, session, status: str, **values):
    """A new attempt, which takes the session's media uploaded while none was in progress."""
    attempt = event.create(VeriffAttempt, session_id=session.id, status=status, **values)
    for media in _media(session, queries.MEDIA_UNATTACHED):
        event.update(VeriffMedia, media, attempt_id=attempt.id)
    return attempt


def _media(session, condition: str) -> list:
    """The session's media that meet ``condition``, as the audit chain covers them (the bytes
    as their SHA-256, computed by the database: a change hashes the row again without reading
    them)."""
    return queries.covered_media(condition).all((session.id,))


def _audit(event, session, actor: str, action: str, **payload):
    event.append(actor=actor, action=action, entity_type="veriff_session", entity_id=session.id,
                 payload=payload)


def start(session, actor: str):
    """The end-user opened the flow: a new attempt, ``started`` (event 7001). A session already
    started is left as it is."""
    if session.status not in (codes.CREATED, codes.RESUBMISSION):
        return session
    event = audit.begin(session.org_id)
    attempt = _new_attempt(event, session, codes.STARTED)
    previous = session.status
    session = _set_state(event, session, status=codes.STARTED, attempt_id=attempt.id)
    _audit(event, session, actor, "veriff.session.started", attempt=attempt.id,
           previous=previous)
    webhooks.send_event(session, attempt, codes.STARTED)
    return session


def submit(session, actor: str, details: dict | None = None):
    """The end-user (or the integration, through the API) submitted the attempt: ``submitted``
    (event 7002), then the test-mode decision if the person's first name asks for one. A session
    that is not open is left as it is (submitting again changes nothing)."""
    if session.status not in codes.OPEN:
        return session
    event = audit.begin(session.org_id)
    now = utcnow()
    attempt = current_attempt(session) if session.status == codes.STARTED else None
    if attempt is None:
        attempt = _new_attempt(event, session, codes.SUBMITTED, submitted_at=now)
    else:
        attempt = event.update(VeriffAttempt, attempt, status=codes.SUBMITTED, submitted_at=now)
    session = _set_state(event, session, status=codes.SUBMITTED, attempt_id=attempt.id)
    details = details or {}
    _audit(event, session, actor, "veriff.session.submitted", attempt=attempt.id,
           frontState=details.get("frontState"), timestamp=details.get("timestamp"))
    webhooks.send_event(session, attempt, codes.SUBMITTED)
    screening.screen(session, attempt.id, actor)
    forced = codes.TEST_MODE_NAMES.get(str((session.person or {}).get("firstName") or "")
                                       .strip().lower())
    if forced:
        session = decide(session, forced, None, actor, via="test-mode")
    return session


def decide(session, status: str, reason_code: int | None, actor: str, via: str, at=None):
    """Record a decision on the session's attempt (a new attempt when it has none in progress)
    and send the decision webhook. Raises ``codes.InvalidDecision`` for a status or reason code
    outside Veriff's tables, SessionStateError once the session's decision is final. ``at``:
    the decision's time (default now)."""
    reason_code, reason = codes.reason_for(status, reason_code)
    if session.status in codes.FINAL:
        raise SessionStateError(session.status, f"the session is already {session.status}")
    event = audit.begin(session.org_id)
    now = at or utcnow()
    code = codes.DECISION_CODES[status]
    attempt = (current_attempt(session)
               if session.status in (codes.STARTED, codes.SUBMITTED, codes.REVIEW) else None)
    decided = {"status": status, "code": code, "reason": reason, "reason_code": reason_code,
               "decided_at": now}
    if attempt is None:
        attempt = _new_attempt(event, session, **decided)
    else:
        attempt = event.update(VeriffAttempt, attempt, **decided)
    previous = session.status
    session = _set_state(event, session, status=status, attempt_id=attempt.id)
    _audit(event, session, actor, "veriff.session.decided", attempt=attempt.id, status=status,
           code=code, reasonCode=reason_code, previous=previous, via=via)
    webhooks.send_decision(session, attempt)
    return session


NOT_COMPLETED = "Session is not in a completed status."


def delete(session, actor: str):
    """Veriff's DELETE: refused (SessionStateError) while ``submitted`` or in ``review``; a
    session not yet decided is first decided ``expired`` or ``abandoned``. The session then
    answers no API call and its person and document data are erased; its consents stay in the
    ledger."""
    if session.status not in codes.DELETABLE:
        raise SessionStateError(session.status, NOT_COMPLETED)
    if session.status == codes.CREATED:
        session = decide(session, codes.EXPIRED, None, actor, via="deleted")
    elif session.status in (codes.STARTED, codes.RESUBMISSION):
        session = decide(session, codes.ABANDONED, None, actor, via="deleted")
    event = audit.begin(session.org_id)
    session = forget(event, session)
    _audit(event, session, actor, "veriff.session.deleted", status=session.status)
    return session


def forget(event, session):
    """Through ``event`` (a deletion's, or an erasure's, ``consent.core.rights``): the session
    deleted (it answers no API call and opens no page), its person, document and request erased
    with their salt, its media's bytes and its screening's search term and hits. Returns the
    session as it now is."""
    session = _set_state(event, session, deleted_at=utcnow(), person=None, document=None,
                         request=None, pd_salt=None)
    for media in _media(session, queries.MEDIA_HOLDING_BYTES):
        event.update(VeriffMedia, media, content=None)
    screening.erase(event, session)
    return session


# -- a session's lifetime -------------------------------------------------------------------------

# Veriff: a session lives 7 days from its creation (configure() sets it from the app's settings).
LIFETIME = dt.timedelta(days=7)
EXPIRY_ACTOR = "system:veriff-expiry"
SWEEP_BATCH = 100
SWEEP_INTERVAL = 30.0     # seconds between two rounds of the background sweep


def configure(lifetime_seconds: float) -> None:
    global LIFETIME
    LIFETIME = dt.timedelta(seconds=float(lifetime_seconds))


def expires_at(session):
    return session.created_at + LIFETIME


def lapsed(session, now=None) -> bool:
    """The session is still waiting for its end-user and its lifetime has passed."""
    return (session is not None and session.status in codes.OPEN
            and expires_at(session) <= (now or utcnow()))


def expire(session, actor: str = EXPIRY_ACTOR):
    """Inside the caller's transaction, on a session it locked that :func:`lapsed`: decided
    ``expired`` (never started) or ``abandoned`` (started, not submitted), 9104, at the instant
    its lifetime ended, with the decision webhook."""
    status = codes.EXPIRED if session.status == codes.CREATED else codes.ABANDONED
    return decide(session, status, None, actor, via="lifetime", at=expires_at(session))


def _claim(session, now=None) -> tuple:
    """Inside a transaction holding the session's row (:func:`locked`): the claim of its
    expiry, as Attestr's sweep claims a consent's. The organisation's write lock is taken
    (PostgreSQL; SQLite's write transaction already excludes every other writer) and the session
    read again under it (a new statement sees what a writer that held it before committed), so
    of two processes only the first still finds it open and past its lifetime, and expires it.
    (Row, then organisation: the order of every write here.) Returns (the session as it now is,
    whether this call expired it)."""
    audit.lock_org(session.org_id)
    current = queries.SESSION_BY_ID.one((session.id,))
    if current is not None and lapsed(current, now):
        return expire(current), True
    return current, False


def expire_held(session, now=None):
    """The session (held by the caller's transaction) as it answers now: expired first if it
    is past its lifetime."""
    return _claim(session, now)[0]


def expire_one(session_id: str, now=None) -> bool:
    """Inside a transaction: expire the session if it is (still) past its lifetime; True when
    this call did."""
    session = locked(queries.SESSION_BY_ID, (session_id,), fresh=False)
    return lapsed(session, now) and _claim(session, now)[1]


def expire_due(now=None, limit: int = SWEEP_BATCH, org_id: str | None = None) -> int:
    """The sweep: expire every session past its lifetime (``org_id``: that organisation's
    only), each in its own transaction with its audit event and webhook. Returns how many."""
    now = now or utcnow()
    cutoff = now - LIFETIME
    due = (queries.EXPIRY_DUE.all((cutoff, limit)) if org_id is None
           else queries.EXPIRY_DUE_OF_ORG.all((org_id, cutoff, limit)))
    done = 0
    for row in due:
        with transaction():
            if expire_one(row.id, now):
                done += 1
    return done


def expire_all(org_id: str | None = None) -> int:
    """Sweep until nothing is due (the control clock's ``clock_moved`` hook: one organisation,
    under its clock). Returns how many expired."""
    total = 0
    while True:
        done = expire_due(org_id=org_id)
        total += done
        if done < SWEEP_BATCH:
            return total


def _sweep_step() -> bool:
    return expire_due() > 0    # a full batch: go on at once


# The background sweep each serving process runs (declared in the dialect's entry).
SWEEPER = background.Loop("veriff-expiry", _sweep_step, lambda: SWEEP_INTERVAL)
