"""Tampering with any stored field of a consent, an audit event or a row of a covered table
(``consent.core.covered``) is detected by verify, which names the first bad row: through
``GET /ledger/v1/audit/verify`` (in slices), the verifications API and ``flask audit verify``
alike."""
from __future__ import annotations

import datetime as dt
import json
import time
from contextlib import contextmanager

import pytest

from consent.core import audit, covered, ledger, verify
from consent.core.storage import (
    AuditEvent,
    Consent,
    ConsentEvent,
    Purpose,
    Subject,
    db,
    is_sqlite,
)
from consent.core.usage import ConsentTerms, ConsentUse
from consent.dialects.attestr.models import AttestrConsent
from consent.dialects.avacy.models import AvacyConsent, AvacyDecision
from consent.dialects.truconsent.models import TcAsset, TcCollectionPoint, TcLog, TcSuppression
from consent.dialects.veriff.models import (
    VeriffConsent,
    VeriffMedia,
    VeriffScreening,
    VeriffSessionState,
)
from schemas.ledger import VerdictSchema
from tests import full_ledger

pytestmark = pytest.mark.tampered


@contextmanager
def constraints_off():
    """Tamper the way someone with the database file would: past the foreign keys."""
    if is_sqlite():
        db.execute_sql("PRAGMA foreign_keys=OFF")
        yield
        db.execute_sql("PRAGMA foreign_keys=ON")
    else:
        db.execute_sql("SET session_replication_role = replica")
        yield
        db.execute_sql("SET session_replication_role = origin")


@pytest.fixture
def seeded(org, other_org):
    ledger.record(org.org.id, [
        ledger.Decision(subject="alice", purpose="marketing", status="granted",
                        notice_version="n1", valid_until=dt.datetime(2999, 1, 1),
                        evidence={"ip": "198.51.100.1"}),
        ledger.Decision(subject="bob", purpose="analytics", status="denied"),
    ])
    first = Consent.select().where(Consent.org == org.org.id).order_by(Consent.seq).first()
    ledger.withdraw(org.org.id, first.id)
    ledger.map_identity(org.org.id, "bob", "bob-authenticated")
    ledger.record_one(org.org.id, ledger.Decision(subject="carol", purpose="marketing",
                                               status="granted"))
    assert ledger.verify(org.org.id)["ok"]
    return org


def target_consent(org):
    return Consent.select().where(Consent.org == org.org.id).order_by(Consent.seq).first()


CONSENT_TAMPERS = {
    "id": lambda c: {"id": "00000000-0000-0000-0000-000000000000"},
    "org": None,  # filled in the test: moved to the other organisation
    "subject": lambda c: {"subject": Subject.get(Subject.identifier == "carol").id},
    "recorded_subject": lambda c: {"recorded_subject": Subject.get(Subject.identifier == "carol").id},
    "purpose": lambda c: {"purpose": Purpose.get(Purpose.code == "analytics").id},
    "purpose_version": lambda c: {"purpose_version": "9"},
    "notice_version": lambda c: {"notice_version": "n2"},
    "status": lambda c: {"status": "denied"},
    "source": lambda c: {"source": "forged"},
    "supersedes": lambda c: {"supersedes": "x"},
    "valid_from": lambda c: {"valid_from": c.valid_from - dt.timedelta(days=1)},
    "valid_until": lambda c: {"valid_until": None},
    "evidence": lambda c: {"evidence": {"ip": "0.0.0.0"}},
    "created_at": lambda c: {"created_at": c.created_at + dt.timedelta(seconds=1)},
    "record_hash": lambda c: {"record_hash": "0" * 64},
    "seq": lambda c: {"seq": 10_000},
    "audit_seq": lambda c: {"audit_seq": c.audit_seq + 1},  # another event than its recording
}


def test_every_consent_column_is_covered():
    assert set(CONSENT_TAMPERS) == set(Consent._meta.fields)


@pytest.mark.parametrize("field", sorted(CONSENT_TAMPERS))
def test_consent_tamper_detected(seeded, other_org, field):
    c = target_consent(seeded)
    change = ({"org": other_org.org.id} if field == "org" else CONSENT_TAMPERS[field](c))
    with constraints_off():
        Consent.update(**change).where(Consent.seq == c.seq).execute()
    result = ledger.verify(seeded.org.id)
    assert result["ok"] is False, field
    assert result["reason"]


@pytest.mark.parametrize("events_too", [False, True])
def test_reordering_consents_detected(seeded, events_too):
    """Swap the internal order of a grant and its withdrawal: the grant would look binding
    again. The audit chain's order gives it away; moving their events along changes rows the
    chain covers."""
    grant, withdrawal = list(Consent.select().where(Consent.org == seeded.org.id)
                             .where(Consent.purpose == Purpose.get(Purpose.code == "marketing"))
                             .order_by(Consent.seq))[:2]
    with constraints_off():
        for seq, temp in ((grant.seq, -1), (withdrawal.seq, grant.seq), (-1, withdrawal.seq)):
            Consent.update(seq=temp).where(Consent.seq == seq).execute()
            if events_too:
                ConsentEvent.update(consent=temp).where(ConsentEvent.consent == seq).execute()
    result = ledger.verify(seeded.org.id)
    assert result["ok"] is False
    if events_too:
        assert result["first_bad_table"] == "consent_event"
        assert result["reason"] == "the row does not match the hash its audit event recorded"
    else:
        assert result["reason"] == "consent order differs from the audit chain's order"


def test_subject_identifier_tamper_detected(seeded):
    Subject.update(identifier="mallory").where(Subject.identifier == "alice").execute()
    assert ledger.verify(seeded.org.id)["ok"] is False


def test_deleted_consent_detected(seeded):
    c = Consent.get(Consent.recorded_subject == Subject.get(Subject.identifier == "carol").id)
    assert not ConsentEvent.select().where(ConsentEvent.consent == c.seq).exists()
    Consent.delete().where(Consent.seq == c.seq).execute()
    result = ledger.verify(seeded.org.id)
    assert result["ok"] is False
    assert result["reason"] == "the consent this event recorded is missing"
    assert result["first_bad_consent"] == c.id


AUDIT_TAMPERS = {
    "event_id": lambda e: {"event_id": "forged"},
    "org": None,
    "seq": lambda e: {"seq": 999},
    "at": lambda e: {"at": e.at + dt.timedelta(seconds=1)},
    "actor": lambda e: {"actor": "someone-else"},
    "action": lambda e: {"action": "consent.forged"},
    "entity_type": lambda e: {"entity_type": "x"},
    "entity_id": lambda e: {"entity_id": "x"},
    "payload": lambda e: {"payload": {**e.payload, "extra": 1}},
    "prev_hash": lambda e: {"prev_hash": "f" * 64},
    "hash": lambda e: {"hash": "f" * 64},
    "id": lambda e: {"id": 99_999},
}


def test_every_audit_column_is_covered():
    assert set(AUDIT_TAMPERS) == set(AuditEvent._meta.fields)


@pytest.mark.parametrize("field", sorted(AUDIT_TAMPERS))
def test_audit_tamper_detected(seeded, other_org, field):
    # A middle event of the chain: its successor exists, so the chain must notice.
    events = list(AuditEvent.select().where(AuditEvent.org == seeded.org.id)
                  .order_by(AuditEvent.seq))
    event = events[len(events) // 2]
    change = ({"org": other_org.org.id, "seq": 500} if field == "org"
              else AUDIT_TAMPERS[field](event))
    AuditEvent.update(**change).where(AuditEvent.id == event.id).execute()
    result = ledger.verify(seeded.org.id)
    if field == "id":
        # The internal row id is not part of the record: changing it alone changes nothing
        # that matters, and verify must still pass.
        assert result["ok"] is True
        return
    assert result["ok"] is False, field
    assert result["first_bad_event"]


def test_deleted_event_detected(seeded):
    events = list(AuditEvent.select().where(AuditEvent.org == seeded.org.id)
                  .order_by(AuditEvent.seq))
    AuditEvent.delete().where(AuditEvent.id == events[2].id).execute()
    result = ledger.verify(seeded.org.id)
    assert result["ok"] is False
    assert result["first_bad_seq"] == 4
    assert result["reason"].startswith("sequence gap")


def test_chain_links_and_hashes(seeded):
    events = list(AuditEvent.select().where(AuditEvent.org == seeded.org.id)
                  .order_by(AuditEvent.seq))
    assert events[0].prev_hash == audit.GENESIS
    for prev, event in zip(events, events[1:]):
        assert event.prev_hash == prev.hash
        assert audit.compute_hash(event) == event.hash


def test_chains_are_per_org(seeded, other_org):
    ledger.record_one(other_org.org.id, ledger.Decision(subject="x", purpose="p", status="granted"))
    first = (AuditEvent.select().where(AuditEvent.org == other_org.org.id)
             .order_by(AuditEvent.seq).first())
    assert first.seq == 1 and first.prev_hash == audit.GENESIS
    assert ledger.verify(other_org.org.id)["ok"] and ledger.verify(seeded.org.id)["ok"]


# -- rows of covered tables ----------------------------------------------------------------------

@pytest.fixture
def full(client, app, org, other_org, monkeypatch):
    """One of everything, in ``acme`` (and a little in ``globex``); verify names faults in small
    batches, so a pass takes several calls and every buffer is flushed often."""
    built = full_ledger.build(client, app, org, monkeypatch)
    ledger.record_one(other_org.org.id, ledger.Decision(subject="x", purpose="p", status="granted"))
    monkeypatch.setattr(verify, "BATCH", 3)
    monkeypatch.setattr(verify, "ROW_CHECKS", 2)
    app.config["CONSENT_VERIFY_BUDGET"] = 0
    assert verify.full(org.org.id)["ok"]
    return built


def http_verdict(client, org) -> dict:
    """A whole pass through GET /ledger/v1/audit/verify, one slice per call."""
    for calls in range(1, 2000):
        answer = client.get("/ledger/v1/audit/verify", headers=org.headers()).json
        if answer["complete"] or not answer["ok"]:
            return {**{k: answer[k] for k in verify.VERDICT_FIELDS}, "_calls": calls}
    raise AssertionError("the pass never completed")


def background_verdict(client, org) -> dict:
    vid = client.post("/ledger/v1/audit/verifications", headers=org.headers()).json["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        polled = client.get(f"/ledger/v1/audit/verifications/{vid}", headers=org.headers()).json
        if polled["complete"]:
            return {k: polled[k] for k in verify.VERDICT_FIELDS}
        time.sleep(0.02)
    raise AssertionError("the background pass never completed")


def cli_verdict(runner, org) -> tuple[int, dict]:
    result = runner.invoke(args=["audit", "verify", "--org", org.slug])
    document = json.loads(result.output)
    assert document.pop("org") == org.slug
    return result.exit_code, document


def assert_named(client, runner, org, table, row, reason):
    """Every way to verify says broken, naming the same first bad row, in the same fields."""
    sliced = http_verdict(client, org)
    calls = sliced.pop("_calls")
    assert calls > 1, "small batches: the pass takes several calls"
    assert sliced["ok"] is False, sliced
    assert (sliced["first_bad_table"], sliced["first_bad_row"], sliced["reason"]) == (
        table, str(row), reason), sliced
    code, cli = cli_verdict(runner, org)
    assert code == 1 and cli == sliced
    assert background_verdict(client, org) == sliced
    whole = VerdictSchema().dump(verify.full(org.org.id))
    assert whole == sliced
    return sliced


MISSING = "a row this event recorded is missing"
CHANGED = "the row does not match the hash its audit event recorded"


def test_an_untouched_full_ledger_verifies_everywhere(client, runner, org, full):
    sliced = http_verdict(client, org)
    assert sliced.pop("_calls") > 10
    assert sliced["ok"] is True and sliced["head_hash"]
    assert sliced["rows_checked"] == full_ledger.count_covered(org.org.id)
    code, cli = cli_verdict(runner, org)
    assert code == 0 and cli == sliced
    assert background_verdict(client, org) == sliced


def test_deleting_consent_use_rows(client, runner, org, full):
    """The issue: a single-use consent was allowed again, and verify said OK."""
    check = {"consent_id": full.ids["single"], "operation": "VERIFY"}
    answer = client.post("/ledger/v1/checks", json=check, headers=org.headers()).json
    assert answer["reason"] == "already_used"
    ConsentUse.delete().where(ConsentUse.id == full.ids["use"]).execute()
    answer = client.post("/ledger/v1/checks", json=check, headers=org.headers()).json
    assert answer["allowed"] is True
    named = assert_named(client, runner, org, "consent_use", full.ids["use"], MISSING)
    used = AuditEvent.get((AuditEvent.org == org.org.id) & (AuditEvent.action == "consent.used")
                          & (AuditEvent.entity_id == full.ids["single"]))
    assert (named["first_bad_event"], named["first_bad_seq"]) == (used.event_id, used.seq)


def test_editing_consent_terms(client, runner, org, full):
    """The issue: an operation never granted was allowed."""
    check = {"consent_id": full.ids["single"], "operation": "SHARE"}
    ConsentTerms.update(operations=["VERIFY", "SHARE"], single_use=False).where(
        ConsentTerms.consent == full.ids["single"]).execute()
    assert client.post("/ledger/v1/checks", json=check, headers=org.headers()).json["allowed"]
    named = assert_named(client, runner, org, "consent_terms", full.ids["single"], CHANGED)
    terms = AuditEvent.get((AuditEvent.action == "consent.terms")
                           & (AuditEvent.entity_id == full.ids["single"]))
    assert named["first_bad_event"] == terms.event_id


def test_clearing_attestr_revoked_at(client, runner, org, full):
    """The issue: a revoked consent showed ``active``."""
    consent_id = full.ids["revoked"]
    path = f"/api/v3/public/consent/{consent_id}"
    assert client.get(path, headers=full.attestr.headers()).json["status"] == "revoked"
    AttestrConsent.update(revoked_at=None).where(AttestrConsent.id == consent_id).execute()
    assert client.get(path, headers=full.attestr.headers()).json["status"] == "active"
    assert_named(client, runner, org, "attestr_consent", consent_id, CHANGED)


@pytest.mark.parametrize("column", ["consumed_at", "expired_at"])
def test_clearing_attestr_lifecycle_moments(client, runner, org, full, column):
    consent_id = full.ids["consumed" if column == "consumed_at" else "expired"]
    assert getattr(AttestrConsent.get_by_id(consent_id), column) is not None
    AttestrConsent.update({column: None}).where(AttestrConsent.id == consent_id).execute()
    assert_named(client, runner, org, "attestr_consent", consent_id, CHANGED)


def test_rolling_attestr_consent_back_to_its_registration(client, runner, org, full):
    """Undoing a revocation whole: the content and the pointer as the registration left them.
    The row's hash then matches what the registration recorded, but a later event recorded it
    since."""
    consent_id = full.ids["revoked"]
    row = AttestrConsent.get_by_id(consent_id)
    registered = AuditEvent.get((AuditEvent.org == org.org.id)
                                & (AuditEvent.action == "consent.terms")
                                & (AuditEvent.entity_id == row.consent_id))
    assert consent_id in registered.payload["rows"]["attestr_consent"]
    AttestrConsent.update(revoked_at=None, sweep_at=row.valid_till,
                          audit_seq=registered.seq).where(
        AttestrConsent.id == consent_id).execute()
    cov = covered.of(AttestrConsent)
    stored = next(r for r in full_ledger.rows_of(org.org.id, cov) if r.id == consent_id)
    assert covered.row_hash(cov, stored, stored=True) == \
        registered.payload["rows"]["attestr_consent"][consent_id]
    assert_named(client, runner, org, "attestr_consent", consent_id,
                 "a row points at an older audit event than the last one that recorded it")


def test_editing_veriff_consent_approved(client, runner, org, full):
    upload = VeriffConsent.get(VeriffConsent.session == full.ids["session"])
    VeriffConsent.update(approved=not upload.approved).where(
        VeriffConsent.seq == upload.seq).execute()
    assert_named(client, runner, org, "veriff_consent", upload.seq, CHANGED)


def test_editing_truconsent_log_action(client, runner, org, full):
    seq = Consent.get(Consent.id == full.ids["tc_log_consent"]).seq
    TcLog.update(action="declined").where(TcLog.consent == seq).execute()
    assert_named(client, runner, org, "truconsent_log", seq, CHANGED)


def test_editing_avacy_decision_accepted(client, runner, org, full):
    decision = AvacyDecision.get(AvacyDecision.entry == full.ids["entry"])
    AvacyDecision.update(accepted=False).where(
        AvacyDecision.consent == decision.consent_seq).execute()
    listed = client.get("/ledger/v1/avacy/consents", headers=org.headers()).json
    item = next(i for i in listed["items"] if i["id"] == full.ids["entry"])
    assert item["preferences"][0]["accepted"] is False
    assert_named(client, runner, org, "avacy_decision", decision.consent_seq, CHANGED)


def test_editing_avacy_consent_proofs(client, runner, org, full):
    AvacyConsent.update(proofs="<html>forged</html>").where(
        AvacyConsent.id == full.ids["entry"]).execute()
    assert_named(client, runner, org, "avacy_consent", full.ids["entry"], CHANGED)


def test_deleting_a_withdrawn_consent_event(client, runner, org, full):
    grant = Consent.get(Consent.id == full.ids["granted"])
    event = ConsentEvent.get((ConsentEvent.consent == grant.seq)
                             & (ConsentEvent.type == "withdrawn"))
    ConsentEvent.delete().where(ConsentEvent.id == event.id).execute()
    named = assert_named(client, runner, org, "consent_event", event.id, MISSING)
    assert named["first_bad_event"] == event.audit_event_id


def test_a_forged_use_is_a_row_no_event_recorded(client, runner, org, full):
    """A use inserted behind the service's back (the consent now looks used), pointing at a
    real event."""
    real = ConsentUse.get_by_id(full.ids["use"])
    granted = Consent.get(Consent.id == full.ids["withdrawal"])
    forged = ConsentUse.insert(org=org.org.id, consent=granted.id, operation="VERIFY",
                               used_at=real.used_at, actor="someone",
                               audit_event_id=real.audit_event_id,
                               audit_seq=real.audit_seq).execute()
    assert_named(client, runner, org, "consent_use", forged,
                 "the audit event the row points at did not record it")


def test_a_row_moved_to_another_organisation(client, runner, org, other_org, full):
    ConsentUse.update(org=other_org.org.id).where(ConsentUse.id == full.ids["use"]).execute()
    assert_named(client, runner, org, "consent_use", full.ids["use"], MISSING)
    assert verify.full(other_org.org.id)["first_bad_table"] == "consent_use"


# -- every column of every covered table -----------------------------------------------------------

def _edited(kind: str, value):
    if kind == "blob":    # other bytes (or some where there were none)
        return (bytes(value) if value is not None else b"") + b"x"
    if kind == "int":     # far off: a key or a foreign key that no other row has
        return (value or 0) + 100_000
    if kind == "bool":
        return not value
    if kind == "datetime":
        return (value or dt.datetime(2020, 1, 1)) + dt.timedelta(seconds=1)
    if kind == "json":
        return {"tampered": value}
    if value is None:
        return "x"
    return value[:-1] + ("y" if value.endswith("x") else "x")


def _set(cov, key, column: str, value) -> int:
    model = cov.model
    fields = {f.column_name: f for f in model._meta.sorted_fields}
    with constraints_off():
        return model.update({fields[column]: value}).where(
            fields[cov.key] == key).execute()


def _sharing(key) -> set[str]:
    """The covered tables holding a row whose key is ``key`` (only tables whose keys are of
    its kind are asked: PostgreSQL refuses to compare an integer column with text)."""
    text = str(key)
    return {c.table for c in covered.tables()
            if (value := c.key_value(text)) is not None
            and c.model.get_or_none(c.model._meta.primary_key == value) is not None}


@pytest.mark.parametrize("table", [cov.table for cov in covered.tables()])
def test_every_column_of_every_covered_table(org, full, table):
    """Changing any column of any covered row (the key included), pointing it at another
    event or at none, or deleting it: verify names the row."""
    cov = covered.get(table)
    row = full_ledger.rows_of(org.org.id, cov)[-1]
    key = getattr(row, cov.key)
    model = cov.model
    instance = model.get(model._meta.primary_key == key)
    fields = {f.column_name: f for f in model._meta.sorted_fields}
    for column, kind, _ in cov.columns:
        original = instance.__data__[fields[column].name]
        changed = _edited(kind, original)
        assert _set(cov, key, column, changed) == 1
        result = verify.full(org.org.id)
        assert result["ok"] is False, (table, column)
        # A new key or organisation also orphans the rows that share the key and reach their
        # organisation through this row (a Veriff session's state): each is a bad row, and
        # verify names whichever the chain wrote first.
        named = {table} | _sharing(key)
        assert result["first_bad_table"] in named and result["first_bad_row"] == str(key), \
            (column, result)
        assert _set(cov, changed if column == cov.key else key, column, original) == 1
        assert verify.full(org.org.id)["ok"], (table, column, "restored")
    for pointer, reason in ((row.audit_seq - 1, None), (None, None), (10**6, None)):
        _set(cov, key, covered.POINTER, pointer)
        result = verify.full(org.org.id)
        assert (result["ok"], result["first_bad_table"], result["first_bad_row"]) == (
            False, table, str(key)), (pointer, result)
    _set(cov, key, covered.POINTER, row.audit_seq)
    assert verify.full(org.org.id)["ok"]
    sharing = _sharing(key)   # before the delete: the rows that reach their org through it
    with constraints_off():
        model.delete().where(model._meta.primary_key == key).execute()
    result = verify.full(org.org.id)
    assert (result["ok"], result["first_bad_row"], result["reason"]) == (False, str(key), MISSING)
    assert result["first_bad_table"] in sharing, result


def test_what_the_covered_tables_are():
    """The tables whose rows decide an answer; README "The ledger" lists them and those left
    out (with why)."""
    assert [cov.table for cov in covered.tables()] == sorted([
        "consent_terms", "consent_use", "consent_event", "subject_link", "purpose",
        "purpose_version", "notice", "notice_version",
        "attestr_consent",
        "avacy_webspace", "avacy_consent", "avacy_decision",
        "truconsent_asset", "truconsent_collection_point", "truconsent_request",
        "truconsent_link_event", "truconsent_log",
        "truconsent_suppression", "truconsent_rights_settings", "truconsent_dpo",
        "truconsent_nominee", "truconsent_grievance", "truconsent_grievance_message",
        "veriff_session", "veriff_session_state", "veriff_attempt", "veriff_media",
        "veriff_consent", "veriff_screening"])
    assert [c for c, _, _ in covered.of(AttestrConsent).columns if c == "sweep_at"] == []
    # The columns the later versions added are hashed: media bytes (as their SHA-256) and
    # attempts, the session's request, a screening, banners and origins, Avacy's versions.
    hashed = {cov.table: {c: kind for c, kind, _ in cov.columns} for cov in covered.tables()}
    assert hashed["veriff_media"]["content"] == "blob"
    assert "attempt_id" in hashed["veriff_media"]
    assert {"request", "pd_salt"} <= set(hashed["veriff_session_state"])
    assert {"search_name", "search_year", "hits", "monitor_status", "pd_salt"} <= set(
        hashed["veriff_screening"])
    assert {"allowed_origins", "asset_type", "description"} <= set(hashed["truconsent_asset"])
    assert {"consent_type", "settings", "purposes"} <= set(
        hashed["truconsent_collection_point"])
    assert "consented" in hashed["truconsent_log"]
    assert {"versions", "webspace_number"} <= set(hashed["avacy_consent"])


# -- what the later versions added -----------------------------------------------------------------

def test_replacing_veriff_media_bytes(client, runner, org, full):
    """GET /v1/media/{id} serves the bytes: other bytes are named, though size and sha256 are
    left as they were."""
    integ = full.veriff
    media = VeriffMedia.get((VeriffMedia.session == full.ids["session"]))
    served = integ.get(client, f"/v1/media/{media.id}", media.id)
    assert served.status_code == 200 and served.get_data() == bytes(media.content)
    with constraints_off():
        VeriffMedia.update(content=bytes(media.content)[:-1] + b"\x00").where(
            VeriffMedia.id == media.id).execute()
    assert integ.get(client, f"/v1/media/{media.id}", media.id).get_data() != served.get_data()
    assert_named(client, runner, org, "veriff_media", media.id, CHANGED)


def test_moving_veriff_media_to_another_attempt(client, runner, org, full):
    media = VeriffMedia.get(VeriffMedia.session == full.ids["screened_sanction"])
    assert media.attempt_id is not None   # claimed by the attempt the submission began
    VeriffMedia.update(attempt_id=None).where(VeriffMedia.id == media.id).execute()
    assert_named(client, runner, org, "veriff_media", media.id, CHANGED)


def test_restoring_erased_veriff_media_bytes(client, runner, org, full):
    """The deleted session's media lost their bytes; bytes put back are named."""
    media = VeriffMedia.get(VeriffMedia.session == full.ids["screened_pep"])
    assert media.content is None
    VeriffMedia.update(content=b"\xff\xd8\xff restored").where(
        VeriffMedia.id == media.id).execute()
    assert_named(client, runner, org, "veriff_media", media.id, CHANGED)


def test_clearing_a_watchlist_hit(client, runner, org, full):
    """The watchlist answer: a sanctions hit removed reads as no match."""
    integ, sid = full.veriff, full.ids["screened_sanction"]
    path = f"/v1/sessions/{sid}/watchlist-screening"
    assert integ.get(client, path, sid).json["data"]["totalHits"] == 1
    VeriffScreening.update(hits=[], match_status="no_match").where(
        VeriffScreening.session == sid).execute()
    assert integ.get(client, path, sid).json["data"]["totalHits"] == 0
    assert_named(client, runner, org, "veriff_screening", sid, CHANGED)


def test_putting_a_name_back_on_an_erased_screening(client, runner, org, full):
    sid = full.ids["screened_pep"]
    assert VeriffScreening.get_by_id(sid).search_name is None
    VeriffScreening.update(search_name="Carlos Pep").where(
        VeriffScreening.session == sid).execute()
    assert_named(client, runner, org, "veriff_screening", sid, CHANGED)


def test_editing_the_request_a_veriff_session_kept(client, runner, org, full):
    sid = full.ids["session"]
    state = VeriffSessionState.get_by_id(sid)
    assert state.request and state.pd_salt
    VeriffSessionState.update(request={**state.request, "vendorData": "someone-else"}).where(
        VeriffSessionState.session == sid).execute()
    assert_named(client, runner, org, "veriff_session_state", sid, CHANGED)


def test_deleting_a_truconsent_suppression(client, runner, org, full):
    """The dp-timeline shows the suppression; deleted, it is gone from there and named."""
    h = org.headers(org.consent_key)
    path = "/api/v1/external/consents/dp-timeline?user_id=sdk-user"
    events = [i["event"] for i in client.get(path, headers=h).json["items"]]
    assert "suppressed" in events
    row = TcSuppression.get(TcSuppression.subject_id == ledger.find_subject(org.org.id,
                                                                             "sdk-user").id)
    TcSuppression.delete().where(TcSuppression.id == row.id).execute()
    assert "suppressed" not in [i["event"] for i in client.get(path, headers=h).json["items"]]
    assert_named(client, runner, org, "truconsent_suppression", row.id, MISSING)


def test_editing_a_truconsent_suppression(client, runner, org, full):
    row = TcSuppression.get(TcSuppression.subject_id == ledger.find_subject(org.org.id,
                                                                             "sdk-user").id)
    TcSuppression.update(purpose_id="sdk-kyc").where(TcSuppression.id == row.id).execute()
    assert_named(client, runner, org, "truconsent_suppression", row.id, CHANGED)


def test_widening_an_assets_allowed_origins(client, runner, org, full):
    """Who may call the SDK API for an asset."""
    asset_id = full.ids["sdk_asset"]
    TcAsset.update(allowed_origins=["*"]).where(TcAsset.id == asset_id).execute()
    assert_named(client, runner, org, "truconsent_asset", asset_id, CHANGED)


@pytest.mark.parametrize("change", [{"settings": {"primary_color": "#ff0000"}},
                                    {"consent_type": "cookie_consent"}])
def test_editing_a_banner(client, runner, org, full, change):
    cp_id = full.ids["sdk_cp"]
    TcCollectionPoint.update(**change).where(TcCollectionPoint.id == cp_id).execute()
    assert_named(client, runner, org, "truconsent_collection_point", cp_id, CHANGED)


def test_editing_what_an_sdk_sent_for_a_purpose(client, runner, org, full):
    log = TcLog.get(TcLog.consented == "declined")
    TcLog.update(consented="accepted").where(TcLog.consent == log.consent_seq).execute()
    assert_named(client, runner, org, "truconsent_log", log.consent_seq, CHANGED)


def test_editing_avacy_v4_versions(client, runner, org, full):
    entry = full.ids["entry_v4"]
    AvacyConsent.update(versions=[{"slug": "privacy_policy", "link": "https://elsewhere/",
                                   "date": "2020-01-01 00:00:00"}]).where(
        AvacyConsent.id == entry).execute()
    assert_named(client, runner, org, "avacy_consent", entry, CHANGED)
