"""The Veriff dialect's part in people's rights (``consent.core.rights``): erasure, the access
report, and the retention of media.

**Whose sessions.** A session belongs to the ledger subject its consents are recorded under
(``service.subject_for``): its ``vendorData`` (Veriff's customer-side identifier of the
end-user), else ``veriff-session:<session id>``. ``endUserId`` is personal data of the session
but names no subject. Each session keeps the keyed hash of that identifier
(``VeriffSession.subject_lookup``, ``consent.core.personal.lookup``), so a person's sessions are
found by the lookups of their identifiers (the subject's own and those of the anonymous subjects
mapped into it), never through an index over a plain identifier; the sessions that hold a
consent upload of theirs are found through the upload too.

**Erasure** (:func:`erase`, inside the erasure's transaction, through its ``subject.erased``
event). Each of the person's sessions:

* is deleted as Veriff's ``DELETE /v1/sessions/{id}`` deletes one (``lifecycle.forget``): the
  person, document and request as sent erased with their salt, the media's bytes, the
  screening's search term and hits; every read of it then answers as for a deleted session,
  ``404 {"status": "fail", "code": "1101", "message": "Resource not found"}`` (the media and
  attempts of it too), and its page no longer opens. Unlike a DELETE it is not decided first:
  no webhook is sent about an erased person;
* loses its ``vendorData``, ``endUserId``, ``callback`` and subject lookup (and salt): the old
  identifier finds nothing;
* its webhooks' bodies (event and decision webhooks carry ``vendorData``, ``endUserId``, the
  person and the document) are blanked and those not yet sent given up
  (``consent.core.outbox.forget``);
* the events of the sealed prefix about it that held personal data (``veriff.session.created``
  carried ``vendorData`` and ``callback`` before version 5) are redacted.

What stays: the sessions' ids, statuses, attempts and their decisions (codes, reasons from
Veriff's tables, times), the media's metadata (context, size, SHA-256), the consent uploads and
the screening's result: the pseudonymous history, still covered by the chain.

**Retention** (:func:`retention`): the bytes of media received before a cutoff, each session's
in a transaction of its own with its ``veriff.media.retention`` audit event; the media's
metadata stays and ``GET /v1/media/{id}`` answers 404, as for a deleted session's.
"""
from __future__ import annotations

import datetime as dt
import json

from consent.core import audit, outbox, personal, sql
from consent.core.rights import iso as _iso
from consent.core.rights import People
from consent.core.storage import transaction

from . import lifecycle, queries, service
from .models import VeriffMedia, VeriffSession

# Keys of the payloads of events written before version 5 that held personal data.
PERSONAL_PAYLOAD_KEYS = frozenset({"vendorData", "endUserId", "callback", "person", "document",
                                   "request", "verification", "searchTerm", "name"})
# What of a session's person the local mail outbox could hold (consent.core.rights forgets it).
ADDRESS_KEYS = ("email", "phoneNumber")
RETENTION_ACTOR = "system:retention"
RETENTION_BATCH = 100




def sessions_of(person) -> list:
    """The person's sessions, deleted ones included, as the chain covers them (by id)."""
    found = {}
    statement = queries.sessions_of_subject()
    for identifier in person.identifiers:
        lookup = personal.lookup(person.org_id, identifier)
        if lookup is None:
            continue
        for row in statement.all((person.org_id, lookup)):
            found[row.id] = row
    ids = person.consent_ids
    uploaded = set()
    for chunk in sql.chunks(ids):
        for upload in queries.uploads_of_consents(sql.padded(len(chunk))).all(sql.pad(chunk)):
            uploaded.add(upload.session_id)
    for session_id in sorted(uploaded - set(found)):
        row = queries.covered_session().one((session_id,))
        if row is not None and row.org_id == person.org_id:
            found[row.id] = row
    return [found[k] for k in sorted(found)]


def erase(person) -> dict:
    """Inside the erasure's transaction: erase the person's Veriff data (see the module's
    docstring). Returns ``{table: rows erased}``."""
    event, org_id = person.event, person.org_id
    counts = {"veriff_session": 0, "veriff_session_state": 0, "veriff_media": 0,
              "veriff_screening": 0}
    rows = sessions_of(person)
    for row in rows:
        session = queries.SESSION_ANY.one((row.id,))
        state = queries.STATE.one((row.id,))
        for key in ADDRESS_KEYS:
            value = ((state.person if state else None) or {}).get(key)
            if isinstance(value, str) and value.strip():
                person.addresses.add(value.strip())
        if state is None or state.deleted_at is None or state.pd_salt is not None:
            media = len(queries.covered_media(queries.MEDIA_HOLDING_BYTES).all((row.id,)))
            screening = queries.SCREENING.one((row.id,))
            lifecycle.forget(event, session)
            counts["veriff_session_state"] += 1
            counts["veriff_media"] += media
            counts["veriff_screening"] += screening is not None and (
                screening.search_name is not None or screening.search_year is not None
                or bool(screening.hits))
        if any(getattr(row, name) is not None
               for name in ("vendor_data", "end_user_id", "callback", "subject_lookup",
                            "pd_salt")):
            event.erase(VeriffSession, row)
            counts["veriff_session"] += 1
    ids = [row.id for row in rows]
    counts["webhook_delivery"] = outbox.forget(org_id, ids)
    for found in audit.sealed_events_about(org_id, "veriff_session", ids):
        if isinstance(found.payload, dict) and PERSONAL_PAYLOAD_KEYS & set(found.payload):
            person.redact.add(found.seq)
    return counts


def _session_report(row) -> dict:
    session = queries.SESSION_ANY.one((row.id,))
    state = queries.STATE.one((row.id,))
    screening = queries.SCREENING.one((row.id,))
    uploads = queries.UPLOADS_OF_SESSION.all((row.id,))
    return {
        "id": row.id, "integration": row.integration_id, "status": session.status,
        "created_at": _iso(row.created_at), "submitted_at": _iso(row.submitted_at),
        "deleted_at": _iso(state.deleted_at) if state else None,
        "vendorData": row.vendor_data, "endUserId": row.end_user_id, "callback": row.callback,
        "person": state.person if state else None,
        "document": state.document if state else None,
        "request": state.request if state else None,
        "audit_seq": row.audit_seq,
        "attempts": [{"id": a.id, "status": a.status, "code": a.code,
                      "reasonCode": a.reason_code, "reason": a.reason,
                      "created_at": _iso(a.created_at), "submitted_at": _iso(a.submitted_at),
                      "decided_at": _iso(a.decided_at), "audit_seq": a.audit_seq}
                     for a in queries.ATTEMPTS_OF_SESSION.all((row.id,))],
        "media": [{"id": m.id, "context": m.context, "attemptId": m.attempt_id,
                   "timestamp": _iso(m.timestamp), "size": m.size, "sha256": m.sha256,
                   "mimetype": m.mimetype, "received_at": _iso(m.created_at),
                   "content_held": m.content is not None, "audit_seq": m.audit_seq}
                  for m in queries.covered_media("1 = 1").all((row.id,))],
        "consents": [{"consent_id": u.consent_id, "type": u.type, "approved": u.approved,
                      "created_at": _iso(u.created_at), "audit_seq": u.audit_seq}
                     for u in uploads],
        "screening": None if screening is None else {
            "attemptId": screening.attempt_id, "checkType": screening.check_type,
            "matchStatus": screening.match_status, "monitorStatus": screening.monitor_status,
            "searchTerm": {"name": screening.search_name, "year": screening.search_year},
            "hits": screening.hits, "created_at": _iso(screening.created_at),
            "updated_at": _iso(screening.updated_at), "audit_seq": screening.audit_seq},
        "webhooks": [{"id": d.id, "topic": d.topic, "status": d.status,
                      "created_at": _iso(d.created_at), "delivered_at": _iso(d.delivered_at),
                      "body": _body(d.body)}
                     for d in outbox.deliveries(row.org_id, reference=row.id, limit=1000)],
    }


def _body(text: str | None):
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def report(person) -> dict:
    """The person's Veriff sessions, each with everything kept of it: what it was created with
    (vendorData, endUserId, callback, person, document, the request as sent), its attempts and
    decisions, media (metadata; whether the bytes are still held), consent uploads, screening
    and webhooks (their bodies), each with the audit seq that records it. Empty: none."""
    sessions = [_session_report(row) for row in sessions_of(person)]
    return {"sessions": sessions} if sessions else {}


def retention(org_id: str, cutoff: dt.datetime) -> dict:
    """Erase the bytes of the organisation's media received before ``cutoff``: each session's
    in a transaction of its own with its ``veriff.media.retention`` audit event (the media's
    ids; the rows' new hashes). Returns ``{"veriff_media": n}``."""
    erased = 0
    while True:
        due = [sid for (sid,) in queries.SESSIONS_WITH_MEDIA_BEFORE.execute(
            (org_id, cutoff, RETENTION_BATCH)).fetchall()]
        for session_id in due:
            with transaction():
                event = audit.begin(org_id)
                media = queries.media_held_before().all((session_id, cutoff))
                if not media:
                    continue   # erased meanwhile (a deletion, another pass): no event
                for row in media:
                    event.update(VeriffMedia, row, content=None)
                event.append(actor=RETENTION_ACTOR, action="veriff.media.retention",
                             entity_type="veriff_session", entity_id=session_id, payload={
                                 "media": [row.id for row in media],
                                 "received_before": _iso(cutoff)})
                erased += len(media)
        if len(due) < RETENTION_BATCH:
            return {"veriff_media": erased}


PEOPLE = People(erase=erase, report=report, retention=retention)
