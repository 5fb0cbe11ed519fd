"""The Avacy dialect: Avacy's Consent Solution API (the consent archive) at its own paths, on the
ledger, with what its WordPress plugin sends and checks.

Tenants are organisations (the tenant is the organisation's slug). Each has webspaces (Avacy's
domains groups, renamed; one row serves both) with an integer id counted per organisation and a
key, and API tokens: core API keys with the consent scope, sent as ``Authorization: Bearer``.

POST /{tenant}/domains_groups/{id}/consents   (documented)
  in  {subject: {email, first_name, last_name, age (integer >= 0), address?}, identifier (the
       subject field that identifies the person), ip_address (IPv4 or IPv6), proofs (HTML, kept
       byte for byte), legal_notices?: [{name}], preferences: [{name, accepted}]}
  out 201 {"data": {id, subject_id, domains_group_id, ip_address, proofs, legal_notices: [{name}],
       created_at, updated_at ("2023-11-08T09:39:52.000000Z"), consent_data: [{name, accepted}],
       subject_data: {...subject, identifier}}}
POST /{tenant}/v2/webspaces/{id}/consents   (the WordPress plugin's earlier releases)
  the same request, ``subject`` holding whatever form fields the site chose, keyed by field name;
  out 201 the same resource with ``webspace_id``.
POST /{tenant}/v4/webspaces/{id}/consents   (the WordPress plugin: FormSubmission::getPayload)
  in  {ip_address, consent_type: banner|form|explicit, optin: accepted|rejected|partial,
       consent_data?: [{label, value}], identifier (the identifying value), source?,
       consent_features?: [name], html_form? (or proofs), versions?: [{slug, link?, date}]}
  out 201 {"data": {id, webspace_id, subject_id, ip_address, consent_type, optin, consent_data,
       identifier, source, consent_features, html_form, versions, created_at, updated_at}}
  Every POST takes JSON, or a form encoded the way PHP's http_build_query encodes nested arrays
  (``consent_data[0][label]=email&...``, booleans as 1/0), which is what the plugin sends
  (:mod:`.forms`). Avacy documents no response status nor the v2/v4 bodies; these answer 201 with
  a resource in the documented style (the plugin reads neither).
  401 {"message": "Unauthenticated"} (no token, an unknown or revoked one, or another tenant's)
  | 403 {"message": "This action is unauthorized."} (a key without the consent scope)
  | 404 {"message": "Tenant not found." | "Domains group not found." | "Webspace not found." |
  "The route ... could not be found."} | 405 | 422 {"message", "errors": {"subject.email": [...]}}
  (Laravel's messages, :mod:`schemas.avacy`; a body this service cannot read is a 422 on "body").
GET /wp/validate/{tenant}/{webspace_key}          -> 200 {"id": <webspace id>}
GET /wp/validate/{tenant}/{webspace_key}/{token}  -> 200 {"valid": true, "webspace_id"}
  errors {"message": {"error": "team_not_found" | "webspace_not_found" (404) | "invalid_token"
  (422) | "token_not_found_or_expired" (401)}}. No credential: the webspace key is public (the
  plugin puts it in the banner script's URL on every page), so it is stored as is.

How a request lands on the ledger is in :mod:`.archive`: an archive entry per request, a ledger
decision per preference (v4: per consent feature), the legal notices as notice versions accepted,
the IP address and the proofs' SHA-256 in every decision's evidence and in the entry's audit
event; the proofs byte for byte in the entry. A v4 request's ``versions`` name the notices and the
version of each accepted (slug, date; the link in the evidence), kept as sent in the entry.

Operator (this service's own error shape, admin key): GET /ledger/v1/avacy/consents (search by
identifier; webspace, channel, from, to; cursor pages), GET /ledger/v1/avacy/consents/{id},
POST|GET /ledger/v1/avacy/webspaces, POST /ledger/v1/avacy/tokens; the archive page
(``/avacy/archive?t=<signed link>``, :mod:`.pages`); CLI ``flask --app app avacy ...``.

Modules: ``routes`` (the views, the tenant converter and token), ``forms`` (JSON or PHP-style
form bodies), ``archive`` (the service), ``people`` (erasure, access report, retention),
``pages``, ``queries``, ``models``, ``errors``, ``cli``;
page text in ``templates/``.
"""
from __future__ import annotations

from consent.control.store import Stub
from consent.web.dialect import Dialect

from . import archive, models
from .people import PEOPLE
from .cli import avacy_cli
from .errors import ERRORS
from .pages import archive_url
from .pages import bp as pages_bp
from .routes import UNMATCHED, admin_blp, blp, owns, wp_blp

DEMO_WEBSPACE = 1


def seed_demo(org, user) -> dict:
    """Webspace (domains group) 1 of the demo tenant, kept across runs, and a fresh token."""
    space = archive.webspace(org, DEMO_WEBSPACE) or archive.create_webspace(
        org, "Demo webspace", actor="cli:seed-demo")
    token = archive.create_token(org, "demo avacy token", actor="cli:seed-demo")
    return {"tenant": org.slug, "domains_group_id": space.number, "webspace_id": space.number,
            "webspace_key": space.key, "token": token.key, "archive_url": archive_url(org)}


DIALECT = Dialect(
    name="avacy",
    errors=ERRORS,
    owns=owns,
    unmatched_auth=UNMATCHED,
    blueprints=(blp, wp_blp, admin_blp),
    pages=(pages_bp,),
    seed_demo=seed_demo,
    cli_commands=(avacy_cli,),
    schema=models.SCHEMA,
    stub=Stub(keep=(models.AvacyWebspace,)),   # control mode: a reset keeps its webspaces
    people=PEOPLE,   # erasure, access report, proofs' retention (.people)
    sources=("avacy",))
