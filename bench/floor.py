"""The floor under each write path: the product's own storage functions, without the framework.

``make bench`` serves this WSGI app: every URL goes to the product (``app:app``) except those
under ``/__floor/``, which run the same write as their product twin by calling the very
functions its view calls (credential lookup, signature check, the service function and its
transaction), with ``json.loads`` in and ``json.dumps`` out, and nothing else: no Flask,
flask-smorest, webargs or marshmallow. There is no second copy of any statement: a change to a
write path changes its floor too. Each dialect declares its writes' floors in its package's
``testing.py`` (``consent.testing.Bench.floor``). Before measuring, ``bench.run`` checks that a
floor request and its product twin add the same rows to every table.
"""
from __future__ import annotations

import json
import re

from app import app as product

from .dialects import floor_routes
from .wrk import FLOOR_PREFIX as PREFIX


def noop(environ, raw: bytes, match, config):
    """The ceiling's twin: what gunicorn and wrk cost for a request, with no framework."""
    return 200, {"status": "ok"}


# Each dialect declares its writes' floors (consent.testing.FloorRoute, in its testing.py).
ROUTES = [(re.compile(r"^/healthz$"), noop)] + [
    (re.compile(route.pattern), route.handler) for route in floor_routes()]


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if not path.startswith(PREFIX + "/"):
        return product(environ, start_response)
    path = path[len(PREFIX):]
    raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    for pattern, handler in ROUTES:
        match = pattern.match(path)
        if match:
            try:
                status, body = handler(environ, raw, match, product.config)
            except PermissionError:
                status, body = 401, {"error": "unauthorized"}
            break
    else:
        status, body = 404, {"error": "no floor route"}
    payload = json.dumps(body, default=str).encode()
    start_response(f"{status} X", [("Content-Type", "application/json"),
                                   ("Content-Length", str(len(payload)))])
    return [payload]
