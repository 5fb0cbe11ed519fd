"""The request body limit, enforced for every route in one place, before any view runs.

A body larger than the limit is a 413 in the dialect's own shape whether or not the route reads
its body (a route that never reads it would otherwise answer as if it had not been sent). The
limit is ``MAX_CONTENT_LENGTH`` (``CONSENT_MAX_CONTENT_LENGTH``), or the operation's own
``max_body`` (an attribute of its view method: ``@blp.auth`` sets it from a scheme's
``max_body``, as Veriff's media upload does). A declared ``Content-Length`` over it is refused
without reading a byte; a chunked body (no length declared) is read here up to the limit, and
refused as soon as it goes past it.
"""
from __future__ import annotations

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge


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
        request.get_data(cache=True)  # past the limit: RequestEntityTooLarge


def init_app(app) -> None:
    app.before_request(enforce_body_limit)
