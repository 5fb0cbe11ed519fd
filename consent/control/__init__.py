"""Control mode: the service as a stub in a client project's test suite (``CONSENT_CONTROL=1``).

Off by default: then no ``/_control`` route exists (every such path is 404) and nothing below
runs. On, :func:`init_app` adds:

* the control API (:mod:`.routes`, ``/_control/...``, an organisation's admin API key, acting on
  that organisation only): reset, the clock, fault rules, the request journal, the state;
* before every request: the organisation its credential belongs to is identified (the route's
  auth scheme's :meth:`~consent.web.auth.Scheme.identify`, or an organisation a URL segment
  names), the request runs under that organisation's clock (:mod:`consent.core.clock`), and a
  fault rule that matches (or an ``X-Consent-Fault: <status>`` header) answers instead of the
  view, in the owning dialect's error shape, before anything is written;
* after it: the request goes into the organisation's journal (credential headers masked);
* the webhook sender asks the delivery fault rules before recording an attempt's answer;
* a background loop runs each dialect's sweeps (``Stub.clock_moved``) for every organisation
  whose clock is moved, under that clock.

A dialect joins by declaring ``stub=Stub(...)`` in its ``Dialect`` entry (:mod:`.store`).
"""
from __future__ import annotations

import base64
import datetime as dt
import logging
import socket
import time
from http import HTTPStatus
from types import SimpleNamespace

from flask import current_app, g, request
from flask_smorest import abort
from werkzeug.exceptions import HTTPException

from consent.core import background, clock, errors as domain, ids, outbound, outbox
from consent.core.storage import Organisation

from . import store

log = logging.getLogger(__name__)

SKIP = ("/_control", "/healthz", "/readyz", "/openapi.json", "/docs")
MASKED_HEADERS = {"authorization", "x-api-key", "x-auth-client", "vrf-auth-client",
                  "x-hmac-signature", "vrf-hmac-signature", "cookie", "proxy-authorization",
                  "x-signature", "x-avacy-token"}
FAULT_HEADER = "X-Consent-Fault"
LOOP_SECONDS = 2.0


def enabled(app) -> bool:
    return bool(app.config.get("CONSENT_CONTROL"))


def init_app(app, api) -> None:
    """Register every dialect's ``stub``; with control mode on, the API, hooks and loop."""
    from consent.web.dialect import register_api_blueprint, registry

    dialects = registry(app)
    for dialect in dialects.dialects:
        store.register(dialect.name, dialect.stub)
    seed = str(app.config.get("CONSENT_SEED") or "").strip()
    ids.seed(int(seed) if seed else None)
    if seed:
        log.warning("deterministic mode: CONSENT_SEED=%s; ids, tokens and keys repeat on every "
                    "run (never for real records)", seed)
    if not enabled(app):
        return
    log.warning("control mode: CONSENT_CONTROL=1; /_control resets, moves clocks and injects "
                "faults (a test stub, never for real records)")
    from .routes import blp

    register_api_blueprint(api, blp)
    owner_of_blueprint = {}
    for dialect in dialects.dialects:
        for bp in (*dialect.blueprints, *dialect.pages):
            owner_of_blueprint[bp.name] = dialect.name

    def dialect_name() -> str | None:
        name = owner_of_blueprint.get(request.blueprint)
        if name is None:
            owner = dialects.owner(request.path)
            name = owner.name if owner else None
        return name

    @app.before_request
    def control_before():
        if request.path.startswith(SKIP):
            return None
        principal = _identify()
        org_id = getattr(getattr(principal, "org", None), "id", None)
        if org_id is None:
            return None
        g.control = SimpleNamespace(org_id=org_id, principal=principal, injected=False,
                                    started=clock.real_utcnow(), dialect=dialect_name())
        offset = store.clock_offset(org_id)
        if offset:
            g.control.token = clock.set_offset(offset)
        request.get_data(cache=True)    # the body as received, for the journal
        rule = _header_rule()
        if rule is None:
            rule = store.take_fault(org_id, "request", request.method, request.path)
        if rule is None:
            return None
        g.control.injected = True
        if rule.latency_ms:
            time.sleep(rule.latency_ms / 1000)
        if rule.drop:
            return _drop()
        if rule.status:
            return _fault_response(rule.status, dialects, g.control)
        return None

    @app.after_request
    def control_after(response):
        ctx = g.get("control")
        if ctx is not None and not getattr(ctx, "recorded", False):
            _record(ctx, response)
        return response

    @app.teardown_request
    def control_teardown(exc):
        ctx = g.get("control")
        token = getattr(ctx, "token", None)
        if token is not None:
            clock.restore(token)
            ctx.token = None

    outbox.INTERCEPT = _delivery_fault
    app.extensions["consent.background"].add(
        background.Loop("control-clocks", _sweep_moved_clocks, lambda: LOOP_SECONDS))


def _identify():
    """The principal of the request's credential, without side effects; None if none."""
    view = current_app.view_functions.get(request.endpoint)
    if view is None:
        return None
    cls = getattr(view, "view_class", None)
    func = getattr(cls, request.method.lower(), None) if cls is not None else view
    scheme = getattr(func, "auth_scheme", None)
    if scheme is not None:
        try:
            return scheme.identify()
        except Exception:  # noqa: BLE001 - no valid credential: the view answers that itself
            return None
    for value in (request.view_args or {}).values():   # a page naming its organisation
        if isinstance(value, Organisation) or (hasattr(value, "subdomain")
                                               and hasattr(value, "id")):
            return SimpleNamespace(org=value, credential=None)
    return None


def _header_rule():
    value = request.headers.get(FAULT_HEADER)
    if value is None:
        return None
    try:
        status = int(value.strip())
    except ValueError:
        status = 0
    if not 400 <= status <= 599:
        abort(400, message=f"{FAULT_HEADER} must be a status from 400 to 599")
    return SimpleNamespace(status=status, latency_ms=0, drop=False)


def _fault_response(status: int, dialects, ctx):
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    message = f"Injected fault: {status} {phrase}"
    if status == 503:
        exc = domain.Unavailable(message, retry_after=1)
    else:
        try:
            abort(status, message=message)
        except HTTPException as raised:
            exc = raised
        except LookupError:   # a status werkzeug has no class for
            exc = None
    shape = dialects.shape_for_request()
    if shape is None:
        from consent.web.dialect import SERVICE_ERRORS
        shape = SERVICE_ERRORS
    response = shape.render(status, message, exc)
    response.status_code = status
    if status in (429, 503) and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = "1"
    response.headers["X-Consent-Injected"] = "true"
    stub = store.stub_of(ctx.dialect)
    if stub is not None and stub.decorate_fault is not None and ctx.principal is not None:
        stub.decorate_fault(response, ctx.principal)
    return response


def _drop():
    """Close the connection without answering (gunicorn's socket; werkzeug's server's). The
    empty answer returned is never delivered: the socket is shut first. (Flask's test client
    has no socket: it gets that empty answer.) The request is in the journal before the socket
    closes: a client that retries at once must find its dropped request before its retry."""
    g.control.dropped = True
    _record(g.control, None)
    sock = request.environ.get("gunicorn.socket") or request.environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    response = current_app.response_class(b"", status=499)
    response.headers["Connection"] = "close"
    return response


def _masked(name: str, value: str) -> str:
    if name.lower() not in MASKED_HEADERS:
        return value
    scheme, sep, _ = value.partition(" ")
    if sep and scheme.lower() in ("bearer", "basic", "token"):
        return f"{scheme} ***"
    return "***"


def _record(ctx, response) -> None:
    """Put the request in its organisation's journal, once."""
    ctx.recorded = True
    try:
        store.record_request(ctx.org_id, _journal_entry(ctx, response))
    except Exception:  # noqa: BLE001 - the journal never fails an answer
        log.exception("request journal: not recorded")


def _journal_entry(ctx, response) -> dict:
    raw = request.get_data(cache=True) or b""
    cut = raw[:store.BODY_LIMIT]
    try:
        body, encoding = cut.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        body, encoding = base64.b64encode(cut).decode("ascii"), "base64"
    return {"at": ctx.started + dt.timedelta(seconds=clock.current_offset()),
            "method": request.method, "path": request.path,
            "query": request.query_string.decode("latin-1"), "dialect": ctx.dialect,
            "headers": {k: _masked(k, v) for k, v in request.headers.items()},
            "body": body, "body_encoding": encoding, "body_truncated": len(raw) > len(cut),
            "body_size": len(raw), "injected": ctx.injected,
            "status": 0 if getattr(ctx, "dropped", False) or response is None
            else response.status_code}


def _delivery_fault(delivery, answer):
    """A delivery fault rule of the delivery's organisation makes an attempt fail: the request
    was sent, and its answer is taken as the rule's status (the receiver sees a retry)."""
    try:
        rule = store.take_fault(delivery.org_id, "delivery", "POST", delivery.url)
    except Exception:  # noqa: BLE001 - a fault rule never stops a delivery
        return answer
    if rule is None or not rule.status:
        return answer
    return outbound.Answer(rule.status, f"injected fault: HTTP {rule.status}", answer.excerpt)


def _sweep_moved_clocks() -> bool:
    for org_id, offset in store.moved_clocks():
        store.run_clock_moved(org_id, offset)
    return False
