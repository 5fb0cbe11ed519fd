"""Bench scenarios of the provider dialects, built from ``seed-demo --json``.

Each entry is (Scenario, target ratio of the no-op ceiling's req/s)."""
from __future__ import annotations

import hashlib
import hmac
import json

TARGET = 0.35


def scenarios(seed: dict) -> list:
    out = []
    if seed.get("veriff"):
        out.append((veriff_consent(seed["veriff"]), TARGET))
    if seed.get("truconsent"):
        out.extend((s, TARGET) for s in truconsent(seed["truconsent"]))
    if seed.get("attestr"):
        out.append((attestr_register(seed["attestr"]), TARGET))
    return out


def veriff_consent(v: dict):
    """A signed consent upload; the same bytes each time (every request records a new consent)."""
    from bench.run import Scenario

    body = json.dumps({"type": "bipa", "approved": True,
                       "text": "User agrees to biometric processing"})
    signature = hmac.new(v["shared_secret"].encode(), body.encode(), hashlib.sha256).hexdigest()
    return Scenario("veriff consent POST", method="POST",
                    path=f"/v1/sessions/{v['session_id']}/consents", body=body,
                    headers={"Content-Type": "application/json", "X-AUTH-CLIENT": v["api_key"],
                             "X-HMAC-SIGNATURE": signature})


def truconsent(t: dict) -> list:
    """Link creation (no email) and consent recording (two purposes, a new user each time)."""
    from bench.run import Scenario

    headers = {"X-Org-Id": t["org_id"], "X-API-Key": t["api_key"],
               "Content-Type": "application/json"}
    link = Scenario("truconsent link create POST", method="POST",
                    path="/api/consent/consent-links", headers=headers,
                    body=json.dumps({"collection_point_id": t["collection_point_display_id"],
                                     "asset_id": t["asset_id"], "phone": "+919876543210",
                                     "expiry_hours": 24}))
    record_lua = (
        "counter = 0\nrequest = function()\n  counter = counter + 1\n"
        "  local body = '{\"userId\":\"bench-user-' .. counter .. '\",\"action\":\"approved\","
        f"\"collectionPointId\":\"{t['collection_point_display_id']}\","
        "\"purposes\":[{\"id\":\"p1\"},{\"id\":\"p2\"}]}'\n"
        "  return wrk.format(nil, nil, nil, body)\nend\n")
    record = Scenario("truconsent consent record POST", method="POST",
                      path="/api/v1/external/consents/record", headers=headers, lua=record_lua,
                      body=json.dumps({"userId": "bench-user-0", "action": "approved",
                                       "collectionPointId": t["collection_point_display_id"],
                                       "purposes": [{"id": "p1"}, {"id": "p2"}]}))
    return [link, record]


def attestr_register(a: dict):
    """A consent registration; a new consentReferenceId each time (a repeated one would only
    answer the consent registered first)."""
    from bench.run import Scenario

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
