"""truConsent's SDKs against this service, at the HTTP level: every request their source sends
(tests/truconsent_sdk_requests.py), replayed field by field, with the statuses they act on (the
React Native SDK's fallback from the asset's path to the banner's on 404, and its 401 / 403 /
404 / 429 readings), the banner they read, what lands in the ledger, allowed origins per asset,
and truConsent's error shape on every /api/v1/internal path."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest

from consent.core import auth, ledger
from consent.core.storage import AuditEvent, Consent, IdempotencyRecord, Subject
from consent.dialects.truconsent import sdk as sdk_module
from consent.dialects.truconsent.models import TcLog, TcSuppression
from tests import truconsent_sdk_requests as req
from tests.truconsent_helpers import bearer

ADMIN = "/ledger/v1/truconsent"
SHOP = "https://shop.example.com"

PURPOSES = [
    {"id": "kyc", "name": "KYC verification", "description": "Verifying who you are.",
     "is_mandatory": True, "expiry_period": "365",
     "data_elements": [{"id": "de-pan", "name": "PAN", "display_id": "DE001"}]},
    {"id": "fraud", "name": "Fraud checks", "description": "Stopping fraud.",
     "is_legitimate": True, "processing_activities": [{"id": "pa-1", "name": "Device checks"}]},
    {"id": "offers", "name": "Offers", "description": "Offers by SMS.",
     "expiry_period": "6 months",
     "tools": [{"id": "t-1", "name": "SMS gateway", "description": "Sends SMS"}],
     "legal_entities": [{"id": "le-1", "name": "Acme Marketing Ltd"}]},
]
SETTINGS = {"primary_color": "#0f766e", "banner_title": "Privacy at Acme",
            "reject_all_text": "Reject all", "show_purposes": True,
            "default_selection": "mandatory_only", "general_notice_template": "tabbed_banner"}


class Banner:
    """An organisation's asset (allowed origin: the shop) and banner, made through the admin
    API, and the SDK's credentials."""

    def __init__(self, client, org, origins=(SHOP,)):
        self.client, self.org = client, org
        r = client.post(f"{ADMIN}/assets", headers=org.headers(), json={
            "name": "Acme app", "asset_type": "mobile_app", "description": "The shop app",
            "allowed_origins": list(origins) if origins is not None else None})
        assert r.status_code == 201, r.json
        self.asset = r.json
        r = client.post(f"{ADMIN}/collection-points", headers=org.headers(), json={
            "asset_id": self.asset["id"], "title": "Checkout", "notice_text": "We need a few "
            "things to sell to you.", "notice_version": "4", "purposes": PURPOSES,
            "banner_settings": SETTINGS})
        assert r.status_code == 201, r.json
        self.cp = r.json
        self.key = org.consent_key
        self.slug = org.slug

    def rn(self, **kw):
        return req.rn_headers(self.slug, api_key=self.key, **kw)

    def get_banner(self, user_id=None):
        url = req.rn_fetch_banner_urls(self.cp["display_id"], self.asset["id"], user_id)[0]
        r = self.client.get(url, headers=self.rn())
        assert r.status_code == 200, r.json
        return r.json

    def values(self, user_id):
        return {p["id"]: p["consented"] for p in self.get_banner(user_id)["purposes"]}


@pytest.fixture
def banner(client, org):
    return Banner(client, org)


def expected_banner(b: Banner, consented=None, user_id=None, shown=False) -> dict:
    consented = consented or {}
    purposes = []
    for p in PURPOSES:
        purposes.append({
            "id": p["id"], "name": p["name"], "description": p["description"], "version": "1",
            "is_mandatory": p.get("is_mandatory", False),
            "is_legitimate": p.get("is_legitimate", False),
            "purpose_type": "legitimate_interest" if p.get("is_legitimate") else "consent",
            "expiry_period": p.get("expiry_period", ""),
            "consented": consented.get(p["id"], "pending"),
            "data_elements": p.get("data_elements", []),
            "processing_activities": p.get("processing_activities", []),
            "legal_entities": p.get("legal_entities", []), "tools": p.get("tools", [])})
    return {
        "id": b.cp["id"], "banner_id": "CP001", "collection_point": b.cp["id"], "version": "4",
        "title": "Checkout", "description": "We need a few things to sell to you.",
        "consent_type": "standard_consent",
        "asset": {"id": b.asset["id"], "display_id": "AS001", "name": "Acme app",
                  "description": "The shop app", "asset_type": "mobile_app"},
        "organization": {"name": "Org acme"}, "organization_name": "Org acme",
        "purposes": purposes, "banner_settings": {**SETTINGS, "defaultSelection": "mandatory_only"},
        "user_id": user_id, "shown_to_principal": shown}


# -- the banner ------------------------------------------------------------------------------------

def test_react_native_fetches_the_banner_of_the_asset(banner, client):
    """fetchBanner with an assetId and a userId: the first URL answers; every field the SDK reads
    is there, in the snake_case its types declare."""
    urls = req.rn_fetch_banner_urls("CP001", banner.asset["id"], "user 42@example.com")
    assert urls[0] == (f"/api/v1/internal/consent/{banner.asset['id']}/CP001"
                       "?userId=user%2042%40example.com")
    [response] = req.rn_fetch_banner(client, banner.rn(), urls)
    assert response.status_code == 200
    body = response.json
    assert body == expected_banner(banner, user_id="user 42@example.com")
    assert all(k in body for k in req.RN_BANNER_READS)
    assert all(k in p for p in body["purposes"] for k in req.RN_PURPOSE_READS)
    # The asset may be named by its display id too, and the banner by its UUID.
    again = client.get(f"/api/v1/internal/consent/AS001/{banner.cp['id']}", headers=banner.rn())
    assert again.status_code == 200 and again.json["user_id"] is None


def test_react_native_falls_back_to_the_banner_alone_on_404(banner, client, org):
    """The asset's path is 404 (an asset the banner is not on, or none such): the SDK asks for
    the banner alone, which answers."""
    other = client.post(f"{ADMIN}/assets", headers=org.headers(), json={"name": "Other"}).json
    for asset_id in (other["id"], "no-such-asset"):
        responses = req.rn_fetch_banner(client, banner.rn(),
                                        req.rn_fetch_banner_urls("CP001", asset_id, "u1"))
        assert [r.status_code for r in responses] == [404, 200]
        assert responses[0].json == {"detail": "Banner not found" if asset_id == other["id"]
                                     else "Asset not found"}
        assert responses[1].json == expected_banner(banner, user_id="u1")
    # Neither path knows the banner: 404 twice, the SDK's "Banner not found".
    responses = req.rn_fetch_banner(client, banner.rn(),
                                    req.rn_fetch_banner_urls("CP404", banner.asset["id"]))
    assert [(r.status_code, r.json) for r in responses] == [
        (404, {"detail": "Banner not found"}), (404, {"detail": "Banner not found"})]
    # Without an assetId there is one candidate.
    assert req.rn_fetch_banner_urls("CP001") == ["/api/v1/internal/consent/CP001"]


def test_react_native_stops_on_401_and_403(banner, client, org):
    urls = req.rn_fetch_banner_urls("CP001", banner.asset["id"], "u1")
    for headers, status, detail in (
            (req.rn_headers(org.slug, api_key="ck_wrong"), 401, "Invalid or inactive API key"),
            (req.rn_headers(org.slug), 401, "Authorization token required"),
            (req.rn_headers("", api_key=banner.key), 400, "Tenant context not found"),
            (req.rn_headers(org.slug, api_key=auth.create_credential(
                org.org.id, name="no scope", scopes=()).key), 403,
             "API key does not have the 'consent' scope"),
            ({**banner.rn(), "Origin": "https://evil.example"}, 403, "Origin not authorized")):
        responses = req.rn_fetch_banner(client, headers, urls)
        assert [(r.status_code, r.json) for r in responses] == [(status, {"detail": detail})]


def test_react_native_with_a_token(banner, client, app, org):
    """``token``: an operator's bearer token; with the API key too, the key decides."""
    token = bearer(app, org.org)
    url = req.rn_fetch_banner_urls("CP001", banner.asset["id"], "u1")[0]
    r = client.get(url, headers=req.rn_headers(org.slug, token=token))
    assert r.status_code == 200 and r.json["banner_id"] == "CP001"
    r = client.get(url, headers=req.rn_headers(org.slug, api_key=banner.key, token="not-ours"))
    assert r.status_code == 200
    r = client.get(url, headers=req.rn_headers(org.slug, token="not-ours"))
    assert (r.status_code, r.json) == (401, {"detail": "Invalid or expired auth token"})


def test_flutter_fetches_the_banner(banner, client, app, org):
    """The Flutter SDK: one URL, a bearer token instead of the key, the user in the query and in
    X-User-Id, a browser's look; X-User-Id alone names the user too."""
    token = bearer(app, org.org)
    path, headers = req.flutter_fetch_banner("CP001", org.slug, token=token,
                                             asset_id=banner.asset["id"], user_id="u+1@x.in")
    assert headers["Sec-Fetch-Site"] == "cross-site" and "X-API-Key" not in headers
    r = client.get(path, headers=headers)
    assert r.status_code == 200 and r.json == expected_banner(banner, user_id="u+1@x.in")
    path, headers = req.flutter_fetch_banner("CP001", org.slug, api_key=banner.key)
    r = client.get(path, headers={**headers, "X-User-Id": "u+1@x.in"})
    assert r.status_code == 200 and r.json["user_id"] == "u+1@x.in"
    r = client.get(path, headers={**headers, "X-User-Id": "u" * 256})
    assert (r.status_code, r.json) == (422, {"detail": [{
        "loc": ["header", "X-User-Id"], "msg": "String should have at most 255 characters",
        "type": "string_too_long"}]})
    r = client.get(req.rc_user_consents("u" * 256), headers=banner.rn())
    assert (r.status_code, r.json) == (422, {"detail": [{
        "loc": ["path", "user_id"], "msg": "String should have at most 255 characters",
        "type": "string_too_long"}]})


# -- the decision a banner sends ----------------------------------------------------------------------

def rn_submit(banner, user_id, action, choices, button, request_id=None, asset=True, at=None):
    shown = banner.get_banner(user_id)
    path, body = req.rn_submit_consent(
        shown, user_id=user_id, request_id=request_id or str(uuid.uuid4()), action=action,
        purposes=req.rn_purposes_payload(shown, choices),
        asset_id=banner.asset["id"] if asset else None,
        metadata=req.rn_metadata(button, shown), **({"timestamp": at} if at else {}))
    return path, body, banner.client.post(path, json=body, headers=banner.rn())


def test_react_native_accept_all(banner, client, org):
    path, body, r = rn_submit(banner, "u1", "approved", {"kyc": "accepted",
                                                         "offers": "accepted"}, "accept_all")
    assert path == f"/api/v1/internal/consent/{banner.cp['id']}"
    assert r.status_code == 200, r.json
    answer = r.json
    logs = answer.pop("consent_logs")
    assert answer == {"success": True, "request_id": body["requestId"], "dp_id": "u1",
                      "action": "approved", "message": "Successfully recorded 3 consent logs"}
    assert [(log["purpose_id"], log["status"], log["source"], log["collection_point_display_id"])
            for log in logs] == [("fraud", "granted", "sdk", "CP001"),
                                 ("kyc", "granted", "sdk", "CP001"),
                                 ("offers", "granted", "sdk", "CP001")]
    assert {log["metadata"]["button_used"] for log in logs} == {"accept_all"}
    assert {log["purpose_version"] for log in logs} == {"1"}
    assert {log["notice_version"] for log in logs} == {"4"}
    # Each grant lasts its purpose's expiry period; the legitimate interest has none.
    rows = {c.purpose.code: c for c in Consent.select()}
    assert rows["fraud"].valid_until is None
    assert rows["kyc"].valid_until - rows["kyc"].valid_from == dt.timedelta(days=365)
    start = rows["offers"].valid_from
    assert rows["offers"].valid_until.month == (start.month + 5) % 12 + 1
    assert rows["fraud"].evidence["basis"] == "legitimate_interest"
    assert rows["kyc"].evidence["client"] == {
        "source": "react-native", "consent_language": "en", "collection_point_version": "4",
        "consent_timestamp": req.epoch_iso(1733212345), "asset_id": banner.asset["id"]}
    assert rows["kyc"].evidence["purpose"] == {
        "purposeId": "kyc", "version": "1", "consented": "accepted", "purpose_type": "consent",
        "is_mandatory": True}
    assert banner.values("u1") == {"kyc": "accepted", "fraud": "shown", "offers": "accepted"}
    assert banner.get_banner("u1")["shown_to_principal"] is True
    assert ledger.verify(org.org.id)["ok"]


def test_react_native_reject_all_then_suppression(banner, client, org):
    path, body, r = rn_submit(banner, "u2", "declined", {"kyc": "declined",
                                                         "offers": "declined"}, "reject_all")
    assert r.status_code == 200
    assert [(log["purpose_id"], log["status"]) for log in r.json["consent_logs"]] == [
        ("fraud", "granted"), ("kyc", "denied"), ("offers", "denied")]
    # fireSuppressionIfNeeded: the declined consent purposes, fire and forget.
    spath, sbody = req.rn_suppression("u2", ["kyc", "offers"])
    r = client.post(spath, json=sbody, headers=banner.rn())
    assert (r.status_code, r.json) == (200, {
        "success": True, "user_id": "u2", "declined_purpose_ids": ["kyc", "offers"],
        "message": "Recorded 2 suppressed purposes"})
    assert [(Subject.get_by_id(s.subject_id).identifier, s.purpose_id)
            for s in TcSuppression.select().order_by(TcSuppression.id)
            ] == [("u2", "kyc"), ("u2", "offers")]
    event = AuditEvent.select().order_by(AuditEvent.seq.desc()).get()
    rows = event.payload.pop("rows")   # the hashes of the rows it wrote (consent.core.covered)
    assert (event.action, event.payload) == ("truconsent.suppression.recorded", {
        "subject_ref": Subject.get(Subject.identifier == "u2").id,
        "purpose_ids": ["kyc", "offers"]})
    assert sorted(rows) == ["truconsent_suppression"]
    assert sorted(rows["truconsent_suppression"]) == sorted(
        str(s.id) for s in TcSuppression.select())
    assert banner.values("u2") == {"kyc": "declined", "fraud": "shown", "offers": "declined"}


def test_react_native_partial_consent_then_a_change_of_mind(banner, client):
    """Only the mandatory purpose, then everything, then back: a decline of a purpose in force
    withdraws it (superseding the grant); a decline of one never granted is a denial."""
    rn_submit(banner, "u3", "partial_consent", {"kyc": "accepted", "offers": "declined"},
              "only_necessary")
    assert banner.values("u3") == {"kyc": "accepted", "fraud": "shown", "offers": "declined"}
    rn_submit(banner, "u3", "approved", {"kyc": "accepted", "offers": "accepted"}, "accept_all")
    grant = Consent.select().where(Consent.status == "granted").order_by(Consent.seq.desc()).get()
    _, _, r = rn_submit(banner, "u3", "partial_consent", {"kyc": "accepted",
                                                          "offers": "declined"}, "save_preferences")
    offers = [log for log in r.json["consent_logs"] if log["purpose_id"] == "offers"][0]
    assert offers["status"] == "withdrawn"
    assert Consent.get(Consent.id == offers["id"]).supersedes == grant.id
    assert banner.values("u3")["offers"] == "declined"


def test_react_native_notice_only_and_close(banner, client, org):
    """handleAcknowledgeNotice: every purpose "shown" with notice_shown, which a banner with
    consent purposes refuses (a notice-only banner has legitimate interests only); the close
    button: no_action with every consent purpose declined."""
    shown = banner.get_banner("u4")
    purposes = [{"purposeId": p["id"], "version": p["version"], "consented": "shown",
                 "purpose_type": p["purpose_type"], "is_mandatory": p["is_mandatory"]}
                for p in shown["purposes"]]
    path, body = req.rn_submit_consent(shown, user_id="u4", request_id=str(uuid.uuid4()),
                                       action="notice_shown", purposes=purposes,
                                       metadata=req.rn_metadata("i_understand", shown))
    r = client.post(path, json=body, headers=banner.rn())
    assert (r.status_code, r.json) == (422, {"detail": [
        {"loc": ["body", "purposes", 0, "consented"],
         "msg": "Value error, purpose 'kyc' asks for consent: 'shown' is for "
                "legitimate-interest purposes", "type": "value_error"},
        {"loc": ["body", "purposes", 2, "consented"],
         "msg": "Value error, purpose 'offers' asks for consent: 'shown' is for "
                "legitimate-interest purposes", "type": "value_error"}]})
    assert Consent.select().count() == 0
    r = client.post(path, json={**body, "purposes": purposes[1:2]}, headers=banner.rn())
    assert r.status_code == 200 and r.json["action"] == "notice_shown"
    assert [(log["purpose_id"], log["status"], log["action"]) for log in r.json["consent_logs"]
            ] == [("fraud", "granted", "notice_shown")]
    _, _, r = rn_submit(banner, "u4", "no_action", {"kyc": "declined", "offers": "declined"},
                        "close")
    assert r.status_code == 200
    assert banner.values("u4") == {"kyc": "declined", "fraud": "shown", "offers": "declined"}
    history = client.get("/api/v1/external/consents/history?action=notice_shown",
                         headers=org.headers(org.consent_key)).json
    assert history["total"] == 1


def test_a_retry_is_the_same_decision_and_another_choice_is_409(banner, client):
    """A retry (new timestamps and metadata, same requestId and action) answers the first result
    and writes nothing; other choices under that requestId and action are 409."""
    request_id = str(uuid.uuid4())
    _, _, first = rn_submit(banner, "u5", "approved", {"kyc": "accepted", "offers": "accepted"},
                            "accept_all", request_id=request_id)
    before = (Consent.select().count(), AuditEvent.select().count())
    _, _, again = rn_submit(banner, "u5", "approved", {"kyc": "accepted", "offers": "accepted"},
                            "accept_all", request_id=request_id, at=1733219999)
    assert again.status_code == 200 and again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (Consent.select().count(), AuditEvent.select().count()) == before
    _, _, other = rn_submit(banner, "u5", "approved", {"kyc": "accepted", "offers": "declined"},
                            "accept_all", request_id=request_id)
    assert (other.status_code, other.json) == (409, {
        "detail": "this idempotency key was already used with a different request"})
    assert IdempotencyRecord.select().count() == 1


def test_older_banner_logs_notice_then_choice_under_one_request_id(banner, client):
    """truconsent-consent-banner-react-native: notice_shown for the notice purposes, then the
    choice with every purpose (whole banner objects), one requestId: both are kept."""
    shown = banner.get_banner("u6")
    request_id = str(uuid.uuid4())
    (p1, first), (p2, second) = req.older_rn_notice_then_choice(
        shown, user_id="u6", request_id=request_id, action="declined",
        choices={"kyc": "declined", "offers": "declined"}, button_used="reject_all")
    r1 = client.post(p1, json=first, headers=banner.rn())
    r2 = client.post(p2, json=second, headers=banner.rn())
    assert (r1.status_code, r2.status_code) == (200, 200)
    assert [log["purpose_id"] for log in r1.json["consent_logs"]] == ["fraud"]
    assert [(log["purpose_id"], log["status"], log["request_id"])
            for log in r2.json["consent_logs"]] == [("fraud", "granted", request_id),
                                                     ("kyc", "denied", request_id),
                                                     ("offers", "denied", request_id)]
    assert banner.values("u6") == {"kyc": "declined", "fraud": "accepted", "offers": "declined"}


def test_flutter_submits_with_its_own_spellings(banner, client, app, org):
    """Flutter: "Partially Consented", assetId "" (none) or the banner's asset id, version
    "v1.0", metadata full of nulls, a bearer token; then notice_shown and suppression."""
    token = bearer(app, org.org)
    shown = banner.get_banner("f1")
    purposes = [req.flutter_purpose_json(p, {"kyc": "accepted", "offers": "pending"}.get(
        p["id"], "declined")) for p in shown["purposes"]]
    path, headers, body = req.flutter_submit_consent(
        shown["collection_point"], org.slug, user_id="f1", purposes=purposes,
        action="partial_consent", request_id=None, token=token, button_used="save_preferences")
    assert body["assetId"] == "" and body["action"] == "Partially Consented"
    r = client.post(path, json=body, headers=headers)
    assert r.status_code == 200, r.json
    assert r.json["action"] == "partial_consent" and r.json["request_id"] is None
    assert [(log["purpose_id"], log["status"]) for log in r.json["consent_logs"]] == [
        ("kyc", "granted"), ("fraud", "granted"), ("offers", "denied")]
    assert r.json["consent_logs"][0]["metadata"]["performance"]["notice_logged_at"] is None
    stored = Consent.select().where(Consent.id == r.json["consent_logs"][2]["id"]).get()
    assert stored.evidence["purpose"] == {"purposeId": "offers", "version": "v1.0",
                                          "consented": "pending", "purpose_type": "consent",
                                          "is_mandatory": False}
    assert TcLog.get(TcLog.consent == stored.seq).consented == "pending"
    assert banner.values("f1") == {"kyc": "accepted", "fraud": "shown", "offers": "declined"}
    # With the banner's asset id (TruConsent's assetId ?? banner.asset.id), by key.
    path, headers, body = req.flutter_submit_consent(
        shown["collection_point"], org.slug, user_id="f1", purposes=purposes[1:2],
        action="notice_shown", request_id="fl-req-1", asset_id=shown["asset"]["id"],
        api_key=banner.key, button_used="i_understand")
    r = client.post(path, json=body, headers=headers)
    assert r.status_code == 200 and r.json["consent_logs"][0]["action"] == "notice_shown"
    path, headers, body = req.flutter_suppression(org.slug, "f1", ["offers"], token=token)
    assert client.post(path, json=body, headers=headers).status_code == 200


def test_what_a_banner_submission_may_not_be(banner, client, org):
    """Purposes of the collection point only, each once; the path and body name one point; the
    asset is the point's; the point exists; an action the SDKs send."""
    shown = banner.get_banner()
    ok = req.rn_purposes_payload(shown, {"kyc": "accepted", "offers": "accepted"})
    path, body = req.rn_submit_consent(shown, user_id="u7", request_id="r7", action="approved",
                                       purposes=ok)
    cases = [
        ({"purposes": ok + [{"purposeId": "no-such-purpose", "consented": "accepted"}]}, 422,
         {"detail": [{"loc": ["body", "purposes", 3, "purposeId"],
                      "msg": "Value error, purpose 'no-such-purpose' is not on collection "
                             "point CP001", "type": "value_error"}]}),
        ({"purposes": ok + ok[:1]}, 422,
         {"detail": [{"loc": ["body", "purposes", 3, "purposeId"],
                      "msg": "Value error, purpose 'fraud' is listed twice",
                      "type": "value_error"}]}),
        ({"purposes": [{"consented": "accepted"}]}, 422,
         {"detail": [{"loc": ["body", "purposes", 0, "purposeId"], "msg": "Field required",
                      "type": "missing"}]}),
        ({"action": "maybe"}, 422,
         {"detail": [{"loc": ["body", "action"],
                      "msg": "Input should be 'approved', 'declined', 'no_action', 'revoked', "
                             "'partial_consent' or 'notice_shown'", "type": "enum"}]}),
        ({"purposes": [{**ok[1], "consented": "yes"}]}, 422,
         {"detail": [{"loc": ["body", "purposes", 0, "consented"],
                      "msg": "Input should be 'accepted', 'declined', 'shown', 'pending', true "
                             "or false", "type": "enum"}]}),
        ({"action": "partial_consent", "purposes": [{"purposeId": "kyc"}]}, 422,
         {"detail": [{"loc": ["body", "purposes", 0, "consented"], "msg": "Field required",
                      "type": "missing"}]}),
        ({"collectionPointId": "CP999"}, 422,
         {"detail": [{"loc": ["body", "collectionPointId"],
                      "msg": "Value error, collectionPointId names another collection point "
                             "than the path", "type": "value_error"}]}),
        ({"consentTimestamp": -1}, 422,
         {"detail": [{"loc": ["body", "consentTimestamp"],
                      "msg": "Input should be greater than or equal to 0",
                      "type": "greater_than_equal"}]}),
        ({"assetId": "AS404"}, 400, {"detail": (
            "Asset / Collection Point mismatch: the selected collection point does not belong to "
            "the specified asset. Please provide a valid Collection Point ID for the selected "
            "asset.")}),
    ]
    for change, status, answer in cases:
        r = client.post(path, json={**body, **change}, headers=banner.rn())
        assert (r.status_code, r.json) == (status, answer), change
    r = client.post("/api/v1/internal/consent/CP404", json=body, headers=banner.rn())
    assert (r.status_code, r.json) == (404, {"detail": "Collection point not found"})
    assert Consent.select().count() == 0
    # The same purpose by id (the rights center's saveConsent) is accepted.
    path, body = req.rc_save_consent(banner.cp["id"], "u7", [
        {"id": "offers", "name": "Offers", "consented": "declined"}], "declined",
        asset_id=banner.asset["id"], changed=["offers"])
    r = client.post(path, json=body, headers=req.rc_headers(banner.key, org.slug))
    assert r.status_code == 200
    assert [(log["purpose_id"], log["status"]) for log in r.json["consent_logs"]] == [
        ("offers", "denied")]


# -- the rights center ------------------------------------------------------------------------------

def test_rights_center_reads_and_changes(banner, client, org):
    rn_submit(banner, "rc1", "approved", {"kyc": "accepted", "offers": "accepted"}, "accept_all")
    headers = req.rc_headers(banner.key, org.slug, user_id="rc1")
    r = client.get(req.rc_user_consents("rc1"), headers=headers)
    assert r.status_code == 200
    assert r.json == [expected_banner(banner, {"kyc": "accepted", "fraud": "shown",
                                               "offers": "accepted"}, "rc1", shown=True)]
    r = client.get(req.rc_user_consent_status("rc1"), headers=headers)
    assert r.status_code == 200
    [point] = r.json["collectionPoints"]
    consents = point["latest_consent"]["purpose_consents"]
    assert point["collection_point"] == banner.cp["id"] and point["title"] == "Checkout"
    assert [(c["purpose_id"], c["status"], c["ledger_status"], c["consented"]) for c in consents
            ] == [("kyc", "accepted", "granted", True), ("fraud", "shown", "granted", True),
                  ("offers", "accepted", "granted", True)]
    assert point["latest_consent"]["timestamp"] == max(c["recorded_at"] for c in consents)
    # saveConsentFromRightsCenter: offers declined -> "revoked", a withdrawal of the grant.
    path, body = req.rc_save_from_rights_center(
        "rc1", [{"id": "offers", "name": "Offers", "consented": "declined"}], banner.asset["id"],
        session_id="sess-9")
    r = client.post(path, json=body, headers=headers)
    assert r.status_code == 200, r.json
    [log] = r.json["consent_logs"]
    assert (r.json["action"], log["status"], log["source"], log["collection_point_display_id"],
            log["metadata"]["session_id"]) == ("revoked", "withdrawn", "rights_center", "CP001",
                                              "sess-9")
    assert Consent.get(Consent.id == log["id"]).evidence["client"] == {
        "source": "right center react-native", "asset_id": banner.asset["id"]}
    r = client.get(req.rc_user_consent_status("rc1"), headers=headers)
    offers = r.json["collectionPoints"][0]["latest_consent"]["purpose_consents"][2]
    assert (offers["status"], offers["ledger_status"], offers["consented"]) == (
        "declined", "withdrawn", False)
    # The Flutter rights center: accepted again, no asset (any collection point).
    path, body = req.flutter_rc_save("rc1", [{"id": "offers", "name": "Offers",
                                              "consented": "accepted"}])
    r = client.post(path, json=body, headers=req.flutter_rc_headers(banner.key, org.slug, "rc1"))
    assert r.status_code == 200 and r.json["consent_logs"][0]["status"] == "granted"
    assert banner.values("rc1")["offers"] == "accepted"
    # The older rights center's list: GET .../consent?asset_id=
    r = client.get(req.rc_all_banners(banner.asset["id"]), headers=headers)
    assert r.status_code == 200 and [b["banner_id"] for b in r.json] == ["CP001"]
    assert r.json[0]["user_id"] == "rc1"  # from X-User-Id
    r = client.get(req.rc_all_banners("AS404"), headers=headers)
    assert (r.status_code, r.json) == (404, {"detail": "Asset not found"})


def test_rights_center_refusals(banner, client, org):
    headers = req.rc_headers(banner.key, org.slug)
    path, body = req.rc_save_from_rights_center(
        "rc2", [{"id": "elsewhere", "name": "X", "consented": "accepted"}], banner.asset["id"])
    r = client.post(path, json=body, headers=headers)
    assert (r.status_code, r.json) == (422, {"detail": [{
        "loc": ["body", "purposes", 0, "id"],
        "msg": "Value error, purpose 'elsewhere' is not on a collection point of asset AS001",
        "type": "value_error"}]})
    r = client.post(path, json={**body, "assetId": "AS404"}, headers=headers)
    assert (r.status_code, r.json) == (404, {"detail": "Asset not found"})
    r = client.post(path, json={**body, "action": "maybe"}, headers=headers)
    assert r.status_code == 422 and r.json["detail"][0]["loc"] == ["body", "action"]
    r = client.post(path, json={**body, "purposes": [{"id": "offers"}]}, headers=headers)
    assert r.json["detail"] == [{"loc": ["body", "purposes", 0, "consented"],
                                 "msg": "Field required", "type": "missing"}]
    path, body = req.rn_suppression("rc2", ["offers", "nope"])
    r = client.post(path, json=body, headers=headers)
    assert (r.status_code, r.json) == (422, {"detail": [{
        "loc": ["body", "declinedPurposeIds", 1],
        "msg": "Value error, purpose 'nope' is not on any collection point of the organisation",
        "type": "value_error"}]})
    r = client.post(path, json={"userId": "rc2", "declinedPurposeIds": []}, headers=headers)
    assert r.status_code == 422
    r = client.get("/api/v1/internal/consent/user-consent-status", headers=headers)
    assert (r.status_code, r.json) == (422, {"detail": [{
        "loc": ["query", "userId"], "msg": "Field required", "type": "missing"}]})
    assert Consent.select().count() == 0 and TcSuppression.select().count() == 0


# -- allowed origins ---------------------------------------------------------------------------------

def test_allowed_origins_per_asset(banner, client, org):
    """A page's Origin must be the asset's (403 in truConsent's words otherwise, readable by the
    page); no Origin (a native app, as the SDKs send) passes on the key; an asset without its
    own list takes CONSENT_CORS_ORIGINS; operations on no asset need an origin some asset
    allows."""
    url = req.rn_fetch_banner_urls("CP001", banner.asset["id"], "u1")[0]
    ok = client.get(url, headers={**banner.rn(), "Origin": SHOP})
    assert ok.status_code == 200 and ok.headers["Access-Control-Allow-Origin"] == SHOP
    for origin in ("https://evil.example", "http://localhost:3000", "null",
                   "https://shop.example.com.evil.example"):
        r = client.get(url, headers={**banner.rn(), "Origin": origin})
        assert (r.status_code, r.json) == (403, {"detail": "Origin not authorized"}), origin
        assert r.headers["Access-Control-Allow-Origin"] == origin
    path, body, r = rn_submit(banner, "o1", "approved", {"kyc": "accepted", "offers": "accepted"},
                              "accept_all")
    evil = client.post(path, json=body, headers={**banner.rn(), "Origin": "https://evil.example"})
    assert (evil.status_code, evil.json) == (403, {"detail": "Origin not authorized"})
    spath, sbody = req.rn_suppression("o1", ["offers"])
    for target, method, payload in ((spath, "POST", sbody),
                                    (req.rc_user_consents("o1"), "GET", None),
                                    (req.rc_user_consent_status("o1"), "GET", None)):
        good = client.open(target, method=method, json=payload,
                           headers={**banner.rn(), "Origin": SHOP})
        bad = client.open(target, method=method, json=payload,
                          headers={**banner.rn(), "Origin": "https://evil.example"})
        assert (good.status_code, bad.status_code, bad.json) == (
            200, 403, {"detail": "Origin not authorized"}), target
    # An asset with no list of its own: CONSENT_CORS_ORIGINS (http://localhost:* by default).
    r = client.patch(f"{ADMIN}/assets/{banner.asset['id']}", headers=org.headers(),
                     json={"allowed_origins": None})
    assert r.status_code == 200 and r.json["allowed_origins"] is None
    assert client.get(url, headers={**banner.rn(), "Origin": "http://localhost:8081"}
                      ).status_code == 200
    assert client.get(url, headers={**banner.rn(), "Origin": SHOP}).status_code == 403
    r = client.patch(f"{ADMIN}/assets/AS001", headers=org.headers(),
                     json={"allowed_origins": ["https://*.example.com"]})
    assert r.json["allowed_origins"] == ["https://*.example.com"]
    assert client.get(url, headers={**banner.rn(), "Origin": SHOP}).status_code == 200


def test_the_sdk_preflight_from_any_origin(banner, client):
    """A page's browser asks first; any origin gets its answer (the asset's list decides the
    request itself), with every header the SDKs send allowed."""
    r = client.options(f"/api/v1/internal/consent/{banner.asset['id']}/CP001", headers={
        "Origin": "https://shop.example.com", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "content-type,x-api-key,x-org-id,authorization,"
                                          "x-user-id"})
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "https://shop.example.com"
    assert r.headers["Access-Control-Allow-Headers"] == (
        "authorization, content-type, x-api-key, x-org-id, x-user-id")
    # the rights center updates and deletes nominees (PUT, DELETE)
    assert r.headers["Access-Control-Allow-Methods"] == "DELETE, GET, OPTIONS, POST, PUT"
    assert "Access-Control-Allow-Credentials" not in r.headers


# -- truConsent's error shape everywhere under /api/v1/internal ----------------------------------

@pytest.mark.parametrize("method,path", [
    ("GET", "/api/v1/internal/grievance/u1/attachments"),   # not served (rights center: its own tests)
    ("POST", "/api/v1/internal/rights-requests/correction-request"),
    ("GET", "/api/v1/internal/transparency"),
    ("GET", "/api/v1/internal/consent/a/b/c"),
    ("GET", "/api/v1/internal"),
    ("GET", "/api/v1/internal/"),
])
def test_unknown_internal_paths_answer_in_truconsents_shape(client, org, method, path):
    r = client.open(path, method=method, headers=org.headers(org.consent_key))
    assert (r.status_code, r.json) == (404, {"detail": "Not Found"})
    r = client.open(path, method=method)
    assert (r.status_code, r.json) == (401, {"detail": "Authorization token required"})


def test_a_method_the_sdk_path_lacks_is_405_in_truconsents_shape(banner, client):
    r = client.delete("/api/v1/internal/consent/CP001", headers=banner.rn())
    assert (r.status_code, r.json) == (405, {"detail": "Method Not Allowed"})
    assert set(r.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}


# -- a grant that expires ----------------------------------------------------------------------------

def test_an_expired_grant_is_asked_again(banner, client, monkeypatch):
    rn_submit(banner, "x1", "approved", {"kyc": "accepted", "offers": "accepted"}, "accept_all")
    real = sdk_module.utcnow
    monkeypatch.setattr(sdk_module, "utcnow", lambda: real() + dt.timedelta(days=200))
    assert banner.values("x1") == {"kyc": "accepted", "fraud": "shown", "offers": "pending"}
    status = client.get(req.rc_user_consent_status("x1"), headers=banner.rn()).json
    offers = status["collectionPoints"][0]["latest_consent"]["purpose_consents"][2]
    assert (offers["status"], offers["ledger_status"], offers["consented"]) == (
        "expired", "expired", False)
    monkeypatch.setattr(sdk_module, "utcnow", lambda: real() + dt.timedelta(days=400))
    assert banner.values("x1") == {"kyc": "pending", "fraud": "shown", "offers": "pending"}


# -- seed-demo gives a banner an app shows at once ------------------------------------------------------

def test_seed_demo_banner_works_with_what_it_prints(runner, client):
    import json

    out = runner.invoke(args=["seed-demo", "--json"])
    sdk = json.loads(out.output)["truconsent"]["sdk"]
    headers = req.rn_headers(sdk["organizationId"], api_key=sdk["apiKey"])
    responses = req.rn_fetch_banner(client, headers, req.rn_fetch_banner_urls(
        sdk["bannerId"], sdk["assetId"], "demo-user"))
    assert [r.status_code for r in responses] == [200]
    shown = responses[0].json
    assert [(p["id"], p["is_mandatory"], p["is_legitimate"], p["consented"])
            for p in shown["purposes"]] == [
        ("account", True, False, "pending"), ("fraud-prevention", False, True, "pending"),
        ("marketing", False, False, "pending"), ("analytics", False, False, "pending")]
    assert shown["banner_settings"]["banner_title"] == "Your privacy choices"
    path, body = req.rn_submit_consent(
        shown, user_id="demo-user", request_id=str(uuid.uuid4()), action="partial_consent",
        purposes=req.rn_purposes_payload(shown, {"account": "accepted", "marketing": "declined",
                                                 "analytics": "accepted"}),
        asset_id=sdk["assetId"], metadata=req.rn_metadata("save_preferences", shown))
    r = client.post(path, json=body, headers={**headers, "Origin": "http://localhost:19006"})
    assert r.status_code == 200, r.json
    assert len(r.json["consent_logs"]) == 4


# -- the older packages, pointed at {service}/banners ---------------------------------------------------

def test_older_packages_against_banners(banner, client, org):
    """truconsent-consent-banner-react-native and truconsent-banner-flutter-sdk before truKIT:
    GET {base}/{bannerId}, POST {base}/{cp}/consent, and the older rights center's reads."""
    headers = req.legacy_headers(banner.key, org.slug)
    r = client.get(req.legacy_fetch_banner("CP001"), headers=headers)
    assert r.status_code == 200 and r.json == expected_banner(banner)
    r = client.get(req.legacy_fetch_banner("CP404"), headers=headers)
    assert (r.status_code, r.json) == (404, {"detail": "Banner not found"})
    r = client.get(req.legacy_fetch_banner("CP001"), headers=req.legacy_headers("ck_x", org.slug))
    assert (r.status_code, r.json) == (401, {"detail": "Invalid or inactive API key"})
    # The Flutter package: Purpose.toJson and ConsentAction.value, as truKIT's.
    shown = client.get(req.legacy_fetch_banner("CP001"), headers=headers).json
    purposes = [req.flutter_purpose_json(p, "accepted") for p in shown["purposes"]]
    path, body = req.legacy_submit_consent("CP001", "leg-1", purposes, "Approved", "leg-req-1")
    r = client.post(path, json=body, headers=headers)
    assert r.status_code == 200, r.json
    assert [(log["purpose_id"], log["status"], log["action"]) for log in r.json["consent_logs"]
            ] == [("kyc", "granted", "approved"), ("fraud", "granted", "approved"),
                  ("offers", "granted", "approved")]
    # The React Native package: the banner's purpose objects, changed.
    path, body = req.legacy_submit_consent(
        shown["collection_point"], "leg-1",
        [{**p, "consented": "declined"} for p in shown["purposes"] if not p["is_legitimate"]],
        "declined", None)
    r = client.post(path, json=body, headers=headers)
    assert r.status_code == 200
    assert banner.values("leg-1") == {"kyc": "declined", "fraud": "shown", "offers": "declined"}
    # The older rights center: every banner, and a user's (by the id it sends).
    r = client.get(req.legacy_rc_all_banners(), headers=headers)
    assert r.status_code == 200 and [b["banner_id"] for b in r.json] == ["CP001"]
    r = client.get(req.legacy_rc_user_consents("leg-1-full-id"), headers=headers)
    assert r.status_code == 200 and r.json[0]["user_id"] == "leg-1-"
    r = client.get(req.legacy_rc_user_consents("leg-1"), headers=headers)
    assert {p["id"]: p["consented"] for p in r.json[0]["purposes"]} == {
        "kyc": "declined", "fraud": "shown", "offers": "declined"}
    r = client.get("/banners/dpo_information/more", headers=headers)
    assert (r.status_code, r.json) == (404, {"detail": "Not Found"})
