"""The OpenAPI document is valid, complete and true: every API route is in it, every operation
declares its request body, its success body and each error in its dialect's shape, and every
response the rest of the suite receives matches it (tests/openapi_contract.py)."""
from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from consent.web.dialect import registry
from tests.openapi_contract import check_response

# Operations that take no request body although their method usually has one.
NO_BODY = {("post", "/api/consent/consent-links/regenerate/{request_id}"),
           ("post", "/ledger/v1/webhooks/{delivery_id}/replay"),
           ("post", "/ledger/v1/audit/verifications"),
           ("post", "/ledger/v1/tokens/{token_id}/revoke"),
           ("post", "/ledger/v1/rights-requests/{request_id}/start"),
           ("post", "/ledger/v1/rights-requests/{request_id}/complete")}
UNSECURED = {"/healthz", "/readyz"}

# Public by design too: the WordPress plugin's account check (the webspace key it takes is a
# public site id; Avacy answers it without a credential).
UNSECURED |= {"/wp/validate/{tenant}/{webspace_key}"}
# <name>, <converter:name> or <converter(args):name> in a Werkzeug rule
RULE_ARGUMENT = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")


@pytest.fixture
def spec(client):
    return client.get("/openapi.json").json


def test_document_is_valid_openapi(spec):
    validate(spec)
    assert spec["openapi"].startswith("3.")


def test_every_api_route_is_documented(app, spec):
    dialects = registry(app)
    pages = set(dialects.page_owner) | {"docs", "api-docs"}
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".", 1)[0] in pages:
            continue
        path = RULE_ARGUMENT.sub(r"{\1}", rule.rule)
        documented = spec["paths"].get(path, {})
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if method.lower() not in documented:
                missing.append(f"{method} {path}")
    assert not missing, f"routes missing from /openapi.json: {missing}"


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, op


def _resolve(spec, node):
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = spec["components"]["schemas"][name]
    return node


def test_every_operation_declares_its_bodies_errors_and_security(app, spec):
    schemes = spec["components"]["securitySchemes"]
    problems = []
    for path, method, op in _operations(spec):
        where = f"{method.upper()} {path}"
        responses = op["responses"]
        successes = [s for s in responses if s.startswith("2")]
        if not successes:
            problems.append(f"{where}: no success response")
        for status in successes:
            content = responses[status].get("content")
            if not content or not any(c.get("schema") or media != "application/json"
                                      for media, c in content.items()):
                problems.append(f"{where}: {status} declares no body")
        if method in ("post", "put", "patch") and (method, path) not in NO_BODY:
            body = op.get("requestBody", {}).get("content", {})
            if not any(c.get("schema") for c in body.values()):
                problems.append(f"{where}: no request body schema")
        errors = [s for s in responses if s[0] in "45"]
        if "500" not in errors:
            problems.append(f"{where}: 500 undocumented")
        for status in errors:
            schema = responses[status].get("content", {}).get("application/json", {}).get(
                "schema")
            if not schema or not _resolve(spec, schema).get("properties"):
                problems.append(f"{where}: error {status} has no body schema")
        if path not in UNSECURED:
            if not op.get("security"):
                problems.append(f"{where}: no security requirement")
            for requirement in op.get("security", []):
                for name in requirement:
                    if name not in schemes:
                        problems.append(f"{where}: unknown security scheme {name}")
            if "401" not in responses:
                problems.append(f"{where}: 401 undocumented")
    assert not problems, "\n".join(problems)


def test_errors_are_documented_in_each_dialects_own_shape(spec):
    def error_props(path, method, status):
        schema = spec["paths"][path][method]["responses"][status]["content"][
            "application/json"]["schema"]
        return set(_resolve(spec, schema)["properties"])

    assert error_props("/ledger/v1/consents", "post", "401") == {"code", "status", "message",
                                                                  "errors"}
    assert error_props("/api/consent/consent-links", "post", "401") == {"detail"}
    assert error_props("/api/consent/consent-links", "post", "422") == {"detail"}
    assert error_props("/v1/sessions/{session_id}/consents", "post", "401") == {
        "status", "code", "message"}
    # Veriff's validation failures are 400, never flask-smorest's generic 422.
    veriff = spec["paths"]["/v1/sessions/{session_id}/consents"]["post"]["responses"]
    assert "400" in veriff and "422" not in veriff
    assert "default" not in veriff


def test_the_contract_check_catches_a_departure(app, client):
    """The suite-wide response check is live: a body outside the documented schema, or an
    undocumented status, fails."""
    good = client.get("/healthz")
    check_response(app, good)
    bad = app.response_class('{"state": 1}', status=200, mimetype="application/json")
    bad.request = good.request
    with pytest.raises(AssertionError, match="outside its OpenAPI description"):
        check_response(app, bad)
    teapot = app.response_class('{"status": "ok"}', status=418, mimetype="application/json")
    teapot.request = good.request
    with pytest.raises(AssertionError, match="outside its OpenAPI description"):
        check_response(app, teapot)


def test_docs_page_is_served_from_the_service(client):
    page = client.get("/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "cdn" not in html and "https://" not in html
    for asset in ("/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css"):
        assert asset in html
        assert client.get(asset).status_code == 200
