"""CORS (flask-cors) on the provider APIs that authenticate by header, for the origins of
CONSENT_CORS_ORIGINS only: preflights answered with what Veriff's SDKs send allowed and the
signature headers exposed, errors readable by the page too; never on the pages (cookies, CSRF
forms) nor on the operator API under /ledger. Origin sources are anchored (no prefix tricks)."""
from __future__ import annotations

import uuid

import pytest

from consent import create_app
from consent.web.cors import frame_ancestors, origin_patterns
from tests.veriff_helpers import Integration, dumps

ACAO = "Access-Control-Allow-Origin"
SDK_HEADERS = "content-type,x-auth-client,x-origin,vrf-integration-id"


def preflight(client, path, origin, method="POST", headers=SDK_HEADERS):
    return client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": method,
                                         "Access-Control-Request-Headers": headers})


def cors_headers(response) -> dict:
    return {k: v for k, v in response.headers.items() if k.startswith("Access-Control-")}


def test_veriff_preflight_from_a_local_page(client):
    response = preflight(client, "/v1/sessions", "http://localhost:3000")
    assert response.status_code == 200
    assert cors_headers(response) == {
        ACAO: "http://localhost:3000",
        "Access-Control-Allow-Headers": "content-type, vrf-integration-id, x-auth-client, "
                                        "x-origin",
        "Access-Control-Allow-Methods": "DELETE, GET, OPTIONS, PATCH, POST",
        "Access-Control-Expose-Headers": "VRF-AUTH-CLIENT, VRF-HMAC-SIGNATURE, X-AUTH-CLIENT, "
                                         "X-HMAC-SIGNATURE",
        "Access-Control-Max-Age": "600"}
    assert response.headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Credentials" not in response.headers
    signed = preflight(client, "/v1/sessions/x/decision", "http://127.0.0.1:8080", method="GET",
                       headers="x-auth-client,x-hmac-signature")
    assert signed.headers[ACAO] == "http://127.0.0.1:8080"
    assert signed.headers["Access-Control-Allow-Headers"] == "x-auth-client, x-hmac-signature"


@pytest.mark.parametrize("origin", ["http://localhost.evil.com", "http://evil.com",
                                    "https://localhost:3000", "http://127.0.0.1.nip.io",
                                    "null"])
def test_other_origins_get_nothing(client, origin):
    assert cors_headers(preflight(client, "/v1/sessions", origin)) == {}


def test_responses_and_errors_are_readable_cross_origin(client, org):
    integ = Integration(org.org)
    page = {"Origin": "http://localhost:5173"}
    body = dumps({"verification": {"vendorData": "v", "person": {"firstName": "A",
                                                                 "lastName": "B"}}})
    created = client.post("/v1/sessions", data=body, headers={
        **page, "X-AUTH-CLIENT": integ.key, "Content-Type": "application/json",
        "X-ORIGIN": "js-sdk"})
    assert created.status_code == 201 and created.headers[ACAO] == "http://localhost:5173"
    assert "X-HMAC-SIGNATURE" in created.headers["Access-Control-Expose-Headers"]
    refused = client.post("/v1/sessions", data=body, headers={
        **page, "Content-Type": "application/json"})
    assert refused.status_code == 401 and refused.headers[ACAO] == "http://localhost:5173"
    unknown = client.get("/v1/nothing", headers=page)
    assert unknown.status_code == 401 and unknown.headers[ACAO] == "http://localhost:5173"


def test_truconsent_api_is_cors_enabled_but_its_collector_is_not(client, org):
    response = preflight(client, "/api/v1/external/consents/record", "http://localhost:3000",
                         headers="content-type,x-api-key,x-org-id")
    assert response.headers[ACAO] == "http://localhost:3000"
    assert response.headers["Access-Control-Allow-Headers"] == "content-type, x-api-key, x-org-id"
    assert response.headers["Access-Control-Allow-Methods"] == "GET, OPTIONS, POST"
    read = client.get("/api/consent/consent-links/history", headers={
        "Origin": "http://localhost:3000", **org.headers(org.consent_key)})
    assert read.status_code == 200 and read.headers[ACAO] == "http://localhost:3000"
    collector = client.get(f"/acme/CP001/{uuid.uuid4()}", headers={
        "Origin": "http://localhost:3000"})
    assert cors_headers(collector) == {}


@pytest.mark.parametrize("path", ["/ledger/v1/consents", "/ledger/v1/veriff/integrations/x",
                                  "/ledger/v1/webhooks", "/v/some-session-token", "/docs",
                                  "/openapi.json", "/healthz"])
def test_no_cors_on_pages_nor_the_operator_api(client, org, path):
    assert cors_headers(preflight(client, path, "http://localhost:3000", method="GET")) == {}
    response = client.get(path, headers={"Origin": "http://localhost:3000", **org.headers()})
    assert cors_headers(response) == {}


def test_configured_origins(database_url):
    app = create_app({"TESTING": True, "CONSENT_DATABASE_URL": database_url,
                      "CONSENT_SECRET_KEY": "k",
                      "CONSENT_CORS_ORIGINS": "https://app.example.com, https://*.example.org"})
    client = app.test_client()
    allowed = ["https://app.example.com", "https://a.example.org", "https://a.b.example.org"]
    refused = ["http://localhost:3000", "https://app.example.com:8443", "https://example.org",
               "https://evilexample.org", "https://app.example.com.evil.net"]
    for origin in allowed:
        assert preflight(client, "/v1/sessions", origin).headers.get(ACAO) == origin, origin
    for origin in refused:
        assert ACAO not in preflight(client, "/v1/sessions", origin).headers, origin


def test_any_origin(database_url):
    app = create_app({"TESTING": True, "CONSENT_DATABASE_URL": database_url,
                      "CONSENT_SECRET_KEY": "k", "CONSENT_CORS_ORIGINS": "*"})
    response = preflight(app.test_client(), "/v1/sessions", "https://anywhere.example")
    assert response.headers[ACAO] == "https://anywhere.example"


@pytest.mark.parametrize("setting", ["http://localhost*", "localhost:3000", "javascript:x",
                                     "https://app.example.com/path", "https://a b.com"])
def test_malformed_sources_fail_at_startup(database_url, setting):
    with pytest.raises(ValueError, match="not an origin source"):
        create_app({"TESTING": True, "CONSENT_DATABASE_URL": database_url,
                    "CONSENT_SECRET_KEY": "k", "CONSENT_CORS_ORIGINS": setting})


@pytest.mark.parametrize("setting", ["https://a.com; script-src *", "'unsafe-inline'",
                                     "https://a.com,data:"])
def test_frame_ancestors_refuse_what_could_break_out(setting):
    with pytest.raises(ValueError):
        frame_ancestors(setting)


def test_source_forms():
    [pattern] = origin_patterns("http://localhost:*")
    assert pattern.match("http://localhost") and pattern.match("http://localhost:5000")
    assert not pattern.match("http://localhost:5000.evil.com")
    assert not pattern.match("http://localhost.evil.com")
    assert origin_patterns("") == []
    assert frame_ancestors("'self'  https://a.example.com,http://127.0.0.1:*") == \
        "'self' https://a.example.com http://127.0.0.1:*"
    assert frame_ancestors("") == "'none'"
