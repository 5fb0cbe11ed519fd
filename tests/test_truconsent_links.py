"""POST /api/consent/consent-links and link management, with exact status codes and bodies."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from consent.core import ledger
from consent.core.storage import AuditEvent, Consent
from consent.dialects.truconsent.models import TcConsentRequest
from tests.truconsent_helpers import bearer, create_link, link_body, make_cp, move_clock

URL = "/api/consent/consent-links"
MISMATCH = ("Asset / Collection Point mismatch: the selected collection point does not belong to "
            "the specified asset. Please provide a valid Collection Point ID for the selected "
            "asset.")
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def cpf(org):
    return make_cp(org.org)


def post(client, body, headers):
    return client.post(URL, json=body, headers=headers)


# -- success --------------------------------------------------------------------------------------

def test_create_with_api_key(client, org, cpf):
    before = dt.datetime.now(dt.timezone.utc)
    resp = post(client, link_body(cpf), org.headers(org.consent_key))
    assert resp.status_code == 200
    body = resp.get_json()
    assert list(body) == ["request_id", "event_id", "consent_link", "expires_at",
                          "delivery_status"]
    assert body["delivery_status"] == {}
    assert re.fullmatch(rf"http://consent\.test/acme/CP001/{body['event_id']}\?t=[\w.\-]+",
                        body["consent_link"])
    assert re.fullmatch(UUID_RE, body["request_id"]) and re.fullmatch(UUID_RE, body["event_id"])
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert body["expires_at"].endswith("+00:00")
    assert dt.timedelta(hours=23, minutes=59) < expires - before <= dt.timedelta(hours=24,
                                                                                    seconds=5)
    actions = [e.action for e in AuditEvent.select().order_by(AuditEvent.seq)]
    assert actions[-1] == "truconsent.link.created"
    assert ledger.verify(org.org.id)["ok"]


def test_create_with_bearer_and_display_id_and_ten_digits(app, client, org, cpf):
    token = bearer(app, org.org)
    resp = post(client, link_body(cpf, collection_point_id="CP001", phone="9876543210",
                                  expiry_hours=2),
                {"Authorization": f"Bearer {token}", "X-Org-Id": "acme"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    req = TcConsentRequest.get_by_id(body["request_id"])
    assert req.phone == "+919876543210"
    assert req.expires_at - req.created_at == dt.timedelta(hours=2)


def test_create_with_admin_key_and_defaults(client, org, cpf):
    body = link_body(cpf)
    del body["expiry_hours"]
    resp = post(client, body, org.headers(org.admin_key))
    assert resp.status_code == 200
    req = TcConsentRequest.get_by_id(resp.get_json()["request_id"])
    assert req.expiry_hours == 24
    assert abs(req.data_collection_timestamp - req.created_at) < dt.timedelta(seconds=1)


# -- 400 ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("missing", ["phone", "collection_point_id"])
def test_400_phone_and_cp_required(client, org, cpf, missing):
    resp = post(client, link_body(cpf, **{missing: ...}), org.headers(org.consent_key))
    assert resp.status_code == 400
    assert resp.get_json() == {"detail": "Phone and Collection Point ID are required"}


def test_400_empty_phone(client, org, cpf):
    resp = post(client, link_body(cpf, phone=""), org.headers(org.consent_key))
    assert (resp.status_code, resp.get_json()) == (
        400, {"detail": "Phone and Collection Point ID are required"})


@pytest.mark.parametrize("phone", ["98765", "+91 98765 43210", "abcdefghij", "09876543210x",
                                   "+0123456789"])
def test_400_bad_phone(client, org, cpf, phone):
    resp = post(client, link_body(cpf, phone=phone), org.headers(org.consent_key))
    assert resp.status_code == 400
    assert resp.get_json() == {"detail": "Invalid phone number: use E.164 format (+919876543210) "
                                         "or a 10-digit number"}
    assert TcConsentRequest.select().count() == 0


@pytest.mark.parametrize("org_id", [None, "nope"])
def test_400_tenant_context_api_key(client, org, cpf, org_id):
    headers = {"X-API-Key": org.consent_key}
    if org_id:
        headers["X-Org-Id"] = org_id
    resp = post(client, link_body(cpf), headers)
    assert (resp.status_code, resp.get_json()) == (400, {"detail": "Tenant context not found"})


@pytest.mark.parametrize("org_id", [None, "nope"])
def test_400_tenant_context_bearer(app, client, org, cpf, org_id):
    headers = {"Authorization": f"Bearer {bearer(app, org.org)}"}
    if org_id:
        headers["X-Org-Id"] = org_id
    resp = post(client, link_body(cpf), headers)
    assert (resp.status_code, resp.get_json()) == (400, {"detail": "Tenant context not found"})


def test_400_asset_mismatch(client, org, cpf):
    other = make_cp(org.org, title="Other")
    resp = post(client, link_body(cpf, asset_id=other.asset.id), org.headers(org.consent_key))
    assert (resp.status_code, resp.get_json()) == (400, {"detail": MISMATCH})


# -- 401 / 403 ------------------------------------------------------------------------------------

def test_401_authorization_required(client, org, cpf):
    resp = post(client, link_body(cpf), {"X-Org-Id": "acme"})
    assert (resp.status_code, resp.get_json()) == (401, {"detail": "Authorization token required"})
    resp = post(client, link_body(cpf), {"X-Org-Id": "acme", "Authorization": "Basic abc"})
    assert (resp.status_code, resp.get_json()) == (401, {"detail": "Authorization token required"})


def test_401_invalid_bearer(app, client, org, cpf):
    token = bearer(app, org.org)
    resp = post(client, link_body(cpf), {"X-Org-Id": "acme",
                                         "Authorization": f"Bearer {token}x"})
    assert (resp.status_code, resp.get_json()) == (401, {"detail": "Invalid or expired auth token"})


def test_401_expired_bearer(app, client, org, cpf, monkeypatch):
    token = bearer(app, org.org)
    move_clock(monkeypatch, days=31)
    resp = post(client, link_body(cpf), {"X-Org-Id": "acme", "Authorization": f"Bearer {token}"})
    assert (resp.status_code, resp.get_json()) == (401, {"detail": "Invalid or expired auth token"})


def test_401_invalid_api_key(client, org, other_org, cpf):
    for key in ("ck_wrong", other_org.admin_key):
        resp = post(client, link_body(cpf), {"X-Org-Id": "acme", "X-API-Key": key})
        assert (resp.status_code, resp.get_json()) == (401,
                                                       {"detail": "Invalid or inactive API key"})


def test_401_revoked_api_key(client, org, cpf):
    from consent.core import auth

    cred = auth.find_credential(org.consent_key)
    auth.revoke_credential(org.org.id, cred.id)
    resp = post(client, link_body(cpf), org.headers(org.consent_key))
    assert (resp.status_code, resp.get_json()) == (401, {"detail": "Invalid or inactive API key"})


def test_403_key_without_consent_scope(client, org, cpf):
    from consent.core import auth

    key = auth.create_credential(org.org.id, kind="api_key", scopes=()).key
    resp = post(client, link_body(cpf), org.headers(key))
    assert (resp.status_code, resp.get_json()) == (
        403, {"detail": "API key does not have the 'consent' scope"})


def test_403_bearer_not_member(app, client, org, other_org, cpf):
    token = bearer(app, other_org.org, email="outsider@example.com")
    resp = post(client, link_body(cpf), {"X-Org-Id": "acme", "Authorization": f"Bearer {token}"})
    assert (resp.status_code, resp.get_json()) == (
        403, {"detail": "User is not a member of this organization in PropelAuth"})


# -- 404 / 422 ------------------------------------------------------------------------------------

@pytest.mark.parametrize("ref", ["CP999", "550e8400-e29b-41d4-a716-446655440000"])
def test_404_collection_point(client, org, cpf, ref):
    resp = post(client, link_body(cpf, collection_point_id=ref), org.headers(org.consent_key))
    assert (resp.status_code, resp.get_json()) == (404, {"detail": "Collection point not found"})


def test_404_collection_point_of_other_org(client, org, other_org, cpf):
    theirs = make_cp(other_org.org)
    resp = post(client, link_body(theirs), org.headers(org.consent_key))
    assert (resp.status_code, resp.get_json()) == (404, {"detail": "Collection point not found"})


def test_422_field_types(client, org, cpf):
    resp = post(client, link_body(cpf, expiry_hours="abc", phone=12345, asset_id="zzz"),
                org.headers(org.consent_key))
    assert resp.status_code == 422
    assert sorted(resp.get_json()["detail"], key=lambda d: d["loc"]) == [
        {"loc": ["body", "asset_id"], "msg": "Input should be a valid UUID",
         "type": "uuid_parsing"},
        {"loc": ["body", "expiry_hours"],
         "msg": "Input should be a valid integer, unable to parse string as an integer",
         "type": "int_parsing"},
        {"loc": ["body", "phone"], "msg": "Input should be a valid string",
         "type": "string_type"},
    ]


@pytest.mark.parametrize("hours,msg,kind", [
    (25, "Input should be less than or equal to 24", "less_than_equal"),
    (0, "Input should be greater than or equal to 1", "greater_than_equal"),
])
def test_422_expiry_hours_range(client, org, cpf, hours, msg, kind):
    resp = post(client, link_body(cpf, expiry_hours=hours), org.headers(org.consent_key))
    assert (resp.status_code, resp.get_json()) == (
        422, {"detail": [{"loc": ["body", "expiry_hours"], "msg": msg, "type": kind}]})


def test_422_missing_asset_and_bad_json(client, org, cpf):
    resp = post(client, link_body(cpf, asset_id=...), org.headers(org.consent_key))
    assert (resp.status_code, resp.get_json()) == (
        422, {"detail": [{"loc": ["body", "asset_id"], "msg": "Field required",
                          "type": "missing"}]})
    resp = client.post(URL, data="{nope", content_type="application/json",
                       headers=org.headers(org.consent_key))
    assert (resp.status_code, resp.get_json()) == (
        422, {"detail": [{"loc": ["body", 0], "msg": "JSON decode error",
                          "type": "json_invalid"}]})


def test_unknown_route_under_prefix_is_detail_404(client, org):
    resp = client.get("/api/consent/nothing-here", headers=org.headers(org.consent_key))
    assert (resp.status_code, resp.get_json()) == (404, {"detail": "Not Found"})
    resp = client.get("/api/v1/external/consents/nothing", headers=org.headers(org.consent_key))
    assert (resp.status_code, resp.get_json()) == (404, {"detail": "Not Found"})
    # Without a credential, nothing about which paths exist: 401 first.
    resp = client.get("/api/consent/nothing-here")
    assert (resp.status_code, resp.get_json()) == (401, {"detail": "Authorization token required"})
    resp = client.delete("/api/consent/consent-links", headers={"X-Org-Id": "acme",
                                                                "X-API-Key": "ck_wrong"})
    assert (resp.status_code, resp.get_json()) == (401, {"detail": "Invalid or inactive API key"})


# -- history --------------------------------------------------------------------------------------

def test_history(client, org, cpf):
    first = create_link(client, org, cpf)
    second = create_link(client, org, cpf, phone="+14155550123")
    resp = client.get(URL + "/history?limit=1&offset=0", headers=org.headers(org.consent_key))
    assert resp.status_code == 200
    body = resp.get_json()
    assert (body["total"], body["limit"], body["offset"]) == (2, 1, 0)
    item = body["items"][0]
    req = TcConsentRequest.get_by_id(second["request_id"])
    assert item == {
        "request_id": second["request_id"], "event_id": second["event_id"],
        "phone": "+********123", "collection_point_id": cpf.cp.id,
        "collection_point_display_id": "CP001", "collection_point_title": "Sign-up",
        "asset_id": cpf.asset.id, "status": "active", "is_completed": False,
        "expires_at": second["expires_at"],
        "created_at": req.created_at.replace(tzinfo=dt.timezone.utc).isoformat(),
        "regeneration_count": 0, "consent_link": second["consent_link"]}
    resp = client.get(URL + "/history?limit=5&offset=1", headers=org.headers(org.consent_key))
    items = resp.get_json()["items"]
    assert [i["request_id"] for i in items] == [first["request_id"]]
    assert items[0]["phone"] == "+*********210"


def test_history_is_per_org_and_validates(client, org, other_org, cpf):
    create_link(client, org, cpf)
    resp = client.get(URL + "/history", headers=other_org.headers(other_org.consent_key))
    assert resp.get_json() == {"total": 0, "limit": 50, "offset": 0, "items": []}
    resp = client.get(URL + "/history?limit=x", headers=org.headers(org.consent_key))
    assert (resp.status_code, resp.get_json()) == (422, {"detail": [{
        "loc": ["query", "limit"],
        "msg": "Input should be a valid integer, unable to parse string as an integer",
        "type": "int_parsing"}]})
    resp = client.get(URL + "/history")
    assert (resp.status_code, resp.get_json()) == (401, {"detail": "Authorization token required"})


# -- status ---------------------------------------------------------------------------------------

def test_status_active_then_expired(client, org, cpf, monkeypatch):
    link = create_link(client, org, cpf, expiry_hours=1)
    resp = client.get(f"{URL}/status/{link['request_id']}", headers=org.headers())
    assert resp.status_code == 200
    body = resp.get_json()
    req = TcConsentRequest.get_by_id(link["request_id"])
    assert body == {
        "request_id": link["request_id"], "event_id": link["event_id"], "status": "active",
        "collection_point_id": cpf.cp.id, "collection_point_display_id": "CP001",
        "expires_at": link["expires_at"],
        "created_at": req.created_at.replace(tzinfo=dt.timezone.utc).isoformat(),
        "completed_at": None, "consent_action": None, "reference": None,
        "regeneration_count": 0, "consent_logs": []}
    move_clock(monkeypatch, hours=1, seconds=1)
    resp = client.get(f"{URL}/status/{link['request_id']}", headers=org.headers())
    assert resp.get_json()["status"] == "expired"


def test_status_404(client, org, other_org, cpf):
    link = create_link(client, org, cpf)
    for org_f, rid in ((org, "nope"), (other_org, link["request_id"])):
        resp = client.get(f"{URL}/status/{rid}", headers=org_f.headers())
        assert (resp.status_code, resp.get_json()) == (404,
                                                       {"detail": "Consent request not found"})


# -- regenerate -----------------------------------------------------------------------------------

def test_regenerate_flow(client, org, cpf, monkeypatch):
    link = create_link(client, org, cpf, expiry_hours=1)
    rid = link["request_id"]
    resp = client.post(f"{URL}/regenerate/{rid}", headers=org.headers())
    assert (resp.status_code, resp.get_json()) == (409, {"detail": "Consent link is still active"})
    previous = link["event_id"]
    for n in range(1, 6):
        move_clock(monkeypatch, hours=n * 1.01)
        resp = client.post(f"{URL}/regenerate/{rid}", headers=org.headers())
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
        assert list(body) == ["request_id", "event_id", "previous_event_id",
                              "regeneration_count", "consent_link", "expires_at"]
        assert body["request_id"] == rid
        assert body["previous_event_id"] == previous and body["event_id"] != previous
        assert body["regeneration_count"] == n
        assert body["consent_link"].startswith(f"http://consent.test/acme/CP001/"
                                               f"{body['event_id']}?t=")
        previous = body["event_id"]
    move_clock(monkeypatch, hours=7)
    resp = client.post(f"{URL}/regenerate/{rid}", headers=org.headers())
    assert (resp.status_code, resp.get_json()) == (
        429, {"detail": "Maximum regeneration limit (5) reached"})
    actions = [e.action for e in AuditEvent.select().where(
        AuditEvent.action == "truconsent.link.regenerated")]
    assert len(actions) == 5


@pytest.mark.tampered
def test_regenerate_404_and_410(client, org, cpf):
    resp = client.post(f"{URL}/regenerate/nope", headers=org.headers())
    assert (resp.status_code, resp.get_json()) == (404, {"detail": "Consent request not found"})
    link = create_link(client, org, cpf)
    TcConsentRequest.update(completed_at=TcConsentRequest.created_at).where(
        TcConsentRequest.id == link["request_id"]).execute()
    resp = client.post(f"{URL}/regenerate/{link['request_id']}", headers=org.headers())
    assert (resp.status_code, resp.get_json()) == (
        410, {"detail": "Consent already completed for this request"})
    assert Consent.select().count() == 0


def test_data_collection_timestamp(client, org, cpf):
    resp = post(client, link_body(cpf, data_collection_timestamp="2025-05-12T10:00:00+05:30"),
                org.headers(org.consent_key))
    req = TcConsentRequest.get_by_id(resp.get_json()["request_id"])
    assert req.data_collection_timestamp == dt.datetime(2025, 5, 12, 4, 30)
    resp = post(client, link_body(cpf, data_collection_timestamp="soon"),
                org.headers(org.consent_key))
    assert (resp.status_code, resp.get_json()) == (422, {"detail": [{
        "loc": ["body", "data_collection_timestamp"], "msg": "Input should be a valid datetime",
        "type": "datetime_parsing"}]})
