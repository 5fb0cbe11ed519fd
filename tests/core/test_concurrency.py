"""Several processes (as several gunicorn workers or service instances would) writing to one
database at once still build one valid chain per organisation, and lose nothing."""
from __future__ import annotations

import multiprocessing as mp

from consent import dialects
from consent.core import ledger, storage
from consent.core.storage import AuditEvent, Consent

WRITERS, PER_WRITER = 4, 25


def _writer(url: str, org_id: str, n: int, worker: int, out):
    try:
        dialects.declare()  # a process without an app declares the registry's parts itself
        storage.init_database(url)  # like a fresh worker: its own connection
        for i in range(n):
            ledger.record_one(org_id, ledger.Decision(subject=f"w{worker}-{i}", purpose="p",
                                                      status="granted"))
        out.put(("ok", worker))
    except Exception as exc:  # pragma: no cover - reported to the parent
        out.put(("error", repr(exc)))


def test_concurrent_writers_one_valid_chain(app, org, other_org, database_url):
    storage.db.close()
    ctx = mp.get_context("forkserver")  # clean children: a fork could inherit a held lock
    out = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(database_url, (org if w % 2 else other_org).org.id,
                                               PER_WRITER, w, out))
             for w in range(WRITERS)]
    try:
        for p in procs:
            p.daemon = True
            p.start()
        results = [out.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=60)
            p.kill()
    assert all(status == "ok" for status, _ in results), results
    for fixture in (org, other_org):
        assert Consent.select().where(Consent.org == fixture.org.id).count() == \
            PER_WRITER * WRITERS // 2
        result = ledger.verify(fixture.org.id)
        assert result["ok"], result
        seqs = [e.seq for e in AuditEvent.select(AuditEvent.seq)
                .where(AuditEvent.org == fixture.org.id).order_by(AuditEvent.seq)]
        assert seqs == list(range(1, len(seqs) + 1))
