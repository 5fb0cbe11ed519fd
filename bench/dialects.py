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
    return []
