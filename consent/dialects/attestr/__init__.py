"""The Attestr dialect: Attestr's DPDP consent API (v3) under /api/v3/public, over the ledger.

* A client (Attestr's "app") is a core credential of kind ``basic`` with Attestr settings
  (:mod:`.clients`): it sends ``Authorization: Basic <authToken>``, the token being base64 of
  ``<client key>:<client secret>``. Settings: provisioned service codes, IP allow-list, rate
  limits per second and per day (every API, and each API), a credits balance, a webhook URL and
  token. ``flask --app app attestr client-create --org <slug> --service BANK_ACC`` (or
  ``seed-demo``) makes one.
* ``POST /consent/register`` -> ``{"_id", "number"}``; ``GET /consent/{_id}`` ->
  ``{"_id", "number", "requestId", "status", "data"}`` (status ``pending``, ``active``,
  ``consumed``, ``expired``, ``revoked``); ``POST /consent/{_id}/revoke`` ->
  ``{"_id", "number", "status"}``; ``POST /consent/data-categories`` ``{type, services}`` ->
  ``{type, consentDataCategories, services: [{service, consentDataCategories}]}``;
  ``POST /consent/{_id}/export`` -> ``{"_id", "number"}`` of an async request;
  ``GET /common/async/{asyncId}`` -> ``{"_id", "number", "type", "status", "consentId",
  "output", "error", "created", "updated"}``; ``GET /common/media/{mediaId}`` -> the file.
* Every error: ``{"httpStatusCode", "code", "message", "appError"[, "details"]}`` with Attestr's
  documented codes (:mod:`.codes`, :mod:`.errors`); another API version than v3 is 400 4001.
* How a consent maps onto the ledger, and its lifecycle: :mod:`.consents`. Webhooks (through the
  core outbox): :mod:`.webhooks`. Expiry and exports run in a background worker (:mod:`.worker`).
* People's rights (:mod:`.people`): a principal's erasure blanks their consents' personal data
  (reference, body, its hash), deletes their export files and blanks the webhooks about them;
  the API then answers those consents' ids as unknown ones. A revoke is a withdrawal only:
  Attestr's published document (the Register Consent API) says nothing of clean-up on
  revocation, so a revoke erases nothing and files no erasure request.
"""
from __future__ import annotations

from consent.control.store import Stub
from consent.web.dialect import Dialect

from . import clients, consents, models, ratelimit
from .access import AttestrClientAuth
from .cli import attestr_cli
from .errors import ERRORS, other_version
from .people import PEOPLE
from .routes import blp
from .worker import WORKER

DEMO_SERVICES = ("BANK_ACC", "PAN")


def seed_demo(org, user) -> dict:
    """A fresh client, provisioned for a few services, each run."""
    issued = clients.create_client(org, name="demo attestr client", services=DEMO_SERVICES,
                                   actor="cli:seed-demo")
    return {"credential_id": issued.client.credential_id, "client_id": issued.client_key,
            "auth_token": issued.auth_token,
            "authorization": f"Basic {issued.auth_token}", "services": list(DEMO_SERVICES)}


def owns(path: str) -> bool:
    """/api/v{n}/public/... of any version (v3 is served; others answer a clear error)."""
    return path.startswith("/api/v3/public/") or other_version(path) is not None


DIALECT = Dialect(name="attestr", errors=ERRORS, prefixes=("/api/v3/public/",), owns=owns,
                  unmatched_auth=AttestrClientAuth(), blueprints=(blp,), seed_demo=seed_demo,
                  cli_commands=(attestr_cli,), loops=(WORKER,), schema=models.SCHEMA,
                  subscriptions=consents.SUBSCRIPTIONS, consent_lookup=consents.ledger_id,
                  # control mode: a reset keeps its clients and drops their rate-limit
                  # windows; a moved clock expires the organisation's consents at once
                  stub=Stub(keep=(models.AttestrClient,), clear=ratelimit.clear_org,
                            clock_moved=lambda org_id: consents.expire_due(org_id=org_id)),
                  people=PEOPLE,   # erasure and access report (.people)
                  sources=("attestr",))
