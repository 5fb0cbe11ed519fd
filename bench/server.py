"""The service under gunicorn on loopback, on a prefilled SQLite database, for ``make bench``."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from .report import ROOT
from .wrk import free_port

OUT = ROOT / "bench" / "out"
VENV_BIN = Path(sys.executable).parent
SECRET = "bench-secret-key-not-for-production"
PURPOSES = 5
RECORDS_PER_SUBJECT = 10  # 2 decisions per purpose: a history, not just one row


def prefill(path: Path, records: int) -> None:
    """A ledger with ``records`` consents (10 per subject over 5 purposes), each with the audit
    event that recorded it, written in bulk.

    Rows are inserted directly (not through the API) to keep setup short; their hashes are
    placeholders, so ``verify`` is not meaningful on a bench database."""
    if path.exists():
        return
    tmp = path.with_suffix(".tmp")
    for suffix in ("", "-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    sys.path.insert(0, str(ROOT))
    from consent import dialects
    from consent.core import ledger, storage

    dialects.declare()   # every table and hook, as the app declares them
    storage.init_database(f"sqlite:///{tmp}")
    storage.create_tables()
    org = ledger.create_org("demo", "Demo Organisation", "demo")
    purposes = [ledger.ensure_purpose(org.id, f"purpose-{p}").id for p in range(PURPOSES)]
    subjects = max(1, records // RECORDS_PER_SUBJECT)
    conn = storage.db.connection()
    start = time.time()
    now = storage.utcnow().isoformat(sep=" ")
    from consent.core import personal

    with storage.db.atomic():
        key = personal.org_key(org.id, create=True)   # subjects are found by keyed lookup
        conn.executemany('INSERT INTO "subject" (id, org_id, identifier, lookup, secret, '
                         "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                         ((i + 1000, org.id, f"s{i}", personal.lookup_digest(key, f"s{i}"),
                           personal.new_secret(), now) for i in range(subjects)))
        rows = (
            (f"00000000-0000-4000-8000-{n:012d}", org.id, 1000 + n // RECORDS_PER_SUBJECT,
             1000 + n // RECORDS_PER_SUBJECT, purposes[n % PURPOSES], "1",
             "granted" if (n // PURPOSES) % 2 else "denied", "bench", now, now, "0" * 64)
            for n in range(records))
        conn.executemany(
            'INSERT INTO "consent" (id, org_id, subject_id, recorded_subject_id, purpose_id, '
            "purpose_version, status, source, valid_from, created_at, record_hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        # One audit event per consent, continuing the organisation's chain (create_org wrote
        # its first events), and each consent pointing at its own.
        (last,) = conn.execute('SELECT COALESCE(MAX(seq), 0) FROM "audit_event" WHERE org_id = ?',
                               (org.id,)).fetchone()
        conn.executemany(
            'INSERT INTO "audit_event" (event_id, org_id, seq, at, actor, action, entity_type, '
            "entity_id, payload, prev_hash, hash) VALUES (?, ?, ?, ?, 'bench', "
            "'consent.recorded', 'consent', ?, '{}', ?, ?)",
            ((f"10000000-0000-4000-8000-{n:012d}", org.id, last + 1 + n, now,
              f"00000000-0000-4000-8000-{n:012d}", "0" * 64, "0" * 64) for n in range(records)))
        conn.execute('UPDATE "consent" SET audit_seq = ? + CAST(substr(id, 25) AS INTEGER) '
                     "WHERE org_id = ? AND source = 'bench'", (last + 1, org.id))
    storage.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    storage.db.execute_sql("ANALYZE")
    storage.db.close()
    storage.db.obj.retire()
    tmp.rename(path)
    print(f"prefilled {records:,} consents for {subjects:,} subjects in "
          f"{time.time() - start:.0f}s -> {path.name}", file=sys.stderr)


def fresh_copy(source: Path, name: str) -> Path:
    """A copy of a prefilled database that a run may change."""
    target = OUT / f"{name}.sqlite3"
    for suffix in ("", "-wal", "-shm", "-writer.lock"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    shutil.copy(source, target)
    return target


class Server:
    """gunicorn serving ``app_spec`` on a free loopback port; ``seed`` holds seed-demo's JSON.
    ``env`` adds settings (e.g. CONSENT_SQLITE_WRITER_LOCK)."""

    def __init__(self, db_path: Path, workers: int, app_spec: str = "app:app",
                 env: dict | None = None, root: Path = ROOT):
        self.app_spec = app_spec
        self.root = root   # the checkout served (another commit's, for a before/after)
        self.db_path = db_path
        self.port = free_port()
        self.env = {**os.environ, "CONSENT_DATABASE_URL": f"sqlite:///{db_path}",
                    "CONSENT_SECRET_KEY": SECRET,
                    "CONSENT_PUBLIC_URL": f"http://127.0.0.1:{self.port}", **(env or {})}
        self.workers = workers
        self.proc = None

    def flask(self, *args) -> str:
        return subprocess.run([str(VENV_BIN / "flask"), "--app", "app", *args], cwd=self.root,
                              env=self.env, check=True, capture_output=True, text=True).stdout

    def __enter__(self):
        self.flask("init-db")
        self.seed = json.loads(self.flask("seed-demo", "--json"))
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers",
             str(self.workers), "--log-level", "warning", self.app_spec],
            cwd=self.root, env=self.env, start_new_session=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("gunicorn did not start")
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)
