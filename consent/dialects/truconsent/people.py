"""truConsent's part in people's rights (``consent.core.rights``): what erasure destroys of the
dialect's tables, and its section of the access report.

Where truConsent keeps a data principal's personal data, and how it is found by their subject's
id (a pseudonym; no plain value is indexed):

* a consent request's ``phone`` (the link's recipient): the request names the phone's subject
  (``subject_id``, made with the request); erased to ``[erased]`` with its salt, through the
  erasure's event. The request then is no one's: the history leaves it out, status and
  regeneration answer 404, its links are refused as unknown ones (:mod:`.links`);
* a consent log's ``metadata`` and ``request_id`` (what the client sent; a link's log holds the
  request's own id, which stays): found by the person's consents; erased to NULL;
* a suppression names the user id's subject, not the user id: nothing to erase; once the subject
  is erased the user id finds it no more;
* the consent emails (the local outbox keeps the address while waiting, and the masked address):
  remembered under the subject (``TcPersonalRef``), deleted;
* audit events written before version 5 that named the person (a link's masked phone, an email's
  masked address, a suppression's user id): remembered under the subject by migration 5,
  redacted (sealed prefix). Events written since name the subject by ``subject_ref`` only.

Every read of the dialect then answers as for a user it never knew (the user-status, the logs
by user, the timeline, the SDK's banners and consent status): each looks the user up through
``ledger.find_subject``, which an erased identifier no longer finds.
"""
from __future__ import annotations

from consent.core import mailbox, personal, sql
from consent.core.rights import People, Person, iso as _iso

from . import links, queries
from .models import REF_EVENT, REF_MAIL, TcConsentRequest, TcLog


def _rows(statement_of, org_id: str, ids: list) -> list:
    out = []
    for chunk in sql.chunks(ids):
        out.extend(statement_of(sql.padded(len(chunk))).all((org_id, *sql.pad(chunk))))
    return out


def _logs(person: Person) -> list:
    out, seqs = [], person.consent_seqs
    for chunk in sql.chunks(seqs):
        out.extend(queries.logs_of_consents(sql.padded(len(chunk))).all(sql.pad(chunk)))
    return list({row.consent_seq: row for row in out}.values())


def _kept_request_id(log) -> str | None:
    """What a log keeps of its request id once erased: a link's own request id (not personal:
    the link's status finds its logs by it), nothing of a client's."""
    return log.request_id if log.event_id is not None else None


def erase(person: Person) -> dict:
    """Inside the erasure's transaction: blank the person's phones, log metadata and request
    ids, delete their consent emails, have the events that named them redacted."""
    org_id, event, ids = person.org_id, person.event, list(person.subject_ids)
    counts = {}
    n = 0
    for req in _rows(queries.requests_of_subjects, org_id, ids):
        if req.phone != personal.ERASED:
            event.erase(TcConsentRequest, req, phone=personal.ERASED)
            n += 1
    counts["truconsent_request"] = n
    n = 0
    for log in _logs(person):
        if log.metadata is not None or log.request_id != _kept_request_id(log):
            event.erase(TcLog, log, request_id=_kept_request_id(log))
            n += 1
    counts["truconsent_log"] = n
    sealed = personal.sealed_seq(org_id)
    mails = []
    for ref in _rows(queries.refs_of_subjects, org_id, ids):
        if ref.kind == REF_EVENT and ref.ref <= sealed:
            person.redact.add(ref.ref)
        elif ref.kind == REF_MAIL:
            mails.append(ref.ref)
    counts["outbox_message"] = mailbox.forget(org_id, mails) if mails else 0
    for chunk in sql.chunks(ids):
        queries.forget_refs(sql.padded(len(chunk))).execute((org_id, *sql.pad(chunk)))
    return counts




def report(person: Person) -> dict:
    """Everything truConsent holds about the person: their consent requests (with the phone),
    the truConsent side of each of their consents (action, collection point, link, metadata,
    request id, the SDK's value), their suppressions and the consent emails sent to them."""
    org_id, ids = person.org_id, list(person.subject_ids)
    now = person.now
    requests = [{
        "request_id": r.id, "phone": r.phone, "subject_ref": r.subject_id,
        "collection_point_id": r.collection_point_id, "status": links.status(r, now),
        "event_id": r.current_event_id, "previous_event_id": r.previous_event_id,
        "regeneration_count": r.regeneration_count, "expiry_hours": r.expiry_hours,
        "data_collection_timestamp": _iso(r.data_collection_timestamp),
        "created_at": _iso(r.created_at), "expires_at": _iso(r.expires_at),
        "completed_at": _iso(r.completed_at), "consent_action": r.consent_action,
        "reference": r.reference, "audit_seq": r.audit_seq,
    } for r in _rows(queries.requests_of_subjects, org_id, ids)]
    consent_of = {c.seq: c.id for c in person.consents}
    logs = [{
        "consent_log_id": consent_of.get(log.consent_seq), "action": log.action,
        "collection_point_id": log.collection_point_id, "request_id": log.request_id,
        "event_id": log.event_id, "metadata": log.metadata, "consented": log.consented,
        "audit_seq": log.audit_seq,
    } for log in sorted(_logs(person), key=lambda row: row.consent_seq)]
    suppressions = [{
        "id": s.id, "subject_ref": s.subject_id, "purpose_id": s.purpose_id,
        "created_at": _iso(s.created_at), "audit_seq": s.audit_seq,
    } for s in _rows(queries.suppressions_of_subjects, org_id, ids)]
    mails = []
    for ref in _rows(queries.refs_of_subjects, org_id, ids):
        if ref.kind != REF_MAIL:
            continue
        m = mailbox.kept_message(org_id, ref.ref)
        if m is not None:
            mails.append({"outbox_id": m.id, "to": m.to_address, "to_masked": m.to_masked,
                          "subject": m.subject, "transport": m.transport, "status": m.status,
                          "created_at": _iso(m.created_at)})
    if not (requests or logs or suppressions or mails):
        return {}
    return {"consent_requests": requests, "consent_logs": logs, "suppressions": suppressions,
            "emails": mails}


def erase_all(person: Person) -> dict:
    """The dialect's whole part of an erasure: its consent links, logs and suppressions, then
    the rights center's nominees, grievances and OTP state."""
    from . import rights_center

    counts = erase(person)
    for table, n in rights_center.erase(person).items():
        counts[table] = counts.get(table, 0) + n
    return counts


def report_all(person: Person) -> dict:
    """The dialect's section of the access report: its records, and the rights center's."""
    from . import rights_center

    section = report(person)
    center = rights_center.report(person)
    if any(center.values()):
        section.update(center)
    return section


PEOPLE = People(erase=erase_all, report=report_all)
