"""A ledger with rows in every covered table (``consent.core.covered``), written through the
service the way clients write them: the ledger API (terms, a use, a withdrawal, a new purpose
version), truConsent (a collection point, a completed link, a regenerated one, consent logs,
map-user), Veriff (a session with person data, media, a consent upload, a decision, a deleted
session), Avacy (a webspace, an archive entry) and Attestr (consents revoked, consumed and
expired). The tamper tests edit it behind the service's back."""
from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field

from consent.core import covered, ledger, storage
from consent.dialects.attestr import consents as attestr_consents
from consent.dialects.truconsent import links
from tests import attestr_helpers, avacy_helpers, truconsent_helpers, veriff_helpers


@dataclass
class Full:
    org: object
    attestr: object
    veriff: object
    avacy: object
    ids: dict = field(default_factory=dict)


def build(client, app, org, monkeypatch) -> Full:
    """Write one of everything in ``org`` (an ``OrgFixture``)."""
    h = org.headers()
    ids = {}

    def post(path, body, status=201, headers=h):
        r = client.post(path, json=body, headers=headers)
        assert r.status_code == status, (path, r.status_code, r.get_json())
        return r.json

    # -- the ledger: terms, a use, a withdrawal, a purpose's new version, a published notice
    ids["single"] = post("/ledger/v1/consents", {
        "subject": "alice", "purpose": "kyc", "status": "granted",
        "operations": ["VERIFY"], "single_use": True})["id"]
    used = post("/ledger/v1/checks", {"consent_id": ids["single"], "operation": "VERIFY",
                                      "use": True}, status=200)
    assert used["allowed"] is True
    ids["use"] = used["use"]["id"]
    ids["granted"] = post("/ledger/v1/consents", {
        "subject": "bob", "purpose": "marketing", "status": "granted"})["id"]
    ids["withdrawal"] = post(f"/ledger/v1/consents/{ids['granted']}/withdraw", {})["id"]
    post("/ledger/v1/consents", {"subject": "bob", "purpose": "marketing", "status": "granted",
                                 "purpose_version": "2"})

    # -- truConsent: a collection point, a completed link, a regenerated one, logs, map-user
    cpf = truconsent_helpers.make_cp(org.org)
    tc_headers = org.headers(org.consent_key)
    issued = links.create(app.config["SECRET_KEY"], "http://consent.test", org.org, cpf.cp,
                          "+919876543210", 1, None, "test")
    links.complete(links.Opened(org.org, cpf.cp, issued.request, issued.event),
                   {p["id"]: True for p in cpf.cp.purposes}, {"ip": "198.51.100.7"})
    ids["completed_request"] = issued.request.id
    stale = truconsent_helpers.create_link(client, org, cpf, expiry_hours=1)
    truconsent_helpers.move_clock(monkeypatch, hours=2)
    post(f"/api/consent/consent-links/regenerate/{stale['request_id']}", {}, status=200,
         headers=tc_headers)
    logged = post("/api/v1/external/consents/record", {
        "userId": "anon-7", "action": "approved", "collectionPointId": cpf.cp.display_id,
        "purposes": [{"id": p["id"], "name": p["name"]} for p in cpf.cp.purposes]},
        status=200, headers=tc_headers)
    ids["tc_log_consent"] = logged["consent_logs"][0]["id"]
    post("/api/v1/external/consents/map-user", {"anonymousId": "anon-7",
                                                "authenticatedUserId": "alice"}, status=200)

    # -- Veriff: a session with person data, media, a consent upload, a decision; a deleted one
    integ = veriff_helpers.Integration(org.org)
    sid = integ.create_session(client)
    ids["session"] = sid
    media = integ.post(client, f"/v1/sessions/{sid}/media", {"image": {
        "context": "document-front",
        "content": base64.b64encode(veriff_helpers.JPEG).decode()}})
    assert media.status_code == 200
    upload = integ.upload(client, sid)
    assert upload.status_code == 200, upload.get_json()
    post(f"/ledger/v1/veriff/sessions/{sid}/decision", {"status": "approved"}, status=200)
    gone = integ.create_session(client)
    assert integ.get(client, f"/v1/sessions/{gone}", gone, method="delete").status_code == 200

    # -- Avacy: a webspace and an archive entry
    tenant = avacy_helpers.Tenant(org.org)
    entry = tenant.post_json(client, "domains_groups", avacy_helpers.DOCUMENTED)
    assert entry.status_code == 201, entry.get_json()
    ids["entry"] = entry.json["data"]["id"]

    # -- Attestr: one revoked, one consumed, one expired by the sweep
    client_ = attestr_helpers.Client(org.org)
    revoked = attestr_helpers.register(client, client_).json["_id"]
    r = client.post(f"/api/v3/public/consent/{revoked}/revoke", headers=client_.headers())
    assert r.status_code == 200
    ids["revoked"] = revoked
    consumed = attestr_helpers.register(client, client_, consentType="single_use").json["_id"]
    ids["consumed"] = consumed
    ledger_id = attestr_consents.find(client_.issued.client, consumed).consent_id
    assert post("/ledger/v1/checks", {"consent_id": ledger_id, "operation": "VERIFY",
                                      "use": True}, status=200)["allowed"] is True
    expiring = attestr_helpers.register(client, client_).json["_id"]
    ids["expired"] = expiring
    assert attestr_consents.expire_due(storage.utcnow() + dt.timedelta(days=2)) >= 1

    full = Full(org, client_, integ, tenant, ids)
    missing = [cov.table for cov in covered.tables() if not rows_of(org.org.id, cov)]
    assert not missing, f"the full ledger has no rows in {missing}"
    return full


def rows_of(org_id: str, cov) -> list:
    """Every row of a covered table in an organisation (its stored form)."""
    out, after = [], None
    while True:
        batch = cov.walk(org_id, after, 500)
        out += batch
        if len(batch) < 500:
            return out
        after = getattr(batch[-1], cov.key)


def count_covered(org_id: str) -> int:
    return sum(len(rows_of(org_id, cov)) for cov in covered.tables())


def orgs() -> list:
    return ledger.all_orgs()
