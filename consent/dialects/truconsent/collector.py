"""The collector page a consent link opens: server-rendered HTML that works without JavaScript.

``GET  /{org-subdomain}/{cp-display-id}/{event-id}?t=<signed token>`` shows the notice and a form;
``POST`` to the same URL records one consent per purpose. Cross-site submissions are refused: the
form carries a signed token bound to the event and to a random nonce held in a SameSite cookie, and
a request whose ``Origin`` (or ``Sec-Fetch-Site``) says it came from another site is rejected.
"""
from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from flask import Blueprint, current_app, make_response, render_template, request
from werkzeug.exceptions import HTTPException

from consent.core import tokens
from consent.core.storage import OutboxMessage
from schemas.common import iso

from . import service

bp = Blueprint("truconsent_collector", __name__, template_folder="templates")

CSRF_COOKIE = "tc_csrf"
CSRF_MAX_AGE = 24 * 3600


def _headers(response):
    response.headers["Cache-Control"] = "no-store"
    # The link's token must not leak to other sites (same-origin still sends a real Origin).
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'")
    return response


def _page(template: str, status: int = 200, **ctx):
    return _headers(make_response(render_template(template, **ctx), status))


def _message(status: int, title: str, message: str, org=None):
    return _page("truconsent/message.html", status, title=title, message=message, org=org)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return _message(exc.code or 500, exc.name, exc.description or "")


def _cross_site() -> bool:
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        return True
    origin = request.headers.get("Origin")
    if origin and origin != "null":  # "null": privacy-preserving browsers; the cookie decides
        return urlsplit(origin).netloc.lower() != request.host.lower()
    return False


def _csrf_ok(event_id: str) -> bool:
    nonce = request.cookies.get(CSRF_COOKIE, "")
    token = request.form.get("csrf_token", "")
    if not nonce or not token:
        return False
    try:
        payload = tokens.loads(current_app.config["SECRET_KEY"], tokens.Purpose.CSRF, token,
                               max_age=CSRF_MAX_AGE)
    except tokens.BadSignature:
        return False
    return (isinstance(payload, dict) and payload.get("e") == event_id
            and hmac.compare_digest(str(payload.get("n", "")).encode(), nonce.encode()))


def _decisions(ctx) -> list[dict]:
    _, logs = service.logs_page(ctx.org, request_id=ctx.req.id, limit=1000)
    order = {p["id"]: i for i, p in enumerate(ctx.cp.purposes)}
    return sorted(logs, key=lambda log: order.get(log["purpose_id"], len(order)))


def _done(ctx, status: int = 200, **flags):
    return _page("truconsent/done.html", status, org=ctx.org, cp=ctx.cp, req=ctx.req,
                 completed_at=ctx.req.completed_at.strftime("%Y-%m-%d %H:%M"),
                 decisions=_decisions(ctx), title=f"{ctx.cp.title}: decision recorded",
                 **flags)


def _form(ctx, status: int = 200, error: str | None = None, selected: dict | None = None):
    nonce = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
    csrf = tokens.dumps(current_app.config["SECRET_KEY"], tokens.Purpose.CSRF,
                        {"e": ctx.event.id, "n": nonce})
    response = _page("truconsent/collector.html", status, org=ctx.org, cp=ctx.cp,
                     csrf_token=csrf, action=request.full_path.rstrip("?"), error=error,
                     selected=selected or {}, title=f"{ctx.cp.title} · {ctx.org.name}",
                     expires_at=ctx.event.expires_at.strftime("%Y-%m-%d %H:%M"))
    response.set_cookie(CSRF_COOKIE, nonce, max_age=CSRF_MAX_AGE, path=request.path,
                        httponly=True, samesite="Lax", secure=request.is_secure)
    return response


@bp.route("/<string:subdomain>/<string:cp_display>/<uuid:event_id>", methods=["GET", "POST"])
def collector(subdomain, cp_display, event_id):
    try:
        ctx = service.resolve_link(current_app.config["SECRET_KEY"], subdomain, cp_display,
                                   str(event_id), request.args.get("t"))
    except service.LinkError as err:
        return _message(err.status, err.title, err.message)
    if ctx.req.completed_at is not None:
        if request.method == "POST":
            return _done(ctx, 409, already=True)
        return _done(ctx)
    if request.method == "GET":
        return _form(ctx)

    if _cross_site() or not _csrf_ok(ctx.event.id):
        return _message(403, "This form could not be accepted",
                        "The form did not come from this page, or it was open for too long. "
                        "Please open your consent link again.", ctx.org)
    decision = request.form.get("decision", "custom")
    purposes = ctx.cp.purposes
    selected = {p["id"]: request.form.get(f"purpose_{p['id']}") for p in purposes}
    if decision == "accept_all":
        choices = {p["id"]: True for p in purposes}
    elif decision == "decline_all":
        choices = {p["id"]: False for p in purposes}
    elif all(v in ("accept", "decline") for v in selected.values()):
        choices = {pid: v == "accept" for pid, v in selected.items()}
    else:
        return _form(ctx, 422, "Please choose Accept or Decline for every purpose, or use "
                               "Accept all / Decline all.", selected)
    evidence = {"channel": "collector_page",
                "user_agent": (request.user_agent.string or "")[:300],
                "submitted_with": decision}
    try:
        ctx.req = service.complete_link(ctx, choices, evidence)
    except service.AlreadyCompleted:
        ctx.req = service.get_request(ctx.org, ctx.req.id)
        return _done(ctx, 409, already=True)
    except service.LinkError as err:
        return _message(err.status, err.title, err.message, ctx.org)
    return _done(ctx, just_recorded=True)


# -- the operator's view of the local outbox -------------------------------------------------------

OUTBOX_MAX_AGE = 3600


def outbox_token(org) -> str:
    return tokens.dumps(current_app.config["SECRET_KEY"], tokens.Purpose.OPERATOR,
                        {"org": org.id, "page": "truconsent.outbox"})


@bp.route("/truconsent/outbox")
def outbox_page():
    try:
        payload = tokens.loads(current_app.config["SECRET_KEY"], tokens.Purpose.OPERATOR,
                               request.args.get("t", ""), max_age=OUTBOX_MAX_AGE)
    except tokens.SignatureExpired:
        return _message(410, "This operator link has expired",
                        "Run `flask --app app truconsent outbox url` for a new one.")
    except tokens.BadSignature:
        return _message(403, "Not allowed", "This page needs a signed operator link.")
    if not isinstance(payload, dict) or payload.get("page") != "truconsent.outbox":
        return _message(403, "Not allowed", "This page needs a signed operator link.")
    from consent.core.storage import Organisation

    org = Organisation.get_or_none(Organisation.id == payload.get("org"))
    messages = (OutboxMessage.select().where((OutboxMessage.org == payload.get("org"))
                                             & (OutboxMessage.transport == "outbox"))
                .order_by(OutboxMessage.id.desc()).limit(200))
    return _page("truconsent/outbox.html", org=org, messages=list(messages),
                 title="Local outbox", iso=iso)
