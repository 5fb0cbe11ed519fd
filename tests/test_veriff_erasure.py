"""People's rights in the Veriff dialect (issue 18; consent.dialects.veriff.people): a person's
sessions (found by their subject: the sessions' vendorData) are erased with the subject, from
the database file and its write-ahead log, every read of them then answers as Veriff answers for
a deleted session, webhook bodies about them are blanked and their pending deliveries given up,
the chain still verifies; the access report shows everything before; a database from before
migration 5 is migrated and its subject erased; retention erases old media bytes."""
from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest

from consent.core import migrate, outbox, rights, storage, verify
from consent.core.storage import WebhookDelivery
from consent.dialects.veriff import people
from consent.dialects.veriff.models import VeriffMedia, VeriffSession, VeriffSessionState
from consent.dialects.veriff.service import create_integration
from tests.helpers import PG_URL
from tests.receiver import Receiver
from tests.veriff_helpers import CONSENT, FAIL_NOT_FOUND, Integration

SUBJECT = "vp-subject-7f3a9e21"
END_USER = "eu-4b8c0d57-person"
CALLBACK = "https://cb.example/return/qk3-callback-7721"
PERSON = {"firstName": "Zebulonia", "lastName": "Sanction", "idNumber": "IDN-77Q19-X",
          "dateOfBirth": "1931-07-04", "email": "zebulonia.q@example.org",
          "phoneNumber": "+15550199321"}
DOCUMENT = {"number": "DOC-5521XK", "type": "PASSPORT", "country": "EE"}
FACE = b"\xff\xd8\xff\xe0" + b"FACE-OF-ZEBULONIA-" * 64
PERSONAL = [SUBJECT.encode(), END_USER.encode(), CALLBACK.encode(), b"Zebulonia", b"ZEBULONIA",
            b"IDN-77Q19-X", b"DOC-5521XK", b"zebulonia.q@example.org", b"+15550199321",
            b"FACE-OF-ZEBULONIA-"]


@pytest.fixture
def slow_retries(app, monkeypatch):
    # a failed delivery waits an hour before its next attempt: it stays pending
    monkeypatch.setattr(outbox, "POLICY", outbox.Policy(
        max_attempts=5, backoff_base=3600, backoff_cap=3600, timeout=2, poll_interval=0.05))


def wait_until(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


class Hooked(Integration):
    def __init__(self, org, url):
        issued = create_integration(org, name="hooked", event_url=url + "/events",
                                    decision_url=url + "/decisions")
        self.key, self.secret, self.id = issued.key, issued.shared_secret, issued.credential.id


def build(client, org, integ, *, vendor=SUBJECT) -> dict:
    """A session of the person through every endpoint that stores personal data: created with
    vendorData, endUserId, callback, person and document; a consent upload (the ledger
    subject); an image; submitted (screened: a sanctions hit with the name); decided."""
    sid = integ.create_session(client, {"vendorData": vendor, "endUserId": END_USER,
                                        "callback": CALLBACK, "person": PERSON,
                                        "document": DOCUMENT})
    assert integ.upload(client, sid, CONSENT).status_code == 200
    media = integ.post(client, f"/v1/sessions/{sid}/media", {"image": {
        "context": "face", "content": base64.b64encode(FACE).decode()}})
    assert media.status_code == 200
    attempt = None
    r = integ.post(client, f"/v1/sessions/{sid}", {"verification": {"status": "submitted"}},
                   method="patch")
    assert r.status_code == 200
    r = client.post(f"/ledger/v1/veriff/sessions/{sid}/decision", headers=org.headers(),
                    json={"status": "declined", "reason_code": 105})
    assert r.status_code == 200
    attempt = r.json["verification"]["attemptId"]
    return {"sid": sid, "media": media.json["image"]["id"], "attempt": attempt}


def reads(client, integ, made, *, delete: bool = True) -> dict:
    """Every Veriff call about the session (its reads, PATCH, and DELETE unless ``delete`` is
    false): (status, body)."""
    sid, out = made["sid"], {}
    for part in ("decision", "person", "attempts", "media", "watchlist-screening", "consents"):
        r = integ.get(client, f"/v1/sessions/{sid}/{part}", sid)
        out[part] = (r.status_code, r.json)
    r = integ.get(client, f"/v1/media/{made['media']}", made["media"])
    out["file"] = (r.status_code, r.json if r.status_code != 200 else r.get_data())
    r = integ.get(client, f"/v1/attempts/{made['attempt']}/media", made["attempt"])
    out["attempt_media"] = (r.status_code, r.json)
    r = integ.post(client, f"/v1/sessions/{sid}", {"verification": {"status": "submitted"}},
                   method="patch")
    out["patch"] = (r.status_code, r.json if r.status_code != 200 else None)
    if delete:
        r = integ.get(client, f"/v1/sessions/{sid}", sid, method="delete")
        out["delete"] = (r.status_code, r.json if r.status_code != 200 else None)
    return out


def database_bytes(app) -> bytes:
    path = Path(app.config["CONSENT_DATABASE_URL"].removeprefix("sqlite:///"))
    out = path.read_bytes()
    wal = Path(str(path) + "-wal")
    return out + (wal.read_bytes() if wal.exists() else b"")


def test_erasing_the_subject_erases_its_veriff_sessions(app, client, org, slow_retries):
    with Receiver() as ok_rx, Receiver(statuses=[500] * 100) as failing_rx:
        integ = Hooked(org.org, ok_rx.url)
        made = build(client, org, integ)
        ok_rx.wait_for(2)    # submitted (7002) and the decision, delivered
        wait_until(lambda: [d.status for d in WebhookDelivery.select().where(
            WebhookDelivery.reference == made["sid"])] == ["delivered"] * 2)
        # a second session of the person whose webhooks are refused: left pending
        stuck = Hooked(org.org, failing_rx.url)
        other = build(client, org, stuck)
        failing_rx.wait_for(1)
        wait_until(lambda: all(
            d.attempts >= 1 and d.lease_until is None for d in WebhookDelivery.select().where(
                WebhookDelivery.reference == other["sid"])))
        # someone else's session: untouched
        bystander = integ.create_session(client, {"vendorData": "someone-else",
                                                  "person": {"firstName": "Bystanderina"}})
        before = {k: reads(client, i, m, delete=False) for k, i, m in (("a", integ, made),
                                                         ("b", stuck, other))}
        assert before["a"]["person"][1]["person"]["firstName"] == "Zebulonia"
        assert before["a"]["file"] == (200, FACE)
        assert before["a"]["decision"][1]["verification"]["vendorData"] == SUBJECT

        # (4) the report holds the dialect's section, with the values
        report = rights.report(org.org.id, SUBJECT)
        section = report["providers"]["veriff"]
        assert sorted(s["id"] for s in section["sessions"]) == sorted(
            [made["sid"], other["sid"]])
        one = next(s for s in section["sessions"] if s["id"] == made["sid"])
        assert (one["vendorData"], one["endUserId"], one["callback"]) == (
            SUBJECT, END_USER, CALLBACK)
        assert one["person"] == PERSON and one["document"] == DOCUMENT
        assert one["request"]["person"] == PERSON
        assert one["status"] == "declined" and one["deleted_at"] is None
        assert [a["reasonCode"] for a in one["attempts"]] == [105]
        assert [(m["id"], m["size"], m["content_held"]) for m in one["media"]] == [
            (made["media"], len(FACE), True)]
        assert [c["type"] for c in one["consents"]] == ["ine"]
        assert one["screening"]["searchTerm"] == {"name": "Zebulonia Sanction", "year": "1931"}
        assert one["screening"]["hits"][0]["matchedName"] == "ZEBULONIA SANCTION"
        assert {w["topic"] for w in one["webhooks"]} == {"veriff.event", "veriff.decision"}
        decided = next(w for w in one["webhooks"] if w["topic"] == "veriff.decision")
        assert decided["body"]["verification"]["person"]["idNumber"] == PERSON["idNumber"]

        app.extensions["consent.background"].stop()   # no reader holds the log open
        result = rights.erase(org.org.id, SUBJECT, actor="test")
    assert result is not None
    tables = result["tables"]
    assert tables["veriff_session"] == 2 and tables["veriff_session_state"] == 2
    assert tables["veriff_media"] == 2 and tables["veriff_screening"] == 2
    assert tables["webhook_delivery"] == 4

    # (1) the database file and its log hold none of the values
    held = database_bytes(app) if not PG_URL else b""
    for value in PERSONAL if not PG_URL else ():
        assert value not in held, value
    # the rows: blanked, unsalted, found by nothing
    for sid in (made["sid"], other["sid"]):
        s = VeriffSession.get_by_id(sid)
        assert (s.vendor_data, s.end_user_id, s.callback, s.subject_lookup, s.pd_salt) == (
            None, None, None, None, None)
        st = VeriffSessionState.get_by_id(sid)
        assert (st.person, st.document, st.request, st.pd_salt) == (None, None, None, None)
        assert st.deleted_at is not None
        assert [m.content for m in VeriffMedia.select().where(VeriffMedia.session == sid)] == [
            None]
    deliveries = {d.reference: d for d in WebhookDelivery.select()}
    for d in WebhookDelivery.select().where(WebhookDelivery.reference.in_(
            [made["sid"], other["sid"]])):
        assert d.body == "" and not any("signature" in h.lower() for h in d.headers)
        assert d.status == ("delivered" if d.reference == made["sid"] else "failed")
    assert deliveries[other["sid"]].last_error == outbox.FORGOTTEN
    # (2) the chain verifies
    assert verify.full(org.org.id)["ok"] is True
    # (3) every read answers as Veriff does for a deleted session
    for integration, m in ((integ, made), (stuck, other)):
        after = reads(client, integration, m)
        assert after == {k: (404, FAIL_NOT_FOUND) for k in after}, after
    # the old identifier finds nothing; someone else's session is untouched
    assert rights.report(org.org.id, SUBJECT) is None
    r = integ.get(client, f"/v1/sessions/{bystander}/person", bystander)
    assert r.status_code == 200 and r.json["person"]["firstName"] == "Bystanderina"
    # (5) a second erasure finds no one
    assert rights.erase(org.org.id, SUBJECT, actor="test") is None


def test_a_session_without_vendor_data_is_its_own_subject(app, client, org):
    integ = Integration(org.org)
    sid = integ.create_session(client, {"person": PERSON, "callback": CALLBACK})
    assert integ.upload(client, sid, CONSENT).status_code == 200
    identifier = f"veriff-session:{sid}"
    section = rights.report(org.org.id, identifier)["providers"]["veriff"]
    assert [s["id"] for s in section["sessions"]] == [sid]
    assert rights.erase(org.org.id, identifier, actor="test")["tables"]["veriff_session"] == 1
    r = integ.get(client, f"/v1/sessions/{sid}/decision", sid)
    assert (r.status_code, r.json) == (404, FAIL_NOT_FOUND)
    assert verify.full(org.org.id)["ok"] is True


def test_a_person_with_a_session_and_no_consent_yet_is_erased(app, client, org):
    """The session makes its person's subject: their erasure and report find it before any
    consent upload."""
    integ = Integration(org.org)
    sid = integ.create_session(client, {"vendorData": SUBJECT, "person": PERSON})
    section = rights.report(org.org.id, SUBJECT)["providers"]["veriff"]
    assert [s["id"] for s in section["sessions"]] == [sid]
    assert rights.report(org.org.id, SUBJECT)["consents"] == []
    assert rights.erase(org.org.id, SUBJECT, actor="test")["tables"]["veriff_session"] == 1
    r = integ.get(client, f"/v1/sessions/{sid}/decision", sid)
    assert (r.status_code, r.json) == (404, FAIL_NOT_FOUND)
    assert rights.erase(org.org.id, SUBJECT, actor="test") is None
    assert verify.full(org.org.id)["ok"] is True


def test_a_deleted_session_is_erased_too(app, client, org):
    integ = Integration(org.org)
    sid = integ.create_session(client, {"vendorData": SUBJECT, "endUserId": END_USER,
                                        "person": PERSON})
    assert integ.upload(client, sid, CONSENT).status_code == 200
    assert integ.get(client, f"/v1/sessions/{sid}", sid, method="delete").status_code == 200
    assert VeriffSession.get_by_id(sid).vendor_data == SUBJECT   # a DELETE keeps vendorData
    assert rights.erase(org.org.id, SUBJECT, actor="test")["tables"]["veriff_session"] == 1
    s = VeriffSession.get_by_id(sid)
    assert (s.vendor_data, s.end_user_id, s.subject_lookup) == (None, None, None)
    assert verify.full(org.org.id)["ok"] is True


def test_retention_erases_media_received_before_the_cutoff(app, client, org):
    integ = Integration(org.org)
    sid = integ.create_session(client)
    old = integ.post(client, f"/v1/sessions/{sid}/media", {"image": {
        "context": "face", "content": base64.b64encode(FACE).decode()}}).json["image"]["id"]
    received = VeriffMedia.get_by_id(old).created_at
    wait_until(lambda: storage.utcnow() > received)
    cutoff = storage.utcnow()     # after the first image was received, before the second
    new = integ.post(client, f"/v1/sessions/{sid}/media", {"image": {
        "context": "document-front", "content": base64.b64encode(FACE).decode()}}
    ).json["image"]["id"]
    assert people.retention(org.org.id, cutoff) == {"veriff_media": 1}
    r = integ.get(client, f"/v1/media/{old}", old)
    assert (r.status_code, r.json) == (404, FAIL_NOT_FOUND)
    assert integ.get(client, f"/v1/media/{new}", new).get_data() == FACE
    listed = integ.get(client, f"/v1/sessions/{sid}/media", sid).json["images"]
    assert [m["id"] for m in listed] == [old, new]   # the metadata stays
    assert people.retention(org.org.id, cutoff) == {"veriff_media": 0}   # idempotent
    assert verify.full(org.org.id)["ok"] is True


@pytest.mark.upgrade
def test_a_database_from_before_migration_5_migrates_and_its_subject_is_erased(tmp_path):
    """1d841ff's database (written by that version's own code: sessions with vendorData
    ``user-42``, person data, media, consent uploads, webhooks; its ``veriff.session.created``
    events carried vendorData and callback) migrates, verifies, and ``user-42`` is erased with
    verify still ok: those events are redacted, every read answers 404."""
    from consent.core import ledger
    from consent.core.storage import AuditEvent
    from tests.test_upgrade import FIXTURES, Upgraded
    from tests.veriff_helpers import sign

    (tmp_path / "old").mkdir()
    up = Upgraded(FIXTURES["1d841ff"], tmp_path / "old")
    try:
        with up.app.app_context():
            assert {s.name: s.current for s in migrate.status()}["veriff"] < 5
        result = up.cli("migrate")
        assert result.exit_code == 0, result.output
        with up.app.app_context():
            assert migrate.problem() is None
            assert {s.name: s.current for s in migrate.status()}["veriff"] == 6
        old = up.old["veriff"]
        sids = [s["id"] for s in old["sessions"]
                if s["created"]["verification"]["vendorData"] == "user-42"]
        others = [s["id"] for s in old["sessions"] if s["id"] not in sids]
        assert sids and others
        with up.app.app_context():
            org_id = VeriffSession.get_by_id(sids[0]).org_id
            assert all(verify.full(o.id)["ok"] for o in ledger.all_orgs())
            assert all(VeriffSession.get_by_id(sid).subject_lookup for sid in sids)
            created = list(AuditEvent.select().where(
                AuditEvent.action == "veriff.session.created", AuditEvent.entity_id.in_(sids)))
            assert created and all("vendorData" in e.payload for e in created)
            section = rights.report(org_id, "user-42")["providers"]["veriff"]
            assert sorted(s["id"] for s in section["sessions"]) == sorted(sids)
            erased = rights.erase(org_id, "user-42", actor="test")
            assert erased["tables"]["veriff_session"] == len(sids)
            assert erased["tables"]["audit_event.redacted"] >= len(created)
            assert verify.full(org_id)["ok"] is True
            for e in created:
                payload = AuditEvent.get_by_id(e.id).payload
                assert "vendorData" not in payload and "redacted" in payload
            assert all(WebhookDelivery.get_by_id(d.id).body == "" for d in
                       WebhookDelivery.select().where(WebhookDelivery.reference.in_(sids)))
            assert rights.erase(org_id, "user-42", actor="test") is None
        for sid in sids:
            headers = {"X-AUTH-CLIENT": old["api_key"],
                       "X-HMAC-SIGNATURE": sign(old["shared_secret"], sid.encode())}
            for part in ("decision", "person", "attempts", "media", "consents"):
                r = up.client.get(f"/v1/sessions/{sid}/{part}", headers=headers)
                assert (r.status_code, r.json) == (404, FAIL_NOT_FOUND), (sid, part)
        for sid in others:   # another person's: as before
            headers = {"X-AUTH-CLIENT": old["api_key"],
                       "X-HMAC-SIGNATURE": sign(old["shared_secret"], sid.encode())}
            session = next(s for s in old["sessions"] if s["id"] == sid)
            r = up.client.get(f"/v1/sessions/{sid}/person", headers=headers)
            assert r.status_code == 200 and r.json == session["person"]
    finally:
        up.close()
