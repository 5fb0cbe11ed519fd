"""truConsent's HTTP API at its documented paths, and its management API under
/ledger/v1/truconsent (this service's own error shape, admin key). Views check the request, call
the services (:mod:`.points`, :mod:`.links`, :mod:`.logs`) and return what the response schema
dumps; see the package docstring for every shape."""
from __future__ import annotations

from flask import current_app
from flask.views import MethodView
from flask_smorest import abort

from consent.core import ledger
from consent.web import idempotent_response, public_url
from consent.web.auth import ADMIN_KEY, ApiKey, BearerSession, OneOf, current_actor, current_org
from consent.web.blueprint import DialectBlueprint
from consent.web.dialect import SERVICE_ERRORS
from schemas.truconsent import (
    AssetCreateSchema,
    AssetSchema,
    CollectionPointCreateSchema,
    CollectionPointSchema,
    ConsentHistoryQuerySchema,
    ConsentLinkCreateSchema,
    HistoryQuerySchema,
    LinkCreatedSchema,
    LinkHistorySchema,
    LinkRegeneratedSchema,
    LinkStatusSchema,
    LogPageSchema,
    MapUserResultSchema,
    MapUserSchema,
    RecordResultSchema,
    RecordSchema,
    UserStatusQuerySchema,
    UserStatusSchema,
)

from . import links, logs, mail, models, points
from .errors import ERRORS
from .phones import normalise_phone

blp = DialectBlueprint("truconsent", __name__, errors=ERRORS,
                       description="truConsent-compatible API")
admin_blp = DialectBlueprint("truconsent_admin", __name__, url_prefix="/ledger/v1/truconsent",
                             errors=SERVICE_ERRORS,
                             description="Manage truConsent assets and collection points "
                                         "(admin key).")

CONSENT_KEY = ApiKey(("consent", "admin"), scope_name="consent")
ADMIN_SCOPE_KEY = ApiKey(("admin",))
# Consent links: an operator's bearer session token, or an API key with the consent scope.
LINK_AUTH = OneOf(CONSENT_KEY, BearerSession())
RECORD_IN = RecordSchema()
RECORD_OUT = RecordResultSchema()

MISMATCH = ("Asset / Collection Point mismatch: the selected collection point does not belong to "
            "the specified asset. Please provide a valid Collection Point ID for the selected "
            "asset.")


def _secret():
    return current_app.config["SECRET_KEY"]


# -- consent links --------------------------------------------------------------------------------

@blp.route("/api/consent/consent-links")
class ConsentLinks(MethodView):
    @blp.auth(LINK_AUTH)
    @blp.arguments(ConsentLinkCreateSchema())
    @blp.response(200, LinkCreatedSchema)
    @blp.errors(**{"400": "Phone or collection point missing, invalid phone, or the collection "
                          "point is not the asset's",
                   "404": "Collection point not found"})
    def post(self, data):
        """Create a consent link

        Auth: ``Authorization: Bearer <session token>`` or ``X-API-Key`` (consent or admin
        scope), plus ``X-Org-Id``. With ``email`` the link is also sent by email."""
        org = current_org()
        if not data.get("phone") or not data.get("collection_point_id"):
            abort(400, message="Phone and Collection Point ID are required")
        phone = normalise_phone(data["phone"])
        if phone is None:
            abort(400, message="Invalid phone number: use E.164 format (+919876543210) or a "
                               "10-digit number")
        cp = points.find_cp(org, data["collection_point_id"].strip())
        if cp is None:
            abort(404, message="Collection point not found")
        if cp.asset_id != str(data["asset_id"]):
            abort(400, message=MISMATCH)
        issued = links.create(_secret(), public_url(), org, cp, phone, data["expiry_hours"],
                              data.get("data_collection_timestamp"), current_actor())
        issued.delivery = {}
        if data.get("email"):
            issued.delivery["email"] = mail.send_consent_email(
                org, cp, data["email"].strip(), issued.url, issued.event.expires_at,
                issued.request.id, current_actor())
        return issued


@blp.route("/api/consent/consent-links/history")
class LinkHistory(MethodView):
    @blp.auth(LINK_AUTH)
    @blp.arguments(HistoryQuerySchema(), location="query")
    @blp.response(200, LinkHistorySchema)
    def get(self, args):
        """Consent links created by the organisation, newest first"""
        total, items = links.history(public_url(), current_org(), args["limit"], args["offset"])
        return {"total": total, "limit": args["limit"], "offset": args["offset"],
                "items": items}


@blp.route("/api/consent/consent-links/status/<string:request_id>")
class LinkStatus(MethodView):
    @blp.auth(LINK_AUTH)
    @blp.response(200, LinkStatusSchema)
    @blp.errors(**{"404": "Consent request not found"})
    def get(self, request_id):
        """Status of a consent link request: active, complete or expired"""
        return links.state(current_org(), request_id)


@blp.route("/api/consent/consent-links/regenerate/<string:request_id>")
class LinkRegenerate(MethodView):
    @blp.auth(LINK_AUTH)
    @blp.response(200, LinkRegeneratedSchema)
    @blp.errors(**{"404": "Consent request not found", "409": "Consent link is still active",
                   "410": "Consent already completed for this request",
                   "429": "Maximum regeneration limit (5) reached"})
    def post(self, request_id):
        """Issue a new link (new event_id) for an expired request"""
        return links.regenerate(_secret(), public_url(), current_org(), request_id,
                                current_actor())


# -- consent logs ---------------------------------------------------------------------------------

@blp.route("/api/v1/external/consents/record")
class Record(MethodView):
    @blp.auth(CONSENT_KEY)
    @blp.arguments(RECORD_IN)
    @blp.response(200, RECORD_OUT)
    @blp.errors(**{"404": "Collection point not found",
                   "409": "requestId reused with a different body"})
    def post(self, data):
        """Record a consent decision (one consent log per purpose)

        ``requestId`` makes retries safe: a repeat returns the first result and writes nothing."""
        org = current_org()
        if data["action"] == "partial_consent":
            missing = [i for i, p in enumerate(data["purposes"]) if p.get("consented") is None]
            if missing:
                abort(422, messages={"json": {"purposes": {
                    i: {"consented": ["Field required"]} for i in missing}}})

        def produce():
            written = logs.record(org, data, current_actor())
            return {"success": True, "request_id": data.get("requestId"),
                    "dp_id": data["userId"], "action": data["action"], "consent_logs": written,
                    "message": f"Successfully recorded {len(written)} consent logs"}

        return idempotent_response(org, "truconsent.record", data.get("requestId"),
                                   RECORD_IN.dump(data), 200, RECORD_OUT, produce)


@blp.route("/api/v1/external/consents/history")
class History(MethodView):
    @blp.auth(CONSENT_KEY)
    @blp.arguments(ConsentHistoryQuerySchema(), location="query")
    @blp.response(200, LogPageSchema)
    def get(self, args):
        """Consent logs, newest first; filters combine with AND"""
        total, items = logs.page(
            current_org(), dp_id=args.get("dp_id"), action=args.get("action"),
            source=args.get("source"), cp_ref=args.get("collection_point_id"),
            date_from=args.get("date_from"), date_to=args.get("date_to"),
            limit=args["limit"], offset=args["offset"])
        return {"total": total, "limit": args["limit"], "offset": args["offset"],
                "items": items}


@blp.route("/api/v1/external/consents/user-status")
class UserStatus(MethodView):
    @blp.auth(CONSENT_KEY)
    @blp.arguments(UserStatusQuerySchema(), location="query")
    @blp.response(200, UserStatusSchema)
    def get(self, args):
        """The binding decision per collection point and purpose, for enforcement checks"""
        return {"dp_id": args["dp_id"], "as_of": models.now(),
                "collection_points": logs.user_status(
                    current_org(), args["dp_id"], args.get("collection_point_id"),
                    args.get("purpose_id"))}


@blp.route("/api/v1/external/consents/map-user")
class MapUser(MethodView):
    @blp.auth(ADMIN_SCOPE_KEY)
    @blp.arguments(MapUserSchema())
    @blp.response(200, MapUserResultSchema)
    def post(self, data):
        """Move the consent logs of an anonymous id to an authenticated user id"""
        anonymous, authenticated = data["anonymousId"].strip(), data["authenticatedUserId"].strip()
        if anonymous == authenticated:
            abort(422, messages={"json": {"authenticatedUserId": [
                "Value error, anonymousId and authenticatedUserId must differ"]}})
        count, _ = ledger.map_identity(current_org(), anonymous, authenticated,
                                       actor=current_actor(), metadata=data.get("metadata"),
                                       source="truconsent")
        return {"success": True, "mapped_count": count, "anonymous_id": anonymous,
                "authenticated_user_id": authenticated,
                "message": f"Successfully mapped {count} consent logs"}


# -- management -----------------------------------------------------------------------------------

@admin_blp.route("/assets")
class Assets(MethodView):
    @admin_blp.auth(ADMIN_KEY)
    @admin_blp.arguments(AssetCreateSchema())
    @admin_blp.response(201, AssetSchema)
    @admin_blp.errors(**{"409": "An asset with this display id exists"})
    def post(self, data):
        """Create an asset"""
        return points.create_asset(current_org(), data["name"], data.get("display_id"),
                                   current_actor())

    @admin_blp.auth(ADMIN_KEY)
    @admin_blp.response(200, AssetSchema(many=True))
    def get(self):
        """List assets"""
        return points.assets(current_org())


@admin_blp.route("/collection-points")
class CollectionPoints(MethodView):
    @admin_blp.auth(ADMIN_KEY)
    @admin_blp.arguments(CollectionPointCreateSchema())
    @admin_blp.response(201, CollectionPointSchema)
    @admin_blp.errors(**{"404": "Asset not found",
                         "409": "A collection point with this display id exists"})
    def post(self, data):
        """Create a collection point (notice + purposes) under an asset"""
        return points.create_collection_point(
            current_org(), data["asset_id"], data["title"], data["notice_text"],
            data["purposes"], data["notice_version"], data.get("display_id"), current_actor())

    @admin_blp.auth(ADMIN_KEY)
    @admin_blp.response(200, CollectionPointSchema(many=True))
    def get(self):
        """List collection points"""
        return points.collection_points(current_org())
