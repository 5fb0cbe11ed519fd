"""Rights requests: the queue (open ones first, with their due dates, the overdue ones said in
words), one request with its history (the audit events of its steps) and the actions on it
(start, complete, refuse with a reason), a form to record a new one, and the access report.

Every action is exactly what the ledger API's ``/ledger/v1/rights-requests`` routes call
(``consent.core.rights``): ``create_request``, ``start_request``, ``complete_request`` (an
erasure request erases its subject in the same transaction), ``refuse_request``; each writes its
own audit event, named after the signed-in operator (``actor()``).

The queue is keyset-paged with ``rights.queue`` (the soonest due first within a status, on the
(org, status, due_at) index): the open statuses first (received, then in progress), then the
closed ones, the cursor naming the status being walked and the last request shown (its due time
and id). The subject's identifier never goes in a URL.

An access request's report is produced on demand from the identifier the request holds
(``rights.report``); completing the request forgets that identifier, so the completion answers
with the report itself (once, ``no-store``) rather than a redirect.
"""
from __future__ import annotations

import datetime as dt
import re

from flask import redirect, request, url_for

from consent.core import clock
from consent.core import rights as core
from consent.core.errors import Conflict, Invalid

from ..blueprint import actor, bp, org, render

# What the status filter offers: a name -> the statuses walked, in order (open ones first).
SCOPES = {
    "open": ("received", "in_progress"),
    "overdue": ("received", "in_progress"),     # the open ones due before now
    "received": ("received",),
    "in_progress": ("in_progress",),
    "completed": ("completed",),
    "refused": ("refused",),
    "all": ("received", "in_progress", "completed", "refused"),
}
SCOPE_LABELS = {"open": "Open (received or in progress)", "overdue": "Overdue",
                "received": "Received", "in_progress": "In progress",
                "completed": "Completed", "refused": "Refused", "all": "All"}
STATUS_LABELS = {"received": "Received", "in_progress": "In progress",
                 "completed": "Completed", "refused": "Refused"}
KIND_LABELS = {"access": "Access", "erasure": "Erasure"}
LIMIT, LIMIT_MAX = 50, 200
CURSOR = re.compile(r"^([0-3])\.([0-9]{1,17})\.([0-9A-Za-z-]{1,40})$")
EPOCH = dt.datetime(1970, 1, 1)
DONE = {"created": "Request recorded.", "started": "Request started.",
        "completed": "Request completed.", "refused": "Request refused."}

def _arg(name: str, allowed) -> str | None:
    value = request.args.get(name, "")
    if not value:
        return None
    if value not in allowed:
        raise Invalid(f"{name} must be one of {', '.join(allowed)}")
    return value


def _limit() -> int:
    value = request.args.get("limit", "")
    if not value:
        return LIMIT
    if not value.isascii() or not value.isdigit() or len(value) > 4 \
            or not 1 <= int(value) <= LIMIT_MAX:
        raise Invalid(f"limit must be a whole number from 1 to {LIMIT_MAX}")
    return int(value)


def _cursor(scope: str) -> tuple[int, tuple | None]:
    value = request.args.get("cursor", "")
    if not value:
        return 0, None
    found = CURSOR.match(value)
    if found is None or int(found.group(1)) >= len(SCOPES[scope]):
        raise Invalid("cursor is not one this page gave")
    due = EPOCH + dt.timedelta(microseconds=int(found.group(2)))
    return int(found.group(1)), (due, found.group(3))


def _cursor_of(phase: int, r) -> str:
    micro = (r.due_at - EPOCH) // dt.timedelta(microseconds=1)
    return f"{phase}.{micro}.{r.id}"


def _queue(org_id: str, scope: str, kind: str | None, limit: int, phase: int,
           after: tuple | None) -> tuple[list, str | None]:
    """A page of the queue from (phase, after): the statuses of ``scope`` walked in order, each
    soonest due first; the next page's cursor, or None."""
    statuses, items = SCOPES[scope], []
    due_before = clock.utcnow() if scope == "overdue" else None
    while phase < len(statuses):
        got = core.queue(org_id, statuses[phase], kind=kind, due_before=due_before,
                         after=after, limit=limit + 1 - len(items))
        items.extend((phase, r) for r in got)
        if len(items) > limit:
            break
        phase, after = phase + 1, None
    page, more = items[:limit], len(items) > limit
    nxt = _cursor_of(*page[-1]) if more and page else None
    return [r for _, r in page], nxt


def _overdue(r, now) -> bool:
    return r.status in core.OPEN and r.due_at < now


@bp.get("/o/<org>/rights")
def rights():
    scope = _arg("status", SCOPES) or "open"
    kind = _arg("kind", core.KINDS)
    limit = _limit()
    phase, after = _cursor(scope)
    org_id = org().id
    items, nxt = _queue(org_id, scope, kind, limit, phase, after)
    now = clock.utcnow()
    return render("console/rights.html", title="Rights requests", items=items, next_cursor=nxt,
                  scope=scope, kind=kind, limit=limit, now=now, overdue=_overdue,
                  scopes=SCOPE_LABELS, kinds=KIND_LABELS, statuses=STATUS_LABELS,
                  first_page=after is None and phase == 0,
                  due={"overdue": core.count_open_due(org_id, now),
                       "soon": core.count_open_due(org_id, now + dt.timedelta(days=7))},
                  done=DONE.get(request.args.get("done", "")))


@bp.post("/o/<org>/rights")
def rights_create():
    form = request.form
    kind = form.get("kind", "")
    if kind not in core.KINDS:
        raise Invalid("choose the kind of request: access or erasure")
    reason = (form.get("reason") or "").strip() or None
    r = core.create_request(org().id, kind, form.get("identifier", ""), actor=actor(),
                            source="console", reason=reason)
    return redirect(url_for("console.rights_request", request_id=r.id, done="created"), 303)


ACTION_LABELS = {"rights.received": "Received", "rights.in_progress": "Started",
                 "rights.completed": "Completed", "rights.refused": "Refused",
                 "subject.erased": "Subject erased"}


def _request_page(r, status: int = 200, **extra):
    org_id = org().id
    now = clock.utcnow()
    return render("console/rights_request.html", status, title=f"Rights request {r.id[:8]}",
                  r=r, view=core.request_view(r), history=core.step_events(org_id, r),
                  overdue=_overdue(r, now), now=now, statuses=STATUS_LABELS,
                  kinds=KIND_LABELS, actions=ACTION_LABELS, **extra)


@bp.get("/o/<org>/rights/<request_id>")
def rights_request(request_id):
    r = core.get_request(org().id, _request_id(request_id))
    return _request_page(r, done=DONE.get(request.args.get("done", "")))


def _request_id(value: str) -> str:
    if len(value) > 64 or not value.isascii() or not value.isprintable():
        raise Invalid("not a rights request id")
    return value


WRONG = {"start": "started", "complete": "completed", "refuse": "refused"}


def _step(request_id: str, what: str, fn, **kwargs):
    org_id = org().id
    request_id = _request_id(request_id)
    try:
        return fn(org_id, request_id, actor=actor(), **kwargs)
    except Conflict:
        r = core.get_request(org_id, request_id)
        raise Conflict(f"This request cannot be {WRONG[what]}: it is already "
                       f"{STATUS_LABELS.get(r.status, r.status).lower()}.") from None


@bp.post("/o/<org>/rights/<request_id>/start")
def rights_start(request_id):
    r = _step(request_id, "start", core.start_request)
    return redirect(url_for("console.rights_request", request_id=r.id, done="started"), 303)


@bp.post("/o/<org>/rights/<request_id>/refuse")
def rights_refuse(request_id):
    core.get_request(org().id, _request_id(request_id))   # another's: 404 before the form
    reason = (request.form.get("reason") or "").strip()
    if not reason:
        raise Invalid("a refusal needs a reason: the requester is told it")
    r = _step(request_id, "refuse", core.refuse_request, reason=reason)
    return redirect(url_for("console.rights_request", request_id=r.id, done="refused"), 303)


@bp.post("/o/<org>/rights/<request_id>/complete")
def rights_complete(request_id):
    """Complete: an erasure request erases its subject. An access request's report is made
    now, from the identifier the completion forgets, and shown at once (once)."""
    org_id = org().id
    request_id = _request_id(request_id)
    before = core.get_request(org_id, request_id)
    report = None
    if before.kind == "access" and before.status in core.OPEN and before.identifier:
        report = core.report(org_id, before.identifier)
    r = _step(request_id, "complete", core.complete_request)
    if r.kind != "access":
        return redirect(url_for("console.rights_request", request_id=r.id, done="completed"),
                        303)
    return render("console/rights_report.html", title="Access report", r=r, report=report,
                  completed=True, identifier=before.identifier)


@bp.get("/o/<org>/rights/<request_id>/report")
def rights_report(request_id):
    """The access report of an open access request (its identifier is still held)."""
    r = core.get_request(org().id, _request_id(request_id))
    if r.kind != "access":
        raise Conflict("Only an access request has a report.")
    if r.status not in core.OPEN or not r.identifier:
        raise Conflict(f"This request is {STATUS_LABELS.get(r.status, r.status).lower()}: its "
                       "identifier is forgotten, so its report can no longer be made.")
    return render("console/rights_report.html", title="Access report", r=r,
                  report=core.report(org().id, r.identifier), completed=False,
                  identifier=r.identifier)
