"""``make bench``'s ``stub`` part: what a client project's suite waits for.

* **start-up**: the pytest plugin's fixture starting a fresh service from this checkout
  (``python -m consent.stub``: migrate, seed-demo, gunicorn, one process) until ``/readyz``
  answers and the credentials are read: every round, and the median (budget: well under 3 s);
* **reset**: ``POST /_control/reset`` of an organisation holding 10,000 consents (with their
  subjects and audit events: the bench's prefilled ledger), through the app, every round on a
  fresh copy, and the median (budget: well under a second).
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

from .report import ROOT
from .server import OUT, fresh_copy

PLUGIN_SRC = ROOT / "plugins" / "pytest-consent-ledger" / "src"


def startup(rounds: int) -> list[float]:
    sys.path.insert(0, str(PLUGIN_SRC))
    from pytest_consent_ledger.plugin import Started

    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        service = Started(ROOT)
        try:
            service.wait()
            times.append(time.perf_counter() - began)
        finally:
            service.stop()
    return times


def reset_times(source: Path, rounds: int) -> tuple[list[float], dict]:
    from consent import create_app
    from consent.core import auth, ledger, storage

    times, removed = [], {}
    for i in range(rounds):
        path = fresh_copy(source, f"stub-reset-{i}")
        app = create_app({"TESTING": True, "CONSENT_DATABASE_URL": f"sqlite:///{path}",
                          "CONSENT_CHECKPOINT_KEY_DIR": str(OUT / "stub-keys"),
                          "CONSENT_SECRET_KEY": "bench", "CONSENT_CONTROL": True})
        try:
            with app.app_context():
                storage.create_tables()
                org = ledger.get_org("demo")
                key = auth.create_credential(org, name="bench", scopes=("admin",)).key
            client = app.test_client()
            began = time.perf_counter()
            answer = client.post("/_control/reset", headers={"X-Org-Id": "demo",
                                                             "X-API-Key": key})
            times.append(time.perf_counter() - began)
            assert answer.status_code == 200, answer.json
            removed = answer.json["removed"]
        finally:
            app.extensions["consent.background"].stop()
            storage.db.close()
    return times, removed


def measure(source: Path, records: int, rounds: int, show) -> dict:
    started = startup(rounds)
    show(f"stub start-up: median {statistics.median(started):.2f} s, rounds "
         + ", ".join(f"{t:.2f}" for t in started))
    resets, removed = reset_times(source, rounds)
    show(f"stub reset of {records:,} consents: median {statistics.median(resets) * 1000:.0f} ms,"
         " rounds " + ", ".join(f"{t * 1000:.0f}" for t in resets))
    return {"startup_s": started, "startup_median_s": statistics.median(started),
            "reset_s": resets, "reset_median_s": statistics.median(resets), "records": records,
            "removed": removed,
            "ok": statistics.median(started) < 3.0 and statistics.median(resets) < 1.0}
