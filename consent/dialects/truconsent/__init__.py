"""The truConsent dialect: truConsent's consent API at its documented paths, on the ledger.

Errors are ``{"detail": "<message>"}``; field errors are FastAPI's 422
``{"detail": [{"loc": ["body"|"query", field, ...], "msg": "...", "type": "..."}]}``.
Timestamps are ISO 8601 UTC with ``+00:00``. Every POST answers 200 (FastAPI's default).

Auth
  consent links: ``Authorization: Bearer <session token>`` (a member of the organisation) or
  ``X-API-Key`` with the consent or admin scope; plus ``X-Org-Id`` (slug or id).
  consent logs: ``X-Org-Id`` + ``X-API-Key`` (consent or admin); map-user: admin scope.
  400 "Tenant context not found" | 401 "Authorization token required" | 401 "Invalid or expired
  auth token" | 401 "API key required" | 401 "Invalid or inactive API key" | 403 "API key does not
  have the 'consent' scope" (map-user: 'admin') | 403 "User is not a member of this organization
  in PropelAuth".

POST /api/consent/consent-links  (documented)
  in  {collection_point_id (UUID or display id), asset_id (UUID), phone, email?, expiry_hours?
       (1-24, default 24), data_collection_timestamp?}
  out {request_id, event_id, consent_link, expires_at, delivery_status: {} | {"email": "sent" |
       "failed"}}
  consent_link = {CONSENT_PUBLIC_URL}/{org-subdomain}/{cp-display-id}/{event-id}?t=<signed token>
  400 "Phone and Collection Point ID are required" | 400 "Invalid phone number: ..." | 400 asset /
  collection point mismatch | 404 "Collection point not found" | 422 field errors.

GET /api/consent/consent-links/history?limit=50&offset=0   (limit 1-200)
  out {total, limit, offset, items: [{request_id, event_id, phone ("+*********210"),
       collection_point_id, collection_point_display_id, collection_point_title, asset_id,
       status, is_completed, expires_at, created_at, regeneration_count, consent_link}]}
  (the requests of an erased data principal are left out; their status and regeneration are
  404 "Consent request not found" and their links are refused as unknown ones: see .people)

GET /api/consent/consent-links/status/{request_id}
  out {request_id, event_id, status: active|complete|expired, collection_point_id,
       collection_point_display_id, expires_at, created_at, completed_at, consent_action
       (approved|declined|partial_consent|null), reference, regeneration_count,
       consent_logs: [<log>]}
  404 "Consent request not found"

POST /api/consent/consent-links/regenerate/{request_id}
  out {request_id, event_id, previous_event_id, regeneration_count, consent_link, expires_at}
  404 "Consent request not found" | 409 "Consent link is still active" | 410 "Consent already
  completed for this request" | 429 "Maximum regeneration limit (5) reached"

POST /api/v1/external/consents/record
  in  {userId, action: approved|declined|partial_consent|revoked|no_action,
       purposes: [{id, name?, version?, consented? (required for partial_consent)}],
       collectionPointId? (UUID or display id), requestId? (idempotency key), metadata?}
  approved -> granted, declined/no_action -> denied, revoked -> withdrawn (supersedes the grant).
  out {success: true, request_id, dp_id, action, consent_logs: [<log>],
       message: "Successfully recorded N consent logs"}
  A repeat with the same requestId returns the first body and writes nothing; the same requestId
  with a different body is 409. 404 "Collection point not found". 422: a purpose that is not the
  collection point's (without collectionPointId: on none of the organisation's points).

GET /api/v1/external/consents/history?dp_id&action&source&collection_point_id&from&to&limit&offset
  out {total, limit, offset, items: [<log>]}, newest first. source: consent_link | api.

GET /api/v1/external/consents/user-status?dp_id=...[&collection_point_id][&purpose_id]
  out {dp_id, as_of, collection_points: [{collection_point_id, collection_point_display_id,
       purposes: [{purpose_id, purpose_name, purpose_version, notice_version, status
       (granted|denied|withdrawn|expired), consented (bool: may process now), action, source,
       consent_log_id, recorded_at}]}]}

POST /api/v1/external/consents/map-user  (documented)
  in  {anonymousId, authenticatedUserId, metadata?}
  out {success, mapped_count, anonymous_id, authenticated_user_id,
       message: "Successfully mapped N consent logs"}

<log> = {id, dp_id (current holder), recorded_dp_id (who it was recorded under), action, status
  (granted|denied|withdrawn), purpose_id, purpose_name, purpose_version, notice_version,
  collection_point_id, collection_point_display_id, source, event_id, request_id, metadata,
  mappings: [{from, to, metadata, mapped_at}], created_at}

GET /api/v1/external/consents/dp-timeline?user_id=...[&limit=100&offset=0]
  out {dp_id, total, limit, offset, items: [{at, event (recorded|withdrawn|mapped|used|expired|
       suppressed), consent_log_id, purpose_id, purpose_name, status, action, collection_point_id,
       collection_point_display_id, source, request_id, data}]}, oldest first.

GET /api/v1/external/public/assets[?limit&offset]   out {total, limit, offset, items: [<asset>]}
GET /api/v1/external/public/assets/{id}             out <asset>; 404 "Asset not found"
GET /api/v1/external/public/collection-points[?asset_id&limit&offset]
  out {total, limit, offset, items: [{id, display_id, asset_id, title, notice_text,
       notice_version, consent_type, purposes: [<purpose definition>], banner_settings,
       created_at}]}
<asset> = {id, display_id, name, asset_type, description, allowed_origins, created_at}

The SDK API (truKIT React Native and Flutter; what they send is replayed in
tests/truconsent_sdk_requests.py). Auth as consent links (``X-Org-Id`` + ``X-API-Key``, or
``Authorization: Bearer``); a page's ``Origin`` must be allowed for the asset (:mod:`.origins`,
else 403 "Origin not authorized"); ``Sec-Fetch-Site`` and the user agent are not looked at.
GET  /api/v1/internal/consent/{assetId}/{bannerId}?userId=   a banner of the asset (404 "Asset not
     found" or "Banner not found": the SDK then asks the next path)
GET  /api/v1/internal/consent/{bannerId}?userId=             a banner (404 "Banner not found")
  <banner> = {id, banner_id (display id), collection_point (UUID), version, title, description,
       consent_type, asset: {id, display_id, name, description, asset_type}, organization:
       {name}, organization_name, purposes: [{id, name, description, version, is_mandatory,
       is_legitimate, purpose_type, expiry_period, consented (accepted|declined|shown|pending),
       data_elements, processing_activities, legal_entities, tools}], banner_settings: {...},
       user_id, shown_to_principal}; ``userId`` may come as the ``X-User-Id`` header instead.
POST /api/v1/internal/consent/{collectionPointId}
  in  {userId, requestId?, assetId?, consentLanguage?, collectionPointId?,
       collectionPointVersion?, consentTimestamp? (epoch s), source?, purposes: [{purposeId|id,
       name?, version?, consented?, purpose_type?, is_mandatory?}], action (approved|declined|
       no_action|revoked|partial_consent|notice_shown, or Flutter's "Approved"...), metadata?}
  out the record endpoint's body (source "sdk"); see :mod:`.sdk` for what each purpose becomes.
  400 asset / collection point mismatch | 404 "Collection point not found" | 409 requestId
  reused for another decision | 422 a purpose not on the collection point.
POST /api/v1/internal/consent/suppression  in {userId, declinedPurposeIds}
  out {success, user_id, declined_purpose_ids, message}
POST /api/v1/internal/consent/rights-center  in {userId, purposes: [{id, name, consented}],
       action (approved|revoked|declined), assetId?, source?, metadata?}  out as record
       (source "rights_center"; each log at the first collection point with the purpose)
GET  /api/v1/internal/consent/user/{userId}   [<banner>] of every collection point
GET  /api/v1/internal/consent?asset_id=&userId=   [<banner>] (older SDK versions)
GET  /api/v1/internal/consent/user-consent-status?userId=
  out {userId, collectionPoints: [{id, collection_point, banner_id, title, latest_consent:
       {timestamp, purpose_consents: [{purpose_id, purpose_name, status (accepted|declined|shown|
       expired|pending), ledger_status, consented (bool), consent_log_id, recorded_at}]}}]}
Unknown paths under /api/v1/internal answer in this shape too (401 without a credential, else
404 {"detail": "Not Found"}).

The older SDK packages (truconsent-consent-banner-react-native, truconsent-banner-flutter-sdk)
talk to a Lambda API whose base ends in /banners; pointed at {service}/banners they get:
GET /banners/{bannerId} (<banner>), POST /banners/{collectionPointId}/consent ({userId,
purposes, action, requestId}, as the decision above), GET /banners/ and
GET /banners/user/{userId} ([<banner>]).

Management (the service's own error shape, admin key): POST/GET /ledger/v1/truconsent/assets,
PATCH /ledger/v1/truconsent/assets/{id} (allowed origins...), POST/GET
/ledger/v1/truconsent/collection-points, GET/PATCH .../collection-points/{id} (banner settings,
consent type); CLI: ``flask --app app truconsent ...``.

Modules: ``routes`` (the views), ``points`` (assets, collection points), ``links`` (consent links:
tokens, lifecycle, the collector's checks), ``logs`` (consent logs), ``sdk`` (what the SDKs read
and write), ``origins`` (allowed origins per asset), ``phones`` (phone rules and masking),
``mail`` (the consent email and local outbox), ``pages`` (collector and outbox pages),
``people`` (erasure and access report of a data principal's data),
``queries`` (hand-written SQL), ``models``, ``errors``, ``cli``; page text in ``templates/``.
"""
from __future__ import annotations

from flask import current_app

from consent.control.store import Stub
from consent.core import auth
from consent.core.rights import People
from consent.web import public_url
from consent.web.cors import CorsPolicy
from consent.web.dialect import Dialect

from . import models, points, rights_center
from .cli import truconsent_cli
from .errors import ERRORS
from .pages import bp as pages_bp
from .people import PEOPLE
from .rights_routes import rights_admin_blp, rights_blp
from .routes import LINK_AUTH, admin_blp, blp

DEMO_PURPOSES = [
    {"id": "account", "name": "Account and security",
     "description": "Creating your account, signing you in and keeping it secure.",
     "version": "1", "is_mandatory": True, "expiry_period": "1 year",
     "data_elements": [{"name": "Phone number", "display_id": "DE001"},
                       {"name": "Email address", "display_id": "DE002"}]},
    {"id": "fraud-prevention", "name": "Fraud prevention",
     "description": "Spotting and stopping fraudulent sign-ups (our legitimate interest).",
     "version": "1", "is_legitimate": True,
     "processing_activities": [{"name": "Device and sign-up checks"}]},
    {"id": "marketing", "name": "Marketing messages",
     "description": "Offers and news about our products by SMS and email.", "version": "1",
     "expiry_period": "6 months", "tools": [{"name": "SMS gateway"}],
     "legal_entities": [{"name": "Demo Organisation"}]},
    {"id": "analytics", "name": "Analytics",
     "description": "Measuring how our app is used, to improve it.", "version": "1",
     "expiry_period": "1 year"},
]
DEMO_SETTINGS = {"banner_title": "Your privacy choices", "primary_color": "#2563eb",
                 "button_color": "#2563eb", "button_text_color": "#ffffff",
                 "default_selection": "mandatory_only", "general_notice_template": "tabbed_banner",
                 "show_purposes": True}
# Pages of a local dev server may show the demo banner (a native app sends no Origin).
DEMO_ORIGINS = ["http://localhost:*", "http://127.0.0.1:*"]


def seed_demo(org, user) -> dict:
    asset = next((a for a in points.assets(org) if a.name == "Demo App"), None) or \
        points.create_asset(org, "Demo App", actor="cli:seed-demo", asset_type="mobile_app",
                            allowed_origins=DEMO_ORIGINS)
    cp = points.first_cp_of_asset(org, asset.id) or points.create_collection_point(
        org, asset.id, "Demo sign-up",
        "We collect your phone number to create your account. With your permission we also "
        "use it for the purposes below. You can change your choices at any time.",
        DEMO_PURPOSES, actor="cli:seed-demo", settings=DEMO_SETTINGS)
    consent_key = auth.create_credential(org.id, name="truconsent consent", scopes=("consent",),
                                         actor="cli:seed-demo")
    admin_key = auth.create_credential(org.id, name="truconsent admin", scopes=("admin", "consent"),
                                       actor="cli:seed-demo")
    max_age = current_app.config["CONSENT_SESSION_MAX_AGE"]
    bearer = auth.issue_session_token(current_app.config["SECRET_KEY"], user,
                                      min(7 * 24 * 3600, max_age), max_age)
    return {"org_id": org.slug, "api_key": consent_key.key, "admin_api_key": admin_key.key,
            "bearer_token": bearer, "collection_point_id": cp.id,
            "collection_point_display_id": cp.display_id, "asset_id": asset.id,
            "banner_id": cp.display_id, "purpose_ids": [p["id"] for p in cp.purposes],
            # The SDK's own configuration (TruConsentModal's props, TruConsent's parameters).
            "sdk": {"apiUrl": public_url(), "organizationId": org.slug,
                    "bannerId": cp.display_id, "assetId": asset.id, "apiKey": consent_key.key}}


DIALECT = Dialect(
    name="truconsent",
    errors=ERRORS,
    prefixes=("/api/consent/", "/api/v1/external/", "/api/v1/internal", "/banners/"),
    unmatched_auth=LINK_AUTH,
    blueprints=(blp, admin_blp, rights_blp, rights_admin_blp),
    pages=(pages_bp,),
    seed_demo=seed_demo,
    cli_commands=(truconsent_cli,),
    # control mode: a reset keeps its assets, collection points, rights center settings and DPO
    # (configuration)
    stub=Stub(keep=(models.TcAsset, models.TcCollectionPoint, models.TcRightsCenterSettings,
                    models.TcDpo)),
    # The API authenticates by header (never a cookie): browsers of CONSENT_CORS_ORIGINS may call
    # it. The collector page is not under these prefixes. The SDK API answers any origin's
    # preflight: which pages it serves is each asset's allowed origins (.origins, 403).
    cors=(CorsPolicy(paths=("/api/consent/", "/api/v1/external/"),
                     allow_headers=("Content-Type", "Authorization", "X-API-Key", "X-Org-Id"),
                     methods=("GET", "POST")),
          CorsPolicy(paths=("/api/v1/internal/", "/banners/"),
                     allow_headers=("Content-Type", "Authorization", "X-API-Key", "X-Org-Id",
                                    "X-User-Id"),
                     methods=("GET", "POST", "PUT", "DELETE"), origins="*")),
    schema=models.SCHEMA,
    # people's rights: erasure blanks phones, log metadata and request ids, deletes consent
    # emails, and the rights center's nominees, grievances and OTP state; the access report's
    # truConsent section (.people, .rights_center)
    people=PEOPLE,
    sources=("api", "consent_link", "sdk", "rights_center", "truconsent"))
