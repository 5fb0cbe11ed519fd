"""A database written before rows were covered (``consent.core.covered``): the migration adds
``audit_seq`` to every covered table and attests the rows already there in ``rows.attested``
events, so from the upgrade on an edit or a deletion of an old row is named by verify like any
other."""
from __future__ import annotations

import json

import pytest

from consent.core import audit, covered, ledger, migrate, storage, verify
from consent.core.migrate import SchemaMigration
from consent.core.storage import AuditEvent, ConsentEvent, db
from consent.core.usage import ConsentTerms
from consent.dialects.veriff.models import VeriffScreening, VeriffSessionState
from consent.dialects.truconsent import models as tc_models
from tests import full_ledger


# Each component's version before rows were covered, and the migration that covers them.
BEFORE = {"core": 3, "attestr": 1, "avacy": 2, "truconsent": 2, "veriff": 2}


def make_it_old() -> None:
    """What the versions before this change left: no ``audit_seq`` on the covered tables (nor
    Veriff's ``salt``s), events that record no rows, and every component at its version before
    the one that covers its rows (:data:`BEFORE`)."""
    # the tables of later versions did not exist yet (truConsent's rights center, version 6)
    later = [m._meta.table_name for m in tc_models.RIGHTS_MODELS]
    for table in reversed(later):   # a table before those it points at
        db.execute_sql(f'DROP TABLE "{table}"')
    for cov in covered.tables():
        if cov.table not in later:
            db.execute_sql(f'ALTER TABLE "{cov.table}" DROP COLUMN "{covered.POINTER}"')
    db.execute_sql('ALTER TABLE "veriff_session_state" DROP COLUMN "pd_salt"')
    db.execute_sql('ALTER TABLE "veriff_screening" DROP COLUMN "pd_salt"')
    for org in ledger.all_orgs():
        prev = audit.GENESIS
        for event in AuditEvent.select().where(AuditEvent.org == org.id).order_by(AuditEvent.seq):
            event.payload = {k: v for k, v in event.payload.items() if k != "rows"}
            event.prev_hash = prev
            event.hash = prev = audit.compute_hash(event)
            event.save()
    for component, version in BEFORE.items():
        SchemaMigration.delete().where((SchemaMigration.component == component)
                                       & (SchemaMigration.version >= version)).execute()
        SchemaMigration.create(component=component, version=version,
                               description="before rows were covered")


@pytest.fixture
def upgraded(app, client, runner, org, other_org, monkeypatch):
    full = full_ledger.build(client, app, org, monkeypatch)
    ledger.record_one(other_org.org.id, ledger.Decision(subject="x", purpose="p", status="granted"))
    make_it_old()
    assert "older than this code" in migrate.problem()
    result = runner.invoke(args=["migrate"])
    assert result.exit_code == 0, result.output
    for component, version in BEFORE.items():
        assert f"{component}: version {version + 1}: rows covered by the audit chain" \
            in result.output
    assert migrate.problem() is None
    return full


def test_the_rows_already_there_are_attested_and_verify(client, runner, org, other_org,
                                                         upgraded):
    attested = list(AuditEvent.select().where((AuditEvent.org == org.org.id)
                                              & (AuditEvent.action == covered.ATTEST_ACTION)))
    assert attested and all(e.actor == covered.ATTEST_ACTOR for e in attested)
    recorded = {(table, key): e.seq for e in attested
                for table, rows in covered.recorded(e.payload).items() for key in rows}
    for cov in covered.tables():
        for row in full_ledger.rows_of(org.org.id, cov):
            key = (cov.table, str(getattr(row, cov.key)))
            assert recorded[key] == row.audit_seq, key
    assert len(recorded) == full_ledger.count_covered(org.org.id)
    # Veriff's state rows that hold person data got a salt before they were hashed, and so did
    # the screenings that hold a search term; the erased ones have none.
    with_person = VeriffSessionState.select().where(VeriffSessionState.person.is_null(False))
    assert with_person.count() and all(s.pd_salt for s in with_person)
    screenings = list(VeriffScreening.select())
    assert {s.search_name is not None for s in screenings} == {True, False}
    assert all(bool(s.pd_salt) == (s.search_name is not None) for s in screenings)
    for o in (org, other_org):
        assert runner.invoke(args=["audit", "verify", "--org", o.slug]).exit_code == 0
    whole = verify.full(org.org.id)
    assert whole["ok"] and whole["rows_checked"] == full_ledger.count_covered(org.org.id)
    # Writing goes on as before, covered from the start.
    r = client.post("/ledger/v1/consents", headers=org.headers(), json={
        "subject": "zoe", "purpose": "kyc", "status": "granted", "operations": ["X"]})
    assert r.status_code == 201
    assert verify.full(org.org.id)["ok"]


@pytest.mark.tampered
def test_an_old_row_edited_or_deleted_after_the_upgrade_is_named(client, runner, org,
                                                                 upgraded):
    single = upgraded.ids["single"]
    ConsentTerms.update(operations=["VERIFY", "SHARE"]).where(
        ConsentTerms.consent == single).execute()
    result = runner.invoke(args=["audit", "verify", "--org", org.slug])
    verdict = json.loads(result.output)
    assert result.exit_code == 1
    assert (verdict["first_bad_table"], verdict["first_bad_row"], verdict["reason"]) == (
        "consent_terms", single, "the row does not match the hash its audit event recorded")
    attested = AuditEvent.get((AuditEvent.org == org.org.id)
                              & (AuditEvent.seq == verdict["first_bad_seq"]))
    assert attested.action == covered.ATTEST_ACTION
    assert verdict == {"org": org.slug, **{k: v for k, v in client.get(
        "/ledger/v1/audit/verify", headers=org.headers()).json.items()
        if k in verify.VERDICT_FIELDS}}
    ConsentTerms.update(operations=["VERIFY"]).where(ConsentTerms.consent == single).execute()
    assert verify.full(org.org.id)["ok"]
    withdrawn = ConsentEvent.get(ConsentEvent.type == "withdrawn")
    ConsentEvent.delete().where(ConsentEvent.id == withdrawn.id).execute()
    result = verify.full(org.org.id)
    assert (result["first_bad_table"], result["first_bad_row"], result["reason"]) == (
        "consent_event", str(withdrawn.id), "a row this event recorded is missing")


def test_attesting_again_is_idempotent(app, org, upgraded):
    """Rows already covered are left alone; ``again`` re-attests every row (a migration that
    adds a column to a covered table)."""
    with storage.transaction():
        assert covered.attest(covered.tables()) == 0
    before = AuditEvent.select().count()
    with storage.transaction():
        assert covered.attest(covered.tables(), again=True) == \
            sum(full_ledger.count_covered(o.id) for o in ledger.all_orgs())
    assert AuditEvent.select().count() > before
    assert all(verify.full(o.id)["ok"] for o in ledger.all_orgs())


def test_verify_on_an_older_schema_says_to_migrate(app, runner, org):
    make_it_old()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "older than this code" in result.output and "flask --app app migrate" in result.output
    assert runner.invoke(args=["migrate"]).exit_code == 0
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
