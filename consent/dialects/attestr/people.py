"""The Attestr dialect's part in people's rights (``consent.core.rights.People``).

What Attestr's side holds about a person, for each ledger consent of theirs that a registration
made (``person.consents``, the principal's: ``consentPrincipalUserId``): its
:class:`~.models.AttestrConsent` (the client's ``consentReferenceId``, the body as provided,
with the principal's id and whatever the client wrote in it, and the SHA-256 of that body),
its export files (the workbook names the principal, the reference and the body), and the
webhooks about it (their bodies name the reference).

* :func:`erase`: each consent is written again through the erasure's event with its reference
  ``[erased]``, its body cut to what is no one's data (purpose, services, data categories,
  type, mode, times, operations, the client's policy and declaration) and its body's hash
  ``[erased]``; its reference's keyed hash goes (the reference id may be registered again, as a
  new consent). Its export files are deleted (in the transaction), the webhook bodies about it
  and its exports blanked (``consent.core.outbox.forget_bodies``; one still pending is never
  sent). The ledger keeps the pseudonymous decision history (the consent, its terms, uses and
  lifecycle).
* :func:`report`: each consent with every value held, its exports and webhooks, and the ids
  that prove it.

After an erasure Attestr's API answers the consent's ``_id`` as it answers an unknown one (400
4001 on ``GET /consent/{_id}``, revoke and export; the same for its export jobs and files), and
sends no more webhooks about it.
"""
from __future__ import annotations

import datetime as dt

from consent.core import outbox, personal, sql
from consent.core.rights import People, Person, iso as _iso

from . import consents, queries
from .models import AttestrConsent

# What of a registered body is no one's personal data (kept by erasure).
KEPT = ("consentPurpose", "services", "consentDataCategories", "consentType", "consentMode",
        "consentTimestamp", "consentValidFrom", "consentValidTill", "clientPrivacyPolicyUrl",
        "clientPrivacyPolicyVersion", "clientDeclaration", "consentOperations", "webhook")


def kept_data(data) -> dict:
    """The body of an erased consent: what is no one's data."""
    data = data if isinstance(data, dict) else {}
    return {name: data[name] for name in KEPT if name in data}


def _rows(person: Person) -> list:
    rows = []
    for consent in person.consents:
        row = queries.CONSENT_BY_LEDGER_ID.one((consent.id,))
        if row is not None and row.org_id == person.org_id:
            rows.append(row)
    return rows


def erase(person: Person) -> dict:
    """Blank the person's Attestr consents, delete their export files, blank the webhooks
    about them (inside the erasure's transaction); see the module."""
    org_id, event = person.org_id, person.event
    erased = files = 0
    references = []
    for row in _rows(person):
        jobs = queries.ASYNC_OF_CONSENT.all((row.id,))
        references += [row.id, *(job.id for job in jobs)]
        media = [job.media_id for job in jobs if job.media_id]
        if media:
            queries.DETACH_MEDIA.execute((row.id,))
            for media_id in media:
                files += queries.DELETE_MEDIA.execute((org_id, media_id)).rowcount
        if consents.erased(row):
            continue
        event.erase(AttestrConsent, row, reference_id=personal.ERASED,
                    request_hash=personal.ERASED, data=kept_data(row.data))
        sql.update(AttestrConsent, row.id, {"reference_lookup": None})   # not hashed
        erased += 1
    return {"attestr_consent": erased, "attestr_media": files,
            "webhook_delivery": outbox.forget_bodies(org_id, references)}




def report(person: Person) -> dict:
    """The person's Attestr consents, every value held (see the module)."""
    out = []
    for row in _rows(person):
        jobs = []
        for job in sorted(queries.ASYNC_OF_CONSENT.all((row.id,)), key=lambda j: j.created_at):
            media = queries.MEDIA_OF_ORG.one((row.org_id, job.media_id)) if job.media_id \
                else None
            jobs.append({"_id": job.id, "number": job.number, "type": job.kind,
                         "status": job.status, "created": _iso(job.created_at),
                         "file": None if media is None else {
                             "mediaId": media.id, "fileName": media.file_name,
                             "size": media.size, "sha256": media.sha256}})
        webhooks = [{"id": d.id, "topic": d.topic, "status": d.status,
                     "created_at": _iso(d.created_at), "body": d.body}
                    for ref in (row.id, *(j["_id"] for j in jobs))
                    for d in outbox.deliveries(row.org_id, reference=ref, limit=1000)]
        out.append({
            "_id": row.id, "number": row.number, "status": consents.status(row),
            "client": row.client_id, "consentReferenceId": None if consents.erased(row)
            else row.reference_id, "data": row.data, "singleUse": row.single_use,
            "webhook": row.webhook, "validFrom": _iso(row.valid_from),
            "validTill": _iso(row.valid_till), "created": _iso(row.created_at),
            "revoked": _iso(row.revoked_at), "consumed": _iso(row.consumed_at),
            "expired": _iso(row.expired_at), "ledgerConsentId": row.consent_id,
            "proof": {"audit_seq": row.audit_seq, "request_hash": row.request_hash},
            "exports": jobs, "webhooks": webhooks,
        })
    return {"consents": out} if out else {}


PEOPLE = People(erase=erase, report=report)
