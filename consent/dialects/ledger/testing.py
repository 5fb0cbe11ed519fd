"""What the ledger's API declares for the shared tests and bench (``consent.testing``): its routes
in the isolation matrix, its fuzz credential, its hot write and reads, the write's floor, its
crash kind."""
from __future__ import annotations

import json

from peewee import fn

from consent.core import ledger
from consent.core.storage import IdempotencyRecord, transaction
from consent.testing import (
    ADMIN,
    Bench,
    CrashKind,
    DialectTesting,
    FloorRoute,
    Fuzz,
    Isolation,
    Route,
    Scenario,
    admin_headers,
    consents_of_subject,
    counter_body,
    random_path,
)

# -- the isolation matrix -------------------------------------------------------------------

LEDGER_BODY = {"subject": "s-b", "purpose": "p", "status": "granted"}
ROUTES = {
    ("ledger.Consents", "GET"): Route(ADMIN.name, "/ledger/v1/consents"),
    ("ledger.Consents", "POST"): Route(ADMIN.name, "/ledger/v1/consents", LEDGER_BODY),
    ("ledger.ConsentById", "GET"): Route(ADMIN.name, "/ledger/v1/consents/{consent_id}"),
    ("ledger.Withdraw", "POST"): Route(ADMIN.name, "/ledger/v1/consents/{consent_id}/withdraw",
                                       {}),
    ("ledger.ProcessingCheck", "POST"): Route(ADMIN.name, "/ledger/v1/checks",
                                              {"subject": "{subject}", "purpose": "{purpose}",
                                               "operation": "read"}),
    ("ledger.SubjectState", "GET"): Route(ADMIN.name, "/ledger/v1/subjects/{subject}/state"),
    ("ledger.Audit", "GET"): Route(ADMIN.name, "/ledger/v1/audit"),
    ("ledger.AuditVerify", "GET"): Route(ADMIN.name, "/ledger/v1/audit/verify"),
    ("ledger.AuditCheckpoint", "GET"): Route(ADMIN.name, "/ledger/v1/audit/checkpoint"),
    ("ledger.AuditVerifications", "POST"): Route(ADMIN.name, "/ledger/v1/audit/verifications"),
    ("ledger.AuditVerification", "GET"): Route(ADMIN.name, "/ledger/v1/audit/verifications/1"),
    ("ledger.Export", "GET"): Route(ADMIN.name, "/ledger/v1/export"),
    ("ledger.Webhooks", "GET"): Route(ADMIN.name, "/ledger/v1/webhooks"),
    ("ledger.WebhookById", "GET"): Route(ADMIN.name, "/ledger/v1/webhooks/1"),
    ("ledger.WebhookReplay", "POST"): Route(ADMIN.name, "/ledger/v1/webhooks/1/replay"),
    ("operators.Members", "GET"): Route(ADMIN.name, "/ledger/v1/members"),
    ("operators.MemberById", "DELETE"): Route(ADMIN.name, "/ledger/v1/members/{op_user_id}"),
    ("operators.Tokens", "GET"): Route(ADMIN.name, "/ledger/v1/tokens"),
    ("operators.TokenRevoke", "POST"): Route(ADMIN.name,
                                             "/ledger/v1/tokens/{op_token_id}/revoke"),
    ("ledger.SubjectErasure", "POST"): Route(ADMIN.name, "/ledger/v1/subjects/{subject}/erasure",
                                             {"reason": "isolation"}),
    ("ledger.SubjectReport", "GET"): Route(ADMIN.name, "/ledger/v1/subjects/{subject}/report"),
    ("ledger.RightsRequests", "GET"): Route(ADMIN.name, "/ledger/v1/rights-requests"),
    ("ledger.RightsRequests", "POST"): Route(ADMIN.name, "/ledger/v1/rights-requests",
                                             {"kind": "access", "subject": "zz-b-subject"}),
    ("ledger.RightsRequestOne", "GET"): Route(ADMIN.name,
                                              "/ledger/v1/rights-requests/{rights_request_id}"),
    ("ledger.RightsRequestStart", "POST"): Route(
        ADMIN.name, "/ledger/v1/rights-requests/{rights_request_id}/start"),
    ("ledger.RightsRequestComplete", "POST"): Route(
        ADMIN.name, "/ledger/v1/rights-requests/{rights_request_id}/complete"),
    ("ledger.RightsRequestRefuse", "POST"): Route(
        ADMIN.name, "/ledger/v1/rights-requests/{rights_request_id}/refuse", {"reason": "no"}),
    ("ledger.Retention", "GET"): Route(ADMIN.name, "/ledger/v1/retention"),
    ("ledger.Retention", "PUT"): Route(ADMIN.name, "/ledger/v1/retention",
                                       {"subject_days": 30, "evidence_days": None}),
}


def setup(world) -> None:
    """A consent of A with marker subject, purpose and evidence."""
    r = world.client.post("/ledger/v1/consents", headers=world.a.headers(), json={
        "subject": "zz-marker-a-subject", "purpose": "zz-marker-a-purpose",
        "status": "granted", "evidence": {"note": "zz-marker-a-evidence"}})
    assert r.status_code == 201, r.json
    world.values.update(consent_id=r.json["id"], subject="zz-marker-a-subject",
                        purpose="zz-marker-a-purpose")
    world.markers.append(r.json["id"])
    r = world.client.post("/ledger/v1/rights-requests", headers=world.a.headers(), json={
        "kind": "erasure", "subject": "zz-marker-a-subject", "reason": "zz-marker-a-reason"})
    assert r.status_code == 201, r.json
    world.values.update(rights_request_id=r.json["id"])
    world.markers += [r.json["id"], "zz-marker-a-reason"]


# -- fuzz -----------------------------------------------------------------------------------

def fuzz_headers(seed, case, body, blueprint) -> dict:
    return admin_headers(seed)


def fuzz_known(requests, seed) -> dict:
    r = requests.post("/ledger/v1/consents", headers=admin_headers(seed),
                      json={"subject": "fuzz-subject", "purpose": "marketing",
                            "status": "granted"})
    assert r.status_code == 201, r.text
    return {"consent_id": r.json()["id"], "subject": "fuzz-subject"}


# -- bench ----------------------------------------------------------------------------------

RECORD = "ledger record POST"


def writes(seed: dict) -> list[Scenario]:
    """A new subject each time, one decision."""
    template = '{"subject":"bench-{n}","purpose":"purpose-1","status":"granted",' \
               '"notice_version":"v1"}'
    return [Scenario(RECORD, method="POST", path="/ledger/v1/consents",
                     headers={**admin_headers(seed), "Content-Type": "application/json"},
                     body=template.replace("{n}", "0"), lua=counter_body(template),
                     expect_status=201)]


def reads(seed: dict, records: int, subjects: int, purposes: int) -> list[Scenario]:
    """Lists by subject, purpose and status, a subject's state, an audit range: random
    subjects, purposes, statuses and ranges."""
    headers = admin_headers(seed)
    return [
        Scenario("ledger list by subject", path="/ledger/v1/consents?subject=s0",
                 headers=headers,
                 lua=random_path("/ledger/v1/consents?subject=s{r}", 0, subjects - 1)),
        Scenario("ledger list by purpose", path="/ledger/v1/consents?purpose=purpose-0",
                 headers=headers,
                 lua=random_path("/ledger/v1/consents?purpose=purpose-{r}", 0, purposes - 1)),
        Scenario("ledger list by status", path="/ledger/v1/consents?status=granted",
                 headers=headers, lua=(
                     "math.randomseed(42)\nlocal statuses = {'granted', 'denied'}\n"
                     "request = function()\n  return wrk.format('GET', "
                     "'/ledger/v1/consents?status=' .. statuses[math.random(1, 2)])\nend\n")),
        Scenario("ledger state", path="/ledger/v1/subjects/s0/state", headers=headers,
                 lua=random_path("/ledger/v1/subjects/s{r}/state", 0, subjects - 1)),
        # 50 events from a random seq (the audit range is by seq; by time it is the same index)
        Scenario("ledger audit range", path="/ledger/v1/audit?from_seq=1&limit=50",
                 headers=headers,
                 lua=random_path("/ledger/v1/audit?limit=50&from_seq={r}", 1,
                                 max(1, records - 50))),
    ]


def api_key(environ, kind="api_key"):
    """The floor's credential check: the view's lookup, by hash, of ``X-API-Key`` for the
    organisation ``X-Org-Id`` names."""
    from consent.core import auth

    cred = auth.find_credential(environ.get("HTTP_X_API_KEY"), kind=kind)
    if cred is None or environ.get("HTTP_X_ORG_ID") not in (cred.org_slug, cred.org_id):
        raise PermissionError()
    return cred


def floor_record(environ, raw: bytes, match, config):
    cred = api_key(environ)
    data = json.loads(raw)
    with transaction():
        consent = ledger.in_transaction_record(
            cred.org_id, [ledger.Decision(source="ledger", **data)],
            actor=f"credential:{cred.id}")[0].consent
    return 201, consent._asdict()


# -- crash ----------------------------------------------------------------------------------

class LedgerRecord(CrashKind):
    name, keyed = "ledger", True

    def headers(self):
        return admin_headers(self.seed)

    def build(self, n):
        marker = f"crash-ledger-{n}"
        return self._json("POST", "/ledger/v1/consents",
                          {**self.headers(), "Content-Type": "application/json",
                           "Idempotency-Key": f"key-{marker}"},
                          {"subject": marker, "purpose": "crash-purpose", "status": "granted",
                           "notice_version": "v1"}, marker)

    def ids(self, body):
        return (body["id"],)

    def counts(self, db, sent):
        return (db.count(consents_of_subject(sent.marker)),
                db.count(consents_of_subject(sent.marker, audited=True)),
                db.count(IdempotencyRecord.select(fn.COUNT(IdempotencyRecord.id))
                         .where(IdempotencyRecord.key == f"key-{sent.marker}")))

    def read_back(self, http, sent, cache):
        status, body = http.get(f"/ledger/v1/consents/{sent.ids[0]}", self.headers())
        if status != 200 or body.get("subject") != sent.marker:
            return f"GET /ledger/v1/consents/{sent.ids[0]} -> {status}"
        return None


TESTING = DialectTesting(
    name="ledger",
    isolation=Isolation(kinds=(ADMIN,), routes=ROUTES, setup=setup,
                        by_id=("{consent_id}", "{op_user_id}", "{op_token_id}",
                               "{rights_request_id}")),
    fuzz=Fuzz(headers=fuzz_headers, known=fuzz_known),
    bench=Bench(writes=writes, reads=reads, mechanisms=(RECORD,),
                floor=(FloorRoute(r"^/ledger/v1/consents$", floor_record),)),
    crash=(LedgerRecord,),
)
