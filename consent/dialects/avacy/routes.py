"""Avacy's Consent Solution API at its own paths, the WordPress plugin's set-up checks, and the
operator's archive API under /ledger/v1/avacy (this service's own error shape, admin key). Views
check the request, call :mod:`.archive` and return what the response schema dumps; see the
package docstring for every shape.

Routes under a tenant match only an existing organisation's slug (the ``avacy_tenant``
converter), so they never catch another dialect's URLs; :func:`owns` claims the URLs that match
no route under a known tenant (``/{tenant}/v3/...``, any path) and those of Avacy's API shapes
under any first segment, which then answer in Avacy's shape after its authentication (the
tenant's token first: 401, then Laravel's 404 or 405).
"""
from __future__ import annotations

import re
from functools import wraps

from flask import request
from flask.views import MethodView
from flask_smorest import abort
from werkzeug.routing import BaseConverter, ValidationError

from consent.core import auth, ledger
from consent.web import LookupFailed, looked_up
from consent.web.auth import ADMIN_KEY, ApiKey, Scheme, current_actor, current_org
from consent.web.blueprint import DialectBlueprint
from consent.web.dialect import SERVICE_ERRORS
from schemas.avacy import (
    ArchiveEntrySchema,
    ArchivePageSchema,
    ArchiveQuerySchema,
    DomainsGroupConsentOutSchema,
    DomainsGroupConsentSchema,
    TokenCreateSchema,
    TokenSchema,
    TokenValidSchema,
    WebspaceCreateSchema,
    WebspaceFoundSchema,
    WebspaceSchema,
    WebspaceV2ConsentOutSchema,
    WebspaceV2ConsentSchema,
    WebspaceV4ConsentOutSchema,
    WebspaceV4ConsentSchema,
)
from schemas.common import INT64_MAX, encode_cursor

from . import archive
from .errors import ERRORS, WP_ERRORS
from .forms import AvacyBlueprint

# URLs of Avacy's shape: /{tenant}/domains_groups/..., /{tenant}/v2|v4/webspaces/..., and the
# plugin's /wp/validate/... checks.
TENANT_PATH = re.compile(r"^/(?P<tenant>[^/]+)/(?:domains_groups|v2/webspaces|v4/webspaces)"
                         r"(?:/|$)")
WP_PATH = re.compile(r"^/wp/validate(?:/|$)")
UNDER_TENANT = re.compile(r"^/(?P<tenant>[^/]+)/")
ID = f"int(max={INT64_MAX})"
TOKEN_FORMAT = re.compile(rf"^{re.escape(auth.KEY_PREFIX['api_key'])}[A-Za-z0-9_-]{{20,200}}$")


def known_tenant(slug: str) -> bool:
    if "\x00" in slug:
        return False
    org = ledger.get_org(slug)
    return org is not None and org.slug == slug


def owns(path: str) -> bool:
    """URLs that match no route and are Avacy's: its API's shapes (any first segment), the
    plugin's checks, and anything under an existing tenant (``/{tenant}/v3/...``)."""
    if TENANT_PATH.match(path) or WP_PATH.match(path):
        return True
    under = UNDER_TENANT.match(path)
    return bool(under) and known_tenant(under.group("tenant"))


class TenantConverter(BaseConverter):
    """A URL segment that is an existing organisation's slug (the view gets the slug). Any other
    value does not match, and routing goes on to the other rules."""

    def to_python(self, value):
        if "\x00" in value:
            raise ValidationError()
        org = looked_up(ledger.get_org, value)
        if isinstance(org, LookupFailed):
            return org
        if org is None or org.slug != value:
            raise ValidationError()
        return value


class TenantToken(ApiKey):
    """An API token of the tenant, ``Authorization: Bearer <token>``. The tenant is the URL's
    (``tenant``); for a URL Avacy owns that matches no route, its first segment."""

    def _org_ref(self):
        ref = super()._org_ref()
        if ref is None:
            found = UNDER_TENANT.match(request.path)
            ref = found.group("tenant") if found else None
        return None if ref and "\x00" in ref else ref  # no organisation is named so


class UnmatchedAuth(Scheme):
    """For URLs Avacy owns that match no route: the tenant's token first (a caller without one
    learns nothing of which paths exist); the set-up checks take no token."""

    def __init__(self, token: Scheme):
        self.token = token
        self.reasons = token.reasons
        self.context = token.context

    def check(self):
        if WP_PATH.match(request.path):
            return None
        return self.token.check()


TOKEN = TenantToken(("consent",), bearer=True, org_arg="tenant", scheme_name="AvacyToken")
UNMATCHED = UnmatchedAuth(TOKEN)

blp = AvacyBlueprint("avacy", __name__, errors=ERRORS,
                     description="Avacy-compatible Consent Solution API "
                                 "(Authorization: Bearer <API token>).")
blp.record_once(lambda state: state.app.url_map.converters.setdefault(
    "avacy_tenant", TenantConverter))
wp_blp = DialectBlueprint("avacy_wp", __name__, errors=WP_ERRORS,
                          description="The set-up checks of Avacy's WordPress plugin "
                                      "(no credential: the webspace key is a public site id).")
admin_blp = DialectBlueprint("avacy_admin", __name__, url_prefix="/ledger/v1/avacy",
                             errors=SERVICE_ERRORS,
                             description="The Avacy consent archive, webspaces and API tokens "
                                         "(admin key).")

DOMAINS_GROUP_NOT_FOUND = "Domains group not found."
WEBSPACE_NOT_FOUND = "Webspace not found."


def webspace_first(message: str):
    """Find the URL's domains group / webspace before the body is validated (Laravel binds the
    route's models first: an unknown one is 404 whatever the body); the view gets it as
    ``space``. Put it between ``auth`` and ``arguments``."""
    def decorator(func):
        @wraps(func)
        def wrapper(*args, **kwargs):
            number = kwargs.get("group_id", kwargs.get("webspace_id"))
            space = archive.webspace(current_org(), number)
            if space is None:
                abort(404, message=message)
            return func(*args, space=space, **kwargs)
        return wrapper
    return decorator


def _documented(entry, id_name: str) -> dict:
    """The documented resource (``domains_groups``; ``v2`` names its id ``webspace_id``)."""
    row, req = entry.row, entry.request
    return {"id": row.id, "subject_id": row.subject_id, id_name: row.webspace_number,
            "ip_address": row.ip_address, "proofs": row.proofs,
            "legal_notices": [{"name": n["name"]} for n in req["legal_notices"]],
            "created_at": row.created_at, "updated_at": row.updated_at,
            "consent_data": req["preferences"],
            "subject_data": {**req["subject"], "identifier": req["identifier"]}}


def _v4(entry) -> dict:
    row, req = entry.row, entry.request
    return {"id": row.id, "webspace_id": row.webspace_number, "subject_id": row.subject_id,
            "ip_address": row.ip_address, **req, "html_form": row.proofs,
            "versions": row.versions or [], "created_at": row.created_at,
            "updated_at": row.updated_at}


# -- Avacy's API ----------------------------------------------------------------------------------

@blp.route(f"/<avacy_tenant:tenant>/domains_groups/<{ID}:group_id>/consents")
class DomainsGroupConsents(MethodView):
    @blp.auth(TOKEN)
    @webspace_first(DOMAINS_GROUP_NOT_FOUND)
    @blp.arguments(DomainsGroupConsentSchema(), location="json_or_form")
    @blp.response(201, DomainsGroupConsentOutSchema)
    @blp.errors(**{"404": "Unknown tenant or domains group"})
    def post(self, data, tenant, group_id, space):
        """Record a consent in the archive (Avacy's documented request)

        ``subject`` {email, first_name, last_name, age, address?}, ``identifier`` (the subject
        field that identifies the person), ``ip_address``, ``proofs`` (HTML, kept byte for
        byte), ``legal_notices`` [{name}], ``preferences`` [{name, accepted}]: each preference
        becomes a decision in the ledger."""
        entry = archive.record(current_org(), space,
                               archive.from_documented("domains_groups", data), current_actor())
        return {"data": _documented(entry, "domains_group_id")}


@blp.route(f"/<avacy_tenant:tenant>/v2/webspaces/<{ID}:webspace_id>/consents")
class WebspaceV2Consents(MethodView):
    @blp.auth(TOKEN)
    @webspace_first(WEBSPACE_NOT_FOUND)
    @blp.arguments(WebspaceV2ConsentSchema(), location="json_or_form")
    @blp.response(201, WebspaceV2ConsentOutSchema)
    @blp.errors(**{"404": "Unknown tenant or webspace"})
    def post(self, data, tenant, webspace_id, space):
        """Record a consent in the archive (the WordPress plugin's earlier releases)

        The documented request, whose ``subject`` holds the form fields the site chose, keyed
        by field name; sent form-encoded by PHP's http_build_query (``accepted`` as "1"/"0"),
        or as JSON."""
        entry = archive.record(current_org(), space, archive.from_documented("v2", data),
                               current_actor())
        return {"data": _documented(entry, "webspace_id")}


@blp.route(f"/<avacy_tenant:tenant>/v4/webspaces/<{ID}:webspace_id>/consents")
class WebspaceV4Consents(MethodView):
    @blp.auth(TOKEN)
    @webspace_first(WEBSPACE_NOT_FOUND)
    @blp.arguments(WebspaceV4ConsentSchema(), location="json_or_form")
    @blp.response(201, WebspaceV4ConsentOutSchema)
    @blp.errors(**{"404": "Unknown tenant or webspace"})
    def post(self, data, tenant, webspace_id, space):
        """Record a consent in the archive (the WordPress plugin)

        ``ip_address``, ``consent_type`` (banner | form | explicit), ``optin`` (accepted |
        rejected | partial), ``consent_data`` [{label, value}], ``identifier`` (the identifying
        value), ``source``, ``consent_features`` [names: each becomes a decision],
        ``html_form`` (kept byte for byte as proof), ``versions`` [{slug, link, date}] (the
        policy versions accepted: each decision names them as ledger notice versions; kept as
        sent). Form-encoded as PHP's http_build_query encodes it, or JSON."""
        entry = archive.record(current_org(), space, archive.from_v4(data), current_actor())
        return {"data": _v4(entry)}


# -- the WordPress plugin's set-up checks ---------------------------------------------------------

def _wp_webspace(tenant: str, webspace_key: str):
    org = ledger.get_org(tenant) if "\x00" not in tenant else None
    if org is None or org.slug != tenant:
        abort(404, message={"error": "team_not_found"})
    space = archive.webspace_by_key(org, webspace_key) if "\x00" not in webspace_key else None
    if space is None:
        abort(404, message={"error": "webspace_not_found"})
    return org, space


@wp_blp.route("/wp/validate/<string:tenant>/<string:webspace_key>")
class ValidateAccount(MethodView):
    @wp_blp.response(200, WebspaceFoundSchema)
    @wp_blp.errors(**{"404": "team_not_found or webspace_not_found"})
    @wp_blp.doc(security=[{}])
    def get(self, tenant, webspace_key):
        """Check a tenant and webspace key (the plugin's account settings)

        Public, as the webspace key is: the plugin keeps ``id`` as its webspace id."""
        _org, space = _wp_webspace(tenant, webspace_key)
        return {"id": space.number}


@wp_blp.route("/wp/validate/<string:tenant>/<string:webspace_key>/<string:token>")
class ValidateToken(MethodView):
    @wp_blp.response(200, TokenValidSchema)
    @wp_blp.errors(**{"401": "token_not_found_or_expired: not an active token of the tenant",
                      "404": "team_not_found or webspace_not_found",
                      "422": "invalid_token: not a token this service could have issued"})
    @wp_blp.doc(security=[{}])
    def get(self, tenant, webspace_key, token):
        """Check an API token of the tenant (the plugin's Consent Solution settings)

        The token is in the path, as the plugin sends it."""
        org, space = _wp_webspace(tenant, webspace_key)
        if not TOKEN_FORMAT.match(token):
            abort(422, message={"error": "invalid_token"})
        if archive.token_of(org, token) is None:
            abort(401, message={"error": "token_not_found_or_expired"})
        return {"valid": True, "webspace_id": space.number}


# -- the operator's archive -----------------------------------------------------------------------

@admin_blp.route("/consents")
class Archive(MethodView):
    @admin_blp.auth(ADMIN_KEY)
    @admin_blp.arguments(ArchiveQuerySchema(), location="query")
    @admin_blp.response(200, ArchivePageSchema)
    def get(self, args):
        """The consent archive, newest first; search by identifier

        Each entry with its preferences (the ledger decisions they became, and whether each
        still binds), legal notices, proofs (byte for byte) and evidence. Filters combine with
        AND; pass ``next_cursor`` back as ``cursor``."""
        entries, next_id = archive.page(
            current_org(), identifier=args.get("identifier"),
            webspace_number=args.get("webspace_id"), channel=args.get("channel"),
            date_from=args.get("date_from"), date_to=args.get("date_to"), limit=args["limit"],
            before_id=args.get("cursor"))
        return {"items": [archive.describe(e) for e in entries],
                "next_cursor": encode_cursor(next_id)}


@admin_blp.route(f"/consents/<{ID}:entry_id>")
class ArchiveEntry(MethodView):
    @admin_blp.auth(ADMIN_KEY)
    @admin_blp.response(200, ArchiveEntrySchema)
    @admin_blp.errors(**{"404": "No such entry in the organisation's archive"})
    def get(self, entry_id):
        """One entry of the consent archive"""
        found = archive.entry(current_org(), entry_id)
        if found is None:
            abort(404, message=f"archive entry {entry_id} not found")
        return archive.describe(found)


@admin_blp.route("/webspaces")
class Webspaces(MethodView):
    @admin_blp.auth(ADMIN_KEY)
    @admin_blp.arguments(WebspaceCreateSchema())
    @admin_blp.response(201, WebspaceSchema)
    def post(self, data):
        """Create a webspace (domains group): the next id of the organisation, and a key"""
        return _webspace(archive.create_webspace(current_org(), data["name"], current_actor()))

    @admin_blp.auth(ADMIN_KEY)
    @admin_blp.response(200, WebspaceSchema(many=True))
    def get(self):
        """List webspaces"""
        return [_webspace(w) for w in archive.webspaces(current_org())]


def _webspace(space) -> dict:
    return {"id": space.number, "key": space.key, "name": space.name,
            "created_at": space.created_at}


@admin_blp.route("/tokens")
class Tokens(MethodView):
    @admin_blp.auth(ADMIN_KEY)
    @admin_blp.arguments(TokenCreateSchema())
    @admin_blp.response(201, TokenSchema)
    def post(self, data):
        """Create an API token for Avacy's API (shown once)"""
        issued = archive.create_token(current_org(), data["name"], current_actor())
        return {"id": issued.credential.id, "name": issued.credential.name,
                "token": issued.key}
