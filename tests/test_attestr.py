"""The Attestr dialect at the HTTP level, as a client sees it: register with every documented
rule, Attestr's error table (status, code, message, exact bodies), authentication, IP allow-list,
rate limits (clock moved, no sleeping), credits, lifecycle (get, revoke, validity, single use),
data categories, other API versions, hostile input, and the operator's CLI and seed-demo."""
from __future__ import annotations

import base64
import datetime as dt
import json
import re

import pytest

from consent.core import auth, ledger, usage
from consent.core.storage import AuditEvent, Consent
from consent.dialects.attestr import clients, consents
from consent.dialects.attestr.models import AttestrClient, AttestrConsent
from tests.attestr_helpers import (  # noqa: F401  (fixtures)
    MALFORMED,
    Client,
    attestr,
    body,
    clock,
    iso,
    register,
)

REGISTER = "/api/v3/public/consent/register"


def error(status, code, message, details=None):
    out = {"httpStatusCode": status, "code": code, "message": message, "appError": status < 500}
    if details is not None:
        out["details"] = details
    return out


def written():
    return Consent.select().count(), AttestrConsent.select().count(), AuditEvent.select().count()


# -- register -------------------------------------------------------------------------------------

def test_register_the_documented_sample(client, org, attestr):
    r = register(client, attestr)
    assert r.status_code == 200
    assert set(r.json) == {"_id", "number"}
    assert re.fullmatch(r"CX[A-Za-z0-9_-]{16}", r.json["_id"])
    assert re.fullmatch(r"\d{4}-\d{6}-\d{4}", r.json["number"])
    row = AttestrConsent.get_by_id(r.json["_id"])
    consent = ledger.get_consent(org.org.id, row.consent_id)
    assert consent.subject == "USER#1234" and consent.status == "granted"
    assert consent.purpose == f"attestr:kyc_verification:{row.id}"
    assert consent.source == "attestr"
    assert consent.valid_until == row.valid_till and consent.valid_from == row.valid_from
    evidence = consent.evidence["attestr"]
    assert evidence["_id"] == row.id and evidence["number"] == r.json["number"]
    assert evidence["client"] == attestr.id and evidence["consentMode"] == "email_otp"
    assert usage.terms_of(consent.id) == usage.Terms(["VERIFY", "FETCH", "STORE", "REPORT"],
                                                     False)
    assert client.get("/ledger/v1/audit/verify", headers=org.headers()).json["ok"] is True


def test_numbers_and_ids_are_unique(client, attestr):
    answers = [register(client, attestr).json for _ in range(5)]
    assert len({a["_id"] for a in answers}) == len({a["number"] for a in answers}) == 5


@pytest.mark.parametrize("stamp,stored", [
    ("2026-05-22T00:00:00+0000", dt.datetime(2026, 5, 22)),
    ("2026-05-22T00:00:00Z", dt.datetime(2026, 5, 22)),
    ("2026-05-22T05:30:00+05:30", dt.datetime(2026, 5, 22)),
    ("2026-05-22T00:00:00.250Z", dt.datetime(2026, 5, 22, 0, 0, 0, 250000)),
    ("2026-05-22T00:00:00", dt.datetime(2026, 5, 22)),
])
def test_timestamps_as_documented_and_the_usual_iso_variants(client, attestr, stamp, stored):
    r = register(client, attestr, consentValidFrom=stamp,
                 consentValidTill="2099-01-01T00:00:00+0000")
    assert r.status_code == 200, r.json
    assert AttestrConsent.get_by_id(r.json["_id"]).valid_from == stored


def test_principal_is_optional(client, org, attestr):
    r = register(client, attestr, consentPrincipalUserId=None)
    row = AttestrConsent.get_by_id(r.json["_id"])
    assert ledger.get_consent(org.org.id, row.consent_id).subject == f"attestr-consent:{row.id}"


INVALID = [
    ({"consentPurpose": None}, "consentPurpose: Missing data for required field."),
    ({"consentPurpose": "marketing"}, "consentPurpose: Must be one of"),
    ({"consentType": "twice"}, "consentType: Must be one of"),
    ({"consentType": None}, "consentType: Missing data"),
    ({"consentMode": "telepathy"}, "consentMode: Must be one of"),
    ({"consentMode": None}, "consentMode: Missing data"),
    ({"consentOperations": []}, "consentOperations: Shorter than minimum length 1."),
    ({"consentOperations": ["DELETE"]}, "consentOperations.0: Must be one of"),
    ({"consentOperations": ["VERIFY", "VERIFY"]}, "consentOperations: must not repeat"),
    ({"consentOperations": None}, "consentOperations: Missing data"),
    ({"clientDeclaration": False}, "clientDeclaration: must be true"),
    ({"clientDeclaration": "true"}, "clientDeclaration: Not a valid boolean."),
    ({"clientDeclaration": None}, "clientDeclaration: Missing data"),
    ({"services": []}, "services: Length must be between 1 and 50."),
    ({"services": [{}]}, "services.0.service: Missing data"),
    ({"services": [{"service": "BANK_ACC"}, {"service": "BANK_ACC"}]},
     "services: must not repeat"),
    ({"services": None}, "services: Missing data"),
    ({"consentDataCategories": []}, "consentDataCategories: Length must be between 1 and 100."),
    ({"consentDataCategories": [{"category": "financial", "values": []}]},
     "consentDataCategories.0.values: Length must be between 1 and 100."),
    ({"consentDataCategories": [{"category": "financial"}]},
     "consentDataCategories.0.values: Missing data"),
    ({"consentDataCategories": [{"values": ["x"]}]},
     "consentDataCategories.0.category: Missing data"),
    ({"consentDataCategories": None}, "consentDataCategories: Missing data"),
    ({"consentValidFrom": "2026-05-23T12:07:00+0000",
      "consentValidTill": "2026-05-23T12:07:00+0000"},
     "consentValidTill: must be after consentValidFrom"),
    ({"consentValidFrom": "2026-05-24T00:00:00+0000",
      "consentValidTill": "2026-05-23T00:00:00+0000"},
     "consentValidTill: must be after consentValidFrom"),
    ({"consentValidFrom": "tomorrow"}, "consentValidFrom: Not a valid datetime."),
    ({"consentTimestamp": None}, "consentTimestamp: Missing data"),
    ({"consentValidFrom": None}, "consentValidFrom: Missing data"),
    ({"consentValidTill": None}, "consentValidTill: Missing data"),
    ({"consentReferenceId": None}, "consentReferenceId: Missing data"),
    ({"consentReferenceId": " "}, "consentReferenceId: must not be blank"),
    ({"webhook": "yes"}, "webhook: Not a valid boolean."),
    ({"clientPrivacyPolicyUrl": "not a url"}, "clientPrivacyPolicyUrl: Not a valid URL."),
    ({"surprise": 1}, "surprise: Unknown field."),
]


@pytest.mark.parametrize("change,details", INVALID)
def test_every_documented_rule_is_400_4001_naming_the_field(client, attestr, change, details):
    before = written()
    r = register(client, attestr, **change)
    assert r.status_code == 400
    assert {k: v for k, v in r.json.items() if k != "details"} == MALFORMED
    assert details in r.json["details"]
    assert written() == before


@pytest.mark.parametrize("categories, details", [
    ([{"category": "personal_information", "values": ["name"]},
      {"category": "health", "values": ["blood_group"]}],
     "consentDataCategories.1.category: 'health' is not a data category of the services of "
     "this consent (BANK_ACC)"),
    ([{"category": "financial", "values": ["ifsc", "credit_score"]}],
     "consentDataCategories.0.values.1: 'credit_score' is not a data type of financial for the "
     "services of this consent (BANK_ACC)"),
    # PAN's categories for a consent of BANK_ACC alone (the client is provisioned for both)
    ([{"category": "identity", "values": ["pan"]}],
     "consentDataCategories.0.category: 'identity' is not a data category of the services of "
     "this consent (BANK_ACC)"),
])
def test_data_categories_must_be_those_of_the_consents_services(client, attestr, categories,
                                                                 details):
    before = written()
    r = register(client, attestr, consentDataCategories=categories)
    assert r.status_code == 400
    assert r.json == error(400, 4001, "Malformed data or missing required parameter values",
                           details)
    assert written() == before


def test_data_categories_of_every_service_of_the_consent_are_accepted(client, attestr):
    r = register(client, attestr, services=[{"service": "BANK_ACC"}, {"service": "PAN"}],
                 consentDataCategories=[
                     {"category": "identity", "values": ["pan"]},
                     {"category": "personal_information", "values": ["dob", "father_name"]},
                     {"category": "financial", "values": ["ifsc"]}])
    assert r.status_code == 200, r.json


def test_a_service_outside_the_catalogue_has_no_data_categories(client, org):
    c = Client(org.org, services=("IN_HOUSE_CHECK",))
    r = register(client, c, services=[{"service": "IN_HOUSE_CHECK"}])
    assert r.status_code == 400 and r.json["code"] == 4001
    assert r.json["details"].startswith("consentDataCategories.0.category: "
                                        "'personal_information' is not a data category")


def test_a_service_not_provisioned_is_403_4035(client, attestr):
    before = written()
    r = register(client, attestr, services=[{"service": "BANK_ACC"}, {"service": "PASSPORT"}])
    assert r.status_code == 403
    assert r.json == error(403, 4035, "Requested service is not provisioned for your account",
                           "Not provisioned for this client: PASSPORT")
    assert written() == before


def test_the_same_reference_and_body_returns_the_same_consent(client, attestr):
    sent = body()
    first = client.post(REGISTER, json=sent, headers=attestr.headers())
    before = written()
    again = client.post(REGISTER, json=sent, headers=attestr.headers())
    assert again.status_code == 200 and again.json == first.json
    assert written() == before
    # the same moments written another way are the same body
    same = {**sent, "consentValidFrom": sent["consentValidFrom"].replace("+0000", "Z")}
    assert client.post(REGISTER, json=same, headers=attestr.headers()).json == first.json


def test_the_same_reference_with_another_body_is_400_4001(client, attestr):
    sent = body()
    first = client.post(REGISTER, json=sent, headers=attestr.headers()).json
    r = client.post(REGISTER, json={**sent, "consentMode": "ivr"}, headers=attestr.headers())
    assert r.status_code == 400
    assert r.json == {**MALFORMED, "details": (
        f"consentReferenceId {sent['consentReferenceId']!r} is already registered "
        f"(consent {first['_id']}) with a different body")}


def test_references_are_per_client(client, org, attestr):
    other = Client(org.org)
    sent = body()
    a = client.post(REGISTER, json=sent, headers=attestr.headers()).json
    b = client.post(REGISTER, json=sent, headers=other.headers()).json
    assert a["_id"] != b["_id"]


def test_credits_are_spent_one_per_consent_then_400_4005(client, org):
    limited = Client(org.org, credits=2)
    sent = body()
    assert client.post(REGISTER, json=sent, headers=limited.headers()).status_code == 200
    assert register(client, limited).status_code == 200
    before = written()
    r = register(client, limited)
    assert r.status_code == 400
    assert r.json == error(400, 4005, "Operation could not be performed due to low credits "
                                      "balance")
    assert written() == before
    # a repeat spends nothing
    assert client.post(REGISTER, json=sent, headers=limited.headers()).status_code == 200
    assert AttestrClient.get_by_id(limited.id).credits == 0


# -- authentication, allow-list, rate limits ----------------------------------------------------------

INVALID_CLIENT = error(401, 4016, "Invalid client authorization")


@pytest.mark.parametrize("header", [
    None, "Basic", "Basic !!!not-base64!!!", "Bearer abc",
    "Basic " + base64.b64encode(b"cl_unknown:bt_wrong").decode(),
    "Basic " + base64.b64encode(b"no-colon").decode(),
])
def test_bad_authorization_is_401_4016(client, attestr, header):
    headers = {"Authorization": header} if header else {}
    r = client.post(REGISTER, json=body(), headers=headers)
    assert r.status_code == 401 and r.json == INVALID_CLIENT


def test_a_wrong_secret_or_a_revoked_client_is_401(client, org, attestr):
    key = attestr.issued.client_key
    forged = base64.b64encode(f"{key}:bt_{'x' * 43}".encode()).decode()
    assert client.post(REGISTER, json=body(), headers={"Authorization": f"Basic {forged}"}
                       ).status_code == 401
    other = Client(org.org)
    swapped = base64.b64encode(f"{key}:{other.issued.client_secret}".encode()).decode()
    assert client.post(REGISTER, json=body(), headers={"Authorization": f"Basic {swapped}"}
                       ).status_code == 401
    auth.revoke_credential(org.org.id, attestr.id)
    r = register(client, attestr)
    assert r.status_code == 401 and r.json == INVALID_CLIENT


def test_a_basic_credential_without_attestr_settings_is_403_4031(client, org):
    issued = auth.create_credential(org.org.id, kind="basic")
    token = clients.auth_token(issued.credential.client_id, issued.key)
    r = client.post(REGISTER, json=body(), headers={"Authorization": f"Basic {token}"})
    assert r.status_code == 403 and r.json == error(403, 4031, "Unauthorized access")


def test_ip_allow_list_is_403_4039_and_forwarded_for_is_not_trusted(client, org):
    walled = Client(org.org, ip_allowlist=["10.0.0.0/8", "2001:db8::1"])
    r = register(client, walled)
    assert r.status_code == 403
    assert r.json == error(403, 4039, "Client's IP address is not whitelisted")
    spoofed = client.post(REGISTER, json=body(), headers=walled.headers(
        **{"X-Forwarded-For": "10.1.2.3"}))
    assert spoofed.status_code == 403
    for address in ("10.1.2.3", "2001:db8::1"):
        ok = client.post(REGISTER, json=body(), headers=walled.headers(),
                         environ_base={"REMOTE_ADDR": address})
        assert ok.status_code == 200, address


def test_account_rate_per_second_is_429_4291_until_the_next_second(client, org, clock):
    limited = Client(org.org, account_per_second=2)
    assert register(client, limited).status_code == 200
    consent_id = AttestrConsent.get().id
    assert client.get(f"/api/v3/public/consent/{consent_id}",
                      headers=limited.headers()).status_code == 200
    r = register(client, limited)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert r.json == error(429, 4291, "Maximum account rate limit exceeded")
    clock.advance(seconds=1)
    assert register(client, limited).status_code == 200


def test_api_rate_per_second_is_429_4292_for_that_api_only(client, org, clock):
    limited = Client(org.org, api_per_second=1)
    first = register(client, limited).json
    r = register(client, limited)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert r.json == error(429, 4292, "Maximum API rate limit exceeded")
    assert client.get(f"/api/v3/public/consent/{first['_id']}",
                      headers=limited.headers()).status_code == 200


def test_daily_limits_are_429_4293_and_4294_until_midnight_utc(client, org, clock):
    clock.at = clock.at.replace(hour=23, minute=59, second=0)
    account = Client(org.org, account_per_day=2)
    assert register(client, account).status_code == 200
    clock.advance(seconds=5)
    assert register(client, account).status_code == 200
    r = register(client, account)
    assert r.status_code == 429 and r.headers["Retry-After"] == "55"
    assert r.json == error(429, 4293, "Maximum account daily limit exceeded")
    api = Client(org.org, api_per_day=1)
    consent_id = register(client, api).json["_id"]
    r = register(client, api)
    assert r.json == error(429, 4294, "Maximum API daily limit exceeded")
    assert client.get(f"/api/v3/public/consent/{consent_id}",
                      headers=api.headers()).status_code == 200
    clock.advance(minutes=1)   # a new UTC day
    assert register(client, account).status_code == 200
    assert register(client, api).status_code == 200


def test_a_refused_request_counts_in_no_window(client, org, clock):
    limited = Client(org.org, account_per_second=3, api_per_second=1)
    consent_id = register(client, limited).json["_id"]                 # account: 1
    for _ in range(6):   # over the API limit: refused, and counted for the account neither
        assert register(client, limited).json["code"] == 4292
    assert client.get(f"/api/v3/public/consent/{consent_id}",
                      headers=limited.headers()).status_code == 200     # account: 2
    assert client.post("/api/v3/public/consent/data-categories", headers=limited.headers(),
                       json={"type": "kyc_verification", "services": [{"service": "PAN"}]}
                       ).status_code == 200                             # account: 3
    r = client.post(f"/api/v3/public/consent/{consent_id}/revoke", headers=limited.headers())
    assert r.json["code"] == 4291


# -- lifecycle ------------------------------------------------------------------------------------------

def get(client, attestr_client, consent_id):
    return client.get(f"/api/v3/public/consent/{consent_id}", headers=attestr_client.headers())


def test_get_answers_status_and_the_data_as_provided(client, attestr):
    sent = body(consentPurposeDesc="KYC for a bank account", webhook=False)
    consent_id = client.post(REGISTER, json=sent, headers=attestr.headers()).json["_id"]
    r = get(client, attestr, consent_id)
    assert r.status_code == 200
    assert set(r.json) == {"_id", "number", "requestId", "status", "data"}
    assert r.json["_id"] == consent_id and r.json["status"] == "active"
    assert r.json["data"] == sent
    assert re.fullmatch(r"[0-9a-f]{32}", r.json["requestId"])
    assert get(client, attestr, consent_id).json["requestId"] != r.json["requestId"]


def test_validity_pending_active_expired(client, attestr, clock):
    start = clock.at + dt.timedelta(minutes=10)
    consent_id = register(client, attestr, consentValidFrom=iso(start),
                          consentValidTill=iso(start + dt.timedelta(minutes=2))).json["_id"]
    assert get(client, attestr, consent_id).json["status"] == "pending"
    clock.advance(minutes=10)
    assert get(client, attestr, consent_id).json["status"] == "active"
    clock.advance(minutes=2)
    assert get(client, attestr, consent_id).json["status"] == "expired"


def test_unknown_consent_is_400_4001_and_other_tenants_never_see_it(client, org, other_org,
                                                                    attestr):
    consent_id = register(client, attestr).json["_id"]
    r = get(client, attestr, "CXnope")
    assert r.status_code == 400
    assert r.json == {**MALFORMED, "details": "No consent with _id 'CXnope'"}
    outsider = Client(other_org.org)
    assert get(client, outsider, consent_id).json == {
        **MALFORMED, "details": f"No consent with _id {consent_id!r}"}
    assert client.post(f"/api/v3/public/consent/{consent_id}/revoke",
                       headers=outsider.headers()).status_code == 400
    colleague = Client(org.org)   # another app of the same account
    assert get(client, colleague, consent_id).status_code == 200


def test_revoke_withdraws_in_the_ledger_with_an_audit_event(client, org, attestr):
    consent_id = register(client, attestr).json["_id"]
    row = AttestrConsent.get_by_id(consent_id)
    r = client.post(f"/api/v3/public/consent/{consent_id}/revoke", headers=attestr.headers())
    assert r.status_code == 200
    assert r.json == {"_id": consent_id, "number": row.number, "status": "revoked"}
    assert get(client, attestr, consent_id).json["status"] == "revoked"
    latest = ledger.latest_consent(org.org.id, "USER#1234", f"attestr:kyc_verification:{row.id}")
    assert latest.status == "withdrawn" and latest.supersedes == row.consent_id
    assert latest.source == "attestr"
    recorded = AuditEvent.get(AuditEvent.entity_id == latest.id)
    assert recorded.action == "consent.recorded" and recorded.payload["status"] == "withdrawn"
    answer = client.post("/ledger/v1/checks", json={"consent_id": row.consent_id,
                                                    "operation": "VERIFY"},
                         headers=org.headers()).json
    assert answer["allowed"] is False and answer["reason"] == "withdrawn"
    before = written()
    again = client.post(f"/api/v3/public/consent/{consent_id}/revoke", json={},
                        headers=attestr.headers())
    assert again.status_code == 200 and again.json["status"] == "revoked"
    assert written() == before
    assert client.post(f"/api/v3/public/consent/{consent_id}/revoke", json={"x": 1},
                       headers=attestr.headers()).status_code == 400


def test_a_withdrawal_through_the_ledger_api_shows_as_revoked(client, org, attestr):
    consent_id = register(client, attestr).json["_id"]
    row = AttestrConsent.get_by_id(consent_id)
    assert client.post(f"/ledger/v1/consents/{row.consent_id}/withdraw",
                       headers=org.headers()).status_code == 201
    assert get(client, attestr, consent_id).json["status"] == "revoked"


def test_single_use_is_consumed_by_its_first_use(client, org, attestr):
    consent_id = register(client, attestr, consentType="single_use").json["_id"]
    ledger_id = AttestrConsent.get_by_id(consent_id).consent_id

    def use(operation):
        return client.post("/ledger/v1/checks", json={"consent_id": ledger_id,
                                                      "operation": operation, "use": True},
                           headers=org.headers()).json

    refused = use("SHARE")
    assert refused["allowed"] is False and refused["reason"] == "operation_not_granted"
    assert get(client, attestr, consent_id).json["status"] == "active"
    assert use("VERIFY")["allowed"] is True
    assert get(client, attestr, consent_id).json["status"] == "consumed"
    again = use("FETCH")
    assert again["allowed"] is False and again["reason"] == "already_used"


def test_a_multi_use_consent_stays_active_after_uses(client, org, attestr):
    consent_id = register(client, attestr).json["_id"]
    ledger_id = AttestrConsent.get_by_id(consent_id).consent_id
    for _ in range(2):
        assert client.post("/ledger/v1/checks", json={"consent_id": ledger_id,
                                                      "operation": "VERIFY", "use": True},
                           headers=org.headers()).json["allowed"] is True
    assert get(client, attestr, consent_id).json["status"] == "active"


# -- data categories ----------------------------------------------------------------------------------

def test_data_categories_for_services(client, org):
    c = Client(org.org, services=("BANK_ACC", "PAN", "IN_HOUSE_CHECK"))
    r = client.post("/api/v3/public/consent/data-categories", headers=c.headers(), json={
        "type": "kyc_verification", "services": [{"service": "BANK_ACC"}, {"service": "PAN"},
                                                 {"service": "IN_HOUSE_CHECK", "options": {}}]})
    assert r.status_code == 200
    assert r.json == {
        "type": "kyc_verification",
        "consentDataCategories": [
            {"category": "personal_information", "values": ["name", "father_name", "dob"]},
            {"category": "financial", "values": ["bank_account", "ifsc"]},
            {"category": "identity", "values": ["pan"]}],
        "services": [
            {"service": "BANK_ACC", "consentDataCategories": [
                {"category": "personal_information", "values": ["name", "father_name"]},
                {"category": "financial", "values": ["bank_account", "ifsc"]}]},
            {"service": "PAN", "consentDataCategories": [
                {"category": "identity", "values": ["pan"]},
                {"category": "personal_information", "values": ["name", "dob"]}]},
            {"service": "IN_HOUSE_CHECK", "consentDataCategories": []}]}


@pytest.mark.parametrize("sent,status,code", [
    ({"type": "kyc_verification", "services": [{"service": "PASSPORT"}]}, 403, 4035),
    ({"type": "marketing", "services": [{"service": "PAN"}]}, 400, 4001),
    ({"type": "kyc_verification", "services": []}, 400, 4001),
    ({"services": [{"service": "PAN"}]}, 400, 4001),
])
def test_data_categories_errors(client, attestr, sent, status, code):
    r = client.post("/api/v3/public/consent/data-categories", json=sent,
                    headers=attestr.headers())
    assert r.status_code == status and r.json["code"] == code


# -- versions and URLs --------------------------------------------------------------------------------

def test_another_api_version_is_a_clear_400(client, attestr):
    for path in ("/api/v2/public/consent/register", "/api/v1/public/consent/xyz"):
        r = client.post(path, json=body(), headers=attestr.headers())
        assert r.status_code == 400
        assert r.json == {**MALFORMED, "details": (
            f"API version {path.split('/')[2]} is not supported: use v3, the DPDPA-compliant "
            "version (/api/v3/public/...)")}
    r = client.post("/api/v2/public/consent/register", json=body())
    assert r.status_code == 401 and r.json == INVALID_CLIENT


def test_unknown_urls_and_methods_in_attestr_shape_after_auth(client, attestr):
    assert client.get("/api/v3/public/nothing").json == INVALID_CLIENT
    r = client.get("/api/v3/public/nothing", headers=attestr.headers())
    assert r.status_code == 404
    assert r.json == error(404, 4041, "Requested resource not found")
    r = client.delete("/api/v3/public/consent/register", headers=attestr.headers())
    assert r.status_code == 405 and r.json == error(405, 4051, "Method not allowed")
    assert "POST" in r.headers["Allow"]


def test_truconsent_urls_are_not_claimed(client, org):
    r = client.get("/api/v1/external/consents/history")
    assert "detail" in r.json


# -- hostile input, 413, 500 ----------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    "[" * 100 + "]" * 100,
    '{"consentReferenceId": ' + "9" * 5000 + "}",
    '{"consentReferenceId": "\\ud800"}',
    '{"consentReferenceId": NaN}',
    "not json",
])
def test_hostile_bodies_are_400_4001(client, attestr, raw):
    before = written()
    r = client.post(REGISTER, data=raw, content_type="application/json",
                    headers=attestr.headers())
    assert r.status_code == 400
    assert {k: v for k, v in r.json.items() if k != "details"} == MALFORMED
    assert written() == before


def test_a_moment_outside_the_database_range_is_400(client, attestr):
    r = register(client, attestr, consentValidFrom="0001-01-01T00:00:00+14:00")
    assert r.status_code == 400 and "consentValidFrom" in r.json["details"]
    huge = register(client, attestr, consentReferenceId=2 ** 64)
    assert huge.status_code == 400 and huge.json["code"] == 4001


def test_too_large_is_413_4131(client, attestr):
    r = client.post(REGISTER, data="x" * (1024 * 1024 + 1), content_type="application/json",
                    headers=attestr.headers())
    assert r.status_code == 413 and r.json == error(413, 4131, "Request body too large")


def test_an_unexpected_failure_is_500_5001_without_a_trace(client, attestr, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(consents, "register", broken)
    r = register(client, attestr)
    assert r.status_code == 500
    assert r.json == {"httpStatusCode": 500, "code": 5001,
                      "message": "Request could not be processed", "appError": False}


# -- operator --------------------------------------------------------------------------------------------

PAN_CATEGORIES = [{"category": "identity", "values": ["pan"]},
                  {"category": "personal_information", "values": ["name", "dob"]}]


def test_seed_demo_gives_a_working_client(app, client, runner):
    out = json.loads(runner.invoke(args=["seed-demo", "--json"]).output)
    demo = out["attestr"]
    assert demo["services"] == ["BANK_ACC", "PAN"]
    assert demo["authorization"] == f"Basic {demo['auth_token']}"
    assert base64.b64decode(demo["auth_token"]).decode().startswith(demo["client_id"] + ":")
    r = client.post(REGISTER, json=body(services=[{"service": "PAN"}], consentDataCategories=PAN_CATEGORIES),
                    headers={"Authorization": demo["authorization"]})
    assert r.status_code == 200


def test_cli_creates_updates_and_lists_clients(app, client, runner, org):
    made = runner.invoke(args=["attestr", "client-create", "--org", "acme", "--service",
                               "BANK_ACC", "--ip", "127.0.0.1", "--credits", "1",
                               "--webhook-url", "http://127.0.0.1:9/hook"])
    assert made.exit_code == 0, made.output
    issued = json.loads(made.output)
    assert issued["webhook_token"] and issued["services"] == ["BANK_ACC"]
    headers = {"Authorization": f"Basic {issued['auth_token']}"}
    assert client.post(REGISTER, json=body(), headers=headers).status_code == 200
    assert client.post(REGISTER, json=body(), headers=headers).json["code"] == 4005
    updated = runner.invoke(args=["attestr", "client-update", "--org", "acme",
                                  issued["credential_id"], "--no-credits", "--service", "PAN",
                                  "--ip", "10.0.0.1"])
    assert updated.exit_code == 0, updated.output
    settings = json.loads(updated.output)
    assert settings["credits"] is None and settings["services"] == ["PAN"]
    assert client.post(REGISTER, json=body(), headers=headers).json["code"] == 4039
    runner.invoke(args=["attestr", "client-update", "--org", "acme", issued["credential_id"],
                        "--any-ip"])
    assert client.post(REGISTER, json=body(services=[{"service": "PAN"}], consentDataCategories=PAN_CATEGORIES),
                       headers=headers).status_code == 200
    listed = [json.loads(line) for line in runner.invoke(
        args=["attestr", "client-list", "--org", "acme"]).output.splitlines()]
    assert [c["credential_id"] for c in listed] == [issued["credential_id"]]
    assert "webhook_token" not in listed[0]
    bad = runner.invoke(args=["attestr", "client-create", "--org", "acme", "--ip", "nope"])
    assert bad.exit_code == 1 and "not an IP address" in bad.output
    unknown = runner.invoke(args=["attestr", "client-update", "--org", "acme", "nope"])
    assert unknown.exit_code == 1


# -- OpenAPI ------------------------------------------------------------------------------------------

def test_every_attestr_operation_is_documented_in_attestrs_shape(client):
    spec = client.get("/openapi.json").json
    operations = {(m, p): op for p, item in spec["paths"].items() if p.startswith("/api/v3/")
                  for m, op in item.items() if m in ("get", "post")}
    assert set(operations) == {
        ("post", "/api/v3/public/consent/register"),
        ("post", "/api/v3/public/consent/data-categories"),
        ("get", "/api/v3/public/consent/{consent_id}"),
        ("post", "/api/v3/public/consent/{consent_id}/revoke"),
        ("post", "/api/v3/public/consent/{consent_id}/export"),
        ("get", "/api/v3/public/common/async/{async_id}"),
        ("get", "/api/v3/public/common/media/{media_id}")}
    for (method, path), op in operations.items():
        assert op["security"] == [{"AttestrAuthToken": []}]
        for status in ("400", "401", "403", "429", "500"):
            schema = op["responses"][status]["content"]["application/json"]["schema"]
            assert schema["$ref"].endswith("/AttestrError"), (method, path, status)
        assert "422" not in op["responses"]
    register_op = operations[("post", "/api/v3/public/consent/register")]
    assert register_op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/AttestrRegister")
    error = spec["components"]["schemas"]["AttestrError"]
    assert set(error["properties"]) == {"httpStatusCode", "code", "message", "appError",
                                        "details"}
