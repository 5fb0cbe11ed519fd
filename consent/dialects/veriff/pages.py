"""The hosted flow page a session's ``url`` opens: ``/v/<session token>``.

Veriff's own URL runs its identity flow in the browser; here a tester drives the same lifecycle
by hand, the way Veriff's test integrations let one force a result:

* ``GET`` opens the flow: a ``created`` (or ``resubmission_requested``) session becomes
  ``started`` (a new attempt, event webhook 7001). The page shows the session and its person,
  consents and media, and a form to submit it.
* ``POST action=submit``: ``submitted`` (event webhook 7002); Veriff's test-mode names
  (``Approve``, ``Decline``, ``Resubmit``) decide it at once. The page then offers the decision:
  approved, declined (with a reason code from Veriff's table), resubmission_requested (with one
  from its table), review, expired, abandoned.
* ``POST action=decide``: the decision (decision webhook). Finished: opened directly, the browser
  is redirected (303) to the session's ``callback``; inside the InContext SDK's iframe the page
  tells the parent instead.
* ``POST action=cancel``: the end-user leaves; nothing changes.

Plain HTML forms that work without JavaScript; one script from the service itself
(``static/flow.js``, CSP ``script-src 'self'``, no inline script) speaks the InContext SDK's
postMessage protocol to a parent frame: ``VERIFF_HANDSHAKE``, then, once the parent answered with
``VERIFF_RENDER``, the page's own messages (``VERIFF_STARTED``, ``VERIFF_SUBMITTED``,
``VERIFF_FINISHED``, ``VERIFF_CANCELED``) to that parent's origin only. Who may frame the page
is ``CONSENT_FRAME_ANCESTORS`` (CSP ``frame-ancestors``).

Forms are protected against cross-site posts by a signed token (its own salt, a max age) bound
to the session and to the status it was shown in, and by the ``Origin``/``Sec-Fetch-Site`` check
truConsent's collector uses. Unlike the collector, no cookie is involved: the page is authorised
by the secret token in its URL alone (no ambient credential to ride on), and browsers withhold
SameSite cookies from an iframe whose parent is another site, which is exactly where the
InContext SDK puts this page. A token shown for one status cannot act on another (a second
click, or a decision made meanwhile from the CLI, meets the page as it now is).
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, redirect, request
from werkzeug.exceptions import HTTPException

from consent.core import tokens
from consent.web import cross_site_request
from consent.web.cors import frame_ancestors
from consent.web.pages import page
from schemas.common import iso

from . import codes, lifecycle, service, webhooks

bp = Blueprint("veriff_pages", __name__, template_folder="templates", static_folder="static",
               static_url_path="/v/assets")

FORM_MAX_AGE = 24 * 3600
STARTED, SUBMITTED = "VERIFF_STARTED", "VERIFF_SUBMITTED"
FINISHED, CANCELED = "VERIFF_FINISHED", "VERIFF_CANCELED"


def _origin(url: str | None) -> str | None:
    """scheme://host[:port] of an http(s) URL, or None (for CSP form-action)."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host or not all(
            c.isalnum() or c in ".-:" for c in host):
        return None
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


def _respond(template: str, status: int, session=None, **context):
    callback = _origin(session.callback) if session is not None else None
    # The decision's redirect to the callback is a form's navigation, which form-action governs.
    form_action = "'self'" + (f" {callback}" if callback else "")
    ancestors = frame_ancestors(current_app.config["CONSENT_FRAME_ANCESTORS"])
    csp = (f"default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; "
           f"form-action {form_action}; frame-ancestors {ancestors}; base-uri 'none'")
    # The URL carries the session token: never sent to another site. ("no-referrer" would also
    # make the browser send "Origin: null" with the forms.)
    return page(template, status, csp=csp, referrer="same-origin", session=session, **context)


def _message(status: int, kind: str, session=None, events=()):
    return _respond("veriff/message.html", status, session, kind=kind, events=" ".join(events))


def _form_token(session) -> str:
    return tokens.dumps(current_app.config["SECRET_KEY"], tokens.Salt.VERIFF_FLOW,
                        {"s": session.id, "st": session.status, "a": session.attempt_id})


def _form_for(session):
    """The form token's claims, or None when the token is missing, forged or too old."""
    try:
        claims = tokens.loads(current_app.config["SECRET_KEY"], tokens.Salt.VERIFF_FLOW,
                              request.form.get("csrf_token", ""), max_age=FORM_MAX_AGE)
    except tokens.BadSignature:
        return None
    if not isinstance(claims, dict) or claims.get("s") != session.id:
        return None
    return claims


def _page(session, status: int = 200, events=(), error: str | None = None, chosen=None):
    """The page for where the session stands: the flow (started), the decision (submitted,
    review), or the result."""
    if session.status == codes.STARTED:
        step = "flow"
    elif session.status in (codes.SUBMITTED, codes.REVIEW):
        step = "decide"
    else:
        step = "finished"
    attempt = lifecycle.current_attempt(session)
    consents = [{"type": row.type, "approved": row.approved, "binding": index == 0,
                 "created_at": iso(row.created_at)}
                for index, row in enumerate(service.session_consents(session))]
    media = [{"context": m.context, "size": m.size, "mimetype": m.mimetype,
              "timestamp": iso(m.timestamp)} for m in service.list_media(session)]
    return _respond(
        "veriff/flow.html", status, session, step=step, attempt=attempt,
        person=webhooks.person_of(session), created_at=iso(session.created_at),
        consents=consents, media=media, csrf_token=_form_token(session),
        events=" ".join(events), error=error, chosen=chosen or {},
        decisions=codes.DECISIONS, decline_reasons=codes.DECLINE_REASONS,
        resubmission_reasons=codes.RESUBMISSION_REASONS, default_reason=codes.DEFAULT_REASON,
        test_names=sorted(name.capitalize() for name in codes.TEST_MODE_NAMES))


def _framed() -> bool:
    """Inside a frame (the InContext SDK): the page's script says so, and browsers that send
    fetch metadata do too."""
    return (request.form.get("framed") == "1"
            or request.headers.get("Sec-Fetch-Dest", "").lower() == "iframe")


def _finished(session, events):
    """After the end-user's part: to the callback when opened directly, else the result page
    (which tells a parent frame)."""
    if not _framed() and session.callback:
        return redirect(session.callback, code=303)
    return _page(session, events=events)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return _message(exc.code or 500, "http")


@bp.get("/v/<token>")
def flow_page(token: str):
    session = service.open_flow(token) if request.method == "GET" else \
        service.session_by_token(token)
    if session is None:
        return _message(404, "unknown")
    return _page(session, events=(STARTED,) if session.status == codes.STARTED else ())


@bp.post("/v/<token>")
def flow_action(token: str):
    session = service.session_by_token(token)
    if session is None:
        return _message(404, "unknown")
    claims = None if cross_site_request() else _form_for(session)
    if claims is None:
        return _message(403, "forbidden", session)
    if claims.get("st") != session.status or claims.get("a") != session.attempt_id:
        return _page(session, 409, error="changed")
    action = request.form.get("action")
    if action == "cancel":
        if not _framed() and session.callback:
            return redirect(session.callback, code=303)
        return _message(200, "canceled", session, events=(CANCELED,))
    if action == "submit" and session.status in codes.OPEN:
        session = service.change(*service.by_token(token), lifecycle.submit,
                                 service.PAGE_ACTOR, {"frontState": "done"})
        if session is None:
            return _message(404, "unknown")
        if session.status in codes.DECISIONS:  # Veriff's test-mode names
            return _finished(session, (SUBMITTED, FINISHED))
        return _page(session, events=(SUBMITTED,))
    if action == "decide" and session.status in (codes.SUBMITTED, codes.REVIEW):
        status = request.form.get("status", "")
        reason_field = {codes.DECLINED: "decline_reason",
                        codes.RESUBMISSION: "resubmission_reason"}.get(status)
        raw_reason = request.form.get(reason_field, "") if reason_field else ""
        try:
            reason_code = int(raw_reason) if raw_reason.isdigit() and len(raw_reason) < 6 \
                else None
            if raw_reason and reason_code is None:
                raise codes.InvalidDecision(f"reason code {raw_reason!r} is not a number")
            session = service.change(*service.by_token(token), lifecycle.decide, status,
                                     reason_code, service.PAGE_ACTOR, via="page")
        except codes.InvalidDecision:
            return _page(session, 422, error="invalid", chosen=request.form)
        except lifecycle.SessionStateError:  # decided meanwhile (the CLI, the ledger API)
            return _page(service.session_by_token(token), 409, error="changed")
        if session is None:
            return _message(404, "unknown")
        return _finished(session, (FINISHED,))
    return _page(session, 400, error="action")
