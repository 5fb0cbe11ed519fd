"""The providers view, Veriff: integrations (their webhook URLs; never the shared secret nor
the API key, only its prefix), the organisation's sessions in keyset pages (status, decision)
and, for a session whose decision is not final, the decide buttons: what
``POST /ledger/v1/veriff/sessions/{id}/decision`` does (``lifecycle.decide`` through
``service.change``: one transaction with its audit event, and the decision webhook), with the
operator as the actor."""
from __future__ import annotations

from flask import redirect, request, url_for

from consent.core.errors import Invalid, NotFound
from consent.dialects.veriff import codes, service, webhooks

from ..blueprint import actor, bp, org
from .providers import decode_cursor, encode_cursor, page_size, render_provider

# The decisions an operator gives with a button (Veriff's test decisions), each with its code.
BUTTONS = ((codes.APPROVED, "Approve"), (codes.DECLINED, "Decline"),
           (codes.RESUBMISSION, "Request resubmission"))


@bp.get("/o/<org>/providers/veriff")
def providers_veriff():
    limit = page_size()
    rows, next_before = service.sessions_page(org(), limit, decode_cursor())
    integrations = webhooks.integrations(org())
    names = {i["id"]: i["name"] for i in integrations}
    return render_provider("veriff.html", "Veriff", integrations=integrations, sessions=rows,
                           names=names, final=codes.FINAL, buttons=BUTTONS,
                           next_cursor=encode_cursor(next_before), limit=limit,
                           first_page=request.args.get("before") in (None, ""),
                           decided=request.args.get("decided"))


@bp.post("/o/<org>/providers/veriff/sessions/<session_id>/decision")
def providers_veriff_decide(session_id):
    statement, params = service.in_org(org(), session_id)
    if statement.one(params) is None:
        raise NotFound(f"no Veriff session {session_id} in this organisation")
    status = request.form.get("status", "")
    if status not in {s for s, _ in BUTTONS}:
        raise Invalid("status must be approved, declined or resubmission_requested")
    session = service.decide(org(), session_id, status, None, actor(), via="console")
    return redirect(url_for("console.providers_veriff", decided=f"{session.id}:{status}"), 303)
