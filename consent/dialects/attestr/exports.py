"""The consent audit-trail export: an asynchronous job that writes a spreadsheet (openpyxl) of a
consent's record and events, then keeps it as a media file.

``request_export`` queues the job (with an audit event) and wakes the worker after the commit;
the worker (:mod:`.worker`) claims due jobs with a lease (a job whose worker died is taken up
again when its lease ends), builds the workbook outside any transaction, and stores the file and
the job's outcome in one transaction with an audit event and, when asked for, the
``async.completed`` (or ``async.errored``) webhook. The client polls
``GET /api/v3/public/common/async/{asyncId}`` and downloads the file from the output's ``url``.

The workbook has two sheets. "Consent": the consent as registered, its status, its ledger
record (id, subject, purpose, record hash) and its terms. "Events": every event of the ledger
consent (recorded, used, withdrawn, expired, mapped) with the audit event behind it (sequence
number, action, actor, hash), oldest first. Every cell is a string or a number: a value that
starts with ``=`` stays text, never a formula.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from consent.core import audit, ledger, sql, usage
from consent.core.storage import db, transaction

from . import consents, models, queries, webhooks
from .models import AttestrAsync, AttestrMedia

log = logging.getLogger(__name__)

KIND = "consent_export"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LEASE = dt.timedelta(minutes=5)
MAX_ATTEMPTS = 3
MEDIA_PATH = "/api/v3/public/common/media/"


def request_export(client, consent_id: str, base_url: str, actor: str | None = None):
    """Queue an export of the consent's audit trail; returns the job. ``base_url``: where the
    request reached this service (the file's download link starts with it). ``actor``: who the
    audit event names (default the client; the console passes its operator)."""
    row = consents.find(client, consent_id)
    now = models.now()
    with transaction():
        job = sql.create(AttestrAsync, id=consents.new_id("AX"), number=consents.new_number(),
                         org_id=row.org_id, client_id=client.credential_id,
                         attestr_consent_id=row.id, kind=KIND, base_url=base_url,
                         created_at=now, updated_at=now)
        audit.append(row.org_id, actor=actor or consents.actor_for(client),
                     action="attestr.export.requested", entity_type="attestr_async",
                     entity_id=job.id, payload={"consent": row.id, "number": job.number})
        from .worker import WORKER  # noqa: PLC0415 (the worker imports this module)
        db.after_commit(WORKER.wake)
    return job


def find_job(client, async_id: str):
    """A job of the client's organisation, or None (also when its consent's person was
    erased)."""
    job = queries.ASYNC_OF_ORG.one((client.org_id, async_id))
    if job is None or consents.erased(queries.CONSENT_BY_ID.one((job.attestr_consent_id,))):
        return None
    return job


def jobs_page(org_id: str, limit: int = 50, before: tuple | None = None):
    """The organisation's export jobs, newest first: one keyset page (as
    :func:`.consents.consents_page`)."""
    return consents.page(org_id, queries.JOBS_OF_ORG, queries.JOBS_OF_ORG_BEFORE, limit, before)


def find_media(client, media_id: str):
    return queries.MEDIA_OF_ORG.one((client.org_id, media_id))


# -- the workbook -------------------------------------------------------------------------------------

def _cell(sheet, value):
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    elif isinstance(value, dt.datetime):
        value = value.isoformat() + "Z"
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"   # text, even when it starts with "=" (never a formula)
    return cell


def _row(sheet, *values):
    sheet.append([_cell(sheet, v) for v in values])


def workbook(row) -> bytes:
    """The spreadsheet of one consent's audit trail. Everything is read from the database first;
    the write-only workbook is then written at once and closed on every path (an unclosed sheet
    is a generator holding a temporary file that fails when it is collected later)."""
    consent = ledger.get_consent(row.org_id, row.consent_id)
    terms = usage.terms_of(consent.id)
    summary = [("_id", row.id), ("number", row.number), ("status", consents.status(row)),
               ("consentReferenceId", row.reference_id), ("registeredAt", row.created_at),
               ("revokedAt", row.revoked_at), ("consumedAt", row.consumed_at),
               ("expiredAt", row.expired_at), ("ledgerConsentId", consent.id),
               ("subject", consent.subject), ("purpose", consent.purpose),
               ("recordHash", consent.record_hash), ("operationsGranted", terms.operations),
               ("singleUse", terms.single_use), *row.data.items()]
    events = [(e.at, e.type, e.data, e.action, e.seq, e.event_id, e.actor, e.hash)
              for e in ledger.consent_events(consent)]
    book = Workbook(write_only=True)
    try:
        sheet = book.create_sheet("Consent")
        _row(sheet, "field", "value")
        for name, value in summary:
            _row(sheet, name, value)
        sheet = book.create_sheet("Events")
        _row(sheet, "at", "event", "details", "auditAction", "auditSeq", "auditEventId", "actor",
             "auditHash")
        for values in events:
            _row(sheet, *values)
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()
    except BaseException:
        _discard(book)
        raise


def _discard(book) -> None:
    """Close the sheets of a workbook that failed half-way, so nothing of it outlives the call."""
    for sheet in book.worksheets:
        try:
            if not sheet.closed:
                sheet.close()
        except Exception:  # noqa: BLE001 - a sheet that cannot close has nothing left to write
            pass


# -- the job ------------------------------------------------------------------------------------------

def run_due(now: dt.datetime | None = None, limit: int = 10) -> int:
    """Run the export jobs that are due (each claimed by one worker). Returns how many ran."""
    now = now or models.now()
    ran = 0
    for job in queries.ASYNC_DUE.all((now, limit)):
        with transaction():
            claimed = queries.CLAIM_ASYNC.execute((now + LEASE, job.id, now)).rowcount
        if claimed == 1:
            _run(job, job.attempts + 1)
            ran += 1
    return ran


def _run(job, attempt: int) -> None:
    row = queries.CONSENT_BY_ID.one((job.attestr_consent_id,))
    if consents.erased(row):   # its person was erased since it was asked for: no file of them
        content, error = None, "ConsentErased"
        attempt = MAX_ATTEMPTS
    else:
        content = error = None
    try:
        if error is None:
            content = workbook(row)
    except Exception as exc:  # noqa: BLE001 - recorded on the job, retried, then errored
        log.exception("export %s failed", job.id)
        content, error = None, f"{type(exc).__name__}"
        if attempt < MAX_ATTEMPTS:
            return   # the lease runs out and the job is taken up again
    now = models.now()
    with transaction():
        if content is not None:
            media = sql.create(AttestrMedia, id=consents.new_id("MX"), org_id=job.org_id,
                               file_name=f"consent-{row.number}-audit-trail.xlsx",
                               mimetype=XLSX, size=len(content),
                               sha256=hashlib.sha256(content).hexdigest(), content=content,
                               created_at=now)
            sql.update(AttestrAsync, job.id, {"status": "completed", "media_id": media.id,
                                              "lease_until": None, "updated_at": now})
            event, payload = "async.completed", {"mediaId": media.id, "sha256": media.sha256,
                                                 "size": media.size}
        else:
            sql.update(AttestrAsync, job.id, {"status": "errored", "error": error,
                                              "lease_until": None, "updated_at": now})
            event, payload = "async.errored", {"error": error}
        audit.append(job.org_id, actor="system:attestr-export", action=f"attestr.{event}",
                     entity_type="attestr_async", entity_id=job.id,
                     payload={"consent": row.id, **payload})
        job = queries.ASYNC_BY_ID.one((job.id,))
        payload = job_payload(job)
        webhooks.async_event(job, row, event, {"_id": payload.pop("id"), **payload})


def job_payload(job) -> dict:
    """The job as the async API (and its webhooks) show it."""
    media = queries.MEDIA_OF_ORG.one((job.org_id, job.media_id)) if job.media_id else None
    row = queries.CONSENT_BY_ID.one((job.attestr_consent_id,))
    output = None
    if media is not None:
        output = {"mediaId": media.id, "fileName": media.file_name, "mimeType": media.mimetype,
                  "size": media.size, "sha256": media.sha256,
                  "url": f"{job.base_url}{MEDIA_PATH}{media.id}"}
    return {"id": job.id, "number": job.number, "type": job.kind, "status": job.status,
            "consentId": row.id, "output": output, "error": job.error,
            "created": webhooks.millis(job.created_at), "updated": webhooks.millis(job.updated_at)}
