"""``/docs``: Swagger UI served from the service itself (the pinned ``flask-swagger-ui`` package
carries its assets), so the API reference works without internet access.

The page is this service's own (``templates/docs.html``), started by a script file of the service
(``docs_assets/swagger-initializer.js``) instead of the package's inline script, so that every
response under ``/docs`` carries the pages' security headers with a Content-Security-Policy that
allows scripts from this service only: Swagger UI's bundle needs its own scripts and styles,
inline styles (the bundle sets ``style`` attributes), ``data:`` images (its stylesheet's icons)
and requests to this service (``/openapi.json``); it is never framed and never sniffed.
"""
from __future__ import annotations

import os

import flask_swagger_ui
from flask import Blueprint, current_app, render_template, send_from_directory

DOCS_PATH = "/docs"
ASSETS = os.path.join(os.path.dirname(flask_swagger_ui.__file__), "dist")
OWN_ASSETS = os.path.join(os.path.dirname(__file__), "docs_assets")
INITIALIZER = "swagger-initializer.js"

CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'; "
       "base-uri 'none'")
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

bp = Blueprint("docs", __name__)


@bp.after_request
def _security_headers(response):
    response.headers.update(HEADERS)
    return response


@bp.get(DOCS_PATH, endpoint="page")
@bp.get(DOCS_PATH + "/", endpoint="page")
def page():
    """The Swagger UI page."""
    return render_template("docs.html", base=DOCS_PATH, initializer=INITIALIZER,
                           title=f"{current_app.config['API_TITLE']} API")


@bp.get(DOCS_PATH + "/<path:path>", endpoint="show")
def show(path):
    """Swagger UI's assets (and ``index.html``, the page again)."""
    if path == "index.html":
        return page()
    if path == INITIALIZER:
        return send_from_directory(OWN_ASSETS, INITIALIZER)
    return send_from_directory(ASSETS, path)


def init_app(app) -> None:
    app.register_blueprint(bp)
