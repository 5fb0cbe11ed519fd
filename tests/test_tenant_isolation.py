"""Tenant isolation matrix: every route of ``app.url_map`` that takes a credential, called with a
credential of another organisation, a wrong scope, a revoked credential and an expired token
(where each exists), is rejected in its dialect's own error shape and status, and no response
ever carries a byte of the other organisation's data.

Organisation A ("acme") holds distinct marker data in every dialect; organisation B ("globex")
has credentials of every kind. ``ROUTES`` names each route's credential kind; a route of the
url_map missing from it fails ``test_every_route_is_in_the_matrix``, so a new route cannot go
untested. Every JSON response is also checked against /openapi.json (the contract client).
"""
from __future__ import annotations

import datetime as dt
import json
import time as _time
from dataclasses import dataclass

import itsdangerous.timed
import pytest

from consent.core import auth
from consent.dialects.avacy import archive
from consent.dialects.avacy.pages import archive_token
from consent.dialects.truconsent.pages import outbox_token
from tests.attestr_helpers import Client as AttestrClient, register
from tests.avacy_helpers import DOCUMENTED, Tenant
from tests.helpers import OrgFixture
from tests.truconsent_helpers import bearer, create_link, link_path, make_cp
from tests.veriff_helpers import Integration, dumps, sign

# -- the matrix ------------------------------------------------------------------------------------
# kind -> how the route authenticates. Paths use A's ids: {consent_id}, {session_id}, ...


@dataclass(frozen=True)
class Route:
    kind: str
    path: str
    body: object = None


ADMIN = "admin_key"          # X-Org-Id + X-API-Key with the admin scope (service shape)
TC_LINK = "tc_link"          # truConsent: consent key or operator bearer token
TC_KEY = "tc_key"            # truConsent: key with consent (or admin) scope
TC_ADMIN = "tc_admin_scope"  # truConsent: key with the admin scope
HMAC = "hmac"                # Veriff: X-AUTH-CLIENT + X-HMAC-SIGNATURE
AVACY = "avacy_token"        # Avacy: Authorization: Bearer, tenant in the URL
WP_TOKEN = "wp_token"        # Avacy's plugin check: the token in the path
ATTESTR = "attestr_basic"    # Attestr: Authorization: Basic
PAGE = "page"                # a page that carries a signed token (tested one by one below)
PUBLIC = "public"            # no credential by design

LEDGER_BODY = {"subject": "s-b", "purpose": "p", "status": "granted"}
ROUTES = {
    ("api-docs.openapi_json", "GET"): Route(PUBLIC, "/openapi.json"),
    ("service.Health", "GET"): Route(PUBLIC, "/healthz"),
    ("service.Ready", "GET"): Route(PUBLIC, "/readyz"),
    ("docs.page", "GET"): Route(PUBLIC, "/docs"),
    ("docs.show", "GET"): Route(PUBLIC, "/docs/swagger-ui.css"),
    ("veriff_pages.static", "GET"): Route(PUBLIC, "/v/assets/none.css"),
    ("avacy_wp.ValidateAccount", "GET"): Route(PUBLIC, "/wp/validate/{tenant}/{webspace_key}"),
    ("ledger.Consents", "GET"): Route(ADMIN, "/ledger/v1/consents"),
    ("ledger.Consents", "POST"): Route(ADMIN, "/ledger/v1/consents", LEDGER_BODY),
    ("ledger.ConsentById", "GET"): Route(ADMIN, "/ledger/v1/consents/{consent_id}"),
    ("ledger.Withdraw", "POST"): Route(ADMIN, "/ledger/v1/consents/{consent_id}/withdraw", {}),
    ("ledger.ProcessingCheck", "POST"): Route(ADMIN, "/ledger/v1/checks",
                                              {"subject": "{subject}", "purpose": "{purpose}",
                                               "operation": "read"}),
    ("ledger.SubjectState", "GET"): Route(ADMIN, "/ledger/v1/subjects/{subject}/state"),
    ("ledger.Audit", "GET"): Route(ADMIN, "/ledger/v1/audit"),
    ("ledger.AuditVerify", "GET"): Route(ADMIN, "/ledger/v1/audit/verify"),
    ("ledger.AuditCheckpoint", "GET"): Route(ADMIN, "/ledger/v1/audit/checkpoint"),
    ("ledger.AuditVerifications", "POST"): Route(ADMIN, "/ledger/v1/audit/verifications"),
    ("ledger.AuditVerification", "GET"): Route(ADMIN, "/ledger/v1/audit/verifications/1"),
    ("ledger.Export", "GET"): Route(ADMIN, "/ledger/v1/export"),
    ("ledger.Webhooks", "GET"): Route(ADMIN, "/ledger/v1/webhooks"),
    ("ledger.WebhookById", "GET"): Route(ADMIN, "/ledger/v1/webhooks/1"),
    ("ledger.WebhookReplay", "POST"): Route(ADMIN, "/ledger/v1/webhooks/1/replay"),
    ("operators.Members", "GET"): Route(ADMIN, "/ledger/v1/members"),
    ("operators.MemberById", "DELETE"): Route(ADMIN, "/ledger/v1/members/{op_user_id}"),
    ("operators.Tokens", "GET"): Route(ADMIN, "/ledger/v1/tokens"),
    ("operators.TokenRevoke", "POST"): Route(ADMIN, "/ledger/v1/tokens/{op_token_id}/revoke"),
    ("truconsent.ConsentLinks", "POST"): Route(TC_LINK, "/api/consent/consent-links",
                                               {"collection_point_id": "{cp_id}",
                                                "asset_id": "{asset_id}",
                                                "phone": "+919876543210"}),
    ("truconsent.LinkHistory", "GET"): Route(TC_LINK, "/api/consent/consent-links/history"),
    ("truconsent.LinkStatus", "GET"): Route(
        TC_LINK, "/api/consent/consent-links/status/{request_id}"),
    ("truconsent.LinkRegenerate", "POST"): Route(
        TC_LINK, "/api/consent/consent-links/regenerate/{request_id}"),
    ("truconsent.Record", "POST"): Route(TC_KEY, "/api/v1/external/consents/record",
                                         {"userId": "{tc_user}", "action": "approved",
                                          "purposes": [{"id": "{tc_purpose}"}]}),
    ("truconsent.History", "GET"): Route(TC_KEY,
                                         "/api/v1/external/consents/history?userId={tc_user}"),
    ("truconsent.UserStatus", "GET"): Route(
        TC_KEY, "/api/v1/external/consents/user-status?userId={tc_user}"),
    ("truconsent.MapUser", "POST"): Route(TC_ADMIN, "/api/v1/external/consents/map-user",
                                          {"anonymousId": "{tc_user}",
                                           "authenticatedUserId": "someone-else"}),
    ("truconsent.SdkBanners", "GET"): Route(
        TC_LINK, "/api/v1/internal/consent?asset_id={asset_id}&userId={tc_user}"),
    ("truconsent.SdkAssetBanner", "GET"): Route(
        TC_LINK, "/api/v1/internal/consent/{asset_id}/{cp_id}?userId={tc_user}"),
    ("truconsent.SdkBanner", "GET"): Route(TC_LINK,
                                           "/api/v1/internal/consent/{cp_id}?userId={tc_user}"),
    ("truconsent.SdkBanner", "POST"): Route(TC_LINK, "/api/v1/internal/consent/{cp_id}",
                                            {"userId": "{tc_user}", "action": "approved",
                                             "purposes": [{"purposeId": "{tc_purpose}"}]}),
    ("truconsent.SdkSuppression", "POST"): Route(
        TC_LINK, "/api/v1/internal/consent/suppression",
        {"userId": "{tc_user}", "declinedPurposeIds": ["{tc_purpose}"]}),
    ("truconsent.SdkRightsCenter", "POST"): Route(
        TC_LINK, "/api/v1/internal/consent/rights-center",
        {"userId": "{tc_user}", "action": "revoked", "assetId": "{asset_id}",
         "purposes": [{"id": "{tc_purpose}", "consented": "declined"}]}),
    ("truconsent.SdkUserConsents", "GET"): Route(TC_LINK,
                                                 "/api/v1/internal/consent/user/{tc_user}"),
    ("truconsent.SdkUserConsentStatus", "GET"): Route(
        TC_LINK, "/api/v1/internal/consent/user-consent-status?userId={tc_user}"),
    ("truconsent.LegacyBanners", "GET"): Route(TC_LINK, "/banners/"),
    ("truconsent.LegacyBanner", "GET"): Route(TC_LINK, "/banners/{cp_id}"),
    ("truconsent.LegacyConsent", "POST"): Route(TC_LINK, "/banners/{cp_id}/consent",
                                                {"userId": "{tc_user}", "action": "Approved",
                                                 "purposes": [{"purposeId": "{tc_purpose}"}]}),
    ("truconsent.LegacyUserConsents", "GET"): Route(TC_LINK, "/banners/user/{tc_user}"),
    ("truconsent.PublicAssets", "GET"): Route(TC_KEY, "/api/v1/external/public/assets"),
    ("truconsent.PublicAsset", "GET"): Route(TC_KEY,
                                             "/api/v1/external/public/assets/{asset_id}"),
    ("truconsent.PublicCollectionPoints", "GET"): Route(
        TC_KEY, "/api/v1/external/public/collection-points?asset_id={asset_id}"),
    ("truconsent.DpTimeline", "GET"): Route(
        TC_KEY, "/api/v1/external/consents/dp-timeline?user_id={tc_user}"),
    ("truconsent_admin.AssetById", "PATCH"): Route(ADMIN, "/ledger/v1/truconsent/assets/{asset_id}",
                                                   {"description": "b"}),
    ("truconsent_admin.CollectionPointById", "GET"): Route(
        ADMIN, "/ledger/v1/truconsent/collection-points/{cp_id}"),
    ("truconsent_admin.CollectionPointById", "PATCH"): Route(
        ADMIN, "/ledger/v1/truconsent/collection-points/{cp_id}", {"consent_type": "general"}),
    ("truconsent_admin.Assets", "GET"): Route(ADMIN, "/ledger/v1/truconsent/assets"),
    ("truconsent_admin.Assets", "POST"): Route(ADMIN, "/ledger/v1/truconsent/assets",
                                               {"name": "b asset"}),
    ("truconsent_admin.CollectionPoints", "GET"): Route(
        ADMIN, "/ledger/v1/truconsent/collection-points"),
    ("truconsent_admin.CollectionPoints", "POST"): Route(
        ADMIN, "/ledger/v1/truconsent/collection-points",
        {"asset_id": "{asset_id}", "title": "t", "notice_text": "n",
         "purposes": [{"name": "n", "description": "d"}]}),
    ("truconsent_pages.collector", "GET"): Route(PAGE, "{link_path}"),
    ("truconsent_pages.collector", "POST"): Route(PAGE, "{link_path}"),
    ("truconsent_pages.outbox_page", "GET"): Route(PAGE, "/truconsent/outbox"),
    ("veriff.Sessions", "POST"): Route(HMAC, "/v1/sessions",
                                       {"verification": {"vendorData": "b-vendor"}}),
    ("veriff.Session", "PATCH"): Route(HMAC, "/v1/sessions/{session_id}",
                                       {"verification": {"status": "submitted"}}),
    ("veriff.Session", "DELETE"): Route(HMAC, "/v1/sessions/{session_id}"),
    ("veriff.Decision", "GET"): Route(HMAC, "/v1/sessions/{session_id}/decision"),
    ("veriff.Person", "GET"): Route(HMAC, "/v1/sessions/{session_id}/person"),
    ("veriff.Attempts", "GET"): Route(HMAC, "/v1/sessions/{session_id}/attempts"),
    ("veriff.Media", "GET"): Route(HMAC, "/v1/sessions/{session_id}/media"),
    ("veriff.Media", "POST"): Route(HMAC, "/v1/sessions/{session_id}/media",
                                    {"image": {"context": "document-front",
                                               "content": "data:image/jpeg;base64,/9j/4AAQ"}}),
    ("veriff.Consents", "GET"): Route(HMAC, "/v1/sessions/{session_id}/consents"),
    ("veriff.MediaFile", "GET"): Route(HMAC, "/v1/media/{veriff_media}"),
    ("veriff.AttemptMedia", "GET"): Route(HMAC, "/v1/attempts/{attempt_id}/media"),
    ("veriff.WatchlistScreening", "GET"): Route(
        HMAC, "/v1/sessions/{session_id}/watchlist-screening"),
    ("veriff.WatchlistScreening", "PATCH"): Route(
        HMAC, "/v1/sessions/{session_id}/watchlist-screening", {"monitorStatus": "disabled"}),
    ("veriff.Consents", "POST"): Route(HMAC, "/v1/sessions/{session_id}/consents",
                                       {"type": "ine", "approved": True, "text": "t"}),
    ("veriff_admin.Integration", "GET"): Route(
        ADMIN, "/ledger/v1/veriff/integrations/{integration_id}"),
    ("veriff_admin.Integration", "PATCH"): Route(
        ADMIN, "/ledger/v1/veriff/integrations/{integration_id}", {"event_webhook_url": None}),
    ("veriff_admin.SessionDecision", "POST"): Route(
        ADMIN, "/ledger/v1/veriff/sessions/{session_id}/decision", {"status": "approved"}),
    ("veriff_pages.flow_page", "GET"): Route(PAGE, "/v/{flow_token}"),
    ("veriff_pages.flow_action", "POST"): Route(PAGE, "/v/{flow_token}"),
    ("avacy.DomainsGroupConsents", "POST"): Route(
        AVACY, "/{tenant}/domains_groups/{webspace}/consents", DOCUMENTED),
    ("avacy.WebspaceV2Consents", "POST"): Route(
        AVACY, "/{tenant}/v2/webspaces/{webspace}/consents", DOCUMENTED),
    ("avacy.WebspaceV4Consents", "POST"): Route(
        AVACY, "/{tenant}/v4/webspaces/{webspace}/consents",
        {"ip_address": "1.2.3.4", "consent_type": "form", "optin": "accepted",
         "identifier": "b@example.com", "consent_data": [{"label": "email",
                                                         "value": "b@example.com"}]}),
    ("avacy_wp.ValidateToken", "GET"): Route(WP_TOKEN,
                                             "/wp/validate/{tenant}/{webspace_key}/{token}"),
    ("avacy_admin.Archive", "GET"): Route(ADMIN, "/ledger/v1/avacy/consents"),
    ("avacy_admin.ArchiveEntry", "GET"): Route(ADMIN, "/ledger/v1/avacy/consents/{entry_id}"),
    ("avacy_admin.Webspaces", "GET"): Route(ADMIN, "/ledger/v1/avacy/webspaces"),
    ("avacy_admin.Webspaces", "POST"): Route(ADMIN, "/ledger/v1/avacy/webspaces",
                                             {"name": "b site"}),
    ("avacy_admin.Tokens", "POST"): Route(ADMIN, "/ledger/v1/avacy/tokens", {"name": "b"}),
    ("avacy_pages.archive_page", "GET"): Route(PAGE, "/avacy/archive"),
    ("attestr.Register", "POST"): Route(ATTESTR, "/api/v3/public/consent/register", "register"),
    ("attestr.DataCategories", "POST"): Route(ATTESTR, "/api/v3/public/consent/data-categories",
                                              {"services": ["BANK_ACC"]}),
    ("attestr.ConsentDetails", "GET"): Route(ATTESTR,
                                             "/api/v3/public/consent/{attestr_consent}"),
    ("attestr.Revoke", "POST"): Route(ATTESTR, "/api/v3/public/consent/{attestr_consent}/revoke",
                                      {}),
    ("attestr.Export", "POST"): Route(ATTESTR, "/api/v3/public/consent/{attestr_consent}/export",
                                      {}),
    ("attestr.AsyncResult", "GET"): Route(ATTESTR, "/api/v3/public/common/async/{async_id}"),
    ("attestr.Media", "GET"): Route(ATTESTR, "/api/v3/public/common/media/{media_id}"),
}

# The error body of each dialect's API: the keys it always has.
SHAPES = {
    "service": {"code", "status", "message"},
    "truconsent": {"detail"},
    "veriff": {"status", "code", "message"},
    "avacy": {"message"},
    "avacy_wp": {"message"},
    "attestr": {"httpStatusCode", "code", "message", "appError"},
}
SHAPE_OF_KIND = {ADMIN: "service", TC_LINK: "truconsent", TC_KEY: "truconsent",
                 TC_ADMIN: "truconsent", HMAC: "veriff", AVACY: "avacy", WP_TOKEN: "avacy_wp",
                 ATTESTR: "attestr"}
# Operations on one of A's records by id: another organisation's credential must not reach it.
BY_ID = ("{consent_id}", "{request_id}", "{session_id}", "{integration_id}", "{entry_id}",
         "{attestr_consent}", "{async_id}", "{media_id}", "{asset_id}", "{cp_id}",
         "{op_user_id}", "{op_token_id}")
BY_ID = BY_ID + ("{veriff_media}", "{attempt_id}")


def test_every_route_is_in_the_matrix(world):
    routes = {(rule.endpoint, method) for rule in world.app.url_map.iter_rules()
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    missing = routes - set(ROUTES)
    assert not missing, f"routes without a tenant-isolation entry: {sorted(missing)}"
    assert not set(ROUTES) - routes, "matrix entries for routes that no longer exist"


# -- two organisations -----------------------------------------------------------------------------

class World:
    """Organisation A with marker data in every dialect, organisation B with its credentials."""

    def __init__(self, app, client):
        self.app, self.client = app, client
        self.a, self.b = OrgFixture("acme"), OrgFixture("globex")
        a, b = self.a, self.b
        # ledger
        r = client.post("/ledger/v1/consents", headers=a.headers(), json={
            "subject": "zz-marker-a-subject", "purpose": "zz-marker-a-purpose",
            "status": "granted", "evidence": {"note": "zz-marker-a-evidence"}})
        assert r.status_code == 201, r.json
        self.consent_id = r.json["id"]
        # truConsent
        self.cp = make_cp(a.org, title="zz-marker-a-cp-title")
        make_cp(b.org)
        link = create_link(client, a, self.cp, phone="+919812345678")
        self.request_id, self.link_path = link["request_id"], link_path(link["consent_link"])
        r = client.post("/api/v1/external/consents/record", headers=a.headers(a.consent_key),
                        json={"userId": "zz-marker-a-user", "action": "approved",
                              "purposes": [{"id": self.cp.purpose_ids[0]}]})
        assert r.status_code == 200, r.json
        self.bearer_a, self.bearer_b = bearer(app, a.org), bearer(app, b.org, "op@b.example")
        operator = auth.session_for_token(app.config["SECRET_KEY"], self.bearer_a,
                                          app.config["CONSENT_SESSION_MAX_AGE"])
        self.op_user_id, self.op_token_id = operator.user_id, operator.id
        # Veriff
        self.veriff_a, self.veriff_b = Integration(a.org), Integration(b.org)
        r = self.veriff_a.post(client, "/v1/sessions", {"verification": {
            "vendorData": "zz-marker-a-vendor",
            "person": {"firstName": "Zzmarkeralice", "lastName": "Zzmarkerlast"}}})
        assert r.status_code == 201, r.json
        self.session_id = r.json["verification"]["id"]
        self.flow_token = r.json["verification"]["url"].rsplit("/", 1)[1]
        assert self.veriff_a.upload(client, self.session_id, {
            "type": "ine", "approved": True, "text": "zz-marker-a-consent-text"}).status_code == 200
        # A's media (a file), then its session submitted: an attempt and a screening
        import base64
        r = self.veriff_a.post(client, f"/v1/sessions/{self.session_id}/media", {"image": {
            "context": "face", "content": base64.b64encode(b"\xff\xd8\xffzz-marker-a-jpeg")
            .decode()}})
        assert r.status_code == 200, r.json
        self.veriff_media = r.json["image"]["id"]
        r = self.veriff_a.post(client, f"/v1/sessions/{self.session_id}",
                               {"verification": {"status": "submitted"}}, method="patch")
        assert r.status_code == 200, r.json
        self.attempt_id = self.veriff_a.get(client, f"/v1/sessions/{self.session_id}/attempts",
                                            self.session_id).json["verifications"][0]["id"]
        # Avacy
        self.avacy_a, self.avacy_b = Tenant(a.org), Tenant(b.org)
        body = json.loads(json.dumps(DOCUMENTED))
        body["subject"]["email"] = "zz-marker-a@example.com"
        r = self.avacy_a.post_json(client, "domains_groups", body)
        assert r.status_code == 201, r.json
        self.entry_id = r.json["data"]["id"]
        # Attestr
        self.attestr_a, self.attestr_b = AttestrClient(a.org), AttestrClient(b.org)
        r = register(client, self.attestr_a, consentReferenceId="zz-marker-a-ref",
                     consentPrincipalUserId="zz-marker-a-principal")
        assert r.status_code == 200, r.json
        self.attestr_consent = r.json["_id"]
        r = client.post(f"/api/v3/public/consent/{self.attestr_consent}/export", json={},
                        headers=self.attestr_a.headers())
        assert r.status_code == 200, r.json
        self.async_id = r.json.get("asyncId") or r.json.get("_id") or "none"
        self.values = {
            "consent_id": self.consent_id, "subject": "zz-marker-a-subject",
            "purpose": "zz-marker-a-purpose", "request_id": self.request_id,
            "cp_id": self.cp.cp.id, "asset_id": self.cp.asset.id, "tc_user": "zz-marker-a-user",
            "tc_purpose": self.cp.purpose_ids[0], "session_id": self.session_id,
            "integration_id": self.veriff_a.id, "tenant": a.slug,
            "webspace": self.avacy_a.webspace.number,
            "webspace_key": self.avacy_a.webspace.key, "token": self.avacy_a.token,
            "entry_id": self.entry_id, "attestr_consent": self.attestr_consent,
            "async_id": self.async_id, "media_id": "none", "link_path": self.link_path,
            "flow_token": self.flow_token, "op_user_id": self.op_user_id,
            "op_token_id": self.op_token_id}
        self.values.update(veriff_media=self.veriff_media, attempt_id=self.attempt_id)
        # What must never reach B: A's marker values and the ids B was never given.
        self.markers = ["zz-marker-a", "Zzmarker", "+919812345678", "9812345678",
                        self.consent_id, self.request_id, self.session_id, self.veriff_a.key,
                        self.veriff_a.secret, self.attestr_consent, self.avacy_a.token,
                        a.admin_key, a.consent_key, self.flow_token, self.op_user_id,
                        self.op_token_id, "op@example.com"]
        self.markers += [self.veriff_media, self.attempt_id]

    def fill(self, text: str, tenant: str | None = None) -> str:
        values = dict(self.values)
        if tenant:
            values["tenant"] = tenant
        for name, value in values.items():
            text = text.replace("{" + name + "}", str(value))
        return text

    def body(self, route: Route):
        if route.body == "register":
            from tests.attestr_helpers import body
            return body(consentReferenceId="b-ref")
        if route.body is None:
            return None
        return json.loads(self.fill(json.dumps(route.body)))

    def assert_no_leak(self, response, sent: str):
        text = response.get_data(as_text=True)
        for marker in self.markers:
            if marker and marker not in sent:
                assert marker not in text, f"{marker!r} of organisation A leaked: {text[:400]}"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One app and one World for the module (building it takes a few hundred requests' time);
    the tests below only add credentials and never change A's data."""
    import uuid

    from consent import create_app
    from consent.core import storage
    from tests import helpers
    from tests.openapi_contract import ContractClient

    pg_name = None
    if helpers.PG_URL:
        url, pg_name = helpers.fresh_pg_database()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('isolation') / 'consent.sqlite3'}"
    app = create_app({"TESTING": True, "CONSENT_DATABASE_URL": url,
                      "CONSENT_SECRET_KEY": "test-secret-key-" + uuid.uuid4().hex,
                      "CONSENT_CHECKPOINT_KEY_DIR": str(tmp_path_factory.mktemp("keys")),
                      "CONSENT_PUBLIC_URL": "http://consent.test"})
    app.test_client_class = ContractClient
    with app.app_context():
        storage.create_tables()
        yield World(app, app.test_client())
        app.extensions["consent.background"].stop()
        if storage.db.obj is not None and not storage.db.is_closed():
            storage.db.close()
    if pg_name:
        helpers.drop_pg_database(pg_name)


class Problems(list):
    """Failures of a whole row of the matrix, reported together."""

    def check(self, key, fn, *args, **kwargs):
        try:
            fn(*args, **kwargs)
        except AssertionError as exc:
            self.append(f"{key[1]} {key[0]}: {exc}")

    def assert_none(self):
        assert not self, "\n".join(self)


def _call(world, key, route, headers, *, sign_with=None, tenant=None):
    """Send the route's request with the given headers (Veriff's signed with ``sign_with``:
    (key, secret))."""
    endpoint, method = key
    path = world.fill(route.path, tenant)
    body = world.body(route)
    data = dumps(body) if body is not None else b""
    headers = dict(headers)
    if sign_with is not None:
        api_key, secret = sign_with
        signed = data if method in ("POST", "PATCH") else \
            (world.session_id if "{session_id}" in route.path else "").encode()
        for name, value in (("{veriff_media}", world.veriff_media),
                            ("{attempt_id}", world.attempt_id)):
            if method == "GET" and name in route.path:   # signed over the id in the path
                signed = value.encode()
        headers.update({"X-AUTH-CLIENT": api_key, "X-HMAC-SIGNATURE": sign(secret, signed)})
    if body is not None or method in ("POST", "PATCH"):
        headers.setdefault("Content-Type", "application/json")
    response = world.client.open(path, method=method, data=data or None, headers=headers)
    return response, path + data.decode()


def _rejected(world, response, sent, shape, statuses):
    assert response.status_code in statuses, (response.status_code, response.get_data()[:300])
    body = response.get_json()
    assert isinstance(body, dict) and SHAPES[shape] <= set(body), body
    world.assert_no_leak(response, sent)


def _api_routes(*kinds):
    return sorted(k for k, r in ROUTES.items() if r.kind in kinds)


def _headers_for(world, kind, org, *, key=None, scope_key=None):
    """Headers carrying ``org``'s credential of the route's kind (not for HMAC)."""
    o = world.a if org == "a" else world.b
    if kind == ADMIN:
        return o.headers(key or o.admin_key)
    if kind in (TC_LINK, TC_KEY):
        return o.headers(key or o.consent_key)
    if kind == TC_ADMIN:
        return o.headers(key or o.admin_key)
    if kind == AVACY:
        t = world.avacy_a if org == "a" else world.avacy_b
        return t.headers(key or t.token)
    if kind == ATTESTR:
        c = world.attestr_a if org == "a" else world.attestr_b
        return {"Authorization": f"Basic {key}"} if key else c.headers()
    return {}


# -- another organisation's credential ------------------------------------------------------------

KEYED = (ADMIN, TC_LINK, TC_KEY, TC_ADMIN, AVACY)


def test_other_orgs_credential_naming_this_org_is_rejected(world):
    """B's valid key presented for A (Avacy: A's tenant in the URL): 401 in the dialect's shape;
    B's operator token for A: 403 (not a member); B's Veriff integration signing with A's key
    or the reverse: 401; B's Avacy token in A's plugin check: 401."""
    problems = Problems()
    for key in _api_routes(*KEYED):
        route = ROUTES[key]
        headers = _headers_for(world, route.kind, "b")
        if route.kind != AVACY:
            headers["X-Org-Id"] = world.a.slug
        problems.check(key, _expect, world, key, route, headers, {401})
    for key in _api_routes(TC_LINK):
        headers = {"Authorization": f"Bearer {world.bearer_b}", "X-Org-Id": world.a.slug}
        problems.check(key, _expect, world, key, ROUTES[key], headers, {403})
    for key in _api_routes(HMAC):
        problems.check(key, _expect, world, key, ROUTES[key], {}, {401},
                       sign_with=(world.veriff_a.key, world.veriff_b.secret))
        problems.check(key, _expect, world, key, ROUTES[key], {}, {401},
                       sign_with=(world.veriff_b.key, world.veriff_a.secret))
    for key in _api_routes(WP_TOKEN):
        path = world.fill(ROUTES[key].path).replace(world.avacy_a.token, world.avacy_b.token)
        response = world.client.get(path)
        assert response.status_code == 401, response.status_code
        assert response.json == {"message": {"error": "token_not_found_or_expired"}}
        world.assert_no_leak(response, path)
    problems.assert_none()


def test_other_org_reaching_for_this_orgs_records(world):
    """B's credential for B itself, with A's ids, subjects and users in the request: a record
    of A by id is not found; lists and queries answer only B's own data."""
    problems = Problems()

    def one(key, route):
        if route.kind == HMAC:
            response, sent = _call(world, key, route, {},
                                   sign_with=(world.veriff_b.key, world.veriff_b.secret))
        else:
            tenant = world.b.slug if route.kind == AVACY else None
            response, sent = _call(world, key, route, _headers_for(world, route.kind, "b"),
                                   tenant=tenant)
        world.assert_no_leak(response, sent)
        answered.append(response.status_code)
        if any(p in route.path + json.dumps(route.body) for p in BY_ID):
            assert 400 <= response.status_code < 500, response.get_data()[:300]
            body = response.get_json()
            assert SHAPES[SHAPE_OF_KIND[route.kind]] <= set(body), body

    answered = []
    for key in _api_routes(*KEYED, ATTESTR, HMAC):
        problems.check(key, one, key, ROUTES[key])
    problems.assert_none()
    # B's credentials work (the leak checks above ran on real answers, not on 401s).
    assert sum(200 <= s < 300 for s in answered) >= 20, answered


# -- a wrong scope ----------------------------------------------------------------------------------

def _scoped_key(world, scopes, kind="api_key"):
    return auth.create_credential(world.a.org, kind=kind, name="scoped", scopes=scopes)


def test_credential_without_the_scope_is_rejected(world):
    """A's own credential lacking what the operation needs: an API key without its scope (403),
    a Veriff integration without the consent scope (401), a Basic credential that is no
    Attestr client (403)."""
    import base64

    problems = Problems()
    for key in _api_routes(*KEYED):
        route = ROUTES[key]
        scopes = {ADMIN: ("consent",), TC_ADMIN: ("consent",), AVACY: ("admin",)}.get(
            route.kind, ())
        issued = _scoped_key(world, scopes)
        problems.check(key, _expect, world, key, route,
                       _headers_for(world, route.kind, "a", key=issued.key), {403})
    hmac_admin = _scoped_key(world, ("admin",), kind="hmac")
    for key in _api_routes(HMAC):
        problems.check(key, _expect, world, key, ROUTES[key], {}, {401},
                       sign_with=(hmac_admin.key, hmac_admin.shared_secret))
    basic = _scoped_key(world, ("consent",), kind="basic")
    token = base64.b64encode(f"{basic.credential.client_id}:{basic.key}".encode()).decode()
    for key in _api_routes(ATTESTR):
        problems.check(key, _expect, world, key, ROUTES[key],
                       _headers_for(world, ATTESTR, "a", key=token), {403})
    problems.assert_none()


# -- a revoked credential ----------------------------------------------------------------------------

def test_revoked_credential_is_rejected(world):
    """A credential of A of the route's own kind, issued and then revoked: 401 everywhere."""
    problems = Problems()
    a = world.a.org
    admin = auth.create_credential(a, name="revoked admin", scopes=("admin", "consent"))
    consent = auth.create_credential(a, name="revoked consent", scopes=("consent",))
    avacy = archive.create_token(a, name="revoked avacy")
    veriff = Integration(a, name="revoked integration")
    attestr = AttestrClient(a)
    for issued in (admin, consent, avacy):
        auth.revoke_credential(a, issued.credential.id)
    auth.revoke_credential(a, veriff.id)
    auth.revoke_credential(a, attestr.id)
    for key in _api_routes(*KEYED):
        route = ROUTES[key]
        presented = {ADMIN: admin, TC_ADMIN: admin, AVACY: avacy}.get(route.kind, consent).key
        headers = (world.avacy_a.headers(presented) if route.kind == AVACY
                   else world.a.headers(presented))
        problems.check(key, _expect, world, key, route, headers, {401})
    for key in _api_routes(HMAC):
        problems.check(key, _expect, world, key, ROUTES[key], {}, {401},
                       sign_with=(veriff.key, veriff.secret))
    for key in _api_routes(ATTESTR):
        problems.check(key, _expect, world, key, ROUTES[key], attestr.headers(), {401})
    for key in _api_routes(WP_TOKEN):
        path = world.fill(ROUTES[key].path).replace(world.avacy_a.token, avacy.key)
        response = world.client.get(path)
        assert response.status_code == 401 and response.json == {
            "message": {"error": "token_not_found_or_expired"}}
    user = auth.User.get(auth.User.email == "op@example.com")
    revoked = auth.issue_session_token(world.app.config["SECRET_KEY"], user, 3600,
                                       world.app.config["CONSENT_SESSION_MAX_AGE"])
    auth.revoke_session_token(revoked)
    for key in _api_routes(TC_LINK):
        headers = {"Authorization": f"Bearer {revoked}", "X-Org-Id": world.a.slug}
        problems.check(key, _expect, world, key, ROUTES[key], headers, {401})
    problems.assert_none()


# -- an expired token --------------------------------------------------------------------------------

class _ShiftedTime:
    def __init__(self, seconds):
        self.seconds = seconds

    def time(self):
        return _time.time() + self.seconds


def _shift_clock(monkeypatch, **delta):
    """Move the clock forward instead of sleeping: stored expiry times, the truConsent dialect's
    clock and itsdangerous' max_age all see the future."""
    from consent.dialects.truconsent import models

    offset = dt.timedelta(**delta)
    real = auth.utcnow
    monkeypatch.setattr(auth, "utcnow", lambda: real() + offset)
    monkeypatch.setattr(models, "CLOCK_OFFSET", offset)
    monkeypatch.setattr(itsdangerous.timed, "time", _ShiftedTime(offset.total_seconds()))


def test_expired_operator_token_is_rejected(world, monkeypatch):
    """A bearer token past its own lifetime (its stored expiry), and one past the longest
    lifetime (itsdangerous' max_age): 401 on every route that takes one."""
    app = world.app
    user = auth.User.get(auth.User.email == "op@example.com")
    short = auth.issue_session_token(app.config["SECRET_KEY"], user, 60,
                                     app.config["CONSENT_SESSION_MAX_AGE"])
    problems = Problems()
    with monkeypatch.context() as shifted:
        _shift_clock(shifted, minutes=2)
        for key in _api_routes(TC_LINK):
            headers = {"Authorization": f"Bearer {short}", "X-Org-Id": world.a.slug}
            problems.check(key, _expect, world, key, ROUTES[key], headers, {401})
    with monkeypatch.context() as shifted:
        _shift_clock(shifted, seconds=app.config["CONSENT_SESSION_MAX_AGE"] + 60)
        for key in _api_routes(TC_LINK):
            headers = {"Authorization": f"Bearer {world.bearer_a}", "X-Org-Id": world.a.slug}
            problems.check(key, _expect, world, key, ROUTES[key], headers, {401})
    problems.assert_none()


def _expect(world, key, route, headers, statuses, **kwargs):
    response, sent = _call(world, key, route, headers, **kwargs)
    _rejected(world, response, sent, SHAPE_OF_KIND[route.kind], statuses)


# -- pages that carry a token ------------------------------------------------------------------------

def _page_text(response):
    assert response.mimetype == "text/html", response.mimetype
    return response.get_data(as_text=True)


def test_collector_page_with_another_links_token_is_refused(world):
    other = create_link(world.client, world.b, make_cp(world.b.org, title="b"))
    b_token = link_path(other["consent_link"]).split("t=", 1)[1]
    path = world.link_path.split("t=", 1)[0] + "t=" + b_token
    for method in ("GET", "POST"):
        response = world.client.open(path, method=method)
        assert response.status_code == 400, response.status_code  # "tampered"
        assert "zz-marker-a" not in _page_text(response)


def test_collector_page_expired_link(world, monkeypatch):
    _shift_clock(monkeypatch, hours=25)
    for method in ("GET", "POST"):
        response = world.client.open(world.link_path, method=method)
        assert response.status_code == 410, response.status_code
        assert "zz-marker-a" not in _page_text(response)


@pytest.mark.parametrize("path,make_token", [("/truconsent/outbox", outbox_token),
                                             ("/avacy/archive", archive_token)])
def test_operator_pages_show_only_their_own_org_and_expire(world, monkeypatch, path,
                                                           make_token):
    with world.app.test_request_context():
        token_b = make_token(world.b.org)
    response = world.client.get(f"{path}?t={token_b}")
    assert response.status_code == 200
    text = _page_text(response)
    for marker in ("zz-marker-a", "919812345678", "98123 45678"):
        assert marker not in text
    response = world.client.get(f"{path}?t={token_b[:-2]}xx")
    assert response.status_code == 403
    _shift_clock(monkeypatch, hours=2)
    response = world.client.get(f"{path}?t={token_b}")
    assert response.status_code == 410
    assert "zz-marker-a" not in _page_text(response)


def test_veriff_flow_page_needs_the_sessions_own_token(world):
    for method in ("GET", "POST"):
        response = world.client.open("/v/" + world.flow_token[:-3] + "abc", method=method)
        assert response.status_code == 404
        text = _page_text(response)
        assert "zz-marker-a" not in text and "Zzmarker" not in text


def test_public_routes_carry_no_org_data(world):
    for key, route in ROUTES.items():
        if route.kind != PUBLIC or "{" in route.path:
            continue
        response = world.client.open(route.path, method=key[1])
        world.assert_no_leak(response, route.path)


def test_unmatched_urls_of_a_dialect_need_its_credential(world):
    """A URL a dialect owns that matches no route answers 401 to B's credential for A (nothing
    about which paths exist), in the dialect's shape."""
    r = world.client.get("/v1/sessions/x/nothing", headers={"X-AUTH-CLIENT": "ik_unknown"})
    assert r.status_code == 401 and SHAPES["veriff"] <= set(r.json)
    r = world.client.post(f"/{world.a.slug}/domains_groups/1/nothing",
                          headers=world.avacy_b.headers())
    assert r.status_code == 401 and SHAPES["avacy"] <= set(r.json)


def test_the_leak_check_is_live(world):
    """A's own credential sees A's markers: the check that guards every row above fires."""
    key = ("ledger.Consents", "GET")
    response, sent = _call(world, key, ROUTES[key], world.a.headers())
    assert response.status_code == 200
    with pytest.raises(AssertionError, match="leaked"):
        world.assert_no_leak(response, sent)
