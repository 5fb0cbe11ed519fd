"""The audit view: the organisation's hash chain page by page (newest first, keyset on seq),
one event (by seq or by event id: what the consents and the timeline link to), "verify now"
(:func:`consent.core.verify.start_full`, run by the background loop; its progress polled by
htmx from a fragment, a refresh link without JavaScript) and the signed checkpoints
(:mod:`consent.core.checkpoints`) with a button that signs one at the current head.

Starting a verification or signing a checkpoint adds nothing to the chain (both are what the
ledger API's ``POST /ledger/v1/audit/verifications`` and ``GET /ledger/v1/audit/checkpoint``
do: bookkeeping about the chain, not writes to the ledger)."""
from __future__ import annotations

from flask import redirect, url_for

from consent.core import audit as chain, checkpoints, ledger, verify
from consent.core.errors import Invalid, NotFound
from schemas.common import INT64_MAX

from ..blueprint import bp, org, render
from .consents import query_args

PAGE = 50
ID = f"int(max={INT64_MAX})"
PHASES = {"events": "checking the events", "rows": "checking the covered rows",
          "consents": "checking the consents", "missing": "looking for missing consents",
          "done": "finished"}


def _int_arg(name: str, low: int, high: int) -> int | None:
    raw = query_args((name,)).get(name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or not low <= int(raw) <= high:
        raise Invalid(f"{name} must be a whole number from {low} to {high}")
    return int(raw)


@bp.get("/o/<org>/audit")
def audit():
    before = _int_arg("before", 1, INT64_MAX)
    limit = _int_arg("limit", 1, 500) or PAGE
    events, next_before = ledger.audit_newest(org().id, before_seq=before, limit=limit)
    head_seq, head_hash = checkpoints.head(org().id)
    return render("console/audit.html", title="Audit", events=events, next_before=next_before,
                  paged=before is not None, limit=limit if limit != PAGE else None,
                  head_seq=head_seq, head_hash=head_hash,
                  last=verify.last_finished(org().id),
                  checkpoints=[checkpoints.describe(row)
                               for row in checkpoints.listing(org().id)])


def _event_page(event):
    return render("console/audit_event.html", title=f"Audit event {event.seq}", event=event,
                  newer=event.seq < checkpoints.head(org().id)[0])


@bp.get(f"/o/<org>/audit/<{ID}:seq>")
def audit_event(seq):
    found = ledger.audit_events(org().id, from_seq=seq, to_seq=seq, limit=1)
    if not found:
        raise NotFound(f"audit event {seq} not found")
    return _event_page(found[0])


@bp.get("/o/<org>/audit/event/<event_id>")
def audit_event_by_id(event_id):
    if "\x00" in event_id or len(event_id) > 36:
        raise NotFound("no such audit event")
    found = chain.events_by_id(org().id, [event_id]).get(event_id)
    if found is None:
        raise NotFound(f"audit event {event_id} not found")
    return redirect(url_for("console.audit_event", seq=found.seq), 303)


# -- verification -------------------------------------------------------------------------------

def _progress(v: dict, head_seq: int) -> dict:
    """How far a pass has come, out of 100 (the events are most of the work), and its words."""
    phase = v["phase"]
    if v["complete"]:
        value = 100
    elif phase == "events":
        value = int(85 * min(v["verified_through_seq"], head_seq) / max(head_seq, 1))
    else:
        value = {"rows": 85, "consents": 90, "missing": 97}.get(phase, 99)
    if v["complete"]:
        words = "finished" if v["ok"] else "stopped at the first fault"
    else:
        words = PHASES.get(phase, phase)
    return {"value": value, "phase": words}


def _verification(vid: int) -> dict:
    v = verify.get(org().id, vid)
    return {**v, "progress": _progress(v, checkpoints.head(org().id)[0])}


@bp.post("/o/<org>/audit/verifications")
def audit_verify():
    row = verify.start_full(org().id)
    return redirect(url_for("console.audit_verification", vid=row.id), 303)


@bp.get(f"/o/<org>/audit/verifications/<{ID}:vid>")
def audit_verification(vid):
    return render("console/audit_verification.html", title=f"Verification {vid}",
                  v=_verification(vid))


@bp.get(f"/o/<org>/audit/verifications/<{ID}:vid>/status")
def audit_verification_status(vid):
    """The progress fragment alone (htmx swaps it in every second until the pass is done)."""
    return render("console/_verification.html", title="Verification", v=_verification(vid))


# -- checkpoints ---------------------------------------------------------------------------------

@bp.post("/o/<org>/audit/checkpoints")
def audit_checkpoint():
    checkpoints.issue(org().id, origin="console")
    return redirect(url_for("console.audit", _anchor="checkpoints"), 303)
