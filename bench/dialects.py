"""The scenarios ``make bench`` measures, built from ``seed-demo --json``: every hot write of
every dialect, and the ledger's state read."""
from __future__ import annotations

import hashlib
import hmac
import json

from .wrk import Scenario, counter_body


def writes(seed: dict) -> list[Scenario]:
    """Every dialect's hot write path (one scenario each)."""
    out = [ledger_record(seed)]
    if seed.get("veriff"):
        out.append(veriff_consent(seed["veriff"]))
    if seed.get("truconsent"):
        out.extend(truconsent(seed["truconsent"]))
    if seed.get("avacy"):
        out.append(avacy_consent(seed["avacy"]))
    if seed.get("attestr"):
        out.append(attestr_register(seed["attestr"]))
    return out


def ledger_record(seed: dict) -> Scenario:
    """A new subject each time, one decision."""
    template = '{"subject":"bench-{n}","purpose":"purpose-1","status":"granted",' \
               '"notice_version":"v1"}'
    return Scenario("ledger record POST", method="POST", path="/ledger/v1/consents",
                    headers={"X-Org-Id": "demo", "X-API-Key": seed["ledger"]["admin_api_key"],
                             "Content-Type": "application/json"},
                    body=template.replace("{n}", "0"), lua=counter_body(template),
                    expect_status=201)


def ledger_state(seed: dict, subjects: int, label: str) -> Scenario:
    """A random subject's current state."""
    lua = (f"math.randomseed(42)\nrequest = function()\n"
           f"  local path = '/ledger/v1/subjects/s' .. math.random(0, {subjects - 1}) .. '/state'\n"
           f"  return wrk.format('GET', path)\nend\n")
    return Scenario(f"state GET ({label})", path="/ledger/v1/subjects/s0/state", lua=lua,
                    headers={"X-Org-Id": "demo", "X-API-Key": seed["ledger"]["admin_api_key"]})


def veriff_consent(v: dict) -> Scenario:
    """A signed consent upload; the same bytes each time (every request records a new consent)."""
    body = json.dumps({"type": "bipa", "approved": True,
                       "text": "User agrees to biometric processing"})
    signature = hmac.new(v["shared_secret"].encode(), body.encode(), hashlib.sha256).hexdigest()
    return Scenario("veriff consent POST", method="POST",
                    path=f"/v1/sessions/{v['session_id']}/consents", body=body,
                    headers={"Content-Type": "application/json", "X-AUTH-CLIENT": v["api_key"],
                             "X-HMAC-SIGNATURE": signature})


def truconsent(t: dict) -> list[Scenario]:
    """Link creation (no email) and consent recording (two purposes, a new user each time)."""
    headers = {"X-Org-Id": t["org_id"], "X-API-Key": t["api_key"],
               "Content-Type": "application/json"}
    link = Scenario("truconsent link create POST", method="POST",
                    path="/api/consent/consent-links", headers=headers,
                    body=json.dumps({"collection_point_id": t["collection_point_display_id"],
                                     "asset_id": t["asset_id"], "phone": "+919876543210",
                                     "expiry_hours": 24}))
    template = ('{"userId":"bench-user-{n}","action":"approved","collectionPointId":"'
                + t["collection_point_display_id"] + '","purposes":[{"id":"p1"},{"id":"p2"}]}')
    record = Scenario("truconsent consent record POST", method="POST",
                      path="/api/v1/external/consents/record", headers=headers,
                      body=template.replace("{n}", "0"), lua=counter_body(template))
    return [link, record]


def avacy_consent(a: dict) -> Scenario:
    """Avacy's documented request: two preferences and two legal notices, the same person each
    time (every request adds an archive entry and two decisions)."""
    body = json.dumps({
        "subject": {"email": "test@email.it", "first_name": "Mario", "last_name": "Rossi",
                    "age": 33, "address": "Example Street 123"},
        "identifier": "email", "ip_address": "12.64.193.89", "proofs": "<html></html>",
        "legal_notices": [{"name": "privacy_policy"}, {"name": "cookie_policy"}],
        "preferences": [{"name": "newsletter", "accepted": True},
                        {"name": "updates", "accepted": True}]})
    return Scenario("avacy consent POST", method="POST",
                    path=f"/{a['tenant']}/domains_groups/{a['domains_group_id']}/consents",
                    body=body, expect_status=201,
                    headers={"Content-Type": "application/json", "Accept": "application/json",
                             "Authorization": f"Bearer {a['token']}"})


def attestr_register(a: dict) -> Scenario:
    """A consent registration; a new consentReferenceId each time (a repeated one would only
    answer the consent registered first)."""
    def body(reference: str) -> str:
        return json.dumps({
            "consentPurpose": "kyc_verification", "services": [{"service": a["services"][0]}],
            "consentTimestamp": "2026-05-22T00:00:00+0000", "consentMode": "email_otp",
            "consentType": "single_use", "consentValidFrom": "2026-05-22T00:00:00+0000",
            "consentValidTill": "2099-01-01T00:00:00+0000", "consentReferenceId": reference,
            "consentPrincipalUserId": "bench-user", "clientDeclaration": True,
            "consentOperations": ["VERIFY", "FETCH"],
            "consentDataCategories": [{"category": "financial",
                                       "values": ["bank_account", "ifsc"]}]})

    head, tail = body("@REF@").split("@REF@")
    lua = ("math.randomseed(os.time())\nprefix = tostring(math.random(1, 1000000000))\n"
           "counter = 0\nrequest = function()\n  counter = counter + 1\n"
           f"  local body = [==[{head}]==] .. prefix .. '-' .. counter .. [==[{tail}]==]\n"
           "  return wrk.format(nil, nil, nil, body)\nend\n")
    return Scenario("attestr register POST", method="POST",
                    path="/api/v3/public/consent/register", body=body("bench-check"), lua=lua,
                    headers={"Content-Type": "application/json",
                             "Authorization": a["authorization"]})
