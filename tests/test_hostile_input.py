"""Crafted input is ordinary input: deep nesting, huge integers, lone surrogates, extreme dates,
NaN/Infinity, and query integers beyond 64 bits each get a 4xx in the owning dialect's own
shape (the contract client checks the shape against /openapi.json), never a 5xx, and nothing is
written. Responses are strict JSON."""
from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from consent.core.storage import AuditEvent, Consent
from consent.dialects.veriff.service import create_integration
from tests.truconsent_helpers import make_cp

DEEP = b'{"subject": ' + b"[" * 10000 + b"]" * 10000 + b"}"
DEEPISH = b'{"subject": "s", "purpose": "p", "status": "granted", "evidence": ' + \
    b'{"a": ' * 100 + b"1" + b"}" * 100 + b"}"
HUGE_INT = b'{"subject": ' + b"7" * 5000 + b', "purpose": "p", "status": "granted"}'
BIG_INT = b'{"subject": "s", "purpose": "p", "status": "granted", "evidence": {"n": ' + \
    str(2 ** 64).encode() + b"}}"
SURROGATE = b'{"subject": "\\ud800", "purpose": "p", "status": "granted"}'
SURROGATE_KEY = b'{"subject": "s", "purpose": "p", "status": "granted", "evidence": ' \
    b'{"\\udc00": 1}}'
NAN = b'{"subject": "s", "purpose": "p", "status": "granted", "evidence": {"x": NaN}}'
INFINITY = b'{"subject": "s", "purpose": "p", "status": "granted", "evidence": {"x": -Infinity}}'
OVERFLOW_FLOAT = b'{"subject": "s", "purpose": "p", "status": "granted", "evidence": ' \
    b'{"x": 1e400}}'
NOT_UTF8 = b'{"subject": "\xff\xfe", "purpose": "p", "status": "granted"}'
BODIES = {"deep": DEEP, "deepish": DEEPISH, "huge_int": HUGE_INT, "big_int": BIG_INT,
          "surrogate": SURROGATE, "surrogate_key": SURROGATE_KEY, "nan": NAN,
          "infinity": INFINITY, "overflow_float": OVERFLOW_FLOAT, "not_utf8": NOT_UTF8}
YEAR_ONE = "0001-01-01T00:00:00+14:00"
YEAR_MAX = "9999-12-31T23:59:59-14:00"
BEYOND_64 = str(2 ** 63)


def nothing_written(before):
    assert (Consent.select().count(), AuditEvent.select().count()) == before


def counts():
    return Consent.select().count(), AuditEvent.select().count()


def strict_json(response):
    """The body parses with a strict parser (no NaN, no Infinity)."""
    def refuse(name):
        raise AssertionError(f"{name} in a response")

    return json.loads(response.get_data(as_text=True), parse_constant=refuse)


# -- ledger -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(BODIES))
def test_ledger_post_bodies(client, org, name):
    before = counts()
    r = client.post("/ledger/v1/consents", data=BODIES[name],
                    headers=org.headers(**{"Content-Type": "application/json"}))
    assert r.status_code in (400, 422), (name, r.status_code, r.data[:200])
    body = strict_json(r)
    assert body["code"] == r.status_code and body["message"]
    nothing_written(before)


# People's rights: each body the routes take, made hostile. Nothing is written: no request,
# no event, no retention policy.
RIGHTS_ROUTES = {
    "erasure": ("POST", "/ledger/v1/subjects/s/erasure", b'{"reason": %s}'),
    "request": ("POST", "/ledger/v1/rights-requests",
                b'{"kind": "erasure", "subject": "s", "reason": "r", "metadata": {"x": %s}}'),
    "retention": ("PUT", "/ledger/v1/retention", b'{"subject_days": %s, "evidence_days": null}'),
}
RIGHTS_VALUES = {"deep": b"[" * 10000 + b"]" * 10000, "huge_int": b"7" * 5000,
                 "surrogate": b'"\\ud800"', "nan": b"NaN", "infinity": b"-Infinity",
                 "year_one": f'"{YEAR_ONE}"'.encode(), "big_int": str(2 ** 64).encode()}


@pytest.mark.parametrize("route", sorted(RIGHTS_ROUTES))
@pytest.mark.parametrize("value", sorted(RIGHTS_VALUES))
def test_rights_routes_refuse_hostile_bodies(client, org, route, value):
    from consent.core.storage import RetentionPolicy, RightsRequest

    method, path, template = RIGHTS_ROUTES[route]
    body = template % RIGHTS_VALUES[value]
    before = (counts(), RightsRequest.select().count(), RetentionPolicy.select().count())
    r = client.open(path, method=method, data=body,
                    headers=org.headers(**{"Content-Type": "application/json"}))
    if value == "year_one" and route != "retention":
        # a date at the edge of the calendar in a free-text field is text: taken as it is
        assert r.status_code in (200, 201), (route, value, r.status_code)
        return
    assert r.status_code in (400, 422), (route, value, r.status_code, r.data[:200])
    body = strict_json(r)
    assert body["code"] == r.status_code and body["message"]
    assert (counts(), RightsRequest.select().count(),
            RetentionPolicy.select().count()) == before


@pytest.mark.parametrize("query", [f"limit={BEYOND_64}", "limit=" + "9" * 5000, "limit=NaN",
                                   "overdue=maybe"])
def test_rights_requests_query_refused(client, org, query):
    r = client.get(f"/ledger/v1/rights-requests?{query}", headers=org.headers())
    assert r.status_code == 422 and strict_json(r)["errors"]["query"]


@pytest.mark.parametrize("when", [YEAR_ONE, YEAR_MAX])
def test_ledger_extreme_dates(client, org, when):
    before = counts()
    for field in ("valid_from", "valid_until"):
        r = client.post("/ledger/v1/consents", headers=org.headers(), json={
            "subject": "s", "purpose": "p", "status": "granted", field: when})
        assert r.status_code == 422, r.json
        assert r.json["errors"]["json"][field]
    for param in ("from", "to"):
        r = client.get(f"/ledger/v1/consents?{param}={when}", headers=org.headers())
        assert r.status_code == 422 and r.json["errors"]["query"][param]
    r = client.get(f"/ledger/v1/audit?since={when}", headers=org.headers())
    assert r.status_code == 422
    nothing_written(before)


@pytest.mark.parametrize("query", [
    f"limit={BEYOND_64}", f"limit=-{BEYOND_64}0", "limit=" + "9" * 5000,
])
def test_ledger_list_query_integers(client, org, query):
    r = client.get(f"/ledger/v1/consents?{query}", headers=org.headers())
    assert r.status_code == 422 and r.json["errors"]["query"]["limit"]


@pytest.mark.parametrize("query", [f"from_seq={BEYOND_64}", f"to_seq={BEYOND_64}",
                                   "from_seq=" + "1" * 5000])
def test_ledger_audit_query_integers(client, org, query):
    r = client.get(f"/ledger/v1/audit?{query}", headers=org.headers())
    assert r.status_code == 422 and r.json["code"] == 422


@pytest.mark.parametrize("seq", [str(2 ** 63), str(2 ** 70), "0", "-1", "1" * 30])
def test_ledger_cursor_beyond_64_bits(client, org, seq):
    import base64

    cursor = base64.urlsafe_b64encode(f"c:{seq}".encode()).decode().rstrip("=")
    r = client.get(f"/ledger/v1/consents?cursor={cursor}", headers=org.headers())
    assert r.status_code == 422 and r.json["errors"]["query"]["cursor"]


def test_evidence_within_limits_round_trips_as_strict_json(client, org):
    evidence = {"n": 2 ** 62, "f": 1.5e300, "deep": {"a": {"b": {"c": [1, 2, {"d": None}]}}},
                "text": "emoji 😀 and ümlauts"}
    r = client.post("/ledger/v1/consents", headers=org.headers(), json={
        "subject": "s", "purpose": "p", "status": "granted", "evidence": evidence})
    assert r.status_code == 201 and strict_json(r)["evidence"] == evidence
    exported = client.get("/ledger/v1/export", headers=org.headers()).get_data(as_text=True)
    assert json.loads(exported.splitlines()[0], parse_constant=lambda c: 1 / 0)["evidence"] == \
        evidence


# -- truConsent -------------------------------------------------------------------------------------

TRUCONSENT_BODIES = {
    "deep": b'{"userId": ' + b"[" * 10000 + b"]" * 10000 + b"}",
    "huge_int": b'{"userId": "u", "action": "approved", "purposes": [{"id": ' + b"9" * 5000 +
                b"}]}",
    "surrogate": b'{"userId": "\\ud800", "action": "approved", "purposes": [{"id": "p"}]}',
    "nan": b'{"userId": "u", "action": "approved", "purposes": [{"id": "p"}], '
           b'"metadata": {"x": NaN}}',
    "infinity": b'{"userId": "u", "action": "approved", "purposes": [{"id": "p"}], '
                b'"metadata": {"x": Infinity}}',
    "not_utf8": b'{"userId": "\xff", "action": "approved", "purposes": [{"id": "p"}]}',
}


@pytest.mark.parametrize("name", sorted(TRUCONSENT_BODIES))
def test_truconsent_record_bodies(client, org, name):
    before = counts()
    r = client.post("/api/v1/external/consents/record", data=TRUCONSENT_BODIES[name],
                    headers=org.headers(org.consent_key, **{"Content-Type": "application/json"}))
    assert r.status_code == 422, (name, r.status_code, r.data[:200])
    detail = strict_json(r)["detail"]
    assert isinstance(detail, list) and detail[0]["type"] and detail[0]["loc"][0] == "body"
    nothing_written(before)


@pytest.mark.parametrize("when", [YEAR_ONE, YEAR_MAX])
def test_truconsent_extreme_dates(client, org, when):
    cpf = make_cp(org.org)
    before = counts()
    r = client.post("/api/consent/consent-links", headers=org.headers(org.consent_key), json={
        "collection_point_id": cpf.cp.id, "asset_id": cpf.asset.id, "phone": "9876543210",
        "data_collection_timestamp": when})
    assert r.status_code == 422
    assert r.json["detail"][0]["loc"] == ["body", "data_collection_timestamp"]
    r = client.get(f"/api/v1/external/consents/history?from={when}",
                   headers=org.headers(org.consent_key))
    assert r.status_code == 422 and r.json["detail"][0]["loc"] == ["query", "from"]
    nothing_written(before)


@pytest.mark.parametrize("query", [f"limit={BEYOND_64}", f"offset={BEYOND_64}",
                                   "offset=" + "9" * 5000])
def test_truconsent_query_integers(client, org, query):
    r = client.get(f"/api/v1/external/consents/history?{query}",
                   headers=org.headers(org.consent_key))
    assert r.status_code == 422 and r.json["detail"][0]["loc"][0] == "query"


def test_truconsent_link_expiry_hours_beyond_64_bits(client, org):
    """JSON integers beyond 64 bits are refused when the body is parsed (json_invalid)."""
    cpf = make_cp(org.org)
    raw = (b'{"collection_point_id": "CP001", "asset_id": "' + cpf.asset.id.encode() +
           b'", "phone": "9876543210", "expiry_hours": ' + BEYOND_64.encode() + b"}")
    r = client.post("/api/consent/consent-links", data=raw,
                    headers=org.headers(org.consent_key, **{"Content-Type": "application/json"}))
    assert (r.status_code, r.json) == (422, {"detail": [
        {"loc": ["body", 0], "msg": "JSON decode error", "type": "json_invalid"}]})
    # Within 64 bits, the field's own range answers.
    r = client.post("/api/consent/consent-links", headers=org.headers(org.consent_key), json={
        "collection_point_id": "CP001", "asset_id": cpf.asset.id, "phone": "9876543210",
        "expiry_hours": 2 ** 62})
    assert r.status_code == 422 and r.json["detail"][0]["loc"] == ["body", "expiry_hours"]


# -- Veriff -----------------------------------------------------------------------------------------

@pytest.fixture
def integration(org):
    return create_integration(org.org)


def _signed(integration, raw: bytes) -> dict:
    return {"X-AUTH-CLIENT": integration.key, "Content-Type": "application/json",
            "X-HMAC-SIGNATURE": hmac.new(integration.shared_secret.encode(), raw,
                                         hashlib.sha256).hexdigest()}


VERIFF_BODIES = {
    "deep": b'{"verification": ' + b"[" * 10000 + b"]" * 10000 + b"}",
    "huge_int": b'{"verification": {"vendorData": ' + b"1" * 5000 + b"}}",
    "surrogate": b'{"verification": {"vendorData": "\\ud800"}}',
    "nan": b'{"verification": {"vendorData": "v", "person": {"age": NaN}}}',
    "infinity": b'{"verification": {"vendorData": "v", "person": {"age": -Infinity}}}',
    "not_utf8": b'{"verification": {"vendorData": "\xff"}}',
}


@pytest.mark.parametrize("name", sorted(VERIFF_BODIES))
def test_veriff_session_bodies(client, integration, name):
    raw = VERIFF_BODIES[name]
    before = counts()
    r = client.post("/v1/sessions", data=raw, headers=_signed(integration, raw))
    assert r.status_code == 400, (name, r.status_code, r.data[:200])
    assert strict_json(r) == {"status": "fail", "code": "1101", "message": "Validation failed"}
    nothing_written(before)


def test_veriff_media_timestamp_year_one(client, integration):
    created = json.dumps({"verification": {"vendorData": "v"}}).encode()
    session_id = client.post("/v1/sessions", data=created,
                             headers=_signed(integration, created)).json["verification"]["id"]
    raw = json.dumps({"image": {"context": "document-front", "content": "aGVsbG8=",
                                "timestamp": YEAR_ONE}}).encode()
    r = client.post(f"/v1/sessions/{session_id}/media", data=raw,
                    headers=_signed(integration, raw))
    assert r.status_code == 400 and r.json["message"] == "Validation failed"
