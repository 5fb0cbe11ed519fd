"""What a dialect is, and the app-level dispatch that makes every error leave in the right dialect.

A dialect package exposes ``DIALECT``, a :class:`Dialect`: the one place that says what the
dialect brings. Its name, the URLs it owns, its :class:`ErrorShape`, its API blueprints and
pages, what it adds to ``seed-demo`` and the CLI, its background loops, and what it brings to the
core: its schema component (tables, migrations, covered tables), its subscriptions to the core's
hooks and its consent lookup. Nothing is registered by importing a dialect's modules:
:func:`install` puts every entry's core parts in place for the process (``create_app`` does,
from ``consent.dialects``' registry, before anything touches the database), and :func:`register`
adds its blueprints, pages and loops to one app. ``tests/test_dialect_contract.py`` checks that
each entry declares every table, listener, loop, blueprint and command its package defines.

Errors raised inside a dialect's views, and 404/405/413 for URLs it owns that match no route, are
rendered by its ``ErrorShape``. For such an unmatched URL the dialect's ``unmatched_auth`` scheme
runs first, so a caller without a valid credential learns nothing about which paths exist (a
Veriff path without a valid ``X-AUTH-CLIENT`` is 401 before it is 404).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Callable

from flask import Response, jsonify, request
from flask_smorest import abort
from werkzeug.exceptions import HTTPException, InternalServerError

from consent.core import components, hooks, outage, rights, usage
from consent.core import errors as domain
from consent.core.database import release_broken_connection
from schemas.common import ServiceErrorSchema

from . import LookupFailed
from .auth import AuthFailed, Scheme
from .cors import CorsPolicy
from .pages import page
from .serving import mask_path

log = logging.getLogger("consent")

DOMAIN_STATUS = {
    domain.Invalid: 422,
    domain.Unauthorized: 401,
    domain.Forbidden: 403,
    domain.NotFound: 404,
    domain.Conflict: 409,
    domain.Gone: 410,
    domain.RateLimited: 429,
    domain.Unavailable: 503,
}


@dataclass
class ErrorShape:
    """How a dialect writes errors, and how they are documented.

    ``render(status, message, exc)`` builds the response. ``auth_errors`` maps an auth failure
    reason (see :mod:`consent.web.auth`) to ``(status, message)``; a message may name
    ``{scope}``. ``validation_status`` is the status of a request body or query that fails its
    schema (flask-smorest's 422 is re-rendered with it); ``validation_schema`` documents that
    body when it differs from ``schema``."""

    render: Callable[[int, str, Exception | None], Response]
    schema: type
    auth_errors: dict[str, tuple[int, str]]
    validation_status: int = 422
    validation_schema: type | None = None

    def auth_error(self, reason: str, scheme: Scheme) -> tuple[int, str]:
        status, message = self.auth_errors[reason]
        return status, message.format(**scheme.context)

    def schema_for(self, status: int) -> type:
        if status == self.validation_status and self.validation_schema is not None:
            return self.validation_schema
        return self.schema


@dataclass
class Dialect:
    name: str
    errors: ErrorShape
    # URL prefixes the dialect owns (for URLs that match no route); ``owns`` for dynamic ones
    prefixes: tuple[str, ...] = ()
    owns: Callable[[str], bool] | None = None
    unmatched_auth: Scheme | None = None
    blueprints: tuple = ()        # flask-smorest blueprints: the API, documented
    pages: tuple = ()             # plain Flask blueprints: server-rendered pages
    # (organisation, demo operator) -> the dialect's section of ``seed-demo --json``
    seed_demo: Callable | None = None
    cli_commands: tuple = ()      # click commands or groups added to ``flask --app app``
    # click options the dialect adds to ``seed-demo``; their values reach its ``seed_demo``
    seed_demo_options: tuple = ()
    # CORS for its header-authenticated API (see :mod:`consent.web.cors`): a policy, or a tuple
    # of them (paths with origins of their own); None: no CORS
    cors: CorsPolicy | tuple | None = None
    # background loops (``consent.core.background.Loop``) each serving process runs for it
    loops: tuple = ()
    # its part of the schema (``consent.core.components.Component``: tables, migrations,
    # covered tables); None: no tables of its own
    schema: components.Component | None = None
    # ``(event, listener)`` pairs: the core's hooks it listens to (``consent.core.hooks``)
    subscriptions: tuple = ()
    # ``lookup(org_id, id) -> ledger consent id | None`` for the consent ids it hands out
    # (``consent.core.usage``: ``POST /ledger/v1/checks`` accepts them)
    consent_lookup: Callable[[str, str], str | None] | None = None
    # how it joins the stub of control mode (``consent.control.store.Stub``): the tables a
    # reset keeps, its sweeps under a moved clock, what it adds to an injected fault
    stub: object | None = None
    # its part in people's rights (``consent.core.rights.People``): what erasure blanks in its
    # tables, what it adds to a subject's access report, what retention removes
    people: object | None = None
    # the ``source`` values of the consents it records (the console's overview counts each
    # dialect's consents by them; a source no dialect names is counted as "other")
    sources: tuple = ()


class Registry:
    """The dialects of one app (``app.extensions["consent.dialects"]``), and which error shape
    answers for a request: its API blueprint's own, else that of the dialect owning the URL."""

    def __init__(self):
        self.dialects: list[Dialect] = []
        self.shapes: dict[str, ErrorShape] = {}      # API blueprint name -> its error shape
        self.page_owner: dict[str, Dialect] = {}     # page blueprint name -> its dialect

    def add(self, dialect: Dialect) -> None:
        self.dialects.append(dialect)
        for blp in dialect.blueprints:
            self.shapes[blp.name] = blp.error_shape
        for page in dialect.pages:
            self.page_owner[page.name] = dialect

    def owner(self, path: str) -> Dialect | None:
        """The dialect that owns a URL: the longest matching prefix, else an ``owns`` claim."""
        best, best_len = None, -1
        for d in self.dialects:
            for prefix in d.prefixes:
                if path.startswith(prefix) and len(prefix) > best_len:
                    best, best_len = d, len(prefix)
        if best is None:
            best = next((d for d in self.dialects if d.owns and _claims(d, path)), None)
        return best

    def shape_for_request(self) -> ErrorShape | None:
        bp = request.blueprint
        if bp in self.shapes:
            return self.shapes[bp]
        dialect = self.page_owner.get(bp) or self.owner(request.path)
        return dialect.errors if dialect else None


def _claims(dialect: Dialect, path: str) -> bool:
    """A dialect's ``owns`` claim; one that cannot be decided (a claim that looks an organisation
    up while the database does not answer) is no claim: the URL gets the service's shape."""
    try:
        return bool(dialect.owns(path))
    except Exception:  # noqa: BLE001 - an error answer must never fail itself
        return False


def registry(app) -> Registry:
    return app.extensions["consent.dialects"]


def install(dialects) -> None:
    """Make the core's schema and these dialects' parts of the core (schema components,
    hook subscriptions, consent lookups) what this process serves, replacing what was installed
    before (an app per test in one process gets exactly its own)."""
    from consent.control.models import SCHEMA as CONTROL   # control mode's tables (always)
    from consent.core.schema import CORE

    dialects = tuple(dialects)
    names = [d.name for d in dialects]
    if len(set(names)) != len(names):
        raise ValueError(f"a dialect registered twice: {names}")
    components.install([CORE, CONTROL, *(d.schema for d in dialects if d.schema is not None)])
    hooks.install([pair for d in dialects for pair in d.subscriptions])
    usage.install_consent_lookups([d.consent_lookup for d in dialects
                                   if d.consent_lookup is not None])
    from consent.control.store import forget as forget_journal

    rights.install({**{d.name: d.people for d in dialects if d.people is not None},
                    "control": rights.People(forget=forget_journal)})


def register(app, api, dialect: Dialect) -> None:
    """Register a dialect's blueprints and pages with the app, and the dialect itself."""
    for blp in dialect.blueprints:
        register_api_blueprint(api, blp)
    for page in dialect.pages:
        app.register_blueprint(page)
    for loop in dialect.loops:
        app.extensions["consent.background"].add(loop)
    registry(app).add(dialect)


def register_api_blueprint(api, blp) -> None:
    """A DialectBlueprint on the API, with the security schemes its operations use."""
    api.register_blueprint(blp)
    for name, scheme in blp.security_schemes.items():
        if name not in api.spec.components.security_schemes:
            api.spec.components.security_scheme(name, scheme)


# -- errors ----------------------------------------------------------------------------------------

def default_error(status: int, message: str, exc: Exception | None = None) -> Response:
    """The ledger's own shape (flask-smorest's): {code, status, message[, errors]}."""
    body = {"code": status, "status": HTTPStatus(status).phrase, "message": message}
    data = getattr(exc, "data", None) or {}
    if data.get("messages"):
        body["errors"] = data["messages"]
    response = jsonify(body)
    response.status_code = status
    return response


# The service's own API (the ledger, and the operator APIs of every dialect) answers in this shape.
SERVICE_AUTH_ERRORS = {
    "missing_org": (400, "X-Org-Id header is required"),
    "unknown_org": (401, "Invalid API key for this organisation"),
    "missing_key": (401, "X-API-Key header is required"),
    "invalid_key": (401, "Invalid API key for this organisation"),
    "missing_scope": (403, "This API key does not have the '{scope}' scope"),
}
SERVICE_ERRORS = ErrorShape(render=default_error, schema=ServiceErrorSchema,
                            auth_errors=SERVICE_AUTH_ERRORS)


def http_message(exc: HTTPException) -> str:
    """A short, clear message: the one passed to ``abort(message=...)``, else a plain one."""
    data = getattr(exc, "data", None) or {}
    if data.get("message"):
        return data["message"]
    messages = data.get("messages") or {}
    if exc.code == 400 and "json" in messages and isinstance(messages["json"], list):
        return "Invalid JSON body"
    if exc.code == 422:
        return "Validation failed"
    if exc.code == 413:
        return "Request body too large"
    if exc.code == 401:
        return "Authentication required"
    return exc.name


def install_error_handlers(app) -> None:
    """App-level handlers: every error leaves as JSON in the right dialect, never as a trace."""
    dialects = registry(app)

    def render(status: int, message: str, exc: Exception | None) -> Response:
        if status == 503 and request.blueprint in dialects.page_owner:
            # a page (a person in a browser): a page, not a dialect's JSON
            return page("unavailable.html", 503, org=None,
                        retry_after=getattr(exc, "retry_after", None))
        shape = dialects.shape_for_request()
        renderer = shape.render if shape else default_error
        response = renderer(status, message, exc)
        if isinstance(exc, HTTPException) and status == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        if request.url_rule is None and exc.code in (404, 405):
            dialect = dialects.owner(request.path)
            if dialect is not None and dialect.unmatched_auth is not None:
                try:
                    dialect.unmatched_auth.check()
                except AuthFailed as failure:
                    status, message = dialect.errors.auth_error(failure.reason,
                                                                dialect.unmatched_auth)
                    try:
                        abort(status, message=message)
                    except HTTPException as denied:
                        return render(status, message, denied)
                except Exception as failed:  # noqa: BLE001 - e.g. the database does not answer
                    return _unexpected(failed)
        return render(exc.code, http_message(exc), exc)

    @app.errorhandler(domain.DomainError)
    def _domain(exc: domain.DomainError):
        status = next((s for cls, s in DOMAIN_STATUS.items() if isinstance(exc, cls)), 400)
        if isinstance(exc, domain.Invalid):  # invalid input: the dialect's validation status
            shape = dialects.shape_for_request()
            status = shape.validation_status if shape else status
        response = render(status, exc.message, exc)
        if isinstance(exc, domain.Unavailable):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.before_request
    def _failed_lookups():
        for value in (request.view_args or {}).values():
            if isinstance(value, LookupFailed):   # a URL converter's (see LookupFailed)
                raise value.error

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        release_broken_connection()
        if outage.is_unavailable(exc):
            # an outage, not a bug: 503 in the dialect's shape, one log line per outage
            outage.OUTAGE.failed(exc)
            return _domain(domain.Unavailable(outage.MESSAGE, retry_after=outage.RETRY_AFTER))
        log.exception("unhandled error on %s %s", request.method, mask_path(request.path))
        return render(500, InternalServerError.description, None)
