"""Verification of an organisation's audit chain, its consents and every covered row,
resumable in slices.

What is checked (in this order, in constant memory):

1. every audit event: its sequence number follows the previous one, its ``prev_hash`` is the
   previous event's hash, and its stored hash matches its content; and every row the event
   records (payload ``rows``, see :mod:`consent.core.covered`) still exists in its
   organisation and points at this event or a later one (a deleted row, or one set back to an
   older version with its pointer, fails here);
2. every row of every covered table (by table name, then key): it points at an event
   (``audit_seq``), that event recorded it, and its content hashes to what the event recorded
   (an edited row, a row inserted behind the service's back, or a row pointed at another event
   fails here);
3. every consent: its content against its record hash, that hash against the one its audit event
   recorded, the subject and purpose identifiers against the event's, its current holder against
   its mapping events, and consents in the chain's order;
4. every ``consent.recorded`` event has its consent.

A fault names what failed: ``first_bad_event`` / ``first_bad_seq`` (the event), and
``first_bad_consent`` (a consent) or ``first_bad_table`` / ``first_bad_row`` (a covered row: its
table and key), with the ``reason``. ``GET /ledger/v1/audit/verify``, the verifications API
and ``flask --app app audit verify`` give the same fields (:data:`VERDICT_FIELDS`).

A :class:`Progress` says how far a verification pass has come; :func:`advance` moves it on until
it is done, finds a fault, or passes a deadline. ``Verification`` rows keep passes and their
progress, so a pass that stopped at a deadline goes on from where it stopped:

* ``GET /ledger/v1/audit/verify`` (:func:`step`) works on the organisation's current pass for at
  most a time budget and says whether the pass is ``complete``; while it is not, the next call
  goes on with it, and once it is, the next call starts a new pass from the first event. On a
  small ledger one call is a whole pass; on a large one the client calls again until
  ``complete``, and no call runs past a request timeout. Every row is read again by every pass,
  so a change to any row is found by the next pass.
* ``POST /ledger/v1/audit/verifications`` (:func:`start_full`) queues a pass that the background
  loop of whichever process takes it runs to the end (a lease), saving its progress after every
  slice; the client polls ``GET /ledger/v1/audit/verifications/{id}``.
* ``flask --app app audit verify`` and :func:`full` run a whole pass at once.

Memory stays bounded: events, consents and rows are read in batches of :data:`BATCH`, and the
rows the events of a batch record are checked against their tables every :data:`ROW_CHECKS`
rows, with one ``IN`` query per table and chunk.

Removing the newest events (the chain's tail) cannot be seen from inside the database: keep
``head_hash`` somewhere else.
"""
from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass, fields

from . import audit, background, covered, personal, queries, sql
from .errors import NotFound
from .ledger import consent_hash
from .storage import Verification, transaction, utcnow

BATCH = 2000
ROW_CHECKS = 2000   # rows recorded by events, checked against their tables at a time
LEASE = dt.timedelta(seconds=60)
SLICE_SECONDS = 5.0


@dataclass
class Progress:
    phase: str = "events"            # events -> rows -> consents -> missing -> done
    last_seq: int = 0                # last event verified
    prev_hash: str = audit.GENESIS   # its hash
    checked: int = 0                 # events verified
    consent_after: int = 0           # last consent verified (its seq)
    last_audit_seq: int = 0          # the audit seq of that consent's event
    consents_checked: int = 0
    missing_after: int = 0           # events up to this seq checked for a missing consent
    table: str = ""                  # the covered table being walked ("": the first)
    row_after: int | str | None = None   # the last key of it verified (None: none yet)
    rows_checked: int = 0            # covered rows verified

    @classmethod
    def load(cls, data: dict | None) -> "Progress":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in names})


VERDICT_FIELDS = ("ok", "checked", "consents_checked", "rows_checked", "first_bad_event",
                  "first_bad_seq", "first_bad_consent", "first_bad_table", "first_bad_row",
                  "reason", "head_hash")


def _fault(progress: Progress, reason: str, event_id=None, seq=None, consent_id=None,
           table=None, row=None) -> dict:
    return {"ok": False, "checked": progress.checked, "consents_checked": progress.consents_checked,
            "rows_checked": progress.rows_checked, "first_bad_event": event_id,
            "first_bad_seq": seq, "first_bad_consent": consent_id, "first_bad_table": table,
            "first_bad_row": None if row is None else str(row), "reason": reason,
            "head_hash": None}


def _verified(progress: Progress) -> dict:
    return {"ok": True, "checked": progress.checked, "consents_checked": progress.consents_checked,
            "rows_checked": progress.rows_checked, "first_bad_event": None,
            "first_bad_seq": None, "first_bad_consent": None, "first_bad_table": None,
            "first_bad_row": None, "reason": None,
            "head_hash": progress.prev_hash if progress.checked else None}


class _Recorded:
    """Rows that events of the pass recorded, waiting to be checked against their tables:
    per table, per key, the first event that recorded it and the seq of the last one."""

    def __init__(self):
        self.by_table: dict[str, dict[str, list]] = {}
        self.count = 0

    def add(self, event) -> None:
        for table, entries in covered.recorded(event.payload).items():
            if covered.get(table) is None or not isinstance(entries, dict):
                continue  # a table no longer covered
            waiting = self.by_table.setdefault(table, {})
            for key in entries:
                seen = waiting.get(key)
                if seen is None:
                    waiting[key] = [event.seq, event.event_id, event.seq]
                    self.count += 1
                else:
                    seen[2] = event.seq

    def check(self, org_id: str) -> dict | None:
        """The first fault (by the seq of the event whose record fails) as ``_fault``'s
        arguments, or None; forgets what it checked."""
        worst = None
        for table, waiting in self.by_table.items():
            cov = covered.get(table)
            found = cov.pointers(org_id, list(waiting))
            for key, (first_seq, first_event, last_seq) in waiting.items():
                pointer = found.get(key, False)
                if pointer is False:
                    fault = (first_seq, "a row this event recorded is missing", first_event,
                             table, key)
                elif pointer is None:
                    fault = (last_seq, "a row this event recorded points at no audit event",
                             None, table, key)
                elif pointer < last_seq:
                    fault = (last_seq, "a row points at an older audit event than the last one "
                             "that recorded it", None, table, key)
                else:
                    continue
                if worst is None or fault[0] < worst[0]:
                    worst = fault
        self.by_table, self.count = {}, 0
        if worst is None:
            return None
        seq, reason, event_id, table, key = worst
        if event_id is None:
            event = queries.AUDIT_EVENT_AT.one((org_id, seq))
            event_id = event.event_id if event else None
        return {"reason": reason, "event_id": event_id, "seq": seq, "table": table, "row": key}


def advance(org_id: str, progress: Progress, deadline: float | None = None,
            batch: int | None = None) -> dict | None:
    """Verify from ``progress`` on (updating it) until done (the result), a fault (the result,
    ``ok`` false) or the deadline (None); at least one batch of work either way."""
    batch = batch or BATCH
    sealed = personal.sealed_seq(org_id)
    org_key = personal.org_key(org_id)
    while True:
        if progress.phase == "events":
            rows = queries.AUDIT_AFTER.all((org_id, progress.last_seq, batch))
            recorded = _Recorded()
            for event in rows:
                reason = None
                if event.seq != progress.last_seq + 1:
                    reason = f"sequence gap: expected {progress.last_seq + 1}, found {event.seq}"
                elif event.prev_hash != progress.prev_hash:
                    reason = "prev_hash does not match the previous event's hash"
                else:
                    reason = audit.content_fault(event, sealed)
                if reason:
                    found = recorded.check(org_id)
                    if found:
                        return _fault(progress, **found)
                    return _fault(progress, reason, event.event_id, event.seq)
                recorded.add(event)
                if recorded.count >= ROW_CHECKS:
                    found = recorded.check(org_id)
                    if found:
                        return _fault(progress, **found)
                progress.last_seq, progress.prev_hash = event.seq, event.hash
                progress.checked += 1
            found = recorded.check(org_id)
            if found:
                return _fault(progress, **found)
            if len(rows) < batch:
                progress.phase = "rows"
        elif progress.phase == "consents":
            rows = queries.CONSENT_AUDIT_AFTER.all((org_id, progress.consent_after, batch))
            if rows:
                holders = mapped_holders(rows[0].seq, rows[-1].seq)
            for c in rows:
                reason = consent_fault(c, holders, progress.last_audit_seq, sealed, org_key)
                if reason:
                    return _fault(progress, reason, c.audit_event,
                                  c.audit_seq if c.audit_event else None, c.id)
                progress.consent_after, progress.last_audit_seq = c.seq, c.audit_seq
                progress.consents_checked += 1
            if len(rows) < batch:
                progress.phase = "missing"
        elif progress.phase == "missing":
            missing = queries.MISSING_CONSENT.execute((org_id, progress.missing_after)).fetchone()
            if missing is not None:
                return _fault(progress, "the consent this event recorded is missing",
                              missing[0], missing[1], missing[2])
            progress.missing_after = progress.last_seq
            progress.phase = "done"
        elif progress.phase == "rows":
            cov = covered.get(progress.table) if progress.table else None
            if cov is None:
                cov = covered.after(progress.table)
                if cov is None:
                    progress.phase = "consents"
                    continue
                progress.table, progress.row_after = cov.table, None
            rows = cov.walk(org_id, progress.row_after, batch)
            events = _events_of(org_id, rows)
            for row in rows:
                key = getattr(row, cov.key)
                fault = row_fault(cov, row, events)
                if fault:
                    reason, event = fault
                    return _fault(progress, reason, event.event_id if event else None,
                                  event.seq if event else None, table=cov.table, row=key)
                progress.row_after = key
                progress.rows_checked += 1
            if len(rows) < batch:
                following = covered.after(cov.table)
                if following is None:
                    progress.phase = "consents"
                else:
                    progress.table, progress.row_after = following.table, None
        else:
            return _verified(progress)
        if deadline is not None and time.monotonic() > deadline:
            return None


def _events_of(org_id: str, rows: list) -> dict:
    """The events (seq, event_id, payload) the rows point at, by seq."""
    seqs = sorted({r.audit_seq for r in rows if r.audit_seq is not None})
    out = {}
    for chunk in sql.chunks(seqs, covered.IN_CHUNK):
        for event in queries.events_at(sql.padded(len(chunk))).all((org_id, *sql.pad(chunk))):
            out[event.seq] = event
    return out


def row_fault(cov, row, events: dict):
    """Why a covered row fails verification, as (reason, the event it points at or None), or
    None."""
    if row.audit_seq is None:
        return "the row was never recorded by the audit chain", None
    event = events.get(row.audit_seq)
    if event is None:
        return "the audit event the row points at is missing", None
    recorded = covered.recorded(event.payload).get(cov.table)
    digest = recorded.get(cov.key_text(getattr(row, cov.key))) if isinstance(recorded, dict) \
        else None
    if digest is None:
        return "the audit event the row points at did not record it", event
    if covered.row_hash(cov, row, stored=True) != digest:
        return "the row does not match the hash its audit event recorded", event
    return None


def _commitment(c) -> str | None:
    """The commitment a consent's record hash took to its recorded subject's identifier: kept
    in the subject's row once erased, else recomputed from the row (None: no secret)."""
    if c.recorded_commitment is not None:
        return c.recorded_commitment
    if c.recorded_secret is None:
        return None
    return personal.subject_commitment(c.recorded_secret, c.recorded_subject)


def _record_matches(c, legacy: bool) -> bool:
    """Whether a consent row hashes to its record hash: with the commitments to its subject's
    identifier and its evidence, or, for a sealed record, over its plain evidence and no
    commitment; either way round (a record the previous version wrote while an upgrade rolled
    out, or the new one before the chain was sealed)."""
    current = (c.recorded_secret, _commitment(c))
    ways = [(None, None), current] if legacy else [current, (None, None)]
    return any(consent_hash(c, secret, commitment) == c.record_hash
               for secret, commitment in ways)


def consent_fault(c, holders: dict, last_audit_seq: int, sealed_seq: int = 0,
                  org_key: str | None = None) -> str | None:
    """Why a consent row (with its recording audit event) fails verification, or None.

    Its record hash commits to its subject's identifier and its evidence under the subject's
    secret (``consent.core.personal``); the subject's keyed lookup must be the identifier's. A
    record of the sealed prefix was hashed over its plain evidence, and its event may hold its
    subject's identifier: an erasure redacts that event and records, in its own event
    (``reattested``), the record's hash as the erasure left it, which the record is then
    checked against."""
    payload = c.audit_payload or {}
    if not payload:
        return "consent has no audit event"
    legacy = c.audit_seq is not None and c.audit_seq <= sealed_seq
    if legacy and personal.is_redacted(payload):
        by = queries.EVENT_AT_SEQ.one((c.org_id, payload[personal.REDACTED].get("by_seq")))
        attested = (by.payload.get("reattested") or {}) if by is not None else {}
        if attested.get(c.id) != consent_hash(c, None):
            return "consent row does not match the hash its erasure re-attested"
    elif not _record_matches(c, legacy):
        return "consent row does not match its record hash"
    elif payload.get("record_hash") != c.record_hash:
        return "consent record hash differs from the one its audit event recorded"
    elif payload.get("purpose") != c.purpose or (
            payload.get("subject_ref") != c.recorded_subject_id if "subject_ref" in payload
            else payload.get("subject") != c.recorded_subject):
        return "subject or purpose differs from what the audit event recorded"
    if c.recorded_lookup is not None and org_key is not None and bytes(c.recorded_lookup) != \
            personal.lookup_digest(org_key, c.recorded_subject):
        return "the subject's lookup is not its identifier's"
    if holders.get(c.seq, c.recorded_subject_id) != c.subject_id:
        return "consent holder does not match its mapping events"
    if c.audit_seq <= last_audit_seq:
        return "consent order differs from the audit chain's order"
    return None


def mapped_holders(first_seq: int, last_seq: int) -> dict[int, int]:
    """The holder each consent in a range should have after replaying its mapping events."""
    return {e.consent_seq: (e.data or {}).get("to_subject", -1)
            for e in queries.MAPPED_EVENTS_BETWEEN.all((first_seq, last_seq))}


def full(org_id: str) -> dict:
    """Verify everything now, in this process, without a deadline (CLI, tests)."""
    return advance(org_id, Progress())


# -- verifications kept in the database -------------------------------------------------------------

def _save(row_id: int, progress: Progress, result: dict | None, lease_until=None) -> None:
    status = "running" if result is None else ("done" if result["ok"] else "broken")
    with transaction():
        sql.update(Verification, row_id, {"progress": asdict(progress), "result": result,
                                          "status": status, "updated_at": utcnow(),
                                          "lease_until": lease_until})


def _create(org_id: str, kind: str, progress: Progress):
    with transaction():
        return sql.create(Verification, org_id=org_id, kind=kind, status="running",
                          progress=asdict(progress))


def step(org_id: str, budget_seconds: float = 10.0) -> dict:
    """Work on the organisation's current verification pass (a new one if none is running) for
    at most about ``budget_seconds``; the result says whether the pass is ``complete``."""
    row = queries.CURRENT_PASS.one((org_id, 1)) or _create(org_id, "pass", Progress())
    progress = Progress.load(row.progress)
    result = advance(org_id, progress, time.monotonic() + budget_seconds)
    _save(row.id, progress, result)
    return _describe(row.id, row.kind, result, progress)


def start_full(org_id: str):
    """Queue a full verification (run by a background loop); returns its row. Verification rows
    are bookkeeping, like webhook attempts: they add nothing to the audit chain they check."""
    row = _create(org_id, "background", Progress())
    RUNNER.wake()
    return row


def get(org_id: str, verification_id: int) -> dict:
    row = queries.VERIFICATION_OF_ORG.one((org_id, verification_id))
    if row is None:
        raise NotFound(f"verification {verification_id} not found")
    return _describe(row.id, row.kind, row.result, Progress.load(row.progress), row)


def last_finished(org_id: str) -> dict | None:
    """The organisation's newest finished verification (done or broken), described, or None."""
    rows = [row for status in ("done", "broken")
            for row in queries.LAST_FINISHED.all((org_id, status, 1))]
    if not rows:
        return None
    row = max(rows, key=lambda r: r.id)
    return _describe(row.id, row.kind, row.result, Progress.load(row.progress), row)


def _describe(row_id, kind, result, progress: Progress, row=None) -> dict:
    out = dict(result) if result else {**_verified(progress), "head_hash": None}
    out.update(id=row_id, kind=kind, complete=result is not None,
               status="running" if result is None else ("done" if result["ok"] else "broken"),
               verified_through_seq=progress.last_seq, phase=progress.phase)
    if row is not None:
        out.update(created_at=row.created_at, updated_at=row.updated_at)
    return out


def run_due() -> bool:
    """One slice of the oldest full verification no process holds; True if it did work."""
    now = utcnow()
    row = queries.DUE_FULL.one((now, 1))
    if row is None:
        return False
    with transaction():
        if queries.CLAIM_VERIFICATION.execute((now + LEASE, row.id, now)).rowcount != 1:
            return True  # another process took it; look again
    progress = Progress.load(row.progress)
    result = advance(row.org_id, progress, time.monotonic() + SLICE_SECONDS)
    _save(row.id, progress, result, lease_until=None)
    return True


RUNNER = background.Loop("audit-verifier", run_due, lambda: 2.0)
