"""What every dialect provides, and the app-level dispatch of errors to the right wire format.

A dialect module exposes ``DIALECT``: a :class:`Dialect` with its name, the URL prefixes it owns,
and a function that renders an error in its own documented shape. Errors raised inside a dialect's
views, and 404/405/413 for URLs under its prefixes that match no route, are rendered by it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from flask import Response, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

from consent.core import errors as domain

log = logging.getLogger("consent")

DOMAIN_STATUS = {
    domain.Invalid: 422,
    domain.Unauthorized: 401,
    domain.Forbidden: 403,
    domain.NotFound: 404,
    domain.Conflict: 409,
    domain.Gone: 410,
    domain.RateLimited: 429,
}


@dataclass
class Dialect:
    name: str
    prefixes: tuple[str, ...]
    # (status, message, original exception) -> Response
    render_error: Callable[[int, str, Exception | None], Response]
    blueprint_names: tuple[str, ...] = ()
    # (organisation, demo operator) -> the dialect's section of ``seed-demo --json``
    seed_demo: Callable | None = None
    # click commands or groups the dialect adds to ``flask --app app``
    cli_commands: tuple = ()


_dialects: list[Dialect] = []


def register(dialect: Dialect) -> None:
    _dialects.append(dialect)


def registered() -> list[Dialect]:
    return list(_dialects)


def reset() -> None:
    _dialects.clear()


def for_request() -> Dialect | None:
    bp = request.blueprint
    for d in _dialects:
        if bp and bp in d.blueprint_names:
            return d
    path = request.path
    best = None
    for d in _dialects:
        for prefix in d.prefixes:
            if path.startswith(prefix) and (best is None or len(prefix) > len(best[0])):
                best = (prefix, d)
    return best[1] if best else None


def default_error(status: int, message: str, exc: Exception | None = None) -> Response:
    """The ledger's own shape (flask-smorest's): {code, status, message[, errors]}."""
    from http import HTTPStatus

    body = {"code": status, "status": HTTPStatus(status).phrase, "message": message}
    data = getattr(exc, "data", None) or {}
    if data.get("messages"):
        body["errors"] = data["messages"]
    response = jsonify(body)
    response.status_code = status
    return response


def render(status: int, message: str, exc: Exception | None) -> Response:
    dialect = for_request()
    renderer = dialect.render_error if dialect else default_error
    response = renderer(status, message, exc)
    if isinstance(exc, HTTPException) and status == 405 and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


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

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        return render(exc.code, http_message(exc), exc)

    @app.errorhandler(domain.DomainError)
    def _domain(exc: domain.DomainError):
        status = next((s for cls, s in DOMAIN_STATUS.items() if isinstance(exc, cls)), 400)
        return render(status, exc.message, exc)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        _rollback()
        return render(500, InternalServerError.description, None)


def _rollback() -> None:
    from consent.core.storage import db

    try:
        if db.obj is not None and db.in_transaction():
            db.rollback()
    except Exception:  # pragma: no cover - the connection itself is gone
        log.exception("rollback failed")
