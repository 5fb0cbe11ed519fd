"""The request body limit, enforced for every route in one place, before any view runs.

A body larger than the limit is a 413 in the dialect's own shape whether or not the route reads
its body (a route that never reads it would otherwise answer as if it had not been sent). The
limit is ``MAX_CONTENT_LENGTH`` (``CONSENT_MAX_CONTENT_LENGTH``), or the operation's own
``max_body`` (an attribute of its view method: ``@blp.auth`` sets it from a scheme's
``max_body``, as Veriff's media upload does). A declared ``Content-Length`` over it is refused
without reading a byte; a chunked body (no length declared) is read here, refused as soon as it
goes past the limit, and otherwise handed on as a body of known length.
"""
from __future__ import annotations

import io

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

# The longest request line (method, target, version) the service takes under gunicorn: longer is
# a 414, answered by gunicorn itself (gunicorn.conf.py, consent.web.serving).
LIMIT_REQUEST_LINE = 4096

OPENAPI_NOTE = (
    f"Limits: a request line (method, target, version) longer than {LIMIT_REQUEST_LINE} bytes is "
    "answered 414, and header fields over the server's limits 431, by the server before any "
    "operation is known, in this service's error shape ({code, status, message}); a request body "
    "over the limit (CONSENT_MAX_CONTENT_LENGTH, 1 MiB by default) is 413 on every operation, "
    "in the operation's own error shape.")


def body_limit() -> int | None:
    """The body limit of the operation the request was routed to."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    view = current_app.view_functions.get(request.endpoint) if request.url_rule else None
    if view is None:
        return limit
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        method = request.method.lower()
        view = getattr(view_class, method, None) or (
            getattr(view_class, "get", None) if method == "head" else None)
    own = getattr(view, "max_body", None)
    return limit if own is None else own


def enforce_body_limit() -> None:
    limit = body_limit()
    request.max_content_length = limit
    if limit is None:
        return
    length = request.content_length
    if length is not None:
        if length > limit:
            raise RequestEntityTooLarge()
    elif "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        _read_chunked(request.environ, limit)


def _read_chunked(environ, limit: int) -> None:
    """Read a body of undeclared length, up to ``limit`` bytes: one byte more is a 413. The
    body is then handed on as one of known length (nothing has read ``request.stream`` yet)."""
    stream, chunks, total = environ["wsgi.input"], [], 0
    while total <= limit:
        chunk = stream.read(min(64 * 1024, limit + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    if total > limit:
        raise RequestEntityTooLarge()
    environ["wsgi.input"] = io.BytesIO(b"".join(chunks))
    environ["CONTENT_LENGTH"] = str(total)
    environ.pop("HTTP_TRANSFER_ENCODING", None)


def init_app(app) -> None:
    app.before_request(enforce_body_limit)
