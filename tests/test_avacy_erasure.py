"""People's rights in the Avacy dialect (issue 18): a person's archive entries (every channel)
are erased with them, the chain still verifies, the archive answers their identifier as it
answers an unknown one, the access report holds the entries before, a second erasure finds
no one; a database written before Avacy's version 5 migrates and its people can be erased;
retention removes the proofs archived before a cutoff."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from consent.core import ledger, migrate, personal, rights, storage, verify
from consent.core.storage import AuditEvent, utcnow
from consent.dialects.avacy import archive, people
from consent.dialects.avacy.models import AvacyConsent
from consent.dialects.avacy.pages import archive_url
from tests.avacy_helpers import DOCUMENTED, Tenant

EMAIL = "gwendolyn.xylophant@erase-me.example"
PROOFS = "<form data-who='gwendolyn-7731'>I agree, Gwendolyn</form>"
V4_PROOFS = "<form data-who='gwendolyn-v4-5521'>v4 form of Gwendolyn</form>"
PERSON = {
    "subject": {"email": EMAIL, "first_name": "Gwendolyn", "last_name": "Xylophant",
                "age": 41, "address": "17 Quillfeather Lane, Brindlemoor"},
    "identifier": "email", "ip_address": "198.51.100.77", "proofs": PROOFS,
    "legal_notices": [{"name": "privacy_policy"}],
    "preferences": [{"name": "newsletter", "accepted": True},
                    {"name": "profiling", "accepted": False}],
}
V4 = {"ip_address": "2001:db8::7731", "consent_type": "form", "optin": "partial",
      "consent_data": [{"label": "your-name", "value": "Gwendolyn Q. Xylophant"},
                       {"label": "your-phone", "value": "+39 347 551 7731"}],
      "identifier": EMAIL, "source": "contact-form-gwendolyn",
      "consent_features": ["newsletter"], "html_form": V4_PROOFS,
      "versions": [{"slug": "privacy_policy", "link": "https://shop.example.it/privacy/?u=gx7731",
                    "date": "2024-05-01 10:00:00"}]}
# Everything personal the entries above hold (as the database stores it: JSON escapes no
# non-ASCII here, so each is found as is if it is there).
SECRETS = (EMAIL, "Gwendolyn", "Xylophant", "Quillfeather", "198.51.100.77", "2001:db8::7731",
           "gwendolyn-7731", "gwendolyn-v4-5521", "551 7731", "contact-form-gwendolyn",
           "u=gx7731", hashlib.sha256(PROOFS.encode()).hexdigest(),
           hashlib.sha256(V4_PROOFS.encode()).hexdigest())
OTHER = {**DOCUMENTED, "subject": {**DOCUMENTED["subject"], "email": "kept.person@example.it"}}


@pytest.fixture
def tenant(org):
    return Tenant(org.org)


def archive_of(client, org, identifier: str):
    r = client.get(f"/ledger/v1/avacy/consents?identifier={quote(identifier, safe='')}",
                   headers=org.headers())
    assert r.status_code == 200
    return r.json


def database_bytes() -> bytes:
    """The SQLite database file and its write-ahead log, as on disk."""
    path = Path(storage.db.obj.database)
    wal = Path(f"{path}-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def archived(client, tenant) -> list[int]:
    ids = []
    for channel in ("domains_groups", "v2"):
        r = tenant.post_json(client, channel, PERSON)
        assert r.status_code == 201, r.json
        ids.append(r.json["data"]["id"])
    r = tenant.post_json(client, "v4", V4)
    assert r.status_code == 201, r.json
    ids.append(r.json["data"]["id"])
    return ids


def test_erasure_blanks_the_persons_entries_and_the_archive_no_longer_knows_them(
        app, client, org, tenant):
    ids = archived(client, tenant)
    kept = tenant.post_json(client, "domains_groups", OTHER).json["data"]["id"]
    org_id = org.org.id
    before = {e["id"]: e for e in archive_of(client, org, EMAIL)["items"]}
    assert sorted(before) == sorted(ids) and all(e["intact"] for e in before.values())

    # (4) the access report holds the entries, with every value
    report = rights.report(org_id, EMAIL)
    section = report["providers"]["avacy"]["archive"]
    assert sorted(e["id"] for e in section) == sorted(ids)
    by_channel = {e["channel"]: e for e in section}
    assert by_channel["domains_groups"]["request"]["subject"] == PERSON["subject"]
    assert by_channel["v2"]["ip_address"] == "198.51.100.77"
    assert by_channel["domains_groups"]["proofs"] == PROOFS
    assert by_channel["v4"]["proofs"] == V4_PROOFS and by_channel["v4"]["versions"] == V4["versions"]
    assert by_channel["v4"]["request"]["consent_data"] == V4["consent_data"]
    assert by_channel["v4"]["identifier"] == EMAIL
    for entry in section:
        assert entry["subject_ref"] == report["subject_ref"] and entry["proof"]["intact"]
        assert entry["proof"]["audit_event_id"] == before[entry["id"]]["audit_event_id"]
        assert [p["consent_id"] for p in entry["preferences"]] == [
            p["consent_id"] for p in before[entry["id"]]["preferences"]]
    assert json.dumps(report)   # JSON values only

    result = rights.erase(org_id, EMAIL, actor="test")
    assert result["tables"]["avacy_consent"] == 3

    # (2) the chain still verifies
    assert verify.full(org_id)["ok"] is True

    # (3) the archive answers their identifier as it answers someone it never knew
    unknown = archive_of(client, org, "never.seen@example.it")
    assert archive_of(client, org, EMAIL) == unknown == {"items": [], "next_cursor": None}
    with app.app_context():
        url = urlsplit(archive_url(org.org))
    token_path = f"{url.path}?{url.query}"
    page_of = {who: client.get(f"{token_path}&identifier={quote(who)}").get_data(as_text=True)
               for who in (EMAIL, "never.seen@example.it")}
    assert page_of[EMAIL].replace(EMAIL, "X") == page_of["never.seen@example.it"].replace(
        "never.seen@example.it", "X")
    # an entry read by its id keeps the decisions, notices and times, and nothing personal
    for entry_id in ids:
        r = client.get(f"/ledger/v1/avacy/consents/{entry_id}", headers=org.headers())
        assert r.status_code == 200
        old = before[entry_id]
        request = people.kept_request(_row(old["channel"], old["request"]))
        assert r.json == {
            **old, "identifier": None, "ip_address": None, "proofs": None,
            "proofs_sha256": None, "versions": None, "request": request,
            "legal_notices": request["legal_notices"], "preferences": r.json["preferences"]}
        assert [(p["name"], p["accepted"], p["consent_id"]) for p in r.json["preferences"]] == [
            (p["name"], p["accepted"], p["consent_id"]) for p in old["preferences"]]
        assert r.json["intact"] is True
    assert client.get(f"/ledger/v1/avacy/consents/{ids[0]}",
                      headers=org.headers()).json["request"] == {
        "identifier": "email", "legal_notices": [{"name": "privacy_policy", "version": "1"}],
        "preferences": PERSON["preferences"]}
    assert client.get(f"/ledger/v1/avacy/consents/{ids[2]}",
                      headers=org.headers()).json["request"] == {
        "consent_type": "form", "optin": "partial", "consent_features": ["newsletter"],
        "legal_notices": [{"name": "privacy_policy", "version": "2024-05-01 10:00:00"}]}
    # someone else's entry is untouched
    other = archive_of(client, org, "kept.person@example.it")["items"]
    assert [e["id"] for e in other] == [kept] and other[0]["intact"]
    assert other[0]["identifier"] == "kept.person@example.it"

    # (1) the database file and its log hold none of the person's values (someone else's are)
    if not storage.is_postgres():
        data = database_bytes()
        assert b"kept.person@example.it" in data
        for value in SECRETS:
            assert value.encode() not in data, value
    # no audit event written since holds them either
    for event in AuditEvent.select().where(AuditEvent.org == org_id):
        text = json.dumps(event.payload)
        for value in SECRETS:
            assert value not in text, (event.action, value)

    # (5) a second erasure finds no one
    assert rights.erase(org_id, EMAIL, actor="test") is None
    assert rights.report(org_id, EMAIL) is None
    # the same person coming back is a new person, with a new entry only
    again = tenant.post_json(client, "domains_groups", PERSON).json["data"]["id"]
    assert [e["id"] for e in archive_of(client, org, EMAIL)["items"]] == [again]
    assert verify.full(org_id)["ok"] is True


def _row(channel, request):
    class Row:
        pass
    row = Row()
    row.channel, row.request = channel, request
    return row


@pytest.mark.tampered
def test_an_altered_erased_entry_is_caught(app, client, org, tenant):
    ids = archived(client, tenant)
    rights.erase(org.org.id, EMAIL, actor="test")
    AvacyConsent.update(ip_address="203.0.113.9").where(AvacyConsent.id == ids[0]).execute()
    r = client.get(f"/ledger/v1/avacy/consents/{ids[0]}", headers=org.headers())
    assert r.json["intact"] is False and r.json["ip_address"] == "203.0.113.9"
    assert verify.full(org.org.id)["ok"] is False


def test_retention_removes_the_proofs_archived_before_the_cutoff(app, client, org, tenant):
    old = tenant.post_json(client, "domains_groups", PERSON).json["data"]["id"]
    cutoff = utcnow()
    new = tenant.post_json(client, "v4", V4).json["data"]["id"]
    assert people.retention(org.org.id, cutoff) == {"avacy_consent.proofs": 1}
    gone = client.get(f"/ledger/v1/avacy/consents/{old}", headers=org.headers()).json
    assert gone["proofs"] is None and gone["intact"] is True
    assert gone["proofs_sha256"] == hashlib.sha256(PROOFS.encode()).hexdigest()
    assert gone["identifier"] == EMAIL   # only the proofs: the person is still known
    kept = client.get(f"/ledger/v1/avacy/consents/{new}", headers=org.headers()).json
    assert kept["proofs"] == V4_PROOFS and kept["intact"] is True
    event = AuditEvent.select().where(AuditEvent.org == org.org.id).order_by(
        AuditEvent.seq.desc()).get()
    assert event.action == "avacy.proofs.removed" and event.actor == "system:retention"
    assert event.payload["entries"] == [old] and set(event.payload["rows"]["avacy_consent"]) \
        == {str(old)}
    assert verify.full(org.org.id)["ok"] is True
    # again: nothing left before the cutoff
    assert people.retention(org.org.id, cutoff) == {"avacy_consent.proofs": 0}
    if not storage.is_postgres():
        data = database_bytes()
        assert b"gwendolyn-7731" not in data and b"gwendolyn-v4-5521" in data


def test_retention_goes_in_batches(app, client, org, tenant, monkeypatch):
    monkeypatch.setattr(people, "RETENTION_BATCH", 2)
    for _ in range(5):
        tenant.post_json(client, "v2", PERSON)
    last = AuditEvent.select().where(AuditEvent.org == org.org.id).count()
    assert people.retention(org.org.id, utcnow()) == {"avacy_consent.proofs": 5}
    events = list(AuditEvent.select().where(AuditEvent.org == org.org.id,
                                            AuditEvent.seq > last).order_by(AuditEvent.seq))
    assert [len(e.payload["entries"]) for e in events] == [2, 2, 1]
    assert AvacyConsent.select().where(AvacyConsent.proofs.is_null(False)).count() == 0
    assert verify.full(org.org.id)["ok"] is True


# -- a database written before Avacy's version 5 ----------------------------------------------

def back_to_version_4() -> None:
    """Make the Avacy tables what version 4 made: no salt, searched by the plain identifier."""
    sql = storage.db.execute_sql
    mark = "%s" if storage.is_postgres() else "?"
    sql('DROP INDEX "avacy_consent_org_id_subject_id_id"')
    sql('DROP INDEX "avacy_consent_org_id_created_at"')
    sql('CREATE INDEX "avacy_consent_org_id_identifier_id" ON "avacy_consent" '
        '("org_id", "identifier", "id")')
    sql('ALTER TABLE "avacy_consent" DROP COLUMN "pd_salt"')
    sql(f'UPDATE "schema_migration" SET "version" = 4 WHERE "component" = {mark}', ("avacy",))


def test_a_version_4_database_migrates_and_its_people_can_be_erased(app, client, org, tenant):
    ids = archived(client, tenant)
    kept = tenant.post_json(client, "domains_groups", OTHER).json["data"]["id"]
    no_subject = tenant.post_json(client, "v4", {
        "ip_address": "203.0.113.50", "consent_type": "banner", "optin": "rejected",
        "identifier": "featureless@example.it", "html_form": "<form>featureless</form>",
        "versions": []}).json["data"]["id"]
    # version 4 archived an entry without decisions with no subject
    AvacyConsent.update(subject=None).where(AvacyConsent.id == no_subject).execute()
    back_to_version_4()
    assert {s.name: s.current for s in migrate.status()}["avacy"] == 4
    applied = migrate.upgrade()
    assert [(a.component, a.version) for a in applied] == [("avacy", 5)]
    assert migrate.problem() is None
    result = verify.full(org.org.id)
    assert result["ok"] is True, json.dumps(result)
    assert "avacy_consent_org_id_identifier_id" not in {
        i.name for i in storage.db.get_indexes("avacy_consent")}
    assert AvacyConsent.select().where(AvacyConsent.pd_salt.is_null()).count() == 0
    # every entry reads back as before, intact, found by its identifier
    found = archive_of(client, org, EMAIL)["items"]
    assert sorted(e["id"] for e in found) == sorted(ids) and all(e["intact"] for e in found)
    assert [e["id"] for e in archive_of(client, org, "featureless@example.it")["items"]] == [
        no_subject]
    # erased: the old events that named them are redacted, the chain verifies
    result = rights.erase(org.org.id, EMAIL, actor="test")
    assert result["tables"]["avacy_consent"] == 3
    assert verify.full(org.org.id)["ok"] is True
    assert archive_of(client, org, EMAIL) == {"items": [], "next_cursor": None}
    for entry_id in ids:
        entry = client.get(f"/ledger/v1/avacy/consents/{entry_id}", headers=org.headers()).json
        assert entry["identifier"] is None and entry["proofs"] is None and entry["intact"]
    for event in AuditEvent.select().where(AuditEvent.org == org.org.id):
        text = json.dumps(event.payload)
        for value in SECRETS:
            assert value not in text, (event.action, value)
    if not storage.is_postgres():
        data = database_bytes()
        for value in SECRETS:
            assert value.encode() not in data, value
    assert rights.erase(org.org.id, "featureless@example.it", actor="test")["tables"][
        "avacy_consent"] == 1
    assert verify.full(org.org.id)["ok"] is True
    other = archive_of(client, org, "kept.person@example.it")["items"]
    assert [e["id"] for e in other] == [kept] and other[0]["intact"]


# -- a database an older version wrote (tests/upgrade) ------------------------------------------

@pytest.mark.upgrade
def test_the_newest_fixture_migrates_and_its_archived_person_is_erased(tmp_path):
    """The newest upgrade fixture (written by its own version's code: its events name the
    identifier, the IP address and the proofs' SHA-256, in the sealed prefix): migrated, it
    verifies; its person erased, the events that named them are redacted and it still
    verifies; the archive no longer knows them; someone else's entry is intact."""
    from tests.test_upgrade import FIXTURES, Upgraded, assert_kept

    up = Upgraded(list(FIXTURES.values())[-1], tmp_path)
    try:
        assert up.cli("migrate").exit_code == 0
        archived_before = up.old["avacy"]["archive"]
        assert {"mario@example.it", "lucia@example.it"} <= set(archived_before)
        mario = archived_before["mario@example.it"]["items"]
        with up.app.app_context():
            org_id = ledger.get_org("demo").id
            assert verify.full(org_id)["ok"] is True
            sealed = personal.sealed_seq(org_id)
            assert sealed > 0
            archive_events = {e.event_id: e for e in AuditEvent.select().where(
                AuditEvent.org == org_id, AuditEvent.action == "avacy.consent.archived")}
            named = [archive_events[e["audit_event_id"]] for e in mario]
            assert all(e.payload["identifier"] == "mario@example.it" and e.seq <= sealed
                       for e in named)
            result = rights.erase(org_id, "mario@example.it", actor="test")
            assert result["tables"]["avacy_consent"] == len(mario)
            assert verify.full(org_id)["ok"] is True
            for event in named:
                again = AuditEvent.get(AuditEvent.event_id == event.event_id)
                assert personal.is_redacted(again.payload)
                assert again.hash == event.hash   # the chain's hashes are untouched
            for event in AuditEvent.select().where(AuditEvent.org == org_id,
                                                   AuditEvent.action.startswith("avacy.")):
                text = json.dumps(event.payload)
                for entry in mario:
                    for value in (entry["identifier"], entry["ip_address"],
                                  entry["proofs_sha256"]):
                        assert value not in text, (event.action, value)
            assert rights.erase(org_id, "mario@example.it", actor="test") is None
        assert up.get("/ledger/v1/avacy/consents?identifier=mario%40example.it",
                      up.ledger()).get_json() == {"items": [], "next_cursor": None}
        for entry in mario:
            now = up.get(f"/ledger/v1/avacy/consents/{entry['id']}", up.ledger()).get_json()
            assert now["identifier"] is None and now["ip_address"] is None
            assert now["proofs"] is None and now["intact"] is True
        lucia = up.get("/ledger/v1/avacy/consents?identifier=lucia%40example.it",
                       up.ledger()).get_json()
        assert_kept(archived_before["lucia@example.it"], lucia, "lucia's archive")
        assert all(e["intact"] for e in lucia["items"])
    finally:
        up.close()
