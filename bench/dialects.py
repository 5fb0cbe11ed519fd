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
    if seed.get("avacy"):
        out.append((avacy_consent(seed["avacy"]), TARGET))
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


def avacy_consent(a: dict):
    """Avacy's documented request: two preferences and two legal notices, the same person each
    time (every request adds an archive entry and two decisions)."""
    from bench.run import Scenario

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
