"""The providers view, Attestr: clients (their settings; never the client secret nor the
webhook token), the organisation's consents in keyset pages (status), and the export jobs
(asynchronous; their status). The export button does what
``POST /api/v3/public/consent/{_id}/export`` does (``exports.request_export``: the job and its
audit event in one transaction, the worker woken after the commit), with the operator as the
actor; the job is the consent's own client's, as if that client had asked."""
from __future__ import annotations

from flask import redirect, request, url_for

from consent.core.errors import NotFound
from consent.dialects.attestr import clients, consents, exports
from consent.web import public_url

from ..blueprint import actor, bp, org
from .providers import decode_cursor, encode_cursor, page_size, render_provider

JOBS_SHOWN = 20


@bp.get("/o/<org>/providers/attestr")
def providers_attestr():
    limit = page_size()
    rows, next_before = consents.consents_page(org().id, limit, decode_cursor())
    listed = clients.clients(org())
    jobs, _ = exports.jobs_page(org().id, JOBS_SHOWN)
    return render_provider("attestr.html", "Attestr", clients=listed,
                           names={c.credential_id: c.name for c in listed}, consents=rows,
                           consent_status=consents.status, jobs=jobs,
                           next_cursor=encode_cursor(next_before), limit=limit,
                           first_page=request.args.get("before") in (None, ""),
                           exported=request.args.get("exported"))


@bp.post("/o/<org>/providers/attestr/consents/<consent_id>/export")
def providers_attestr_export(consent_id):
    row = consents.in_org(org().id, consent_id)
    client = clients.find(row.client_id) if row is not None else None
    if client is None:
        raise NotFound(f"no Attestr consent {consent_id} in this organisation")
    job = exports.request_export(client, row.id, public_url(), actor=actor())
    return redirect(url_for("console.providers_attestr", exported=job.number), 303)
