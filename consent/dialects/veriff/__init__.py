"""The Veriff dialect: Veriff's session API under /v1, with consent uploads recorded in the ledger.

* An integration is a core credential of kind ``hmac``: its API key is sent as ``X-AUTH-CLIENT``,
  its shared secret signs bodies (``X-HMAC-SIGNATURE``). Create one with
  ``flask --app app veriff integration-create --org <slug>`` (or ``seed-demo``).
* Endpoints: ``POST /v1/sessions``, ``PATCH /v1/sessions/{id}``, ``POST|GET /v1/sessions/{id}/media``
  and ``POST|GET /v1/sessions/{id}/consents``; see :mod:`.routes` for authentication and
  :mod:`.service` for how an upload maps onto a ledger decision.
* Every error under /v1/ leaves as ``{"status": "fail", "code": "1101", "message": ...}``
  (:mod:`.errors`); a URL under /v1/ that matches no route is 401 without a known
  ``X-AUTH-CLIENT``, then 404 or 405.
* A session's ``url`` (``/v/<session token>``) opens a page showing the session, its consents and
  media (:mod:`.pages`); Veriff's in-browser identity flow itself is not emulated.
"""
from __future__ import annotations

from consent.web.dialect import Dialect

from . import models  # noqa: F401  (registers the tables)
from . import service
from .cli import create_integration, veriff_cli
from .errors import ERRORS
from .pages import bp as pages_bp
from .routes import KNOWN_INTEGRATION, blp


def seed_demo(org, user) -> dict:
    """A fresh integration and one session of it, each run."""
    issued = create_integration(org, name="demo veriff integration", actor="cli:seed-demo")
    session, _token = service.create_session(issued.credential, {"vendorData": "demo-user-1"})
    return {"api_key": issued.key, "shared_secret": issued.shared_secret,
            "session_id": session.id}


DIALECT = Dialect(name="veriff", errors=ERRORS, prefixes=("/v1/",),
                  unmatched_auth=KNOWN_INTEGRATION, blueprints=(blp,), pages=(pages_bp,),
                  seed_demo=seed_demo, cli_commands=(veriff_cli,))

__all__ = ["DIALECT", "create_integration"]
