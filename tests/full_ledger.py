"""A ledger with rows in every covered table (``consent.core.covered``), written through the
service the way clients write them: the ledger API (terms, a use, a withdrawal, a new purpose
version), truConsent (a collection point, a completed link, a regenerated one, consent logs,
map-user; an asset with allowed origins and a banner, both changed, an SDK decision per purpose
and a suppression), Veriff (a session with person data, media, a consent upload, a decision, a
deleted session; screened sessions, one reviewed, one deleted), Avacy (a webspace, an archive
entry, a v4 entry with its versions) and Attestr (consents revoked, consumed and expired). The tamper tests edit it behind the service's back."""
from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field

from consent.core import covered, ledger, storage
from consent.dialects.attestr import consents as attestr_consents
from consent.dialects.truconsent import links
from tests import attestr_helpers, avacy_helpers, truconsent_helpers, veriff_helpers
from tests import truconsent_sdk_requests as sdk


SDK_PURPOSES = [
    {"id": "sdk-kyc", "name": "KYC", "description": "Who you are.", "is_mandatory": True,
     "expiry_period": "365", "data_elements": [{"id": "de-pan", "name": "PAN"}]},
    {"id": "sdk-fraud", "name": "Fraud checks", "description": "Stopping fraud.",
     "is_legitimate": True},
    {"id": "sdk-offers", "name": "Offers", "description": "Offers by SMS.",
     "expiry_period": "6 months"},
]
AVACY_V4 = {
    "ip_address": "203.0.113.7", "consent_type": "form", "optin": "accepted",
    "consent_data": [{"label": "your-email", "value": "mario@example.it"}],
    "identifier": "mario@example.it", "source": "plugin", "consent_features": ["newsletter"],
    "html_form": '<form method="post"><input name="your-email"></form>',
    "versions": [{"slug": "privacy_policy", "link": "https://shop.example.it/privacy/",
                  "date": "2024-05-01 10:00:00"}]}


@dataclass
class Full:
    org: object
    attestr: object
    veriff: object
    avacy: object
    ids: dict = field(default_factory=dict)


def build(client, app, org, monkeypatch) -> Full:
    """Write one of everything in ``org`` (an ``OrgFixture``)."""
    h = org.headers()
    ids = {}

    def post(path, body, status=201, headers=h):
        r = client.post(path, json=body, headers=headers)
        assert r.status_code == status, (path, r.status_code, r.get_json())
        return r.json

    # -- the ledger: terms, a use, a withdrawal, a purpose's new version, a published notice
    ids["single"] = post("/ledger/v1/consents", {
        "subject": "alice", "purpose": "kyc", "status": "granted",
        "operations": ["VERIFY"], "single_use": True})["id"]
    used = post("/ledger/v1/checks", {"consent_id": ids["single"], "operation": "VERIFY",
                                      "use": True}, status=200)
    assert used["allowed"] is True
    ids["use"] = used["use"]["id"]
    ids["granted"] = post("/ledger/v1/consents", {
        "subject": "bob", "purpose": "marketing", "status": "granted"})["id"]
    ids["withdrawal"] = post(f"/ledger/v1/consents/{ids['granted']}/withdraw", {})["id"]
    post("/ledger/v1/consents", {"subject": "bob", "purpose": "marketing", "status": "granted",
                                 "purpose_version": "2"})

    # -- truConsent: a collection point, a completed link, a regenerated one, logs, map-user
    cpf = truconsent_helpers.make_cp(org.org)
    tc_headers = org.headers(org.consent_key)
    issued = links.create(app.config["SECRET_KEY"], "http://consent.test", org.org, cpf.cp,
                          "+919876543210", 1, None, "test")
    links.complete(links.Opened(org.org, cpf.cp, issued.request, issued.event),
                   {p["id"]: True for p in cpf.cp.purposes}, {"ip": "198.51.100.7"})
    ids["completed_request"] = issued.request.id
    stale = truconsent_helpers.create_link(client, org, cpf, expiry_hours=1)
    truconsent_helpers.move_clock(monkeypatch, hours=2)
    post(f"/api/consent/consent-links/regenerate/{stale['request_id']}", {}, status=200,
         headers=tc_headers)
    logged = post("/api/v1/external/consents/record", {
        "userId": "anon-7", "action": "approved", "collectionPointId": cpf.cp.display_id,
        "purposes": [{"id": p["id"], "name": p["name"]} for p in cpf.cp.purposes]},
        status=200, headers=tc_headers)
    ids["tc_log_consent"] = logged["consent_logs"][0]["id"]
    post("/api/v1/external/consents/map-user", {"anonymousId": "anon-7",
                                                "authenticatedUserId": "alice"}, status=200)
    # truConsent's SDKs: an asset with allowed origins and a banner (both changed afterwards),
    # a decision per purpose from the banner, then the declined purposes suppressed
    admin = "/ledger/v1/truconsent"
    asset = post(f"{admin}/assets", {"name": "Shop app", "asset_type": "mobile_app",
                                     "allowed_origins": ["https://shop.example.com"]})
    ids["sdk_asset"] = asset["id"]
    banner = post(f"{admin}/collection-points", {
        "asset_id": asset["id"], "title": "Checkout", "notice_text": "What we need.",
        "notice_version": "4", "purposes": SDK_PURPOSES,
        "banner_settings": {"primary_color": "#0f766e", "show_purposes": True}})
    ids["sdk_cp"] = banner["id"]
    r = client.patch(f"{admin}/assets/{asset['id']}", headers=h, json={
        "allowed_origins": ["https://shop.example.com", "https://m.shop.example.com"]})
    assert r.status_code == 200, r.get_json()
    r = client.patch(f"{admin}/collection-points/{banner['id']}", headers=h, json={
        "consent_type": "standard_consent", "banner_settings": {"primary_color": "#111111"}})
    assert r.status_code == 200, r.get_json()
    sdk_headers = sdk.rn_headers(org.slug, api_key=org.consent_key)
    [got] = sdk.rn_fetch_banner(client, sdk_headers, sdk.rn_fetch_banner_urls(
        banner["display_id"], asset["id"], "sdk-user"))
    assert got.status_code == 200, got.get_json()
    shown = got.json
    path, body = sdk.rn_submit_consent(
        shown, user_id="sdk-user", request_id="req-sdk-1", action="partial_consent",
        purposes=sdk.rn_purposes_payload(shown, {"sdk-kyc": "accepted",
                                                 "sdk-offers": "declined"}),
        asset_id=asset["id"], metadata=sdk.rn_metadata("only_necessary", shown))
    post(path, body, status=200, headers=sdk_headers)
    path, body = sdk.rn_suppression("sdk-user", ["sdk-offers"])
    post(path, body, status=200, headers=sdk_headers)
    # the rights center: settings, the DPO, a nominee, a ticket with a message
    put = client.put(f"{admin}/rights-center/settings", headers=h,
                     json={"access_mode": "non_sso"})
    assert put.status_code == 200, put.get_json()
    put = client.put(f"{admin}/dpo", headers=h, json={"full_name": "Asha Rao",
                                                      "email": "dpo@acme.example"})
    assert put.status_code == 200, put.get_json()
    post("/api/v1/internal/nominee", {"client_user_id": "sdk-user", "nominee_name": "Meera",
                                      "relationship": "Spouse"}, status=200, headers=sdk_headers)
    ticket = post("/api/v1/internal/grievance", {"client_user_id": "sdk-user", "subject": "s",
                                                 "description": "d"}, status=200,
                  headers=sdk_headers)
    post(f"/api/v1/internal/grievance/{ticket['ticket_id']}/messages", {"message": "m"},
         status=200, headers=sdk_headers)

    # -- Veriff: a session with person data, media, a consent upload, a decision; a deleted one
    integ = veriff_helpers.Integration(org.org)
    sid = integ.create_session(client)
    ids["session"] = sid
    media = integ.post(client, f"/v1/sessions/{sid}/media", {"image": {
        "context": "document-front",
        "content": base64.b64encode(veriff_helpers.JPEG).decode()}})
    assert media.status_code == 200
    upload = integ.upload(client, sid)
    assert upload.status_code == 200, upload.get_json()
    post(f"/ledger/v1/veriff/sessions/{sid}/decision", {"status": "approved"}, status=200)
    gone = integ.create_session(client)
    assert integ.get(client, f"/v1/sessions/{gone}", gone, method="delete").status_code == 200
    # screened: media before the attempt (claimed by it), submitted (a watchlist hit), the hit
    # reviewed, monitoring off; another screened, then declined and deleted (erased)
    for last_name in ("Sanction", "Pep"):
        screened = integ.create_session(client, {"vendorData": "screened", "person": {
            "firstName": "Carlos", "lastName": last_name, "dateOfBirth": "1961-04-02"}})
        ids[f"screened_{last_name.lower()}"] = screened
        assert integ.post(client, f"/v1/sessions/{screened}/media", {"image": {
            "context": "face", "content": base64.b64encode(veriff_helpers.JPEG).decode()}},
        ).status_code == 200
        assert integ.post(client, f"/v1/sessions/{screened}",
                          {"verification": {"status": "submitted"}}, method="patch",
                          ).status_code == 200
    watch = f"/v1/sessions/{ids['screened_sanction']}/watchlist-screening"
    hit = integ.get(client, watch, ids["screened_sanction"]).json["data"]["hits"][0]["id"]
    assert integ.post(client, watch, {"hit": {"id": hit, "matchStatus": "true_match",
                                              "riskLevel": "high"}},
                      method="patch").status_code == 200
    assert integ.post(client, watch, {"monitorStatus": "disabled"},
                      method="patch").status_code == 200
    erased = ids["screened_pep"]
    post(f"/ledger/v1/veriff/sessions/{erased}/decision", {"status": "declined"}, status=200)
    assert integ.get(client, f"/v1/sessions/{erased}", erased,
                     method="delete").status_code == 200

    # -- Avacy: a webspace and an archive entry
    tenant = avacy_helpers.Tenant(org.org)
    entry = tenant.post_json(client, "domains_groups", avacy_helpers.DOCUMENTED)
    assert entry.status_code == 201, entry.get_json()
    ids["entry"] = entry.json["data"]["id"]
    v4 = tenant.post_json(client, "v4", AVACY_V4)
    assert v4.status_code == 201, v4.get_json()
    ids["entry_v4"] = v4.json["data"]["id"]

    # -- Attestr: one revoked, one consumed, one expired by the sweep
    client_ = attestr_helpers.Client(org.org)
    revoked = attestr_helpers.register(client, client_).json["_id"]
    r = client.post(f"/api/v3/public/consent/{revoked}/revoke", headers=client_.headers())
    assert r.status_code == 200
    ids["revoked"] = revoked
    consumed = attestr_helpers.register(client, client_, consentType="single_use").json["_id"]
    ids["consumed"] = consumed
    ledger_id = attestr_consents.find(client_.issued.client, consumed).consent_id
    assert post("/ledger/v1/checks", {"consent_id": ledger_id, "operation": "VERIFY",
                                      "use": True}, status=200)["allowed"] is True
    expiring = attestr_helpers.register(client, client_).json["_id"]
    ids["expired"] = expiring
    assert attestr_consents.expire_due(storage.utcnow() + dt.timedelta(days=2)) >= 1

    full = Full(org, client_, integ, tenant, ids)
    missing = [cov.table for cov in covered.tables() if not rows_of(org.org.id, cov)]
    assert not missing, f"the full ledger has no rows in {missing}"
    return full


def rows_of(org_id: str, cov) -> list:
    """Every row of a covered table in an organisation (its stored form)."""
    out, after = [], None
    while True:
        batch = cov.walk(org_id, after, 500)
        out += batch
        if len(batch) < 500:
            return out
        after = getattr(batch[-1], cov.key)


def count_covered(org_id: str) -> int:
    return sum(len(rows_of(org_id, cov)) for cov in covered.tables())


def orgs() -> list:
    return ledger.all_orgs()
