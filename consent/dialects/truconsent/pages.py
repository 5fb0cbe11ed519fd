"""truConsent's server-rendered pages: the collector page a consent link opens, and the operator's
view of the local mail outbox. HTML that works without JavaScript; all text is in the templates.

``GET  /{org-subdomain}/{cp-display-id}/{event-id}?t=<signed token>`` shows the notice and a form;
``POST`` to the same URL records one consent per purpose. The route matches only an existing
organisation's subdomain (the ``tc_org`` converter), so it never catches another dialect's
three-segment URLs. Cross-site submissions are refused: the form carries a signed token bound to
the event and to a random nonce held in a SameSite cookie, and a request whose ``Origin`` (or
``Sec-Fetch-Site``) says it came from another site is rejected.
"""
from __future__ import annotations

import hmac

from flask import Blueprint, current_app, request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter, ValidationError

from consent.core import ids, ledger, tokens
from consent.web.pages import page
from consent.web import cross_site_request, looked_up
from schemas.common import iso

from . import links, logs, mail

bp = Blueprint("truconsent_pages", __name__, template_folder="templates")

CSRF_COOKIE = "tc_csrf"
CSRF_MAX_AGE = 24 * 3600
OUTBOX_MAX_AGE = 3600


class OrgSubdomainConverter(BaseConverter):
    """A URL segment that is an existing organisation's subdomain (the view gets its row). Any
    other value does not match, and routing goes on to the other rules."""

    def to_python(self, value):
        org = looked_up(ledger.org_by_subdomain, value)
        if org is None:
            raise ValidationError()
        return org

    def to_url(self, value) -> str:
        return getattr(value, "subdomain", value)


bp.record_once(lambda state: state.app.url_map.converters.setdefault(
    "tc_org", OrgSubdomainConverter))


def _page(template: str, status: int = 200, **ctx):
    # The link's token must not leak to other sites (same-origin still sends a real Origin).
    return page(template, status, referrer="same-origin", **ctx)


def _message(status: int, kind: str, org=None, **ctx):
    """The message page; ``kind`` picks its text in truconsent/message.html."""
    return _page("truconsent/message.html", status, kind=kind, org=org, **ctx)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return _message(exc.code or 500, "http", title=exc.name, text=exc.description or "")


def _csrf_ok(event_id: str) -> bool:
    nonce = request.cookies.get(CSRF_COOKIE, "")
    token = request.form.get("csrf_token", "")
    if not nonce or not token:
        return False
    try:
        payload = tokens.loads(current_app.config["SECRET_KEY"], tokens.Salt.CSRF, token,
                               max_age=CSRF_MAX_AGE)
    except tokens.BadSignature:
        return False
    return (isinstance(payload, dict) and payload.get("e") == event_id
            and hmac.compare_digest(str(payload.get("n", "")).encode(), nonce.encode()))


def _decisions(link) -> list:
    _, found = logs.page(link.org, request_id=link.req.id, limit=1000)
    order = {p["id"]: i for i, p in enumerate(link.cp.purposes)}
    return sorted(found, key=lambda log: order.get(log.row.purpose, len(order)))


def _done(link, status: int = 200, **flags):
    return _page("truconsent/done.html", status, org=link.org, cp=link.cp, req=link.req,
                 completed_at=link.req.completed_at.strftime("%Y-%m-%d %H:%M"),
                 decisions=_decisions(link), **flags)


def _form(link, status: int = 200, invalid: bool = False, selected: dict | None = None):
    nonce = request.cookies.get(CSRF_COOKIE) or ids.token_urlsafe(24)
    csrf = tokens.dumps(current_app.config["SECRET_KEY"], tokens.Salt.CSRF,
                        {"e": link.event.id, "n": nonce})
    response = _page("truconsent/collector.html", status, org=link.org, cp=link.cp,
                     csrf_token=csrf, action=request.full_path.rstrip("?"), invalid=invalid,
                     selected=selected or {},
                     expires_at=link.event.expires_at.strftime("%Y-%m-%d %H:%M"))
    response.set_cookie(CSRF_COOKIE, nonce, max_age=CSRF_MAX_AGE, path=request.path,
                        httponly=True, samesite="Lax", secure=request.is_secure)
    return response


@bp.route("/<tc_org:org>/<string:cp_display>/<uuid:event_id>", methods=["GET", "POST"])
def collector(org, cp_display, event_id):
    try:
        link = links.resolve(current_app.config["SECRET_KEY"], org.subdomain, cp_display,
                             str(event_id), request.args.get("t"))
    except links.LinkError as err:
        return _message(err.status, err.kind)
    if link.req.completed_at is not None:
        if request.method == "POST":
            return _done(link, 409, already=True)
        return _done(link)
    if request.method == "GET":
        return _form(link)

    if cross_site_request() or not _csrf_ok(link.event.id):
        return _message(403, "cross_site", link.org)
    decision = request.form.get("decision", "custom")
    purposes = link.cp.purposes
    selected = {p["id"]: request.form.get(f"purpose_{p['id']}") for p in purposes}
    if decision == "accept_all":
        choices = {p["id"]: True for p in purposes}
    elif decision == "decline_all":
        choices = {p["id"]: False for p in purposes}
    elif all(v in ("accept", "decline") for v in selected.values()):
        choices = {pid: v == "accept" for pid, v in selected.items()}
    else:
        return _form(link, 422, invalid=True, selected=selected)
    evidence = {"channel": "collector_page",
                "user_agent": (request.user_agent.string or "")[:300],
                "submitted_with": decision}
    try:
        link.req = links.complete(link, choices, evidence)
    except links.AlreadyCompleted:
        link.req = links.get_request(link.org, link.req.id)
        return _done(link, 409, already=True)
    except links.LinkError as err:
        return _message(err.status, err.kind, link.org)
    return _done(link, just_recorded=True)


# -- the operator's view of the local outbox -------------------------------------------------------

def outbox_token(org) -> str:
    return tokens.dumps(current_app.config["SECRET_KEY"], tokens.Salt.OPERATOR,
                        {"org": org.id, "page": "truconsent.outbox"})


@bp.route("/truconsent/outbox")
def outbox_page():
    try:
        payload = tokens.loads(current_app.config["SECRET_KEY"], tokens.Salt.OPERATOR,
                               request.args.get("t", ""), max_age=OUTBOX_MAX_AGE)
    except tokens.SignatureExpired:
        return _message(410, "operator_expired")
    except tokens.BadSignature:
        return _message(403, "operator_forbidden")
    if not isinstance(payload, dict) or payload.get("page") != "truconsent.outbox":
        return _message(403, "operator_forbidden")
    org = ledger.get_org(payload.get("org"))
    return _page("truconsent/outbox.html", org=org, messages=mail.outbox(org, limit=200),
                 iso=iso)
