"""What one write transaction keeps (consent.core.scope): the chain's head after an event it
appended, the subject rows it looked up; emptied at commit, rollback and a savepoint's rollback,
so nothing kept outlives what it describes."""
from __future__ import annotations

import pytest

from consent.core import audit, ledger, queries, scope, verify
from consent.core.storage import AuditEvent, db, transaction


@pytest.fixture
def statements(monkeypatch):
    """Every statement the database runs, in order."""
    seen: list[str] = []
    real = db.obj.execute_sql

    def traced(sql, params=None, *args, **kwargs):
        seen.append(sql)
        return real(sql, params, *args, **kwargs)

    monkeypatch.setattr(db.obj, "execute_sql", traced)
    return seen


def _heads(seen):
    head = queries.AUDIT_HEAD.text.split(" WHERE ")[0].replace("?", "%s")
    return [s for s in seen if s.startswith(head.split(" FROM ")[0]) and '"audit_event"' in s
            and "DESC LIMIT 1" in s]


def append(org_id, n):
    return audit.append(org_id, actor="test", action="test.scope", entity_type="thing",
                        entity_id=str(n), payload={"n": n})


def test_three_events_of_one_transaction_read_the_head_once(app, org, statements):
    with transaction():
        first = append(org.org.id, 1)
        second = append(org.org.id, 2)
        third = append(org.org.id, 3)
    assert len(_heads(statements)) == 1
    assert (second.seq, third.seq) == (first.seq + 1, first.seq + 2)
    stored = {e.seq: e for e in AuditEvent.select().where(AuditEvent.org == org.org.id)}
    assert stored[second.seq].prev_hash == first.hash and stored[third.seq].prev_hash == second.hash
    assert verify.full(org.org.id)["ok"] is True
    # the next transaction reads the head again (another writer may have appended since)
    statements.clear()
    with transaction():
        assert append(org.org.id, 4).seq == third.seq + 1
    assert len(_heads(statements)) == 1


def test_a_savepoint_rolled_back_takes_its_events_and_the_kept_head_with_it(app, org):
    with transaction():
        kept = append(org.org.id, 1)
        with pytest.raises(RuntimeError):
            with db.atomic():     # a savepoint
                append(org.org.id, 2)
                raise RuntimeError("undone")
        after = append(org.org.id, 3)
    assert after.seq == kept.seq + 1          # not after the event the savepoint took back
    assert verify.full(org.org.id)["ok"] is True


def test_a_rolled_back_transaction_leaves_nothing_kept(app, org):
    with pytest.raises(RuntimeError):
        with transaction():
            append(org.org.id, 1)
            assert scope.current()
            raise RuntimeError("undone")
    assert scope.current() is None
    with transaction():
        assert scope.current() == {}
        first = append(org.org.id, 2)
    assert verify.full(org.org.id)["ok"] is True and first.seq >= 1


def test_a_subject_named_twice_is_looked_up_once_and_erasure_forgets_it(app, org, statements):
    with transaction():
        made = ledger.ensure_subject(org.org.id, "twice@example.com")
        again = ledger.ensure_subject(org.org.id, " twice@example.com")
        assert again.id == made.id
        assert sum('FROM "subject"' in s for s in statements) == 1
        scope.forget()
        assert ledger.ensure_subject(org.org.id, "twice@example.com").id == made.id
        assert sum('FROM "subject"' in s for s in statements) == 2
