"""The archive's reads keep their cost flat as it grows: SQLite's query plan (EXPLAIN QUERY PLAN,
after ANALYZE) searches an index that starts with the filter and ends with the order, and never
walks the archive or sorts it."""
from __future__ import annotations

import os

import pytest

from consent.core import queries as core
from consent.core import ledger, storage
from consent.dialects.avacy import archive, queries
from tests.avacy_helpers import Tenant

pytestmark = pytest.mark.skipif(bool(os.environ.get("CONSENT_TEST_DATABASE_URL")),
                                reason="SQLite's query planner")


@pytest.fixture
def filled(org, other_org):
    """Two organisations' archives (the other one larger), then ANALYZE."""
    for owner, count in ((org, 40), (other_org, 120)):
        tenant = Tenant(owner.org)
        for i in range(count):
            archive.record(owner.org, tenant.webspace, archive.Submission(
                channel="v4", identifier=f"p{i % 20}@example.it", ip_address="203.0.113.7",
                proofs="<form></form>", choices=[("newsletter", i % 2 == 0)], notices=[],
                request={}), actor="test")
    storage.db.execute_sql("ANALYZE")
    return org


def plan(statement, params) -> str:
    rows = storage.db.execute_sql("EXPLAIN QUERY PLAN " + statement.text, tuple(params))
    return "\n".join(row[-1] for row in rows.fetchall())


def assert_searches(text: str, alias: str, index: str) -> None:
    assert f"SEARCH {alias} USING" in text and index in text, text
    assert f"SCAN {alias}" not in text, text
    assert "TEMP B-TREE" not in text, text


@pytest.mark.parametrize("names, index", [
    ((), "avacy_consent_org_id_id"),
    (("subject_id",), "avacy_consent_org_id_subject_id_id"),
    (("subject_id", "before_id"), "avacy_consent_org_id_subject_id_id"),
    (("before_id",), "avacy_consent_org_id_id"),
])
def test_archive_pages_search_an_index_in_order(filled, names, index):
    values = {"subject_id": ledger.find_subject(filled.org.id, "p3@example.it").id,
              "before_id": 40}
    statement = queries.entry_page(names)   # the statement archive.page runs
    assert_searches(plan(statement, (filled.org.id, *(values[n] for n in names), 51)), "a",
                    index)


def test_entry_decisions_and_webspaces_are_searched(filled):
    text = plan(queries.decisions_of(4), (1, 2, 3, 3))
    assert "SEARCH d USING" in text and "SCAN d" not in text, text
    text = plan(queries.ENTRY_BY_ID, (filled.org.id, 5))
    assert "SEARCH a USING" in text and "SCAN a" not in text, text
    # a page's audit events (audit.events_by_id), each by its unique event_id
    text = plan(core.events_by_id(2), (filled.org.id, "e1", "e2"))
    assert "SEARCH t USING INDEX" in text and "SCAN t" not in text, text
    for statement, params in ((queries.WEBSPACE_BY_KEY, (filled.org.id, "k")),
                              (queries.WEBSPACE_BY_NUMBER, (filled.org.id, 1))):
        text = plan(statement, params)
        assert "SEARCH t USING" in text and "SCAN t" not in text, text
    # whether each decision's consent still binds (ledger.binding): the consent by its seq, the
    # newer one by the (subject, purpose, seq) index
    text = plan(core.binding_of(2), (filled.org.id, 1, 5))
    assert "SEARCH c USING" in text and "SCAN c" not in text, text
    assert "SEARCH n USING" in text and "SCAN n" not in text, text


def test_people_reads_search_an_index(filled):
    """A person's entries (erasure, report) by the (org, subject, id) index; the proofs a
    retention pass removes by the (org, created_at) one."""
    subject = ledger.find_subject(filled.org.id, "p3@example.it").id
    assert_searches(plan(queries.ENTRIES_OF_SUBJECT, (filled.org.id, subject)), "a",
                    "avacy_consent_org_id_subject_id_id")
    assert_searches(plan(queries.PROOFS_BEFORE, (filled.org.id, "2100-01-01", 200)), "a",
                    "avacy_consent_org_id_created_at")
