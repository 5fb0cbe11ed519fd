"""The requests truConsent's SDKs send, as data: paths, query names, headers and bodies, written
down from their public source (never copied code), so the tests replay exactly what an app that
embeds them sends. Each builder names the file (and commit) it was read from.

Repositories read:
- ``truconsent/truKIT-react-native``: ``src/core/BannerService.ts`` (4fd36190, faf70702),
  ``src/components/TruConsentModal.tsx`` (0f7f6c2a: the bodies it builds),
  ``src/services/rightsCenterApi.ts`` (0f7f6c2a; faf70702 for the older ``GET .../consent?asset_id``),
  ``src/core/types.ts`` (what it reads from a banner).
- ``truconsent/truKIT-flutter-sdk``: ``lib/src/services/banner_service.dart``,
  ``lib/src/models/banner.dart`` (``Purpose.toJson``, ``ConsentAction.value``),
  ``lib/src/services/rights_center_api.dart`` (2e2663f3).
- ``truconsent/truconsent-consent-banner-react-native``: ``src/components/TruConsentModal.tsx``
  (e35dfdc7: a notice_shown log, then the choice, under one requestId).
"""
from __future__ import annotations

import datetime as dt
from urllib.parse import quote, urlencode

RN_UA = "Mozilla/5.0 TruConsent-ReactNative-SDK/1.0"
FLUTTER_UA = "Mozilla/5.0 TruConsent-Flutter-SDK/1.0"
BASE = "/api/v1/internal/consent"


def encode_uri_component(value: str) -> str:
    """JavaScript's encodeURIComponent (unreserved: A-Z a-z 0-9 - _ . ! ~ * ' ( ))."""
    return quote(value, safe="-_.!~*'()")


# -- truKIT React Native: src/core/BannerService.ts -------------------------------------------------

def rn_headers(organization_id: str, api_key: str | None = None,
               token: str | None = None) -> dict:
    """buildHeaders(apiKey, effectiveToken, organizationId): Content-Type, then X-Org-Id,
    X-API-Key and Authorization each only when set (no Origin, no Sec-Fetch-Site)."""
    headers = {"Content-Type": "application/json"}
    if organization_id:
        headers["X-Org-Id"] = organization_id
    if api_key:
        headers["X-API-Key"] = api_key
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


def _append_user_id(url: str, user_id: str | None) -> str:
    if not user_id:
        return url
    return f"{url}{'&' if '?' in url else '?'}userId={encode_uri_component(user_id)}"


def rn_fetch_banner_urls(banner_id: str, asset_id: str | None = None,
                         user_id: str | None = None) -> list[str]:
    """fetchBanner's candidate URLs, in order: with the asset first, then the banner alone."""
    urls = []
    if asset_id:
        urls.append(_append_user_id(
            f"{BASE}/{encode_uri_component(asset_id)}/{encode_uri_component(banner_id)}",
            user_id))
    urls.append(_append_user_id(f"{BASE}/{encode_uri_component(banner_id)}", user_id))
    return urls


def rn_fetch_banner(client, headers: dict, urls: list[str]) -> list:
    """fetchBanner's loop: stop on ok, 401, 403, 429 or any status but 404; on 404 try the next
    URL. Returns every response it got, in order."""
    responses = []
    for url in urls:
        response = client.get(url, headers=headers)
        responses.append(response)
        if response.status_code != 404:
            break
    return responses


# What the SDK reads from a banner (types.ts Banner, Purpose, BannerSettings; TruConsentModal).
RN_BANNER_READS = ("banner_id", "collection_point", "version", "title", "asset", "purposes",
                   "banner_settings", "organization", "organization_name", "consent_type")
RN_PURPOSE_READS = ("id", "name", "description", "is_mandatory", "consented", "expiry_period",
                    "data_elements", "legal_entities", "tools", "processing_activities",
                    "is_legitimate", "purpose_type", "version")


def rn_purposes_payload(banner: dict, choices: dict[str, str]) -> list[dict]:
    """TruConsentModal's buildAllPurposesPayload: the notice (legitimate-interest) purposes
    first, always "shown", then the consent purposes with the user's choice; each as
    {purposeId, version, consented, purpose_type, is_mandatory}."""
    notice = [p for p in banner["purposes"] if p.get("is_legitimate")]
    consent = [p for p in banner["purposes"] if not p.get("is_legitimate")]
    out = [{"purposeId": p["id"], "version": p.get("version") or "v1.0", "consented": "shown",
            "purpose_type": p.get("purpose_type") or "legitimate_interest",
            "is_mandatory": p["is_mandatory"]} for p in notice]
    out += [{"purposeId": p["id"], "version": p.get("version") or "v1.0",
             "consented": choices[p["id"]], "purpose_type": p.get("purpose_type") or "consent",
             "is_mandatory": p["is_mandatory"]} for p in consent]
    return out


def rn_metadata(button_used: str, banner: dict, session_id: str = "sess_1733212345678_ab12cd34",
                at: int = 1733212345, **extra) -> dict:
    """TruConsentModal's buildMetadata."""
    return {"sessionId": session_id, "button_used": button_used,
            "collection_point_version": banner.get("version") or "v1.0",
            "reconsent_campaign_id": None, "expiry_reconsent_request_id": None,
            "performance": {"banner_fetched_at": at - 5, "banner_displayed_at": at - 4,
                            "user_interaction_at": at, "notice_logged_at": None}, **extra}


def rn_submit_consent(banner: dict, *, user_id: str, request_id: str, action: str,
                      purposes: list[dict], asset_id: str | None = None,
                      metadata: dict | None = None, timestamp: int = 1733212345):
    """submitConsent as TruConsentModal calls it: POST .../consent/{collectionPointId} (the
    banner's collectionPoint or collection_point); JSON.stringify drops undefined (assetId when
    the app gave none, metadata when absent)."""
    cp = banner.get("collectionPoint") or banner["collection_point"]
    body = {"userId": user_id, "requestId": request_id, "assetId": asset_id,
            "consentLanguage": "en", "collectionPointId": cp,
            "collectionPointVersion": banner.get("version") or "v1.0",
            "consentTimestamp": timestamp, "source": "react-native", "purposes": purposes,
            "action": action}
    if asset_id is None:
        del body["assetId"]
    if metadata:
        body["metadata"] = metadata
    return f"{BASE}/{encode_uri_component(cp)}", body


def rn_suppression(user_id: str, declined_purpose_ids: list[str]):
    """submitSuppression: POST .../consent/suppression, only when something was declined."""
    return f"{BASE}/suppression", {"userId": user_id, "declinedPurposeIds": declined_purpose_ids}


# -- truKIT React Native: src/services/rightsCenterApi.ts --------------------------------------------

def rc_headers(api_key: str, organization_id: str, user_id: str | None = None,
               auth_token: str | None = None) -> dict:
    """getHeaders(isSdkPath=true): X-API-Key and X-Org-Id always (possibly ""), X-User-Id and
    Authorization when set, and a browser's look (Sec-Fetch-Site, a Mozilla user agent); never
    an Origin."""
    headers = {"Content-Type": "application/json", "X-API-Key": api_key or "",
               "X-Org-Id": organization_id or ""}
    if user_id:
        headers["X-User-Id"] = user_id
    if auth_token:
        headers["Authorization"] = f"Bearer {auth_token}"
    headers["Sec-Fetch-Site"] = "cross-site"
    headers["User-Agent"] = RN_UA
    return headers


def rc_user_consents(user_id: str) -> str:
    """getUserConsents / getAllBanners / fetchUserConsents step 1."""
    return f"{BASE}/user/{encode_uri_component(user_id)}"


def rc_user_consent_status(user_id: str) -> str:
    """fetchUserConsents step 2."""
    return f"{BASE}/user-consent-status?userId={encode_uri_component(user_id)}"


def rc_all_banners(asset_id: str | None = None) -> str:
    """getAllBanners of the older version (faf70702): GET .../consent?asset_id=."""
    return BASE + (f"?asset_id={encode_uri_component(asset_id)}" if asset_id else "")


def rc_save_from_rights_center(user_id: str, changed: list[dict], asset_id: str | None,
                               session_id: str | None = None,
                               logged_at: str = "2026-12-01T10:00:00.000Z"):
    """saveConsentFromRightsCenter: action "revoked" if any purpose is declined, else
    "approved"; session_id undefined is dropped by JSON.stringify."""
    metadata = {"button_used": "save", "interaction_type": "rights_center",
                "logged_at": logged_at}
    if session_id is not None:
        metadata["session_id"] = session_id
    body = {"userId": user_id, "purposes": changed,
            "action": "revoked" if any(p["consented"] == "declined" for p in changed)
            else "approved", "assetId": asset_id, "source": "right center react-native",
            "metadata": metadata}
    if asset_id is None:
        del body["assetId"]
    return f"{BASE}/rights-center", body


def rc_save_consent(collection_id: str, user_id: str, purposes: list[dict], action: str,
                    asset_id: str | None = None, changed: list[str] | None = None):
    """saveConsent(collectionId, ConsentPayload): POST .../consent/{collectionId} with
    {userId, purposes: [{id, name, consented}], action, assetId?, changedPurposes?}."""
    body = {"userId": user_id, "purposes": purposes, "action": action}
    if asset_id is not None:
        body["assetId"] = asset_id
    if changed is not None:
        body["changedPurposes"] = changed
    return f"{BASE}/{encode_uri_component(collection_id)}", body


# -- truKIT Flutter: lib/src/services/banner_service.dart, lib/src/models/banner.dart -------------

FLUTTER_ACTIONS = {"approved": "Approved", "declined": "Declined", "no_action": "No Action",
                   "revoked": "Revoked", "partial_consent": "Partially Consented",
                   "notice_shown": "notice_shown"}


def flutter_auth(api_key: str | None = None, token: str | None = None) -> dict:
    """_authHeaders: a token wins over the API key; one of them only."""
    if token:
        return {"Authorization": f"Bearer {token}"}
    if api_key:
        return {"X-API-Key": api_key}
    return {}


def flutter_fetch_banner(banner_id: str, organization_id: str, *, api_key: str | None = None,
                         token: str | None = None, asset_id: str | None = None,
                         user_id: str | None = None):
    """fetchBanner: one URL (the asset's if given, no fallback), userId in the query and in
    X-User-Id, a browser's look; Uri.parse leaves the ids unencoded."""
    path = f"{BASE}/{asset_id}/{banner_id}" if asset_id else f"{BASE}/{banner_id}"
    if user_id:
        path += "?" + urlencode({"userId": user_id})
    headers = {"Content-Type": "application/json", **flutter_auth(api_key, token),
               "X-Org-Id": organization_id}
    if user_id:
        headers["X-User-Id"] = user_id
    headers["Sec-Fetch-Site"] = "cross-site"
    headers["User-Agent"] = FLUTTER_UA
    return path, headers


def flutter_purpose_json(purpose: dict, consented: str) -> dict:
    """Purpose.toJson: version always "v1.0"; a legitimate interest is always "shown"."""
    legit = bool(purpose.get("is_legitimate"))
    return {"purposeId": purpose["id"], "version": "v1.0",
            "consented": "shown" if legit else consented,
            "purpose_type": "legitimate_interest" if legit else "consent",
            "is_mandatory": bool(purpose.get("is_mandatory"))}


def flutter_submit_consent(collection_point_id: str, organization_id: str, *, user_id: str,
                           purposes: list[dict], action: str, request_id: str | None,
                           asset_id: str | None = None, api_key: str | None = None,
                           token: str | None = None, button_used: str | None = None,
                           at: int = 1733212345):
    """submitConsent: assetId "" when none, collectionPointVersion "v1.0", source "flutter",
    the action as ConsentAction.value spells it, metadata always (nulls included)."""
    flutter_action = FLUTTER_ACTIONS[action]
    body = {"userId": user_id, "requestId": request_id, "assetId": asset_id or "",
            "consentLanguage": "en", "collectionPointId": collection_point_id,
            "collectionPointVersion": "v1.0", "consentTimestamp": at, "source": "flutter",
            "purposes": purposes, "action": flutter_action,
            "metadata": {"sessionId": "flutter-session-1", "button_used": button_used,
                         "collection_point_version": "v1.0", "reconsent_campaign_id": None,
                         "expiry_reconsent_request_id": None,
                         "performance": {"banner_fetched_at": at - 5,
                                         "banner_displayed_at": at - 4,
                                         "user_interaction_at": at,
                                         "notice_logged_at": at if action == "notice_shown"
                                         else None}}}
    headers = {"Content-Type": "application/json", **flutter_auth(api_key, token),
               "X-Org-Id": organization_id}
    return f"{BASE}/{collection_point_id}", headers, body


def flutter_suppression(organization_id: str, user_id: str, declined: list[str], *,
                        api_key: str | None = None, token: str | None = None):
    """sendSuppressionUpdate."""
    headers = {"Content-Type": "application/json", **flutter_auth(api_key, token),
               "X-Org-Id": organization_id}
    return f"{BASE}/suppression", headers, {"userId": user_id, "declinedPurposeIds": declined}


# -- truKIT Flutter: lib/src/services/rights_center_api.dart ------------------------------------------

def flutter_rc_headers(api_key: str, organization_id: str, user_id: str | None = None) -> dict:
    """_getHeaders(isSdkPath: true): X-API-Key and X-Org-Id when non-empty."""
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["X-API-Key"] = api_key
    if organization_id:
        headers["X-Org-Id"] = organization_id
    if user_id:
        headers["X-User-Id"] = user_id
    headers["Sec-Fetch-Site"] = "cross-site"
    headers["User-Agent"] = FLUTTER_UA
    return headers


def flutter_rc_save(user_id: str, changed: list[dict], asset_id: str | None = None):
    """saveConsentToRightsCenter: "approved" if any purpose is accepted, else "revoked";
    assetId only when given; source "right center flutter"."""
    body = {"userId": user_id, "purposes": changed,
            "action": "approved" if any(p["consented"] == "accepted" for p in changed)
            else "revoked"}
    if asset_id is not None:
        body["assetId"] = asset_id
    body["source"] = "right center flutter"
    body["metadata"] = {"button_used": "save", "interaction_type": "rights_center"}
    return f"{BASE}/rights-center", body


# -- truconsent-consent-banner-react-native: src/components/TruConsentModal.tsx ----------------------

def older_rn_notice_then_choice(banner: dict, *, user_id: str, request_id: str, action: str,
                                choices: dict[str, str], button_used: str):
    """handleRejectAll / handleConsentAll / handleAcceptSelected: first a notice_shown log of the
    notice purposes (whole banner purposes, consented "accepted"), then the choice with every
    purpose, both under the modal's one requestId. Returns the two (path, body)."""
    notice = [{**p, "consented": "accepted"} for p in banner["purposes"] if p["is_legitimate"]]
    consent = [{**p, "consented": choices[p["id"]]} for p in banner["purposes"]
               if not p["is_legitimate"]]
    path = f"{BASE}/{banner['collection_point']}"
    first = {"userId": user_id, "requestId": request_id, "consentLanguage": "en",
             "collectionPointId": banner["collection_point"], "collectionPointVersion":
             banner["version"], "consentTimestamp": 1733212345, "source": "react-native",
             "purposes": notice, "action": "notice_shown",
             "metadata": {"button_used": button_used, "event_type": "notice_shown",
                          "collection_point_version": banner["version"]}}
    second = {**first, "purposes": notice + consent, "action": action,
              "metadata": {"button_used": button_used,
                           "collection_point_version": banner["version"]}}
    return (path, first), (path, second)


def epoch_iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).isoformat()


# -- the older packages' Lambda API (their apiBaseUrl, here {service}/banners) -----------------------
# truconsent-consent-banner-react-native src/core/BannerService.ts (6d33ceb4) and
# src/services/rightsCenterApi.ts (26ba4bbf); truconsent-banner-flutter-sdk
# lib/src/services/banner_service.dart (34e62be5).

LEGACY_BASE = "/banners"


def legacy_headers(api_key: str, organization_id: str) -> dict:
    """Both packages: Content-Type, X-API-Key, X-Org-Id (the key is required)."""
    return {"Content-Type": "application/json", "X-API-Key": api_key,
            "X-Org-Id": organization_id}


def legacy_fetch_banner(banner_id: str) -> str:
    """GET {apiBaseUrl}/{bannerId} (401, 403, 404 and any other status are errors)."""
    return f"{LEGACY_BASE}/{banner_id}"


def legacy_submit_consent(collection_point_id: str, user_id: str, purposes: list[dict],
                          action: str, request_id: str | None):
    """POST {apiBaseUrl}/{collectionPointId}/consent {userId, purposes, action, requestId}."""
    return (f"{LEGACY_BASE}/{collection_point_id}/consent",
            {"userId": user_id, "purposes": purposes, "action": action,
             "requestId": request_id})


def legacy_rc_user_consents(user_id: str) -> str:
    """getUserConsents: GET {baseUrl}/user/{the first 6 characters of the user id}."""
    return f"{LEGACY_BASE}/user/{encode_uri_component(user_id[:6] if len(user_id) >= 6 else user_id)}"


def legacy_rc_all_banners() -> str:
    """getAllBanners: GET {baseUrl}/ (then each {baseUrl}/{CP id} if that is empty)."""
    return f"{LEGACY_BASE}/"
