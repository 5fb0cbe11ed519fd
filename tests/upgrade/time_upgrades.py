"""How long ``flask --app app migrate`` takes on the upgrade fixtures, and on a large database
written by the last version before ``consent.audit_seq`` (767bba8), whose baseline fills that
column from the consent events: the figures in BENCHMARKS.md ("Upgrades").

    .venv/bin/python tests/upgrade/time_upgrades.py [--postgres URL] [--scale 100000]

Each measurement runs the newest code's ``migrate.upgrade()`` in a fresh interpreter on a fresh
copy (SQLite) or a freshly loaded database (PostgreSQL, default ``$CONSENT_TEST_DATABASE_URL``),
and reports the migration alone (the interpreter's start is not counted).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from tests.upgrade.make_fixtures import (  # noqa: E402
    MANIFEST,
    PYTHON,
    ROOT,
    extract,
    pg_admin,
    pg_database,
)

TIME_UPGRADE = """
import sys, time
from consent import create_app
from consent.core import migrate
app = create_app({"TESTING": True, "CONSENT_DATABASE_URL": sys.argv[1],
                  "CONSENT_SECRET_KEY": "k"})
started = time.perf_counter()
applied = migrate.upgrade()
print(time.perf_counter() - started, len(applied))
"""

# Run in the old version's tree: N decisions through its own ledger, 500 per transaction.
WRITE_LEGACY = """
import sys, time
sys.path.insert(0, ".")
from consent.core import ledger, storage
storage.init_database(sys.argv[1])
storage.create_tables()
org = ledger.create_org("big", "Big Organisation")
n, started = int(sys.argv[2]), time.perf_counter()
for batch in range(0, n, 500):
    ledger.record(org.id, [ledger.Decision(subject=f"s{i % (n // 10 or 1)}", purpose=f"p{i % 5}",
                                        status="granted" if i % 3 else "denied")
                        for i in range(batch, min(n, batch + 500))])
storage.db.close()
print(time.perf_counter() - started)
"""


def timed_upgrade(url: str) -> float:
    out = subprocess.run([str(PYTHON), "-c", TIME_UPGRADE, url], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[0])


def restore(fixture: dict, backend: str, tmp: Path, pg_url: str | None) -> tuple[str, str | None]:
    data = gzip.decompress((HERE / "fixtures" / fixture[backend]["database"]).read_bytes())
    if backend == "sqlite":
        path = tmp / f"{fixture['commit']}-{uuid.uuid4().hex[:6]}.sqlite3"
        path.write_bytes(data)
        return f"sqlite:///{path}", None
    name = f"upgrade_time_{uuid.uuid4().hex[:10]}"
    pg_admin(pg_url, f'CREATE DATABASE "{name}"')
    url = pg_database(pg_url, name)
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url], input=data,
                   check=True, capture_output=True)
    return url, name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", default=os.environ.get("CONSENT_TEST_DATABASE_URL"))
    parser.add_argument("--scale", type=int, default=100_000,
                        help="consents in the large 767bba8 database (0: none)")
    args = parser.parse_args()
    backends = ["sqlite"] + (["postgresql"] if args.postgres else [])
    manifest = json.loads(MANIFEST.read_text())
    rows = []
    with tempfile.TemporaryDirectory(prefix="upgrade-times-") as tmp_name:
        tmp = Path(tmp_name)
        for fixture in manifest["fixtures"]:
            times = []
            for backend in backends:
                url, name = restore(fixture, backend, tmp, args.postgres)
                try:
                    times.append(timed_upgrade(url))
                finally:
                    if name:
                        pg_admin(args.postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            rows.append((fixture["commit"], sum(fixture["sqlite"]["events"].values()), times))
            print(f"{fixture['commit']}: " + ", ".join(f"{b} {t * 1000:.0f} ms"
                                                        for b, t in zip(backends, times)),
                  flush=True)
        if args.scale:
            tree = tmp / "767bba8"
            tree.mkdir()
            extract("767bba8", tree)
            times = []
            for backend in backends:
                if backend == "sqlite":
                    url, name = f"sqlite:///{tmp / 'big.sqlite3'}", None
                else:
                    name = f"upgrade_big_{uuid.uuid4().hex[:10]}"
                    pg_admin(args.postgres, f'CREATE DATABASE "{name}"')
                    url = pg_database(args.postgres, name)
                try:
                    wrote = subprocess.run([str(PYTHON), "-c", WRITE_LEGACY, url,
                                            str(args.scale)], cwd=tree, check=True,
                                           capture_output=True, text=True).stdout.split()[-1]
                    times.append(timed_upgrade(url))
                    print(f"767bba8 with {args.scale:,} consents (written in {float(wrote):.0f} s)"
                          f": {backend} {times[-1]:.2f} s", flush=True)
                finally:
                    if name:
                        pg_admin(args.postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            rows.append((f"767bba8 + {args.scale:,} consents", None, times))
    print("\n| database | " + " | ".join(backends) + " |")
    print("|---|" + "---:|" * len(backends))
    for label, events, times in rows:
        cells = [f"{t * 1000:.0f} ms" if t < 10 else f"{t:.1f} s" for t in times]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
