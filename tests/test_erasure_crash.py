"""An erasure killed half-way (SIGKILL inside its transaction, after it has blanked part of the
person's data) leaves the person whole: erased or not, never half. Restarted, the erasure runs
to its end, and the chain verifies at every step. Real processes, on the suite's database."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from consent import create_app
from consent.core import ledger, rights, storage
from consent.core.storage import AuditEvent, Consent, Subject
from tests.helpers import PG_URL, drop_pg_database, fresh_pg_database

pytestmark = pytest.mark.crash

WHO = "kill.me.softly@example.com"
CHILD = textwrap.dedent("""
    import os, sys, time
    from consent import create_app
    from consent.core import rights, storage
    app = create_app({"TESTING": True, "CONSENT_DATABASE_URL": sys.argv[1],
                      "CONSENT_SECRET_KEY": "crash-test"})
    marker = sys.argv[3]

    def stall(person):
        # inside the erasure's transaction, after the core has blanked the person's rows
        open(marker, "w").close()
        time.sleep(60)
        return {}

    with app.app_context():
        rights.install({**rights.installed(), "zz-stall": rights.People(erase=stall)})
        rights.erase_now(sys.argv[2], %r, actor="test")
""" % WHO)


@pytest.fixture
def database(tmp_path):
    if PG_URL:
        url, name = fresh_pg_database()
        yield url
        drop_pg_database(name)
    else:
        yield f"sqlite:///{tmp_path / 'crash.sqlite3'}"


def _state(org_id: str) -> tuple:
    subject = ledger.find_subject(org_id, WHO)
    evidence = [c.evidence for c in Consent.select().order_by(Consent.seq)]
    erased = AuditEvent.select().where(AuditEvent.action == "subject.erased").count()
    return subject, evidence, erased


def test_an_erasure_killed_half_way_is_undone_whole_then_done_whole(database, tmp_path):
    app = create_app({"TESTING": True, "CONSENT_DATABASE_URL": database,
                      "CONSENT_SECRET_KEY": "crash-test"})
    with app.app_context():
        storage.create_tables()
        org = ledger.create_org("crash", "Crash")
        ledger.record(org.id, [ledger.Decision(subject=WHO, purpose=f"p{i}", status="granted",
                                               evidence={"ip": "192.0.2.9", "n": i})
                               for i in range(200)])
        ledger.map_identity(org.id, "device-9", WHO, metadata={"phone": "+919800000001"})
        before = _state(org.id)
        assert before[0] is not None and before[2] == 0
        storage.db.close()

    marker = tmp_path / "inside"
    child = subprocess.Popen([sys.executable, "-c", CHILD, database, org.id, str(marker)],
                             cwd=os.getcwd(), start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the erasure ended before it was killed"
            assert time.monotonic() < deadline, "the erasure never reached its stall"
            time.sleep(0.05)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)

    app = create_app({"TESTING": True, "CONSENT_DATABASE_URL": database,
                      "CONSENT_SECRET_KEY": "crash-test"})
    with app.app_context():
        after = _state(org.id)
        assert after[0] == before[0] and after[1] == before[1] and after[2] == 0
        assert Subject.select().where(Subject.erased_at.is_null(False)).count() == 0
        assert ledger.verify(org.id)["ok"] is True
        # restarted, it runs to its end
        request, result = rights.erase_now(org.id, WHO, actor="test")
        # its 200 grants, and their 200 withdrawals by the erasure
        assert result["consents"] == 400 and request.status == "completed"
        subject, evidence, erased = _state(org.id)
        assert subject is None and erased == 1
        assert all(set(e) == {"erased"} for e in evidence if e is not None)
        assert sum(e is not None for e in evidence) == 200
        assert ledger.verify(org.id)["ok"] is True
        storage.db.close()
