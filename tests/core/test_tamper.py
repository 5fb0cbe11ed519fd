"""Tampering with any stored field of a consent or an audit event is detected by verify."""
from __future__ import annotations

import datetime as dt

import pytest

from consent.core import audit, ledger
from contextlib import contextmanager

from consent.core.storage import AuditEvent, Consent, ConsentEvent, Purpose, Subject, db, is_sqlite


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
    ledger.record(org.org, [
        ledger.Decision(subject="alice", purpose="marketing", status="granted",
                        notice_version="n1", valid_until=dt.datetime(2999, 1, 1),
                        evidence={"ip": "198.51.100.1"}),
        ledger.Decision(subject="bob", purpose="analytics", status="denied"),
    ])
    first = Consent.select().where(Consent.org == org.org.id).order_by(Consent.seq).first()
    ledger.withdraw(org.org, first.id)
    ledger.map_identity(org.org, "bob", "bob-authenticated")
    ledger.record_one(org.org, ledger.Decision(subject="carol", purpose="marketing",
                                               status="granted"))
    assert ledger.verify(org.org)["ok"]
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
    result = ledger.verify(seeded.org)
    assert result["ok"] is False, field
    assert result["reason"]


def test_reordering_consents_detected(seeded):
    """Swap the internal order of a grant and its withdrawal (events too): the grant would look
    binding again. The audit chain's order gives it away."""
    grant, withdrawal = list(Consent.select().where(Consent.org == seeded.org.id)
                             .where(Consent.purpose == Purpose.get(Purpose.code == "marketing"))
                             .order_by(Consent.seq))[:2]
    with constraints_off():
        for seq, temp in ((grant.seq, -1), (withdrawal.seq, grant.seq), (-1, withdrawal.seq)):
            Consent.update(seq=temp).where(Consent.seq == seq).execute()
            ConsentEvent.update(consent=temp).where(ConsentEvent.consent == seq).execute()
    result = ledger.verify(seeded.org)
    assert result["ok"] is False
    assert result["reason"] == "consent order differs from the audit chain's order"


def test_subject_identifier_tamper_detected(seeded):
    Subject.update(identifier="mallory").where(Subject.identifier == "alice").execute()
    assert ledger.verify(seeded.org)["ok"] is False


def test_deleted_consent_detected(seeded):
    c = target_consent(seeded)
    from consent.core.storage import ConsentEvent
    ConsentEvent.delete().where(ConsentEvent.consent == c.seq).execute()
    Consent.delete().where(Consent.seq == c.seq).execute()
    result = ledger.verify(seeded.org)
    assert result["ok"] is False
    assert result["reason"] == "the consent this event recorded is missing"


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
    result = ledger.verify(seeded.org)
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
    result = ledger.verify(seeded.org)
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
    ledger.record_one(other_org.org, ledger.Decision(subject="x", purpose="p", status="granted"))
    first = (AuditEvent.select().where(AuditEvent.org == other_org.org.id)
             .order_by(AuditEvent.seq).first())
    assert first.seq == 1 and first.prev_hash == audit.GENESIS
    assert ledger.verify(other_org.org)["ok"] and ledger.verify(seeded.org)["ok"]
