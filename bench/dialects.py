"""The scenarios ``make bench`` measures, built from ``seed-demo --json``: every hot write of
every dialect, and the ledger's state read."""
from __future__ import annotations

import hashlib
import hmac
import json

from .wrk import Scenario, counter_body


def veriff_signed(v: dict, signed: bytes) -> dict:
    """The headers of a Veriff call signed as a client signs it (seed-demo's ``veriff``
    section): lowercase hex HMAC-SHA256 of the body, or of the session id for a GET."""
    return {"X-AUTH-CLIENT": v["api_key"], "X-HMAC-SIGNATURE": hmac.new(
        v["shared_secret"].encode(), signed, hashlib.sha256).hexdigest()}


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


def random_path(template: str, low: int, high: int) -> str:
    """Lua that GETs ``template`` with ``{r}`` replaced by a random integer in [low, high]
    (the same sequence on every run and at every size)."""
    head, _, tail = template.partition("{r}")
    return ("math.randomseed(42)\nrequest = function()\n"
            f"  local path = {json.dumps(head)} .. math.random({low}, {high}) .. {json.dumps(tail)}\n"
            "  return wrk.format('GET', path)\nend\n")


def ledger_state(seed: dict, subjects: int, label: str) -> Scenario:
    """A random subject's current state."""
    return Scenario(f"state GET ({label})", path="/ledger/v1/subjects/s0/state",
                    lua=random_path("/ledger/v1/subjects/s{r}/state", 0, subjects - 1),
                    headers={"X-Org-Id": "demo", "X-API-Key": seed["ledger"]["admin_api_key"]})


def reads(seed: dict, records: int, subjects: int, purposes: int) -> list[Scenario]:
    """Every read endpoint of every dialect, on a ledger prefilled by bench/server.py (records
    consents, one audit event each, ``subjects`` subjects s0.., purposes purpose-0..): random
    subjects, purposes, statuses and audit ranges; Veriff's reads on seed-demo's session."""
    ledger = {"X-Org-Id": "demo", "X-API-Key": seed["ledger"]["admin_api_key"]}
    out = [
        Scenario("ledger list by subject", path="/ledger/v1/consents?subject=s0", headers=ledger,
                 lua=random_path("/ledger/v1/consents?subject=s{r}", 0, subjects - 1)),
        Scenario("ledger list by purpose", path="/ledger/v1/consents?purpose=purpose-0",
                 headers=ledger,
                 lua=random_path("/ledger/v1/consents?purpose=purpose-{r}", 0, purposes - 1)),
        Scenario("ledger list by status", path="/ledger/v1/consents?status=granted",
                 headers=ledger, lua=(
                     "math.randomseed(42)\nlocal statuses = {'granted', 'denied'}\n"
                     "request = function()\n  return wrk.format('GET', "
                     "'/ledger/v1/consents?status=' .. statuses[math.random(1, 2)])\nend\n")),
        Scenario("ledger state", path="/ledger/v1/subjects/s0/state", headers=ledger,
                 lua=random_path("/ledger/v1/subjects/s{r}/state", 0, subjects - 1)),
        # 50 events from a random seq (the audit range is by seq; by time it is the same index)
        Scenario("ledger audit range", path="/ledger/v1/audit?from_seq=1&limit=50",
                 headers=ledger,
                 lua=random_path("/ledger/v1/audit?limit=50&from_seq={r}", 1,
                                 max(1, records - 50))),
    ]
    if seed.get("truconsent"):
        t = seed["truconsent"]
        headers = {"X-Org-Id": t["org_id"], "X-API-Key": t["api_key"]}
        out += [
            Scenario("truconsent history by dp_id",
                     path="/api/v1/external/consents/history?dp_id=s0", headers=headers,
                     lua=random_path("/api/v1/external/consents/history?dp_id=s{r}", 0,
                                     subjects - 1)),
            Scenario("truconsent user-status",
                     path="/api/v1/external/consents/user-status?dp_id=s0", headers=headers,
                     lua=random_path("/api/v1/external/consents/user-status?dp_id=s{r}", 0,
                                     subjects - 1)),
        ]
    if seed.get("veriff"):
        v = seed["veriff"]
        session = v["session_id"]
        headers = veriff_signed(v, session.encode())
        out += [Scenario("veriff session consents", path=f"/v1/sessions/{session}/consents",
                         headers=headers),
                Scenario("veriff session decision", path=f"/v1/sessions/{session}/decision",
                         headers=headers)]
    return out


def veriff_consent(v: dict) -> Scenario:
    """A signed consent upload; the same bytes each time (every request records a new consent)."""
    body = json.dumps({"type": "bipa", "approved": True,
                       "text": "User agrees to biometric processing"})
    return Scenario("veriff consent POST", method="POST",
                    path=f"/v1/sessions/{v['session_id']}/consents", body=body,
                    headers={"Content-Type": "application/json",
                             **veriff_signed(v, body.encode())})


def truconsent(t: dict) -> list[Scenario]:
    """Link creation (no email) and consent recording (two purposes, a new user each time)."""
    headers = {"X-Org-Id": t["org_id"], "X-API-Key": t["api_key"],
               "Content-Type": "application/json"}
    link = Scenario("truconsent link create POST", method="POST",
                    path="/api/consent/consent-links", headers=headers,
                    body=json.dumps({"collection_point_id": t["collection_point_display_id"],
                                     "asset_id": t["asset_id"], "phone": "+919876543210",
                                     "expiry_hours": 24}))
    first, second = t["purpose_ids"][:2]  # two purposes of the demo collection point
    template = ('{"userId":"bench-user-{n}","action":"approved","collectionPointId":"'
                + t["collection_point_display_id"] + '","purposes":[{"id":"' + first
                + '"},{"id":"' + second + '"}]}')
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
