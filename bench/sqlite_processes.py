"""What a second writing process costs SQLite: the ledger write's statements in a bare loop.

One process, then two processes taking turns on the same file (an flock around each transaction,
as the service's writer lock does), each on a copy of the bench's 10k ledger with the service's
pragmas. Prints CPU and wall time per transaction for each process. With two, every transaction
starts after the other process has committed, and SQLite then drops the connection's whole page
cache and re-reads its pages from the WAL.

Run: ``.venv/bin/python -m bench.sqlite_processes [--transactions N]``."""
from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import os
import sqlite3
import time
import uuid

PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "mmap_size=268435456", "foreign_keys=ON",
           "wal_autocheckpoint=1000")


def writer(path: str, lock_path: str, name: str, transactions: int) -> None:
    conn = sqlite3.connect(path, isolation_level=None, timeout=10)
    for pragma in PRAGMAS:
        conn.execute("PRAGMA " + pragma)
    org = conn.execute("SELECT id FROM organisation WHERE slug = 'demo'").fetchone()[0]
    purpose = conn.execute("SELECT id FROM purpose WHERE org_id = ? AND code = 'purpose-1'",
                           (org,)).fetchone()[0]
    lock = os.open(lock_path, os.O_RDWR)
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(transactions):
        now = dt.datetime.utcnow().isoformat(" ")
        consent_id, event_id, identifier = str(uuid.uuid4()), str(uuid.uuid4()), f"{name}-{i}"
        fcntl.flock(lock, fcntl.LOCK_EX)
        conn.execute("BEGIN IMMEDIATE")
        conn.execute('SELECT "id", "created_at" FROM subject WHERE org_id = ? AND identifier = ?',
                     (org, identifier)).fetchone()
        subject = conn.execute("INSERT INTO subject (org_id, identifier, created_at) "
                               "VALUES (?, ?, ?)", (org, identifier, now)).lastrowid
        conn.execute("SELECT id, name, current_version FROM purpose WHERE org_id = ? AND "
                     "code = 'purpose-1'", (org,)).fetchone()
        seq = conn.execute(
            "INSERT INTO consent (id, org_id, subject_id, recorded_subject_id, purpose_id, "
            "purpose_version, notice_version, status, source, supersedes, valid_from, "
            "valid_until, evidence, created_at, record_hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (consent_id, org, subject, subject, purpose, "1", "v1", "granted", "ledger", None,
             now, None, None, now, "a" * 64)).lastrowid
        head = conn.execute("SELECT seq, hash FROM audit_event WHERE org_id = ? "
                            "ORDER BY seq DESC LIMIT 1", (org,)).fetchone()
        conn.execute(
            "INSERT INTO audit_event (event_id, org_id, seq, at, actor, action, entity_type, "
            "entity_id, payload, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (event_id, org, head[0] + 1, now, "api_key:bench", "consent.recorded", "consent",
             consent_id, '{"record_hash":"' + "b" * 64 + '"}', head[1], "c" * 64))
        conn.execute("INSERT INTO consent_event (consent_id, type, at, audit_event_id, data) "
                     "VALUES (?, ?, ?, ?, ?)", (seq, "recorded", now, event_id, "{}"))
        conn.execute("COMMIT")
        fcntl.flock(lock, fcntl.LOCK_UN)
    print(f"  {name}: {(time.process_time() - cpu) / transactions * 1e6:.0f} us CPU, "
          f"{(time.perf_counter() - wall) / transactions * 1e6:.0f} us wall per transaction",
          flush=True)


def run(processes: int, transactions: int) -> None:
    from bench import run as B

    path = B.fresh_copy(B.OUT / "ledger-10000.sqlite3", "sqlite-processes")
    lock_path = f"{path}-bench.lock"
    open(lock_path, "w").close()
    print(f"{processes} process(es) writing:")
    children = []
    for n in range(processes):
        pid = os.fork()
        if pid == 0:
            try:
                writer(str(path), lock_path, f"process {n + 1}", transactions)
            finally:
                os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)


def main(argv=None) -> int:
    from bench import run as B

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=3000, help="per process")
    args = parser.parse_args(argv)
    B.OUT.mkdir(parents=True, exist_ok=True)
    B.prefill(B.OUT / "ledger-10000.sqlite3", 10_000)
    run(1, args.transactions)
    run(2, args.transactions)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
