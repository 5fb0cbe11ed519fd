"""People's rights in the truConsent dialect (consent.dialects.truconsent.people): a data principal
with records through every truConsent endpoint that stores personal data (consent links, their
email, the collector page, the record API, the SDK's banner decision, its rights center, its
suppression, map-user) is erased: none of their values is left in the database file or its
write-ahead log, the audit chain verifies, every truConsent read answers as for a user it never
knew, the access report held the dialect's section before, a second erasure finds no one; and a
database written by an old version migrates, verifies, and its people can be erased."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest

from consent.core import migrate, personal, rights, storage, verify
from consent.core.storage import OutboxMessage
from consent.dialects.truconsent.models import TcConsentRequest, TcLog, TcPersonalRef
from tests.helpers import PG_URL
from tests.truconsent_helpers import create_link, link_path, make_cp

PHONE = "+919811122233"              # the person erased: their identifier everywhere
ANON = "anon-meera-77"                # their anonymous SDK id, mapped into PHONE
EMAIL = "meera.erasure@example.org"   # the consent link's email
REQUEST_KEY = "req-meera-8812"        # the record API's requestId (idempotency key)
SDK_KEY = "sdk-meera-5521"            # the banner decision's requestId
META = {"device": "meera-pixel-42", "contact": "meera.meta@example.org"}
MAP_META = {"login": "meera-otp-login"}
OTHER = "+919800000001"               # someone else, kept
NEVER = "+919899999999"               # a user truConsent never knew
SECRETS = [PHONE, ANON, EMAIL, REQUEST_KEY, SDK_KEY, "meera-pixel-42", "meera.meta@example.org",
           "meera-otp-login", "m***@example.org", "+*********233", PHONE[1:]]

LOGS = "/api/v1/external/consents"
SDK = "/api/v1/internal/consent"


def answer(client, link: dict, decision: str = "accept_all"):
    path = link_path(link["consent_link"])
    html = client.get(path).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    r = client.post(path, data={"csrf_token": csrf, "decision": decision})
    assert r.status_code == 200, r.get_data(as_text=True)[:300]


def populate(client, org, cpf) -> dict:
    """PHONE's records through every endpoint that stores personal data, and OTHER's."""
    h = org.headers(org.consent_key)
    purposes = cpf.purpose_ids
    answered = create_link(client, org, cpf, phone=PHONE, email=EMAIL)
    answer(client, answered)
    pending = create_link(client, org, cpf, phone=PHONE, expiry_hours=2)
    kept = create_link(client, org, cpf, phone=OTHER)
    answer(client, kept, "decline_all")
    r = client.post(f"{LOGS}/record", headers=h, json={
        "userId": ANON, "action": "approved", "requestId": REQUEST_KEY, "metadata": META,
        "collectionPointId": cpf.cp.display_id, "purposes": [{"id": purposes[0]}]})
    assert r.status_code == 200, r.json
    r = client.post(f"{LOGS}/map-user", headers=org.headers(), json={
        "anonymousId": ANON, "authenticatedUserId": PHONE, "metadata": MAP_META})
    assert r.status_code == 200 and r.json["mapped_count"] == 1, r.json
    r = client.post(f"{SDK}/{cpf.cp.id}", headers=h, json={
        "userId": PHONE, "requestId": SDK_KEY, "action": "partial_consent", "metadata": META,
        "purposes": [{"purposeId": purposes[0], "consented": "accepted"},
                     {"purposeId": purposes[1], "consented": "declined"}]})
    assert r.status_code == 200, r.json
    r = client.post(f"{SDK}/rights-center", headers=h, json={
        "userId": PHONE, "action": "revoked", "metadata": META,
        "purposes": [{"id": purposes[0], "name": "Marketing messages", "consented": False}]})
    assert r.status_code == 200, r.json
    r = client.post(f"{SDK}/suppression", headers=h, json={
        "userId": PHONE, "declinedPurposeIds": [purposes[1]]})
    assert r.status_code == 200, r.json
    r = client.post(f"{LOGS}/record", headers=h, json={
        "userId": OTHER, "action": "approved", "purposes": [{"id": purposes[1]}],
        "metadata": {"kept": "yes"}})
    assert r.status_code == 200, r.json
    return {"answered": answered, "pending": pending, "kept": kept}


def reads(cpf) -> list[str]:
    """Every truConsent read of one user, ``{user}`` in place of the user id."""
    asset, banner = cpf.asset.id, cpf.cp.display_id
    return [f"{LOGS}/user-status?dp_id={{user}}",
            f"{LOGS}/user-status?dp_id={{user}}&collection_point_id={banner}",
            f"{LOGS}/history?dp_id={{user}}",
            f"{LOGS}/dp-timeline?user_id={{user}}",
            f"{SDK}/{asset}/{banner}?userId={{user}}",
            f"{SDK}/{banner}?userId={{user}}",
            f"{SDK}/user/{{user}}",
            f"{SDK}?asset_id={asset}&userId={{user}}",
            f"{SDK}/user-consent-status?userId={{user}}",
            f"/banners/user/{{user}}"]


def answered_for(client, org, path: str, user: str):
    r = client.get(path.format(user=quote(user, safe="")), headers=org.headers(org.consent_key))
    body = r.get_json()
    text = r.get_data(as_text=True).replace(user, "{user}").replace(quote(user, safe=""),
                                                                     "{user}")
    text = re.sub(r'"as_of": ?"[^"]*"', '"as_of": null', text)
    return r.status_code, text, body


def database_bytes(app) -> bytes:
    path = Path(app.config["CONSENT_DATABASE_URL"].removeprefix("sqlite:///"))
    data = path.read_bytes()
    wal = Path(str(path) + "-wal")
    return data + (wal.read_bytes() if wal.exists() else b"")


def test_a_person_erased_is_gone_from_every_truconsent_table_and_read(app, client, org):
    cpf = make_cp(org.org)
    links = populate(client, org, cpf)
    h = org.headers(org.consent_key)
    history_before = client.get("/api/consent/consent-links/history", headers=h).json
    assert history_before["total"] == 3

    # (4) the access report holds truConsent's section, with the values
    report = rights.report(org.org.id, PHONE)
    section = report["providers"]["truconsent"]
    requests = {r["request_id"]: r for r in section["consent_requests"]}
    assert set(requests) == {links["answered"]["request_id"], links["pending"]["request_id"]}
    assert {r["phone"] for r in requests.values()} == {PHONE}
    assert requests[links["answered"]["request_id"]]["status"] == "complete"
    assert requests[links["answered"]["request_id"]]["consent_action"] == "approved"
    assert requests[links["pending"]["request_id"]]["status"] == "active"
    logs = section["consent_logs"]
    consent_ids = {c["id"] for c in report["consents"]}
    assert {log["consent_log_id"] for log in logs} == consent_ids and len(logs) == 6
    assert sorted((log["action"], log["request_id"] == REQUEST_KEY, log["metadata"] == META)
                  for log in logs if log["metadata"] is not None) == [
        ("approved", True, True), ("partial_consent", False, True),
        ("partial_consent", False, True), ("revoked", False, True)]
    assert sum(log["request_id"] == SDK_KEY for log in logs) == 2
    assert sum(log["request_id"] == links["answered"]["request_id"] for log in logs) == 2
    assert [(s["purpose_id"]) for s in section["suppressions"]] == [cpf.purpose_ids[1]]
    assert [(m["to"], m["to_masked"], m["status"]) for m in section["emails"]] == [
        (EMAIL, "m***@example.org", "queued")]
    assert rights.report(org.org.id, OTHER)["providers"]["truconsent"]["emails"] == []

    # Before: PHONE's reads differ from a stranger's, and their values are in the database.
    before = {path: answered_for(client, org, path, PHONE) for path in reads(cpf)}
    strangers = {path: answered_for(client, org, path, NEVER) for path in reads(cpf)}
    assert [p for p in reads(cpf) if before[p][:2] == strangers[p][:2]] == []
    if not PG_URL:
        raw = database_bytes(app)
        assert all(value.encode() in raw for value in (PHONE, EMAIL, REQUEST_KEY, ANON))

    result = rights.erase(org.org.id, PHONE, actor="test")
    assert result is not None
    tables = result["tables"]
    assert tables["truconsent_request"] == 2
    assert tables["truconsent_log"] == 4   # the link's logs hold nothing personal
    assert tables["outbox_message"] >= 1

    # (2) the chain verifies
    assert verify.full(org.org.id)["ok"] is True

    # (1) none of the values is left in the database file or its write-ahead log
    if not PG_URL:
        raw = database_bytes(app)
        left = [value for value in SECRETS if value.encode() in raw]
        assert left == []
    assert OutboxMessage.select().where(OutboxMessage.to_address == EMAIL).count() == 0
    assert TcPersonalRef.select().count() == 0
    assert {r.phone for r in TcConsentRequest.select()} == {personal.ERASED, OTHER}
    assert all(log.metadata is None for log in TcLog.select() if log.metadata != {"kept": "yes"})

    # (3) every read of the person answers as for a user truConsent never knew ...
    for path in reads(cpf):
        assert answered_for(client, org, path, PHONE)[:2] == strangers[path][:2], path
        assert answered_for(client, org, path, ANON)[:2] == answered_for(
            client, org, path, NEVER)[:2], path
    status, _, body = answered_for(client, org, reads(cpf)[0], PHONE)
    assert (status, body["collection_points"]) == (200, [])
    assert client.get(f"{LOGS}/history?dp_id={quote(PHONE)}", headers=h).json == {
        "total": 0, "limit": 50, "offset": 0, "items": []}
    # ... their consent requests are no one's: gone from the history, 404, their links refused
    history = client.get("/api/consent/consent-links/history", headers=h).json
    assert history["total"] == 1 and [i["request_id"] for i in history["items"]] == [
        links["kept"]["request_id"]]
    assert history["items"] == [i for i in history_before["items"]
                                if i["request_id"] == links["kept"]["request_id"]]
    for name in ("answered", "pending"):
        request_id = links[name]["request_id"]
        for method, path in (("get", f"/api/consent/consent-links/status/{request_id}"),
                             ("post", f"/api/consent/consent-links/regenerate/{request_id}")):
            r = getattr(client, method)(path, headers=h)
            assert (r.status_code, r.json) == (404, {"detail": "Consent request not found"})
    unknown_link = links["pending"]["consent_link"].replace(
        links["pending"]["event_id"][:8], "00000000")
    assert client.get(link_path(links["pending"]["consent_link"])).status_code == \
        client.get(link_path(unknown_link)).status_code == 400
    # ... and OTHER keeps everything
    kept = client.get(f"/api/consent/consent-links/status/{links['kept']['request_id']}",
                      headers=h)
    assert kept.status_code == 200 and kept.json["consent_action"] == "declined"
    other = client.get(f"{LOGS}/history?dp_id={quote(OTHER)}", headers=h).json
    assert other["total"] == 3 and {i["dp_id"] for i in other["items"]} == {OTHER}
    # The whole organisation's consent log history names no one erased.
    everything = client.get(f"{LOGS}/history?limit=200", headers=h).get_data(as_text=True)
    assert not [value for value in SECRETS if value in everything]

    # (5) a second erasure finds no one; the report neither
    assert rights.erase(org.org.id, PHONE, actor="test") is None
    assert rights.erase(org.org.id, ANON, actor="test") is None
    assert rights.report(org.org.id, PHONE) is None
    assert verify.full(org.org.id)["ok"] is True


def test_new_audit_events_name_no_one(client, org):
    """The events truConsent writes name a person by subject_ref, never by a value."""
    cpf = make_cp(org.org)
    populate(client, org, cpf)
    events = storage.AuditEvent.select().where(storage.AuditEvent.action.startswith(
        "truconsent."))
    text = " ".join(str(e.payload) for e in events)
    assert "truconsent.suppression.recorded" in {e.action for e in events}
    assert not [value for value in SECRETS if value in text]
    created = [e.payload for e in events if e.action == "truconsent.link.created"]
    assert all(isinstance(p["subject_ref"], int) and "phone" not in p for p in created)


# -- (6) a database written by an old version ---------------------------------------------------------

OLD = "1d841ff"   # the last commit before versioned migrations: truConsent links, a mail, logs


@pytest.mark.upgrade
def test_an_old_database_migrates_verifies_and_its_people_can_be_erased(tmp_path):
    from tests.test_upgrade import FIXTURES, Upgraded

    up = Upgraded(FIXTURES[OLD], tmp_path)
    try:
        with up.app.app_context():
            old = up.old["truconsent"]
            mailed, answered = "+919812345678", "+919876543210"
            if not PG_URL:
                raw = Path(up.url.removeprefix("sqlite:///")).read_bytes()
                assert b"priya@example.in" in raw and b"+*********678" in raw
            migrate.upgrade()
            assert migrate.problem() is None
            org = storage.Organisation.get(storage.Organisation.slug == old["org_id"])
            assert verify.full(org.id)["ok"] is True
            # the unanswered, mailed link's phone became a subject with its request and mail
            section = rights.report(org.id, mailed)["providers"]["truconsent"]
            assert [(r["phone"], r["status"] != "complete") for r in
                    section["consent_requests"]] == [(mailed, True)]
            assert [m["to"] for m in section["emails"]] == ["priya@example.in"]
            assert TcPersonalRef.select().count() == 4   # two link events, a mail event, its mail
            h = {"X-Org-Id": old["org_id"], "X-API-Key": old["api_key"]}
            for phone in (mailed, answered, "user-7"):
                assert rights.erase(org.id, phone, actor="test") is not None, phone
                assert verify.full(org.id)["ok"] is True
            for link in old["links"]:
                r = up.client.get(f"/api/consent/consent-links/status/{link['request_id']}",
                                  headers=h)
                assert (r.status_code, r.get_json()) == (
                    404, {"detail": "Consent request not found"})
            for dp in ("user-7", "anon-7", answered):
                r = up.client.get(f"{LOGS}/history?dp_id={quote(dp, safe='')}", headers=h)
                assert r.get_json()["total"] == 0
            assert OutboxMessage.select().where(
                OutboxMessage.to_address == "priya@example.in").count() == 0
            if not PG_URL:
                raw = database_bytes(up.app)
                left = [v for v in (mailed, answered, "priya@example.in", "p***@example.in",
                                    "+*********678", "+*********210") if v.encode() in raw]
                assert left == []
    finally:
        up.close()
