"""``python -m bench.crash`` (``make crashtest``): the command line, and the PostgreSQL server of
the run (``$CONSENT_TEST_DATABASE_URL``, else one already up on ``$PGPORT``, else one started
with .ci/postgres and stopped at the end)."""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time

from .. import crash
from ..report import ROOT
from .database import PgDatabase, fresh_sqlite, pg_reachable
from .report import OUT
from .run import CrashTest, concurrency


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.crash", description=crash.__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=crash.__doc__.split("\n\n", 1)[1])
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--cycles", type=int, default=20, help="crash cycles per database")
    parser.add_argument("--clients", type=int, default=8, help="client threads under load")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    parser.add_argument("--pg-url", default=os.environ.get("CONSENT_TEST_DATABASE_URL", ""),
                        help="a PostgreSQL server (default: $CONSENT_TEST_DATABASE_URL, else one "
                             "started with .ci/postgres and stopped at the end)")
    parser.add_argument("--no-concurrency", dest="concurrency", action="store_false",
                        help="skip the concurrency part")
    parser.add_argument("--requests", type=int, default=1280,
                        help="writes of the concurrency part")
    parser.add_argument("--seed", type=int, default=None, help="random seed (kill moments)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print(f"crashtest: seed {seed} (--seed {seed} repeats the kill moments)", flush=True)
    started = time.monotonic()
    lines, ok = [], True
    results = {"seed": seed, "cycles": args.cycles, "runs": []}

    def record(report) -> None:
        nonlocal ok
        lines.append(report.line())
        print(report.line(), flush=True)
        for v in report.violations[:50]:
            print(f"  VIOLATION: {v}", flush=True)
        ok = ok and not report.violations
        results["runs"].append({k: v for k, v in vars(report).items()})

    if args.database in ("sqlite", "both"):
        record(CrashTest(fresh_sqlite("crash"), instances=1, workers=args.workers,
                         clients=args.clients, cycles=args.cycles, seed=seed,
                         progress=True).run())
        if args.concurrency:
            record(concurrency(fresh_sqlite("concurrency"), instances=1, workers=4,
                               connections=32, requests=args.requests))
    if args.database in ("postgres", "both"):
        server_url, started_pg = args.pg_url, False
        if not server_url:  # the one .ci/postgres runs, if it is already up
            port = os.environ.get("PGPORT", "55432")
            server_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        if not pg_reachable(server_url):
            server_url = subprocess.run([str(ROOT / ".ci" / "postgres"), "start"], check=True,
                                        capture_output=True, text=True, timeout=600
                                        ).stdout.strip()
            started_pg = True
        try:
            with PgDatabase(server_url) as url:
                record(CrashTest(url, instances=2, workers=args.workers, clients=args.clients,
                                 cycles=args.cycles, seed=seed, progress=True).run())
            if args.concurrency:
                with PgDatabase(server_url) as url:
                    record(concurrency(url, instances=2, workers=args.workers,
                                       connections=32, requests=args.requests))
        finally:
            if started_pg:
                subprocess.run([str(ROOT / ".ci" / "postgres"), "stop"], timeout=120)
    results["seconds"] = time.monotonic() - started
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "crash.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"\ncrashtest {'PASSED' if ok else 'FAILED'} in {results['seconds']:.0f}s:")
    for line in lines:
        print(f"  {line}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
