"""The Veriff dialect: Veriff's session API under /v1, with consent uploads recorded in the ledger.

* An integration is a core credential of kind ``hmac``: its API key is sent as ``X-AUTH-CLIENT``,
  its shared secret signs bodies (``X-HMAC-SIGNATURE``). Create one with
  ``flask --app app veriff integration-create --org <slug>`` (or ``seed-demo``).
* Endpoints: ``POST /v1/sessions``, ``PATCH /v1/sessions/{id}``, ``POST|GET /v1/sessions/{id}/media``
  and ``POST|GET /v1/sessions/{id}/consents``; see :mod:`.routes` for authentication and
  :mod:`.service` for how an upload maps onto a ledger decision.
* Every error under /v1/ leaves as ``{"status": "fail", "code": "1101", "message": ...}``.
* A session's ``url`` (``/v/<session token>``) opens a page showing the session, its consents and
  media (:mod:`.page`); Veriff's in-browser identity flow itself is not emulated.
"""
from __future__ import annotations

import json

import click
from flask import Response
from flask.cli import AppGroup

from consent.core import auth, ledger
from consent.core.errors import DomainError
from consent.dialects import base

from . import models, service  # noqa: F401  (models registers the tables)
from .page import bp as page_bp
from .routes import blp

# Status -> message when the error carries no message of its own (unmatched URL, parse errors...).
DEFAULT_MESSAGES = {
    400: "Validation failed",
    401: "Mandatory X-AUTH-CLIENT header containing the API key is missing from the request.",
    404: "Resource not found",
    405: "Method not allowed",
    413: "Request body too large",
    500: "Something went wrong",
}


def render_error(status: int, message: str, exc: Exception | None) -> Response:
    """Veriff's error shape. Validation (422, parse errors, domain Invalid) is 400."""
    if status == 422:
        status = 400
    data = getattr(exc, "data", None) or {}
    explicit = data.get("message") if isinstance(data, dict) else None
    if isinstance(exc, DomainError) and status != 400 and status < 500:
        explicit = exc.message
    if status >= 500:
        text = DEFAULT_MESSAGES[500]
    else:
        text = explicit or DEFAULT_MESSAGES.get(status) or message
    body = json.dumps({"status": "fail", "code": "1101", "message": text},
                      separators=(",", ":"))
    return Response(body, status=status, mimetype="application/json")


def create_integration(org, name: str = "veriff integration", actor: str = "system"):
    return auth.create_credential(org, kind="hmac", name=name, scopes=("consent",), actor=actor)


def seed_demo(org, user) -> dict:
    """A fresh integration and one session of it, each run."""
    issued = create_integration(org, name="demo veriff integration", actor="cli:seed-demo")
    session, _token = service.create_session(issued.credential, {"vendorData": "demo-user-1"})
    return {"api_key": issued.key, "shared_secret": issued.shared_secret,
            "session_id": session.id}


veriff_cli = AppGroup("veriff", help="Veriff integrations.")


@veriff_cli.command("integration-create")
@click.option("--org", "org_slug", required=True, help="Organisation slug or id.")
@click.option("--name", default="veriff integration")
def integration_create(org_slug, name):
    """Create an integration; prints its API key and shared secret (shown once)."""
    org = ledger.get_org(org_slug)
    if org is None:
        raise click.ClickException(f"no organisation {org_slug!r}")
    issued = create_integration(org, name=name, actor="cli")
    click.echo(json.dumps({"id": issued.credential.id, "api_key": issued.key,
                           "shared_secret": issued.shared_secret}))


DIALECT = base.Dialect(name="veriff", prefixes=("/v1/",), render_error=render_error,
                       blueprint_names=(blp.name,), seed_demo=seed_demo,
                       cli_commands=(veriff_cli,))


def init_app(app, api):
    api.register_blueprint(blp)
    app.register_blueprint(page_bp)
    base.register(DIALECT)
