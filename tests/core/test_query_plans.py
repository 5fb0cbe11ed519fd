"""Every read behind a read endpoint keeps its cost flat as the ledger grows: SQLite's query plan
(EXPLAIN QUERY PLAN, on a ledger with statistics) searches an index that starts with the query's
filter and, for a list, ends with its order. A future index change that brings back a walk over
the organisation's rows, or a sort of all of them, fails here. The core's reads are below; each
dialect declares its own with the index each must use (``plans`` in its package's
``testing.py``, ``consent.testing.Plan``)."""
from __future__ import annotations

import os

import pytest

from consent.core import ledger, queries, storage
from consent.testing import declarations

DECLARED = [d for d in declarations() if d.plans is not None]

pytestmark = [pytest.mark.skipif(bool(os.environ.get("CONSENT_TEST_DATABASE_URL")),
                                 reason="SQLite's query planner"),
              pytest.mark.tampered]   # rows written directly, with placeholder hashes

ROWS = 3000
BIG_TABLES = ("consent", "audit_event", "subject", "consent_event",
              *(table for d in declarations() for table in d.big_tables))


@pytest.fixture
def ledger_with_statistics(app, org):
    """A few thousand consents over many subjects and five purposes, then ANALYZE, so the
    planner chooses as it would on a large ledger."""
    purposes = [ledger.ensure_purpose(org.org.id, f"p{i}").id for i in range(5)]
    conn = storage.db.connection()
    now = storage.utcnow().isoformat(sep=" ")
    with storage.transaction():
        conn.executemany('INSERT INTO "subject" (id, org_id, identifier, created_at) VALUES '
                         "(?, ?, ?, ?)", ((10_000 + i, org.org.id, f"s{i}", now)
                                          for i in range(ROWS // 10)))
        conn.executemany(
            'INSERT INTO "consent" (id, org_id, subject_id, recorded_subject_id, purpose_id, '
            "purpose_version, status, source, valid_from, created_at, record_hash) "
            "VALUES (?, ?, ?, ?, ?, '1', ?, ?, ?, ?, ?)",
            ((f"c-{n}", org.org.id, 10_000 + n // 10, 10_000 + n // 10, purposes[n % 5],
              ("granted", "denied", "withdrawn")[n % 3], ("api", "ledger", "veriff")[n % 3],
              now, now, "0" * 64) for n in range(ROWS)))
        conn.executemany(
            'INSERT INTO "audit_event" (event_id, org_id, seq, at, actor, action, entity_type, '
            "entity_id, payload, prev_hash, hash) VALUES (?, ?, ?, ?, 'a', 'x', 'e', 'i', '{}', "
            "'', '')", ((f"e-{n}", org.org.id, 100 + n, now) for n in range(ROWS)))
    storage.db.execute_sql("ANALYZE")
    return org


def plan(statement, params) -> list[str]:
    rows = storage.db.execute_sql("EXPLAIN QUERY PLAN " + statement.text, tuple(params))
    return [row[-1] for row in rows.fetchall()]


def assert_flat(name, steps, index=None, sorted_in_memory=False):
    text = "\n".join(steps)
    for table in BIG_TABLES:
        for alias in (table, table[0], "t", "c", "a", "r", "l", "u", "e"):
            assert not any(s.startswith(f"SCAN {alias} ") or s == f"SCAN {alias}"
                           for s in steps), f"{name} walks a table:\n{text}"
    if index:
        assert index in text, f"{name} does not use {index}:\n{text}"
    if not sorted_in_memory:
        assert "TEMP B-TREE" not in text, f"{name} sorts in memory:\n{text}"


def consent_list(*names):
    return queries.consent_page(names)   # the statement ledger.list_consents runs


def test_ledger_reads(ledger_with_statistics):
    org = ledger_with_statistics.org.id
    cases = [
        ("list", consent_list(), (org, 50), "consent_org_id_seq"),
        ("list by subject", consent_list("subject_id"),
         (org, 10_001, 50), "consent_subject_id_seq"),
        ("list by purpose", consent_list("purpose_id"), (org, 1, 50),
         "consent_purpose_id_seq"),
        ("list by status", consent_list("status"),
         (org, "granted", 50), "consent_org_id_seq"),
        ("list by source", consent_list("source"), (org, "api", 50),
         "consent_org_id_source_seq"),
        ("list by subject and status", consent_list("subject_id", "status"),
         (org, 10_001, "granted", 50), "consent_subject_id_seq"),
        ("next page by subject", consent_list("subject_id", "before_seq"),
         (org, 10_001, 500, 50), "consent_subject_id_seq"),
        ("one consent", queries.CONSENT_BY_ID, (org, "c-5"), "consent_id"),
        ("withdrawal check", queries.NEWER_CONSENT, (org, 10_001, 1, 0, 1),
         "consent_subject_id_seq"),
        # the binding rule (ledger.binding): each consent by its seq, a newer one by its index
        ("binding", queries.binding_of(2), (org, 1, 5), "consent_subject_id_seq"),
        ("consents by seq", queries.consents_by_seq(2), (org, 1, 5), None),
        ("events by id", queries.events_by_id(2), (org, "e-1", "e-2"), "audit_event_event_id"),

        ("subject", queries.SUBJECT_BY_LOOKUP, (org, b"s1"), "subject_lookup"),
        ("the console's chain page", queries.AUDIT_BEFORE, (org, 500, 50),
         "audit_event_org_id_seq"),
        ("a rights request's steps", queries.EVENTS_ABOUT_NEAR,
         (org, "2026-01-01", "2026-01-02", "rights_request", "r-1"),
         "audit_event_org_id_at_seq"),
        ("audit after", queries.AUDIT_AFTER, (org, 10, 100), "audit_event_org_id_seq"),
    ]
    for name, statement, params, index in cases:
        assert_flat(name, plan(statement, params), index)
    # Keyset pages in recorded order: the (org, seq) index or the rowid range (seq is the rowid).
    steps = plan(queries.CONSENTS_AFTER, (org, 0, 1000))
    assert_flat("export page", steps)
    assert "consent_org_id_seq" in steps[0] or "PRIMARY KEY (rowid>?)" in steps[0], steps
    # A person's consents (the access report, erasure, the console's timeline), by holder:
    # their own few rows, sorted.
    assert_flat("consents of a person", plan(queries.consents_held_by(2),
                                             (org, 10_001, 10_002)),
                "consent_subject_id_seq", sorted_in_memory=True)
    # The state of one subject sorts its own few rows by purpose: flat, from its index.
    assert_flat("state", plan(queries.CONSENTS_OF_SUBJECT, (org, 10_001)),
                "consent_subject_id_seq", sorted_in_memory=True)


def test_audit_ranges(ledger_with_statistics):
    org = ledger_with_statistics.org.id
    # the statements ledger.audit_events runs
    by_time = queries.audit_page(("since", "until"))
    assert_flat("audit by time", plan(by_time, (org, "2026-01-01", "2027-01-01", 100)),
                "audit_event_org_id_at_seq")
    by_seq = queries.audit_page(("from_seq", "to_seq"))
    assert_flat("audit by seq", plan(by_seq, (org, 10, 500, 100)), "audit_event_org_id_seq")
    by_id = queries.audit_page(("event_id",))
    assert_flat("audit by id", plan(by_id, (org, "e-5", 100)), "audit_event_event_id",
                sorted_in_memory=True)


@pytest.mark.parametrize("declared", DECLARED, ids=[d.name for d in DECLARED])
def test_the_dialects_reads(ledger_with_statistics, declared):
    plans = declared.plans(ledger_with_statistics.org.id)
    assert plans
    for p in plans:
        assert_flat(f"{declared.name}: {p.name}", plan(p.statement, p.params), p.index,
                    sorted_in_memory=p.sorted_in_memory)
