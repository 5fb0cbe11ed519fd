"""People's rights in the Attestr dialect (issue 18): a principal's consents lose their personal
data with them (the client's reference, the body as provided, its hash), their export files are
deleted and the webhook bodies about them blanked; the chain still verifies; Attestr's API then
answers those consents, jobs and files as unknown ones; the access report holds them before; a
second erasure finds no one; databases written before Attestr's version 3 migrate and their
principals can be erased. A revoke asks for the principal's clean-up (an erasure request)."""
from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest

from consent.core import ledger, migrate, outbox, rights, storage, verify
from consent.core.storage import AuditEvent, WebhookDelivery
from consent.dialects.attestr import consents, exports, models, worker
from consent.dialects.attestr.models import AttestrConsent, AttestrMedia
from tests.attestr_helpers import MALFORMED, Client, attestr, register  # noqa: F401 (fixture)
from tests.receiver import Receiver

PRINCIPAL = "PRINCIPAL#Zq7731-gwendolyn"
OTHER = "PRINCIPAL#kept-0042"
SECRETS = (PRINCIPAL, "loan-app-Zq7731", "KYC for Gwendolyn Zq", "OTP to +91 98 7731 0000",
           "agent-Zq7731")
API = "/api/v3/public"


@pytest.fixture
def fast(app, monkeypatch):
    monkeypatch.setattr(outbox, "POLICY", outbox.Policy(
        max_attempts=3, backoff_base=0.05, backoff_cap=0.2, timeout=2, poll_interval=0.05))
    worker.WORKER.enabled = False   # exports run when the test says (exports.run_due)
    yield
    worker.WORKER.enabled = True


@pytest.fixture
def receiver():
    with Receiver() as rx:
        yield rx


@pytest.fixture
def hooked(org, receiver, fast):
    return Client(org.org, webhook_url=receiver.url + "/attestr")


def registered(client, c, n: int, principal: str = PRINCIPAL, prefix: str = "loan-app-Zq7731"):
    ids = []
    for i in range(n):
        r = register(client, c, webhook=True, consentPrincipalUserId=principal,
                     consentReferenceId=f"{prefix}-{i}",
                     consentPurposeDesc="KYC for Gwendolyn Zq" if principal == PRINCIPAL
                     else None,
                     consentModeDesc="OTP to +91 98 7731 0000" if principal == PRINCIPAL
                     else None,
                     clientObtainedBy="agent-Zq7731" if principal == PRINCIPAL else "app-1")
        assert r.status_code == 200, r.json
        ids.append(r.json["_id"])
    return ids


def database_bytes() -> bytes:
    path = Path(storage.db.obj.database)
    wal = Path(f"{path}-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def wait_until(condition, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def unknown(kind: str, ident: str) -> dict:
    return {**MALFORMED, "details": {"consent": f"No consent with _id {ident!r}",
                                     "async": f"No async request {ident!r}",
                                     "media": f"No media {ident!r}"}[kind]}


def test_erasure_blanks_the_principals_consents_files_and_webhooks(client, org, hooked,
                                                                   receiver, monkeypatch):
    mine = registered(client, hooked, 2)
    theirs = registered(client, hooked, 1, principal=OTHER, prefix="kept-ref")[0]
    job = client.post(f"{API}/consent/{mine[0]}/export", headers=hooked.headers()).json["_id"]
    assert exports.run_due() == 1
    done = client.get(f"{API}/common/async/{job}", headers=hooked.headers()).json
    media_id = done["output"]["mediaId"]
    receiver.wait_for(4)   # registered x3, async.completed
    org_id = org.org.id
    refs = (*mine, job)
    wait_until(lambda: WebhookDelivery.select().where(
        WebhookDelivery.reference.in_(refs), WebhookDelivery.status == "delivered").count() == 3)
    # the ledger's Attestr _id lookup knows them (POST /ledger/v1/checks)
    check = client.post("/ledger/v1/checks", json={"consent_id": mine[1], "operation": "VERIFY"},
                        headers=org.headers())
    assert check.status_code == 200 and check.json["allowed"] is True

    # (4) the access report holds the consents, their files and webhooks
    report = rights.report(org_id, PRINCIPAL)
    section = report["providers"]["attestr"]["consents"]
    assert sorted(c["_id"] for c in section) == sorted(mine)
    first = next(c for c in section if c["_id"] == mine[0])
    assert first["consentReferenceId"] == "loan-app-Zq7731-0"
    assert first["data"]["consentPrincipalUserId"] == PRINCIPAL
    assert first["data"]["consentModeDesc"] == "OTP to +91 98 7731 0000"
    assert first["exports"][0]["_id"] == job
    assert first["exports"][0]["file"]["sha256"] == done["output"]["sha256"]
    assert {w["topic"] for w in first["webhooks"]} == {"consent.registered", "async.completed"}
    registered_hook = next(w for w in first["webhooks"] if w["topic"] == "consent.registered")
    assert '"consentReferenceId":"loan-app-Zq7731-0"' in registered_hook["body"]
    assert first["ledgerConsentId"] == AttestrConsent.get_by_id(mine[0]).consent_id
    assert json.dumps(report)

    result = rights.erase(org_id, PRINCIPAL, actor="test")
    assert result["tables"]["attestr_consent"] == 2
    assert result["tables"]["attestr_media"] == 1
    # the three sent before, and the two revocations its withdrawals of the grants queued
    assert result["tables"]["webhook_delivery"] == 5

    # (2) the chain verifies
    assert verify.full(org_id)["ok"] is True

    # (3) Attestr's API answers them as unknown ones
    h = hooked.headers()
    for consent_id in mine:
        for method, path in (("get", f"/consent/{consent_id}"),
                             ("post", f"/consent/{consent_id}/revoke"),
                             ("post", f"/consent/{consent_id}/export")):
            r = getattr(client, method)(f"{API}{path}", headers=h)
            assert (r.status_code, r.json) == (400, unknown("consent", consent_id)), path
    r = client.get(f"{API}/common/async/{job}", headers=h)
    assert (r.status_code, r.json) == (400, unknown("async", job))
    r = client.get(f"{API}/common/media/{media_id}", headers=h)
    assert (r.status_code, r.json) == (400, unknown("media", media_id))
    never = client.post("/ledger/v1/checks", json={"consent_id": "CXnever-issued-00",
                                                   "operation": "VERIFY"}, headers=org.headers())
    gone = client.post("/ledger/v1/checks", json={"consent_id": mine[1], "operation": "VERIFY"},
                       headers=org.headers())
    assert gone.status_code == never.status_code
    assert json.dumps(gone.json).replace(mine[1], "X") == json.dumps(never.json).replace(
        "CXnever-issued-00", "X")
    # the other principal's consent is untouched
    kept = client.get(f"{API}/consent/{theirs}", headers=h)
    assert kept.status_code == 200 and kept.json["data"]["consentPrincipalUserId"] == OTHER
    # the webhook bodies about them are blank; the other's is not
    # (those sent, blank; the revocations the erasure's withdrawals queued, never sent)
    for delivery in WebhookDelivery.select().where(WebhookDelivery.reference.in_(refs)):
        assert delivery.body == "" and (delivery.status, delivery.topic) in {
            ("delivered", "consent.registered"), ("delivered", "async.completed"),
            ("failed", "consent.revoked")}, (delivery.status, delivery.topic)
    assert "kept-ref-0" in WebhookDelivery.get(WebhookDelivery.reference == theirs).body
    assert AttestrMedia.select().count() == 0
    # the rows keep what is no one's data
    row = AttestrConsent.get_by_id(mine[0])
    assert row.reference_id == "[erased]" and row.request_hash == "[erased]"
    assert row.reference_lookup is None
    assert set(row.data) == {"consentPurpose", "services", "consentDataCategories",
                             "consentType", "consentMode", "consentTimestamp",
                             "consentValidFrom", "consentValidTill", "clientDeclaration",
                             "consentOperations", "webhook"}

    # (1) none of the principal's values is in the database file or its log
    if not storage.is_postgres():
        data = database_bytes()
        assert b"kept-ref-0" in data and OTHER.encode() in data
        for value in SECRETS:
            assert value.encode() not in data, value
    for event in AuditEvent.select().where(AuditEvent.org == org_id):
        for value in SECRETS:
            assert value not in json.dumps(event.payload), (event.action, value)

    # no webhook about them any more (their expiry; the other principal's is sent)
    later = storage.utcnow() + dt.timedelta(days=2)
    monkeypatch.setattr(models, "now", lambda: later)
    # theirs expires; the principal's were ended by the erasure (revoked, never sent)
    assert consents.expire_due() == 1
    for consent_id in mine:
        topics = [d.topic for d in WebhookDelivery.select().where(
            WebhookDelivery.reference == consent_id).order_by(WebhookDelivery.id)]
        assert topics == ["consent.registered", "consent.revoked"]
    assert WebhookDelivery.select().where(WebhookDelivery.reference == theirs).count() == 2
    assert verify.full(org_id)["ok"] is True

    # (5) a second erasure finds no one; the reference may be registered again, as new
    assert rights.erase(org_id, PRINCIPAL, actor="test") is None
    assert rights.report(org_id, PRINCIPAL) is None
    monkeypatch.undo()
    again = register(client, hooked, consentReferenceId="loan-app-Zq7731-0",
                     consentPrincipalUserId="someone-new")
    assert again.status_code == 200 and again.json["_id"] not in mine


def test_a_pending_webhook_about_an_erased_principal_is_never_sent(client, org, fast):
    outbox.SENDER.enabled = False
    try:
        c = Client(org.org, webhook_url="http://127.0.0.1:9/attestr")
        mine = registered(client, c, 1)
        delivery = WebhookDelivery.get(WebhookDelivery.reference == mine[0])
        assert delivery.status == "pending" and PRINCIPAL not in delivery.body
        assert "loan-app-Zq7731-0" in delivery.body
        # its registration, and the revocation the erasure's withdrawal of the grant queued
        assert rights.erase(org.org.id, PRINCIPAL, actor="test")["tables"][
            "webhook_delivery"] == 2
        delivery = WebhookDelivery.get_by_id(delivery.id)
        assert delivery.body == "" and delivery.status == "failed"
        assert delivery.last_error == outbox.ERASED_ERROR
        assert outbox.send_due() == 0
    finally:
        outbox.SENDER.enabled = True


def test_an_export_asked_for_before_the_erasure_makes_no_file(client, org, attestr, fast):
    mine = registered(client, attestr, 1)
    job = client.post(f"{API}/consent/{mine[0]}/export", headers=attestr.headers()).json["_id"]
    rights.erase(org.org.id, PRINCIPAL, actor="test")
    assert exports.run_due() == 1
    assert AttestrMedia.select().count() == 0
    r = client.get(f"{API}/common/async/{job}", headers=attestr.headers())
    assert (r.status_code, r.json) == (400, unknown("async", job))


def test_a_revoke_asks_for_the_principals_clean_up(client, org, attestr):
    """A revoke withdraws the consent and asks for the clean-up a withdrawal calls for (DPDP):
    an erasure rights request of the principal, received, that the operator completes; a
    second revoke asks for nothing more. Completed, it erases the principal."""
    mine = registered(client, attestr, 2)
    r = client.post(f"{API}/consent/{mine[0]}/revoke", headers=attestr.headers())
    assert r.status_code == 200 and r.json["status"] == "revoked"
    got = client.get(f"{API}/consent/{mine[0]}", headers=attestr.headers()).json
    assert got["data"]["consentPrincipalUserId"] == PRINCIPAL   # nothing erased yet
    requests = rights.list_requests(org.org.id)
    assert [(q.kind, q.status, q.source, q.identifier) for q in requests] == [
        ("erasure", "received", "attestr", PRINCIPAL)]
    assert requests[0].metadata["_id"] == mine[0]
    assert client.post(f"{API}/consent/{mine[0]}/revoke",
                       headers=attestr.headers()).status_code == 200
    assert len(rights.list_requests(org.org.id)) == 1
    done = client.post(f"/ledger/v1/rights-requests/{requests[0].id}/complete",
                       headers=org.headers())
    assert done.status_code == 200 and done.json["result"]["erased"] is True
    assert ledger.find_subject(org.org.id, PRINCIPAL) is None
    for consent_id in mine:
        assert client.get(f"{API}/consent/{consent_id}",
                          headers=attestr.headers()).status_code == 400
    assert verify.full(org.org.id)["ok"] is True


# -- databases written before Attestr's version 3 ------------------------------------------------

def back_to_version_2() -> None:
    """Make the Attestr tables what version 2 made: no salt, no keyed reference, the unique
    index over the plain reference id."""
    sql = storage.db.execute_sql
    mark = "%s" if storage.is_postgres() else "?"
    sql('DROP INDEX "attestr_consent_client_id_reference_lookup"')
    sql('CREATE UNIQUE INDEX "attestr_consent_client_id_reference_id" ON "attestr_consent" '
        '("client_id", "reference_id")')
    for column in ("pd_salt", "reference_lookup"):
        sql(f'ALTER TABLE "attestr_consent" DROP COLUMN "{column}"')
    sql(f'UPDATE "schema_migration" SET "version" = 2 WHERE "component" = {mark}', ("attestr",))


def test_a_version_2_database_migrates_and_its_principals_can_be_erased(client, org, attestr):
    from tests.attestr_helpers import body

    first = body(consentPrincipalUserId=PRINCIPAL, consentReferenceId="loan-app-Zq7731-0")
    mine = client.post(f"{API}/consent/register", json=first,
                       headers=attestr.headers()).json["_id"]
    theirs = registered(client, attestr, 1, principal=OTHER, prefix="kept-ref")[0]
    back_to_version_2()
    applied = migrate.upgrade()
    assert [(a.component, a.version) for a in applied] == [("attestr", 3), ("attestr", 4)]
    assert migrate.problem() is None
    assert verify.full(org.org.id)["ok"] is True
    assert "attestr_consent_client_id_reference_id" not in {
        i.name for i in storage.db.get_indexes("attestr_consent")}
    assert AttestrConsent.select().where(AttestrConsent.pd_salt.is_null() |
                                         AttestrConsent.reference_lookup.is_null()).count() == 0
    # a repeated registration still finds the consent by its reference
    again = client.post(f"{API}/consent/register", json=first, headers=attestr.headers())
    assert again.status_code == 200 and again.json["_id"] == mine
    result = rights.erase(org.org.id, PRINCIPAL, actor="test")
    assert result["tables"]["attestr_consent"] == 1
    assert verify.full(org.org.id)["ok"] is True
    r = client.get(f"{API}/consent/{mine}", headers=attestr.headers())
    assert (r.status_code, r.json) == (400, unknown("consent", mine))
    assert client.get(f"{API}/consent/{theirs}", headers=attestr.headers()).status_code == 200
    if not storage.is_postgres():
        data = database_bytes()
        for value in (PRINCIPAL, "loan-app-Zq7731"):
            assert value.encode() not in data, value


@pytest.mark.upgrade
def test_the_newest_fixture_migrates_and_its_attestr_principal_is_erased(tmp_path):
    """The newest upgrade fixture: its principal USER#0 (a consent with webhooks and an export)
    erased after the migration; the chain verifies; the API no longer knows the consent, the
    job or the file; the other principal's consent reads as before."""
    from urllib.parse import urlsplit

    from tests.test_upgrade import FIXTURES, Upgraded, assert_kept, without

    up = Upgraded(list(FIXTURES.values())[-1], tmp_path)
    try:
        assert up.cli("migrate").exit_code == 0
        old = up.old["attestr"]
        h = {"Authorization": old["authorization"]}
        by_principal = {c["body"].get("consentPrincipalUserId"): c for c in old["consents"]}
        gone, kept = by_principal["USER#0"], by_principal["USER#1"]
        job = old["export"]
        assert job["consentId"] == gone["id"]
        with up.app.app_context():
            org_id = ledger.get_org("demo").id
            assert verify.full(org_id)["ok"] is True
            result = rights.erase(org_id, "USER#0", actor="test")
            assert result["tables"]["attestr_consent"] == 1
            assert result["tables"]["attestr_media"] == 1
            assert verify.full(org_id)["ok"] is True
            for delivery in WebhookDelivery.select().where(
                    WebhookDelivery.reference.in_((gone["id"], job["_id"]))):
                assert delivery.body == ""
        r = up.client.get(f"{API}/consent/{gone['id']}", headers=h)
        assert (r.status_code, r.json) == (400, unknown("consent", gone["id"]))
        r = up.client.get(f"{API}/common/async/{job['_id']}", headers=h)
        assert (r.status_code, r.json) == (400, unknown("async", job["_id"]))
        media = job["output"]["mediaId"]
        r = up.client.get(urlsplit(job["output"]["url"]).path, headers=h)
        assert (r.status_code, r.json) == (400, unknown("media", media))
        now = up.get(f"{API}/consent/{kept['id']}", h).get_json()
        assert_kept(without(kept["read"], "requestId"), now, "USER#1's consent")
    finally:
        up.close()
