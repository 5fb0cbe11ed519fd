"""``make bench``'s ``erasure`` part: erasing a subject with 1,000 records (consents with
evidence, an identity link, truConsent-style metadata) on a copy of the bench's small ledger,
through ``consent.core.rights.erase_now`` in the process (every dialect's erase hook runs),
every round on a fresh subject, alternating with the access report of a subject of the same
size; medians and every round. No target: the figure says how long a person's erasure holds
the organisation's write lock."""
from __future__ import annotations

import statistics
import time
from pathlib import Path

from .server import OUT, fresh_copy

RECORDS = 1000


def measure(source: Path, rounds: int, show, records: int = RECORDS) -> dict:
    from consent import create_app
    from consent.core import ledger, rights, storage

    path = fresh_copy(source, "erasure")
    app = create_app({"TESTING": True, "CONSENT_DATABASE_URL": f"sqlite:///{path}",
                      "CONSENT_CHECKPOINT_KEY_DIR": str(OUT / "erasure-keys"),
                      "CONSENT_SECRET_KEY": "bench"})
    erase_s, report_s, kept = [], [], 0
    try:
        with app.app_context():
            storage.create_tables()
            org = ledger.get_org("demo")
            for i in range(rounds):
                who = f"erased-{i}@bench.example"
                for start in range(0, records, 250):
                    ledger.record(org.id, [ledger.Decision(
                        subject=who, purpose=f"bench-p{n % 40}", status="granted",
                        evidence={"ip": "192.0.2.1", "ua": "bench", "n": n})
                        for n in range(start, min(start + 250, records))])
                began = time.perf_counter()
                found = rights.report(org.id, who)
                report_s.append(time.perf_counter() - began)
                assert len(found["consents"]) == records
                began = time.perf_counter()
                _, result = rights.erase_now(org.id, who, actor="bench")
                erase_s.append(time.perf_counter() - began)
                kept = result["consents"]
            # (no verify: the prefilled rows carry placeholder hashes, bench/server.py)
    finally:
        app.extensions["consent.background"].stop()
        storage.db.close()
    show(f"erasure of a subject with {records:,} records: median "
         f"{statistics.median(erase_s) * 1000:.0f} ms, rounds "
         + ", ".join(f"{t * 1000:.0f}" for t in erase_s))
    show(f"access report of a subject with {records:,} records: median "
         f"{statistics.median(report_s) * 1000:.0f} ms, rounds "
         + ", ".join(f"{t * 1000:.0f}" for t in report_s))
    return {"records": records, "kept": kept, "erase_s": erase_s,
            "erase_median_s": statistics.median(erase_s), "report_s": report_s,
            "report_median_s": statistics.median(report_s), "ok": True}
