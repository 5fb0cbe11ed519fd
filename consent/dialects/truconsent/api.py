"""truConsent's HTTP API at its documented paths, and the management API under /ledger/v1/truconsent.

See the package docstring for every request and response shape.
"""
from __future__ import annotations

import functools

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from consent.core import auth, ledger
from consent.core.errors import Forbidden, Unauthorized
from consent.dialects.credentials import AuthFailure, Principal, api_key_principal
from consent.dialects.credentials import current_actor as _actor
from consent.dialects.credentials import current_org as _org
from consent.dialects.ledger.routes import admin_required
from schemas.common import iso
from schemas.truconsent import (
    AssetCreateSchema,
    AssetSchema,
    CollectionPointCreateSchema,
    CollectionPointSchema,
    ConsentHistoryQuerySchema,
    ConsentLinkCreateSchema,
    HistoryQuerySchema,
    MapUserSchema,
    RecordSchema,
    UserStatusQuerySchema,
)

from . import mail, models, service
from .models import TcAsset, TcCollectionPoint, TcConsentRequest, TcLinkEvent

blp = Blueprint("truconsent", __name__, description="truConsent-compatible API")
admin_blp = Blueprint("truconsent_admin", __name__, url_prefix="/ledger/v1/truconsent",
                      description="Manage truConsent assets and collection points (admin key).")

TENANT = (400, "Tenant context not found")


def key_errors(scope: str) -> dict:
    return {
        "missing_org": TENANT,
        "unknown_org": TENANT,
        "missing_key": (401, "API key required"),
        "invalid_key": (401, "Invalid or inactive API key"),
        "missing_scope": (403, f"API key does not have the '{scope}' scope"),
    }


def _key_auth(scopes: set[str], scope_name: str):
    try:
        api_key_principal(request.headers.get("X-Org-Id"), request.headers.get("X-API-Key"),
                          scopes)
    except AuthFailure as failure:
        status, message = key_errors(scope_name)[failure.reason]
        abort(status, message=message)


def key_required(scopes: set[str], scope_name: str):
    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            _key_auth(scopes, scope_name)
            return view(*args, **kwargs)
        return wrapper
    return decorator


def link_auth(view):
    """Bearer session token of a member, or an API key with the consent or admin scope."""
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if request.headers.get("X-API-Key"):
            _key_auth({"consent", "admin"}, "consent")
            return view(*args, **kwargs)
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            abort(401, message="Authorization token required")
        try:
            user = auth.user_for_session_token(current_app.config["SECRET_KEY"], token.strip(),
                                               current_app.config["CONSENT_SESSION_MAX_AGE"])
        except Unauthorized:
            abort(401, message="Invalid or expired auth token")
        org = ledger.get_org(request.headers.get("X-Org-Id"))
        if org is None:
            abort(*TENANT[:1], message=TENANT[1])
        try:
            auth.require_membership(user, org)
        except Forbidden:
            abort(403, message="User is not a member of this organization in PropelAuth")
        g.principal = Principal(org=org, actor=f"user:{user.id}", user_id=user.id)
        return view(*args, **kwargs)
    return wrapper


def _public_url():
    return current_app.config["CONSENT_PUBLIC_URL"]


def _secret():
    return current_app.config["SECRET_KEY"]


# -- consent links --------------------------------------------------------------------------------

@blp.route("/api/consent/consent-links")
class ConsentLinks(MethodView):
    decorators = [link_auth]

    @blp.arguments(ConsentLinkCreateSchema())
    @blp.response(200)
    def post(self, data):
        """Create a consent link

        Auth: ``Authorization: Bearer <session token>`` or ``X-API-Key`` (consent or admin
        scope), plus ``X-Org-Id``."""
        org = _org()
        if not data.get("phone") or not data.get("collection_point_id"):
            abort(400, message="Phone and Collection Point ID are required")
        phone = service.normalise_phone(data["phone"])
        if phone is None:
            abort(400, message="Invalid phone number: use E.164 format (+919876543210) or a "
                               "10-digit number")
        cp = service.find_cp(org, data["collection_point_id"].strip())
        if cp is None:
            abort(404, message="Collection point not found")
        if cp.asset_id != str(data["asset_id"]):
            abort(400, message=(
                "Asset / Collection Point mismatch: the selected collection point does not "
                "belong to the specified asset. Please provide a valid Collection Point ID for "
                "the selected asset."))
        req, event = service.create_link(_secret(), org, cp, phone, data["expiry_hours"],
                                         data.get("data_collection_timestamp"), _actor())
        link = service.link_url(_public_url(), org, cp, event)
        delivery = {}
        if data.get("email"):
            delivery["email"] = mail.send_consent_email(org, cp, data["email"].strip(), link,
                                                        event.expires_at, req.id, _actor())
        return {"request_id": req.id, "event_id": event.id, "consent_link": link,
                "expires_at": iso(event.expires_at), "delivery_status": delivery}


def _history_item(req, cp, event, org) -> dict:
    return {
        "request_id": req.id,
        "event_id": req.current_event_id,
        "phone": service.mask_phone(req.phone),
        "collection_point_id": cp.id,
        "collection_point_display_id": cp.display_id,
        "collection_point_title": cp.title,
        "asset_id": cp.asset_id,
        "status": service.link_status(req),
        "is_completed": req.completed_at is not None,
        "expires_at": iso(req.expires_at),
        "created_at": iso(req.created_at),
        "regeneration_count": req.regeneration_count,
        "consent_link": service.link_url(_public_url(), org, cp, event),
    }


@blp.route("/api/consent/consent-links/history")
class LinkHistory(MethodView):
    decorators = [link_auth]

    @blp.arguments(HistoryQuerySchema(), location="query")
    @blp.response(200)
    def get(self, args):
        """Consent links created by the organisation, newest first"""
        org = _org()
        base = TcConsentRequest.select().where(TcConsentRequest.org == org.id)
        total = base.count()
        rows = (TcConsentRequest.select(TcConsentRequest, TcCollectionPoint, TcLinkEvent)
                .join(TcCollectionPoint).switch(TcConsentRequest)
                .join(TcLinkEvent, on=(TcLinkEvent.id == TcConsentRequest.current_event_id),
                      attr="current_event")
                .where(TcConsentRequest.org == org.id)
                .order_by(TcConsentRequest.created_at.desc(), TcConsentRequest.id)
                .limit(args["limit"]).offset(args["offset"]))
        items = [_history_item(r, r.collection_point, r.current_event, org) for r in rows]
        return {"total": total, "limit": args["limit"], "offset": args["offset"],
                "items": items}


@blp.route("/api/consent/consent-links/status/<string:request_id>")
class LinkStatus(MethodView):
    decorators = [link_auth]

    @blp.response(200)
    def get(self, request_id):
        """Status of a consent link request: active, complete or expired"""
        org = _org()
        req = TcConsentRequest.get_or_none((TcConsentRequest.org == org.id)
                                           & (TcConsentRequest.id == request_id))
        if req is None:
            abort(404, message="Consent request not found")
        cp = TcCollectionPoint.get_by_id(req.collection_point_id)
        _, logs = service.logs_page(org, request_id=req.id, limit=1000)
        logs.sort(key=lambda item: item["purpose_id"])
        return {
            "request_id": req.id,
            "event_id": req.current_event_id,
            "status": service.link_status(req),
            "collection_point_id": cp.id,
            "collection_point_display_id": cp.display_id,
            "expires_at": iso(req.expires_at),
            "created_at": iso(req.created_at),
            "completed_at": iso(req.completed_at),
            "consent_action": req.consent_action,
            "reference": req.reference,
            "regeneration_count": req.regeneration_count,
            "consent_logs": logs,
        }


@blp.route("/api/consent/consent-links/regenerate/<string:request_id>")
class LinkRegenerate(MethodView):
    decorators = [link_auth]

    @blp.response(200)
    def post(self, request_id):
        """Issue a new link (new event_id) for an expired request"""
        org = _org()
        req, event = service.regenerate(_secret(), org, request_id, _actor())
        cp = TcCollectionPoint.get_by_id(req.collection_point_id)
        return {
            "request_id": req.id,
            "event_id": event.id,
            "previous_event_id": req.previous_event_id,
            "regeneration_count": req.regeneration_count,
            "consent_link": service.link_url(_public_url(), org, cp, event),
            "expires_at": iso(event.expires_at),
        }


# -- consent logs ---------------------------------------------------------------------------------

consent_key = key_required({"consent", "admin"}, "consent")


@blp.route("/api/v1/external/consents/record")
class Record(MethodView):
    decorators = [consent_key]

    @blp.arguments(RecordSchema())
    @blp.response(200)
    def post(self, data):
        """Record a consent decision (one consent log per purpose)

        ``requestId`` makes retries safe: a repeat returns the first result and writes nothing."""
        org = _org()
        if data["action"] == "partial_consent":
            missing = [i for i, p in enumerate(data["purposes"]) if p.get("consented") is None]
            if missing:
                abort(422, messages={"json": {"purposes": {
                    i: {"consented": ["Field required"]} for i in missing}}})

        def produce():
            consents = service.record_logs(org, data, _actor())
            logs = [service.log_dict(c) for c in consents]  # as written: no mappings yet
            return 200, {"success": True, "request_id": data.get("requestId"),
                         "dp_id": data["userId"], "action": data["action"],
                         "consent_logs": logs,
                         "message": f"Successfully recorded {len(logs)} consent logs"}

        status, body, _ = ledger.idempotent(org, "truconsent.record", data.get("requestId"),
                                            data, produce)
        return body


@blp.route("/api/v1/external/consents/history")
class History(MethodView):
    decorators = [consent_key]

    @blp.arguments(ConsentHistoryQuerySchema(), location="query")
    @blp.response(200)
    def get(self, args):
        """Consent logs, newest first; filters combine with AND"""
        total, items = service.logs_page(
            _org(), dp_id=args.get("dp_id"), action=args.get("action"),
            source=args.get("source"), cp_ref=args.get("collection_point_id"),
            date_from=args.get("date_from"), date_to=args.get("date_to"),
            limit=args["limit"], offset=args["offset"])
        return {"total": total, "limit": args["limit"], "offset": args["offset"],
                "items": items}


@blp.route("/api/v1/external/consents/user-status")
class UserStatus(MethodView):
    decorators = [consent_key]

    @blp.arguments(UserStatusQuerySchema(), location="query")
    @blp.response(200)
    def get(self, args):
        """The binding decision per collection point and purpose, for enforcement checks"""
        return {"dp_id": args["dp_id"], "as_of": iso(models.now()),
                "collection_points": service.user_status(
                    _org(), args["dp_id"], args.get("collection_point_id"),
                    args.get("purpose_id"))}


@blp.route("/api/v1/external/consents/map-user")
class MapUser(MethodView):
    decorators = [key_required({"admin"}, "admin")]

    @blp.arguments(MapUserSchema())
    @blp.response(200)
    def post(self, data):
        """Move the consent logs of an anonymous id to an authenticated user id"""
        anonymous, authenticated = data["anonymousId"].strip(), data["authenticatedUserId"].strip()
        if anonymous == authenticated:
            abort(422, messages={"json": {"authenticatedUserId": [
                "Value error, anonymousId and authenticatedUserId must differ"]}})
        count, _ = ledger.map_identity(_org(), anonymous, authenticated, actor=_actor(),
                                       metadata=data.get("metadata"), source="truconsent")
        return {"success": True, "mapped_count": count, "anonymous_id": anonymous,
                "authenticated_user_id": authenticated,
                "message": f"Successfully mapped {count} consent logs"}


# -- management -----------------------------------------------------------------------------------

@admin_blp.route("/assets")
class Assets(MethodView):
    decorators = [admin_required]

    @admin_blp.arguments(AssetCreateSchema())
    @admin_blp.response(201, AssetSchema)
    def post(self, data):
        """Create an asset"""
        return service.create_asset(_org(), data["name"], data.get("display_id"), _actor())

    @admin_blp.response(200, AssetSchema(many=True))
    def get(self):
        """List assets"""
        return list(TcAsset.select().where(TcAsset.org == _org().id)
                    .order_by(TcAsset.display_id))


@admin_blp.route("/collection-points")
class CollectionPoints(MethodView):
    decorators = [admin_required]

    @admin_blp.arguments(CollectionPointCreateSchema())
    @admin_blp.response(201, CollectionPointSchema)
    def post(self, data):
        """Create a collection point (notice + purposes) under an asset"""
        return service.create_collection_point(
            _org(), data["asset_id"], data["title"], data["notice_text"], data["purposes"],
            data["notice_version"], data.get("display_id"), _actor())

    @admin_blp.response(200, CollectionPointSchema(many=True))
    def get(self):
        """List collection points"""
        return list(TcCollectionPoint.select().where(TcCollectionPoint.org == _org().id)
                    .order_by(TcCollectionPoint.display_id))
