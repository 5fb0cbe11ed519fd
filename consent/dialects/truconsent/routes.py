"""truConsent's HTTP API at its documented paths, and its management API under
/ledger/v1/truconsent (this service's own error shape, admin key). Views check the request, call
the services (:mod:`.points`, :mod:`.links`, :mod:`.logs`) and return what the response schema
dumps; see the package docstring for every shape."""
from __future__ import annotations

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import abort

from consent.core import ledger
from consent.web import idempotent_response, public_url
from consent.web.auth import ADMIN_KEY, ApiKey, BearerSession, OneOf, current_actor, current_org
from consent.web.blueprint import DialectBlueprint
from consent.web.dialect import SERVICE_ERRORS
from schemas.truconsent import (
    AssetCreateSchema,
    AssetPageSchema,
    AssetSchema,
    AssetUpdateSchema,
    BannerListQuerySchema,
    BannerQuerySchema,
    BannerSchema,
    CollectionPointCreateSchema,
    CollectionPointSchema,
    CollectionPointUpdateSchema,
    PageQuerySchema,
    PointPageQuerySchema,
    PointPageSchema,
    PublicAssetSchema,
    RightsCenterSchema,
    SdkConsentSchema,
    SdkUserQuerySchema,
    SuppressionResultSchema,
    SuppressionSchema,
    TimelineQuerySchema,
    TimelineSchema,
    UserConsentStatusSchema,
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

from . import links, logs, mail, models, origins, points, queries, rights_center, sdk
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
# truConsent's SDKs: X-Org-Id with X-API-Key (consent scope) and/or an operator's bearer token
# (with both, the key decides).
SDK_AUTH = LINK_AUTH
SDK = "/api/v1/internal/consent"

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
                issued.request.id, current_actor(), subject_id=issued.request.subject_id)
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
        count, _ = ledger.map_identity(current_org().id, anonymous, authenticated,
                                       actor=current_actor(), metadata=data.get("metadata"),
                                       source="truconsent")
        return {"success": True, "mapped_count": count, "anonymous_id": anonymous,
                "authenticated_user_id": authenticated,
                "message": f"Successfully mapped {count} consent logs"}


# -- truConsent's SDKs (/api/v1/internal/consent...) ------------------------------------------------

def _allow_origin(asset=None, org=None) -> None:
    """403 in truConsent's words when a page's Origin may not call for this asset (or, without
    one, for any asset of the organisation); see :mod:`.origins`."""
    if not origins.allowed(asset, points.assets(org) if asset is None else None):
        abort(403, message=origins.MESSAGE)


def _bound(user_id) -> None:
    """With the rights center's access token (after phone + OTP, beside the API key), the data
    principal named must be the token's: 401 expired or forged, 403 another's
    (:func:`.rights_center.bound`)."""
    rights_center.bound(current_org(), user_id)


TOO_LONG = "String should have at most 255 characters"


def _user_id(args) -> str | None:
    """The data principal: ``?userId=``, else the Flutter SDK's ``X-User-Id`` header."""
    if args.get("userId"):
        return args["userId"]
    given = (request.headers.get("X-User-Id") or "").strip()
    if len(given) > 255:
        abort(422, messages={"header": {"X-User-Id": [TOO_LONG]}})
    return given or None


ORIGIN_403 = ("The page's Origin is not among the asset's allowed origins, or the rights "
              "center access token is another data principal's")
# truConsent's SDKs stop on a 429 ("Rate limit exceeded"). truConsent documents no limit and this
# service sets none: only control mode's faults answer it, so a client can test that path.
SDK_429 = "Rate limited (here only by an injected fault of control mode; no limit is set)"


def _banner(args, banner_id):
    org = current_org()
    cp = points.find_cp(org, banner_id)
    if cp is None:
        abort(404, message="Banner not found")
    asset = points.find_asset(org, cp.asset_id)
    _allow_origin(asset)
    _bound(_user_id(args))
    return sdk.banner(org, cp, asset, sdk.principal(org, _user_id(args)), _user_id(args))


def _user_banners(user_id):
    org = current_org()
    if len(user_id) > 255:
        abort(422, messages={"path": {"user_id": [TOO_LONG]}})
    _allow_origin(None, org)
    _bound(user_id)
    return sdk.banners(org, points.collection_points(org), user_id)


def _decision(data, banner_id):
    org = current_org()
    cp = points.find_cp(org, banner_id)
    if cp is None:
        abort(404, message="Collection point not found")
    _allow_origin(points.find_asset(org, cp.asset_id))
    _bound(data["userId"])
    if data.get("collectionPointId"):
        named = points.find_cp(org, data["collectionPointId"])
        if named is None or named.id != cp.id:
            abort(422, messages={"json": {"collectionPointId": [
                "Value error, collectionPointId names another collection point than the "
                "path"]}})
    if data.get("assetId"):
        named = points.find_asset(org, data["assetId"])
        if named is None or named.id != cp.asset_id:
            abort(400, message=MISMATCH)

    def produce():
        written = sdk.record_banner(org, cp, data, current_actor())
        return {"success": True, "request_id": data.get("requestId"),
                "dp_id": data["userId"], "action": data["action"], "consent_logs": written,
                "message": f"Successfully recorded {len(written)} consent logs"}

    # One requestId spans a banner's session: an SDK logs notice_shown and then the choice
    # under the same id, so a retry is the same requestId *and action*.
    return idempotent_response(org, f"truconsent.sdk.{data['action']}",
                               data.get("requestId"), sdk.fingerprint(cp, data), 200,
                               RECORD_OUT, produce)


@blp.route(SDK)
class SdkBanners(MethodView):
    @blp.auth(SDK_AUTH)
    @blp.arguments(BannerListQuerySchema(), location="query")
    @blp.response(200, BannerSchema(many=True))
    @blp.errors(**{"403": ORIGIN_403, "429": SDK_429, "404": "Asset not found"})
    def get(self, args):
        """Every banner (collection point), or an asset's, with a data principal's values

        What the rights center of older SDK versions lists (``?asset_id=``)."""
        org = current_org()
        asset = None
        if args.get("asset_id"):
            asset = points.find_asset(org, args["asset_id"])
            if asset is None:
                abort(404, message="Asset not found")
        _allow_origin(asset, org)
        _bound(_user_id(args))
        cps = points.cps_of_asset(org, asset.id) if asset else points.collection_points(org)
        return sdk.banners(org, cps, _user_id(args))


@blp.route(f"{SDK}/<string:asset_id>/<string:banner_id>")
class SdkAssetBanner(MethodView):
    @blp.auth(SDK_AUTH)
    @blp.arguments(BannerQuerySchema(), location="query")
    @blp.response(200, BannerSchema)
    @blp.errors(**{"403": ORIGIN_403, "429": SDK_429,
                   "404": "Asset not found, or the banner is not the asset's (the SDK then asks "
                          "GET .../consent/{bannerId})"})
    def get(self, args, asset_id, banner_id):
        """A banner of an asset, with the data principal's value per purpose"""
        org = current_org()
        asset = points.find_asset(org, asset_id)
        if asset is None:
            abort(404, message="Asset not found")
        _allow_origin(asset)
        _bound(_user_id(args))
        cp = points.find_cp(org, banner_id)
        if cp is None or cp.asset_id != asset.id:
            abort(404, message="Banner not found")
        return sdk.banner(org, cp, asset, sdk.principal(org, _user_id(args)), _user_id(args))


@blp.route(f"{SDK}/<string:banner_id>")
class SdkBanner(MethodView):
    @blp.auth(SDK_AUTH)
    @blp.arguments(BannerQuerySchema(), location="query")
    @blp.response(200, BannerSchema)
    @blp.errors(**{"403": ORIGIN_403, "429": SDK_429, "404": "Banner not found"})
    def get(self, args, banner_id):
        """A banner (collection point, by UUID or display id), with the data principal's value
        per purpose"""
        return _banner(args, banner_id)

    @blp.auth(SDK_AUTH)
    @blp.arguments(SdkConsentSchema())
    @blp.response(200, RECORD_OUT)
    @blp.errors(**{"400": MISMATCH, "403": ORIGIN_403, "429": SDK_429,
                   "404": "Collection point not found",
                   "409": "requestId and action reused for other choices"})
    def post(self, data, banner_id):
        """Record what a banner's data principal chose: one consent log per purpose

        ``requestId`` with the action makes retries safe: a repeat of the same decision
        (timestamps and metadata may differ) returns the first result and writes nothing; the
        same requestId and action with other choices is 409."""
        return _decision(data, banner_id)


@blp.route(f"{SDK}/suppression")
class SdkSuppression(MethodView):
    @blp.auth(SDK_AUTH)
    @blp.arguments(SuppressionSchema())
    @blp.response(200, SuppressionResultSchema)
    @blp.errors(**{"403": ORIGIN_403, "429": SDK_429})
    def post(self, data):
        """Record the purposes a data principal declined (the SDK sends it after a banner)"""
        org = current_org()
        _allow_origin(None, org)
        _bound(data["userId"])
        kept = sdk.suppress(org, data["userId"], data["declinedPurposeIds"], current_actor())
        return {"success": True, "user_id": data["userId"], "declined_purpose_ids": kept,
                "message": f"Recorded {len(kept)} suppressed purposes"}


@blp.route(f"{SDK}/rights-center")
class SdkRightsCenter(MethodView):
    @blp.auth(SDK_AUTH)
    @blp.arguments(RightsCenterSchema())
    @blp.response(200, RECORD_OUT)
    @blp.errors(**{"403": ORIGIN_403, "429": SDK_429, "404": "Asset not found"})
    def post(self, data):
        """Record a data principal's changes made in the rights center: one consent log per
        purpose"""
        org = current_org()
        asset = None
        if data.get("assetId"):
            asset = points.find_asset(org, data["assetId"])
            if asset is None:
                abort(404, message="Asset not found")
        _allow_origin(asset, org)
        _bound(data["userId"])
        written = sdk.record_rights_center(org, asset, data, current_actor())
        return {"success": True, "request_id": None, "dp_id": data["userId"],
                "action": data["action"], "consent_logs": written,
                "message": f"Successfully recorded {len(written)} consent logs"}


@blp.route(f"{SDK}/user/<string:user_id>")
class SdkUserConsents(MethodView):
    @blp.auth(SDK_AUTH)
    @blp.response(200, BannerSchema(many=True))
    @blp.errors(**{"403": ORIGIN_403, "429": SDK_429,
                   "422": "The user id is longer than 255 characters"})
    def get(self, user_id):
        """Every banner (collection point) with this data principal's value per purpose"""
        return _user_banners(user_id)


@blp.route(f"{SDK}/user-consent-status")
class SdkUserConsentStatus(MethodView):
    @blp.auth(SDK_AUTH)
    @blp.arguments(SdkUserQuerySchema(), location="query")
    @blp.response(200, UserConsentStatusSchema)
    @blp.errors(**{"403": ORIGIN_403, "429": SDK_429})
    def get(self, args):
        """A data principal's binding decision per collection point and purpose"""
        org = current_org()
        _allow_origin(None, org)
        _bound(args["userId"])
        return sdk.user_consent_status(org, args["userId"])


# -- the older SDK packages' API (their apiBaseUrl: {service}/banners) ------------------------------
# truconsent-consent-banner-react-native and truconsent-banner-flutter-sdk, before truKIT, talk to
# a Lambda at .../banners: GET {base}/{bannerId}, POST {base}/{cp}/consent, and their rights
# center GET {base}/ and {base}/user/{id}. The same banners and decisions as above.

LEGACY = "/banners"


@blp.route(f"{LEGACY}/")
class LegacyBanners(MethodView):
    @blp.auth(SDK_AUTH)
    @blp.response(200, BannerSchema(many=True))
    @blp.errors(**{"403": ORIGIN_403, "429": SDK_429})
    def get(self):
        """Every banner (the older rights center's getAllBanners)"""
        org = current_org()
        _allow_origin(None, org)
        return sdk.banners(org, points.collection_points(org), None)


@blp.route(f"{LEGACY}/<string:banner_id>")
class LegacyBanner(MethodView):
    @blp.auth(SDK_AUTH)
    @blp.response(200, BannerSchema)
    @blp.errors(**{"403": ORIGIN_403, "429": SDK_429, "404": "Banner not found",
                   "422": "X-User-Id longer than 255 characters"})
    def get(self, banner_id):
        """A banner, as the older SDK packages fetch it"""
        return _banner({}, banner_id)


@blp.route(f"{LEGACY}/<string:banner_id>/consent")
class LegacyConsent(MethodView):
    @blp.auth(SDK_AUTH)
    @blp.arguments(SdkConsentSchema())
    @blp.response(200, RECORD_OUT)
    @blp.errors(**{"400": MISMATCH, "403": ORIGIN_403, "429": SDK_429,
                   "404": "Collection point not found",
                   "409": "requestId and action reused for other choices"})
    def post(self, data, banner_id):
        """A banner's decision, as the older SDK packages send it ({userId, purposes, action,
        requestId})"""
        return _decision(data, banner_id)


@blp.route(f"{LEGACY}/user/<string:user_id>")
class LegacyUserConsents(MethodView):
    @blp.auth(SDK_AUTH)
    @blp.response(200, BannerSchema(many=True))
    @blp.errors(**{"403": ORIGIN_403, "429": SDK_429,
                   "422": "The user id is longer than 255 characters"})
    def get(self, user_id):
        """Every banner with this data principal's values (the older rights center)"""
        return _user_banners(user_id)


# -- the public API: assets, collection points, the data principal timeline --------------------------

@blp.route("/api/v1/external/public/assets")
class PublicAssets(MethodView):
    @blp.auth(CONSENT_KEY)
    @blp.arguments(PageQuerySchema(), location="query")
    @blp.response(200, AssetPageSchema)
    def get(self, args):
        """The organisation's assets (apps, websites), by display id"""
        org = current_org()
        return {"total": queries.COUNT_ASSETS.value((org.id,)), "limit": args["limit"],
                "offset": args["offset"],
                "items": queries.ASSETS_PAGE.all((org.id, args["limit"], args["offset"]))}


@blp.route("/api/v1/external/public/assets/<string:asset_id>")
class PublicAsset(MethodView):
    @blp.auth(CONSENT_KEY)
    @blp.response(200, PublicAssetSchema)
    @blp.errors(**{"404": "Asset not found"})
    def get(self, asset_id):
        """One asset, by UUID or display id"""
        asset = points.find_asset(current_org(), asset_id)
        if asset is None:
            abort(404, message="Asset not found")
        return asset


@blp.route("/api/v1/external/public/collection-points")
class PublicCollectionPoints(MethodView):
    @blp.auth(CONSENT_KEY)
    @blp.arguments(PointPageQuerySchema(), location="query")
    @blp.response(200, PointPageSchema)
    @blp.errors(**{"404": "Asset not found"})
    def get(self, args):
        """The organisation's collection points (or an asset's), with everything their banners
        show"""
        org = current_org()
        if args.get("asset_id"):
            asset = points.find_asset(org, args["asset_id"])
            if asset is None:
                abort(404, message="Asset not found")
            cps = points.cps_of_asset(org, asset.id)
        else:
            cps = points.collection_points(org)
        page = cps[args["offset"]:args["offset"] + args["limit"]]
        return {"total": len(cps), "limit": args["limit"], "offset": args["offset"],
                "items": [sdk.point_view(cp) for cp in page]}


@blp.route("/api/v1/external/consents/dp-timeline")
class DpTimeline(MethodView):
    @blp.auth(CONSENT_KEY)
    @blp.arguments(TimelineQuerySchema(), location="query")
    @blp.response(200, TimelineSchema)
    def get(self, args):
        """A data principal's timeline, oldest first: their consent logs, every event on them
        (withdrawn, mapped, used, expired) and the suppressions the SDK reported"""
        entries = sdk.timeline(current_org(), args["user_id"])
        return {"dp_id": args["user_id"], "total": len(entries), "limit": args["limit"],
                "offset": args["offset"],
                "items": entries[args["offset"]:args["offset"] + args["limit"]]}


# -- management -----------------------------------------------------------------------------------

@admin_blp.route("/assets")
class Assets(MethodView):
    @admin_blp.auth(ADMIN_KEY)
    @admin_blp.arguments(AssetCreateSchema())
    @admin_blp.response(201, AssetSchema)
    @admin_blp.errors(**{"409": "An asset with this display id exists"})
    def post(self, data):
        """Create an asset (``allowed_origins``: who may call the SDK API for it)"""
        return points.create_asset(current_org(), data["name"], data.get("display_id"),
                                   current_actor(), asset_type=data.get("asset_type"),
                                   description=data.get("description"),
                                   allowed_origins=data.get("allowed_origins"))

    @admin_blp.auth(ADMIN_KEY)
    @admin_blp.response(200, AssetSchema(many=True))
    def get(self):
        """List assets"""
        return points.assets(current_org())


@admin_blp.route("/assets/<string:asset_id>")
class AssetById(MethodView):
    @admin_blp.auth(ADMIN_KEY)
    @admin_blp.arguments(AssetUpdateSchema())
    @admin_blp.response(200, AssetSchema)
    @admin_blp.errors(**{"404": "Asset not found"})
    def patch(self, data, asset_id):
        """Change an asset's name, type, description or allowed origins (null: the service's
        CONSENT_CORS_ORIGINS)"""
        return points.update_asset(current_org(), asset_id, data, current_actor())


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
            data["purposes"], data["notice_version"], data.get("display_id"), current_actor(),
            consent_type=data["consent_type"], settings=data.get("banner_settings"))

    @admin_blp.auth(ADMIN_KEY)
    @admin_blp.response(200, CollectionPointSchema(many=True))
    def get(self):
        """List collection points"""
        return points.collection_points(current_org())


@admin_blp.route("/collection-points/<string:cp_id>")
class CollectionPointById(MethodView):
    @admin_blp.auth(ADMIN_KEY)
    @admin_blp.response(200, CollectionPointSchema)
    @admin_blp.errors(**{"404": "Collection point not found"})
    def get(self, cp_id):
        """One collection point, by UUID or display id"""
        cp = points.find_cp(current_org(), cp_id)
        if cp is None:
            abort(404, message="Collection point not found")
        return cp

    @admin_blp.auth(ADMIN_KEY)
    @admin_blp.arguments(CollectionPointUpdateSchema())
    @admin_blp.response(200, CollectionPointSchema)
    @admin_blp.errors(**{"404": "Collection point not found"})
    def patch(self, data, cp_id):
        """Change a collection point's banner: its consent type and settings (replaced whole)"""
        return points.update_collection_point(current_org(), cp_id, data, current_actor())
