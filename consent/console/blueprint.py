"""The console's blueprint and what every view of it shares.

Views of an organisation live under ``/console/o/<org>/`` (its slug). Before any of them runs,
the request's operator is looked up (:func:`consent.console.access.operator_for`): nobody signed
in is sent to the sign-in page; an organisation they are not a member of is a 404, the same as
one that does not exist; a POST without its session's CSRF token is a 403. ``url_for`` fills in
the organisation of the request, so a view links within it without naming it.

Views raise domain errors (``consent.core.errors``); the console's error shape renders them as a
page (``console/error.html``). Pages leave with the security headers of every page and a CSP
that allows scripts, styles and images from this service only (no inline script or style).
"""
from __future__ import annotations

from flask import Blueprint, g, redirect, request, url_for

from consent.web.pages import page

from . import access

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
               static_folder="static", static_url_path="/static")

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")

# The navigation: (endpoint, label). Each view module adds its routes to ``bp``.
NAV = (
    ("console.overview", "Overview"),
    ("console.consents", "Consents"),
    ("console.audit", "Audit"),
    ("console.webhooks", "Webhooks"),
    ("console.credentials", "Credentials"),
    ("console.providers", "Providers"),
    ("console.rights", "Rights requests"),
)

# Endpoints a visitor reaches without being signed in.
PUBLIC = frozenset({"console.index", "console.sign_in", "console.sign_in_link", "console.static"})


def operator() -> access.Operator:
    """The signed-in operator of this request (views under ``/o/<org>/`` only)."""
    return g.console_operator


def org():
    """The organisation of this request's URL (a row), checked against the membership."""
    return g.console_operator.org


def actor() -> str:
    """Who the audit events of a console action name: the operator's e-mail."""
    return f"console:{g.console_operator.user.email}"[:100]


def render(template: str, status: int = 200, **context):
    """A console page, with the operator, the navigation and a CSRF token for its forms."""
    op = getattr(g, "console_operator", None)
    return page(template, status, csp=CSP, referrer="same-origin", operator=op, nav=NAV,
                csrf=access.csrf_token(op.session) if op is not None else None, **context)


@bp.url_value_preprocessor
def _pull_org(endpoint, values):
    if values and "org" in values:
        g.console_org_slug = values.pop("org")


@bp.url_defaults
def _add_org(endpoint, values):
    if "org" not in values and getattr(g, "console_operator", None) is not None:
        from flask import current_app

        if current_app.url_map.is_endpoint_expecting(endpoint, "org"):
            values["org"] = g.console_operator.org.slug


@bp.before_request
def _signed_in():
    slug = getattr(g, "console_org_slug", None)
    if slug is None:
        return None          # the sign-in pages and the assets
    found = access.operator_for(slug)
    if found is None:
        return redirect(url_for("console.sign_in"), 303)
    g.console_operator = found
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        access.check_csrf(found.session)
    return None


@bp.after_request
def _headers(response):
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if request.endpoint == "console.static":
        response.headers["Cache-Control"] = "public, max-age=3600"
    return response
