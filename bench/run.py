"""``make bench``: the service under gunicorn on loopback, loaded with wrk, every figure a ratio
measured side by side in the same run (the machines are shared and noisy).

Parts (``--only`` picks some; all by default):

* ``writes``: every dialect's hot write path (bench/dialects.py) in rounds alternating the
  framework ceiling (``GET /healthz``), the write, and its floor (bench/floor.py: the same write
  through the product's own storage functions without the framework). Reported: each write's
  req/s, its ratio to the ceiling and to its floor, medians and every round.
* ``sqlite``: the SQLite writer mechanisms, two servers side by side, alternating: the flock
  writer lock with background WAL checkpoints (``CONSENT_SQLITE_WRITER_LOCK=flock``,
  ``CONSENT_SQLITE_CHECKPOINTS=background``) against SQLite's own busy_timeout with
  wal_autocheckpoint (``none``/``auto``), at 2 and 4 workers.
* ``peers``: every write next to the same request answered by Prism mocking this service's own
  ``/openapi.json`` (a mock that stores nothing; target: the service >= 1.0x Prism) and by an
  empty json-server storing the same JSON (target >= 2x); then the service on a ledger of
  1,000,000 consents next to json-server holding 50,000 records (target >= 2x).
* ``reads``: every read endpoint of every dialect (ledger list by subject, purpose and status;
  state; audit range; truConsent history and user-status; Veriff consents and decision) on a
  ledger of 10,000 consents next to the same read at 1,000,000, from two servers side by side;
  target p99(1M) <= 1.5 x p99(10k).
* ``storage``: ledger POSTs under load on a copy of the small ledger: bytes per consent
  (including indexes, per table and index from dbstat), scaled to 100k; target <= 100 MB; and the
  largest WAL seen (bounded by ``journal_size_limit``); then ``flask audit verify`` of that
  ledger's real chain (events/s, peak RSS).
* ``export``: ``flask export`` of the 1M ledger in both formats, wall time and peak RSS.
* ``stub``: control mode for client test suites (bench/stub.py): the pytest plugin's fixture
  starting a fresh service until it answers (target well under 3 s), and ``POST /_control/reset``
  of an organisation holding the small ledger's consents (target well under 1 s).
* ``layout``: the storage layout before and after personal data became erasable, side by side
  (bench/layout.py): every read and every dialect's hot write on a ``--big`` ledger served by
  the baseline commit and by this checkout at once, alternating; after/before ratios.
* ``erasure``: erasing a subject with 1,000 records, and the access report of one
  (bench/erasure.py), every round and the median.
* ``scale``: every dialect's hot write on the small ledger and on the big one, two servers side
  by side, alternating (bench/scale.py): do writes slow as the ledger grows?
* ``webhooks``: one slow receiver delays nobody else (bench/webhooks.py): organisation A's
  receiver hangs with 10 more deliveries pending each round; B's webhook latency to a fast
  receiver, median and every round; target < 2 s.

Results go to ``bench/out/results.json`` and into BENCHMARKS.md's marked blocks.
Run: ``make bench`` (``BENCH_ARGS="--duration 2 --rounds 3 --big 100000 --only writes"`` for a
quicker look).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from consent.core.sqlite import JOURNAL_SIZE_LIMIT

from . import console, dialects, erasure, layout, peers, scale, stub, webhooks, wrk
from .report import ROOT, machine, median, replace_block, size_label, spread
from .server import OUT, PURPOSES, RECORDS_PER_SUBJECT, Server, fresh_copy, prefill
from .wrk import CEILING, FLOOR_PREFIX as PREFIX, Scenario

PARTS = ("writes", "peers", "sqlite", "reads", "storage", "export", "webhooks", "stub",
         "erasure", "layout", "console", "scale")
TABLES = ("subject", "consent", "audit_event", "consent_event")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=4, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="alternations per ratio (median)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--baseline", default=layout.BASELINE,
                        help="the commit the layout part compares with (before)")
    parser.add_argument("--only", action="append", choices=PARTS,
                        help="measure only these parts (repeat)")
    args = parser.parse_args(argv)
    parts = args.only or list(PARTS)

    tool = wrk.ensure_wrk()
    OUT.mkdir(parents=True, exist_ok=True)
    # The file name carries the prefill's version: a changed prefill builds new files.
    small = OUT / f"ledger-{args.small}-v3.sqlite3"
    if set(parts) - {"webhooks"}:
        prefill(small, args.small)
    bench = Bench(tool, args)
    report = {"date": dt.date.today().isoformat(), "machine": machine(),
              "settings": vars(args), "parts": {}}
    ok = True
    if "writes" in parts:
        report["parts"]["writes"] = bench.writes(small)
    big = OUT / f"ledger-{args.big}-v3.sqlite3"
    if "peers" in parts:
        prefill(big, args.big)
        report["parts"]["peers"] = peer = bench.peers(small, big)
        ok = ok and peer["ok"]
    if "sqlite" in parts:
        report["parts"]["sqlite"] = bench.sqlite_mechanisms(small)
    if "reads" in parts:
        prefill(big, args.big)
        report["parts"]["reads"] = reads = bench.reads(small, big)
        ok = ok and reads["ok"]
    if "storage" in parts:
        report["parts"]["storage"] = bench.storage(small)
    if "export" in parts:
        prefill(big, args.big)
        report["parts"]["export"] = exported = bench.export(big)
        ok = ok and exported["ok"]
    if "webhooks" in parts:
        report["parts"]["webhooks"] = hooks = webhooks.measure(args.rounds, args.workers,
                                                               bench.show)
        ok = ok and hooks["ok"]
    if "erasure" in parts:
        report["parts"]["erasure"] = erasure.measure(small, args.rounds, bench.show)
    if "layout" in parts:
        report["parts"]["layout"] = layout.measure(bench, big, args.big, args.baseline)
    if "scale" in parts:
        prefill(big, args.big)
        report["parts"]["scale"] = bench.scale(small, big)
    if "console" in parts:
        prefill(big, args.big)
        report["parts"]["console"] = shown = console.measure(
            small, big, (args.small, args.big), args.rounds, args.workers, bench.show)
        ok = ok and shown["ok"]
    if "stub" in parts:
        report["parts"]["stub"] = stubbed = stub.measure(small, args.small, args.rounds,
                                                         bench.show)
        ok = ok and stubbed["ok"]
    (OUT / "results.json").write_text(json.dumps(report, indent=2))
    write_markdown(report)
    return 0 if ok else 1


class Bench:
    def __init__(self, tool: str, args):
        self.tool, self.args = tool, args

    def measure(self, port: int, scenario: Scenario) -> wrk.Result:
        return wrk.run(self.tool, port, scenario, self.args.duration, self.args.connections)

    def show(self, text: str) -> None:
        print(text, flush=True)

    def scale(self, small, big) -> dict:
        return scale.measure(self, small, big)

    # -- writes: ceiling, product, floor ------------------------------------------------------
    def writes(self, source) -> dict:
        out = {}
        with Server(fresh_copy(source, "writes"), self.args.workers,
                    app_spec="bench.floor:app") as server:
            wrk.check_once(server.port, CEILING)
            pairs = [(s, floor_twin(s)) for s in dialects.writes(server.seed)]
            for product, floor in pairs:  # before any load: no request may still be in flight
                same_writes(server, product, floor)
            # The framework's fixed cost per request: Flask's no-op against the same no-op
            # without Flask (both under this gunicorn, wrk on the same cores).
            raw = Scenario("no-op without the framework", path=PREFIX + "/healthz")
            wrk.check_once(server.port, raw)
            noop = [{"ceiling": c, "raw": r} for c, r in
                    self.alternate([(server.port, CEILING), (server.port, raw)])]
            out["_noop"] = {
                "ceiling_req_s": median([n["ceiling"]["requests_per_s"] for n in noop]),
                "raw_req_s": median([n["raw"]["requests_per_s"] for n in noop]),
                "ratio": [n["ceiling"]["requests_per_s"] / n["raw"]["requests_per_s"]
                          for n in noop]}
            self.show(f"no-op: Flask {out['_noop']['ceiling_req_s']:.0f} req/s, without the "
                      f"framework {out['_noop']['raw_req_s']:.0f} req/s -> "
                      f"{spread(out['_noop']['ratio'])}")
            for product, floor in pairs:
                rounds = []
                for _ in range(self.args.rounds):
                    ceiling = self.measure(server.port, CEILING)
                    p = self.measure(server.port, product)
                    f = self.measure(server.port, floor)
                    rounds.append({"ceiling": ceiling.requests_per_s, "product": vars(p),
                                   "floor": vars(f)})
                row = summarise(product.name, rounds)
                out[product.name] = row
                self.show(f"{product.name:34s} {row['req_s']:7.0f} req/s  ceiling "
                          f"{spread(row['to_ceiling'])}  floor {spread(row['to_floor'])}")
        return out

    # -- peers: Prism and json-server ---------------------------------------------------------
    def peers(self, small, big) -> dict:
        peers.ensure_installed()
        out = {"empty": {}, "large": {}, "ok": True}
        with Server(fresh_copy(small, "peers"), self.args.workers) as server:
            document = OUT / "openapi.json"
            document.write_bytes(urllib.request.urlopen(
                f"http://127.0.0.1:{server.port}/openapi.json", timeout=10).read())
            scenarios = dialects.writes(server.seed)
            with peers.Prism(document) as prism, \
                    peers.JsonServer(OUT / "json-server-empty.json", scenarios) as store:
                for s in scenarios:
                    to_prism, to_store = peers.for_prism(s), peers.for_json_server(s)
                    wrk.check_once(prism.port, to_prism)
                    wrk.check_once(store.port, to_store)
                    rounds = self.alternate([(server.port, s), (prism.port, to_prism),
                                             (store.port, to_store)])
                    row = {"service": median([r[0]["requests_per_s"] for r in rounds]),
                           "prism": median([r[1]["requests_per_s"] for r in rounds]),
                           "json_server": median([r[2]["requests_per_s"] for r in rounds]),
                           "to_prism": [r[0]["requests_per_s"] / r[1]["requests_per_s"]
                                        for r in rounds],
                           "to_json_server": [r[0]["requests_per_s"]
                                              / max(r[2]["requests_per_s"], 0.01)
                                              for r in rounds],
                           "errors": sum(r[0]["errors"] for r in rounds)}
                    row["ok"] = (median(row["to_prism"]) >= 1.0
                                 and median(row["to_json_server"]) >= 2.0 and not row["errors"])
                    out["empty"][s.name] = row
                    out["ok"] = out["ok"] and row["ok"]
                    self.show(f"{s.name:34s} {row['service']:6.0f} req/s; Prism "
                              f"{row['prism']:6.0f} -> {spread(row['to_prism'], '{:.2f}x')}; "
                              f"json-server {row['json_server']:6.0f} -> "
                              f"{spread(row['to_json_server'], '{:.2f}x')}")
        with Server(fresh_copy(big, "peers-big"), self.args.workers) as server:
            scenarios = dialects.writes(server.seed)
            with peers.JsonServer(OUT / "json-server-50k.json", scenarios,
                                  records=50_000) as store:
                for s in scenarios:
                    to_store = peers.for_json_server(s)
                    wrk.check_once(store.port, to_store)
                    rounds = self.alternate([(server.port, s), (store.port, to_store)])
                    row = {"service": median([r[0]["requests_per_s"] for r in rounds]),
                           "json_server": median([r[1]["requests_per_s"] for r in rounds]),
                           "to_json_server": [r[0]["requests_per_s"]
                                              / max(r[1]["requests_per_s"], 0.01)
                                              for r in rounds],
                           "errors": sum(r[0]["errors"] for r in rounds)}
                    row["ok"] = median(row["to_json_server"]) >= 2.0 and not row["errors"]
                    out["large"][s.name] = row
                    out["ok"] = out["ok"] and row["ok"]
                    self.show(f"{s.name:34s} at {size_label(self.args.big)}: "
                              f"{row['service']:6.0f} req/s; json-server at 50k "
                              f"{row['json_server']:6.0f} -> "
                              f"{spread(row['to_json_server'], '{:.1f}x')}")
        return out

    def alternate(self, targets: list[tuple[int, Scenario]]) -> list[list[dict]]:
        """``rounds`` rounds of measuring each (port, scenario) in turn, the first one rotating."""
        rounds = []
        for i in range(self.args.rounds):
            order = targets[i % len(targets):] + targets[:i % len(targets)]
            got = {id(s): vars(self.measure(port, s)) for port, s in order}
            rounds.append([got[id(s)] for _, s in targets])
        return rounds

    # -- the SQLite writer mechanisms --------------------------------------------------------
    def sqlite_mechanisms(self, source) -> dict:
        variants = {"flock + background checkpoints": {"CONSENT_SQLITE_WRITER_LOCK": "flock",
                                                       "CONSENT_SQLITE_CHECKPOINTS": "background"},
                    "busy_timeout + wal_autocheckpoint": {"CONSENT_SQLITE_WRITER_LOCK": "none",
                                                          "CONSENT_SQLITE_CHECKPOINTS": "auto"}}
        (a_name, a_env), (b_name, b_env) = variants.items()
        out = {}
        for workers in sorted({self.args.workers, 4}):
            with Server(fresh_copy(source, "sqlite-a"), workers, env=a_env) as a, \
                    Server(fresh_copy(source, "sqlite-b"), workers, env=b_env) as b:
                for sa, sb in zip(dialects.mechanisms(a.seed),
                                  dialects.mechanisms(b.seed)):
                    wrk.check_once(a.port, sa)
                    wrk.check_once(b.port, sb)
                    rounds = []
                    for i in range(self.args.rounds):  # alternate which goes first
                        first, second = ((a, sa), (b, sb)) if i % 2 == 0 else ((b, sb), (a, sa))
                        got = {id(first[0]): self.measure(first[0].port, first[1]),
                               id(second[0]): self.measure(second[0].port, second[1])}
                        ra, rb = got[id(a)], got[id(b)]
                        rounds.append({"a": vars(ra), "b": vars(rb),
                                       "ratio": ra.requests_per_s / rb.requests_per_s})
                    name = f"{sa.name}, {workers} workers"
                    out[name] = {
                        "workers": workers, "a": a_name, "b": b_name,
                        "a_req_s": median([r["a"]["requests_per_s"] for r in rounds]),
                        "b_req_s": median([r["b"]["requests_per_s"] for r in rounds]),
                        "a_p99": median([r["a"]["p99_ms"] for r in rounds]),
                        "b_p99": median([r["b"]["p99_ms"] for r in rounds]),
                        "ratio": [r["ratio"] for r in rounds],
                        "errors": sum(r["a"]["errors"] + r["b"]["errors"] for r in rounds),
                        "rounds": rounds}
                    self.show(f"{name:40s} {a_name}: {out[name]['a_req_s']:.0f} req/s, "
                              f"{b_name}: {out[name]['b_req_s']:.0f} req/s, a/b "
                              f"{spread(out[name]['ratio'], '{:.2f}x')}")
        return out

    # -- reads at two sizes -------------------------------------------------------------------
    def reads(self, small, big) -> dict:
        """Every read endpoint (bench/dialects.py ``reads``) on a ledger of ``--small`` consents
        next to the same read at ``--big``, from two servers side by side, alternating which goes
        first; the figure is the median round's p99 ratio."""
        args = self.args
        out = {"ok": True, "reads": {}}
        with Server(fresh_copy(small, "reads-small"), args.workers) as s_small, \
                Server(big, args.workers) as s_big:
            pairs = []
            for server, records in ((s_small, args.small), (s_big, args.big)):
                for write in dialects.prepare_reads(server.seed):  # lists hold something
                    wrk.check_once(server.port, write)
                pairs.append(dialects.reads(server.seed, records,
                                            records // RECORDS_PER_SUBJECT, PURPOSES))
            for sc_small, sc_big in zip(*pairs):
                wrk.check_once(s_small.port, sc_small)
                wrk.check_once(s_big.port, sc_big)
                rounds = []
                for i in range(args.rounds):
                    order = [(s_small, sc_small), (s_big, sc_big)]
                    if i % 2:
                        order.reverse()
                    got = {id(server): self.measure(server.port, sc) for server, sc in order}
                    a, b = got[id(s_small)], got[id(s_big)]
                    rounds.append({"small": vars(a), "big": vars(b),
                                   "ratio": b.p99_ms / max(a.p99_ms, 0.001)})
                ratios = [r["ratio"] for r in rounds]
                ok = median(ratios) <= 1.5 and all(
                    r["big"]["errors"] == 0 and r["small"]["errors"] == 0 for r in rounds)
                out["reads"][sc_small.name] = {
                    "ratio": ratios, "ok": ok, "rounds": rounds,
                    "small_p99": median([r["small"]["p99_ms"] for r in rounds]),
                    "big_p99": median([r["big"]["p99_ms"] for r in rounds]),
                    "small_req_s": median([r["small"]["requests_per_s"] for r in rounds]),
                    "big_req_s": median([r["big"]["requests_per_s"] for r in rounds])}
                out["ok"] = out["ok"] and ok
                self.show(f"{sc_small.name:32s} p99 {size_label(args.big)} / "
                          f"{size_label(args.small)}: {spread(ratios, '{:.2f}x')}")
        return out


    # -- storage per consent, and the WAL's bound -----------------------------------------------
    def storage(self, source) -> dict:
        """Ledger POSTs (a new e-mail-like subject each) under load for ``--duration`` x
        ``--rounds`` seconds; the database's growth per consent (checkpointed, so the WAL is
        folded in), scaled to 100k, with each table's and index's share (SQLite's dbstat), and
        the largest WAL seen while the load ran and once it stopped."""
        template = ('{"subject":"user-{n}@example.com","purpose":"purpose-1","status":"granted",'
                    '"notice_version":"v1"}')
        path = OUT / "storage.sqlite3"  # an empty ledger: every event real, so verify can run
        for suffix in ("", "-wal", "-shm", "-writer.lock"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        with Server(path, self.args.workers) as server:
            scenario = Scenario("ledger record POST (e-mail subjects)", method="POST",
                                path="/ledger/v1/consents", expect_status=201,
                                headers={"X-Org-Id": "demo", "Content-Type": "application/json",
                                         "X-API-Key": server.seed["ledger"]["admin_api_key"]},
                                body=template.replace("{n}", "0"),
                                lua=wrk.counter_body(template))
            wal = Path(str(server.db_path) + "-wal")
            before = db_bytes(server.db_path)
            before_stat, consents_before = dbstat(server.db_path), count(server.db_path)
            peak = [0]
            stop = threading.Event()

            def watch():
                while not stop.wait(0.05):
                    peak[0] = max(peak[0], wal.stat().st_size if wal.exists() else 0)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            try:
                result = wrk.run(self.tool, server.port, scenario,
                                 self.args.duration * self.args.rounds, self.args.connections)
            finally:
                stop.set()
                watcher.join()
            time.sleep(1.5)  # the background checkpointer's turn after the last commit
            wal_idle = wal.stat().st_size if wal.exists() else 0
        added = count(server.db_path) - consents_before
        grown = db_bytes(server.db_path) - before
        after_stat = dbstat(server.db_path)
        shares = sorted(((name, (after_stat.get(name, 0) - before_stat.get(name, 0)) / added)
                         for name in after_stat), key=lambda kv: -kv[1])
        out = {"consents": added, "errors": result.errors, "bytes_per_consent": grown / added,
               "mb_per_100k": grown / added * 100_000 / 1e6,
               "wal_peak_mb": peak[0] / 1e6, "wal_idle_mb": wal_idle / 1e6,
               "shares": [(n, b) for n, b in shares if b >= 1]}
        out["ok"] = out["mb_per_100k"] <= 100 and not result.errors
        self.show(f"storage: {out['mb_per_100k']:.0f} MB per 100k consents ({added:,} written); "
                  f"WAL peak {out['wal_peak_mb']:.0f} MB, idle {out['wal_idle_mb']:.0f} MB")
        seconds, rss, text = flask_measured(server.env, "audit", "verify", "--org", "demo")
        events = count(server.db_path, "audit_event")
        out["verify"] = {"events": events, "seconds": seconds, "peak_rss_mb": rss,
                         "events_per_s": events / seconds,
                         "ok": json.loads(text.splitlines()[-1])["ok"]}
        self.show(f"audit verify: {events:,} events in {seconds:.1f}s "
                  f"({events / seconds:,.0f}/s), peak RSS {rss:.0f} MB")
        return out

    # -- export at the big size ------------------------------------------------------------------
    def export(self, big) -> dict:
        """``flask export`` of the big ledger to a file: wall time and the process's peak RSS
        (targets at 1M: <= 30 s, <= 150 MB), in both formats."""
        out = {"ok": True}
        env = {**os.environ, "CONSENT_DATABASE_URL": f"sqlite:///{big}",
               "CONSENT_SECRET_KEY": "bench-secret-key-not-for-production"}
        for fmt in ("jsonl", "csv"):
            target = OUT / f"export.{fmt}"
            seconds, rss, _ = flask_measured(env, "export", "--org", "demo", "--format", fmt,
                                             "-o", str(target))
            lines = sum(1 for _ in target.open("rb"))
            row = {"seconds": seconds, "peak_rss_mb": rss, "lines": lines,
                   "bytes": target.stat().st_size,
                   "ok": seconds <= 30 * self.args.big / 1_000_000 and rss <= 150}
            target.unlink()
            out[fmt] = row
            out["ok"] = out["ok"] and row["ok"]
            self.show(f"export {fmt}: {lines:,} lines in {seconds:.1f}s, peak RSS {rss:.0f} MB")
        return out


# The command's own peak RSS: VmHWM (this process image's high-water mark). Not ru_maxrss, which
# Linux carries over from the parent through fork and exec (this driver holds hundreds of MB
# after a prefill).
MEASURED = ("import atexit, sys\n"
            "def hwm():\n"
            "    for line in open('/proc/self/status'):\n"
            "        if line.startswith('VmHWM:'):\n"
            "            print('MAXRSS', line.split()[1], file=sys.stderr)\n"
            "atexit.register(hwm)\n"
            "from flask.cli import main\nsys.argv = ['flask', '--app', 'app', *sys.argv[1:]]\n"
            "main()\n")


def flask_measured(env: dict, *args) -> tuple[float, float, str]:
    """Run a ``flask --app app`` command; its wall time, peak RSS (MB) and output."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", MEASURED, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} failed: {done.stderr[-2000:]}")
    rss = int(done.stderr.rsplit("MAXRSS", 1)[1].split()[0]) / 1024
    return seconds, rss, done.stdout


def db_bytes(path) -> int:
    """The database file's size once the WAL is checkpointed into it and truncated."""
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return Path(path).stat().st_size


def count(path, table: str = "consent") -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]


def dbstat(path) -> dict[str, int]:
    """Bytes per table and index (SQLite's dbstat virtual table)."""
    with sqlite3.connect(path) as conn:
        return dict(conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))


def summarise(name: str, rounds: list[dict]) -> dict:
    return {
        "req_s": median([r["product"]["requests_per_s"] for r in rounds]),
        "p50_ms": median([r["product"]["p50_ms"] for r in rounds]),
        "p99_ms": median([r["product"]["p99_ms"] for r in rounds]),
        "ceiling_req_s": median([r["ceiling"] for r in rounds]),
        "floor_req_s": median([r["floor"]["requests_per_s"] for r in rounds]),
        "to_ceiling": [r["product"]["requests_per_s"] / r["ceiling"] for r in rounds],
        "floor_to_ceiling": [r["floor"]["requests_per_s"] / r["ceiling"] for r in rounds],
        "to_floor": [r["product"]["requests_per_s"] / r["floor"]["requests_per_s"]
                     for r in rounds],
        "errors": sum(r["product"]["errors"] + r["floor"]["errors"] for r in rounds),
        "rounds": rounds,
    }


def floor_twin(product: Scenario) -> Scenario:
    """The product scenario aimed at its floor route (other subjects, so none collide)."""
    return Scenario(f"{product.name} (floor)", method=product.method,
                    path=PREFIX + product.path, headers=product.headers,
                    body=product.body.replace("bench-", "bench-floor-") if product.body else None,
                    lua=product.lua.replace("bench-", "bench-floor-"),
                    expect_status=product.expect_status)


def same_writes(server, product: Scenario, floor: Scenario) -> None:
    """Each answers as expected and, once warm, adds the same number of rows to every ledger
    table: otherwise the floor is not the product's storage work."""
    def added(scenario):
        wrk.check_once(server.port, scenario)
        before = row_counts(server.db_path)
        wrk.check_once(server.port, scenario)
        return {t: n - before[t] for t, n in row_counts(server.db_path).items()}

    product_rows, floor_rows = added(product), added(floor)
    if product_rows != floor_rows:
        raise SystemExit(f"{floor.name} writes {floor_rows}, its product twin {product_rows}")


def row_counts(path) -> dict[str, int]:
    with sqlite3.connect(path) as conn:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def write_markdown(report: dict) -> None:
    s = report["settings"]
    if "layout" in report["parts"]:
        replace_block("<!-- bench:layout -->", "<!-- /bench:layout -->",
                      "\n".join(layout.markdown(report["parts"]["layout"])))
    if "erasure" in report["parts"]:
        r = report["parts"]["erasure"]
        replace_block("<!-- bench:erasure -->", "<!-- /bench:erasure -->", "\n".join([
            f"Erasure of a subject holding {r['records']:,} consents (each with evidence), on a "
            "copy of the small ledger, in the process (every dialect's erase hook runs); the "
            "access report of a subject of the same size before it:", "",
            "| | median | every round |", "|---|---:|---|",
            f"| erasure (`rights.erase_now`) | {r['erase_median_s'] * 1000:.0f} ms | "
            + ", ".join(f"{t * 1000:.0f}" for t in r["erase_s"]) + " |",
            f"| access report (`rights.report`) | {r['report_median_s'] * 1000:.0f} ms | "
            + ", ".join(f"{t * 1000:.0f}" for t in r["report_s"]) + " |",
        ]))
    if "console" in report["parts"]:
        replace_block("<!-- bench:console -->", "<!-- /bench:console -->",
                      "\n".join(console.markdown(report["parts"]["console"], report)))
    if "stub" in report["parts"]:
        r = report["parts"]["stub"]
        replace_block("<!-- bench:stub -->", "<!-- /bench:stub -->", "\n".join([
            f"Measured {report['date']} on {report['machine']}.", "",
            "| stub (control mode) | median | every round | target |", "|---|---:|---|---|",
            f"| fixture start-up (python -m consent.stub: migrate, seed-demo, serve; until "
            f"/readyz) | {r['startup_median_s']:.2f} s | "
            f"{', '.join(f'{t:.2f}' for t in r['startup_s'])} | < 3 s |",
            f"| POST /_control/reset, {r['records']:,} consents | "
            f"{r['reset_median_s'] * 1000:.0f} ms | "
            f"{', '.join(f'{t * 1000:.0f}' for t in r['reset_s'])} ms | < 1 s |"]))
    head = (f"Measured {report['date']} on {report['machine']}. wrk: 1 thread, "
            f"{s['connections']} connections, {s['duration']} s per measurement, "
            f"{s['rounds']} alternating rounds per figure (median, then every round); gunicorn "
            f"{s['workers']} sync workers; SQLite (WAL, synchronous=NORMAL).")
    if "scale" in report["parts"]:
        replace_block("<!-- bench:scale -->", "<!-- /bench:scale -->", "\n".join(
            [head, ""] + scale.markdown(report["parts"]["scale"], report["settings"])))
    parts = report["parts"]
    if "writes" in parts:
        lines = [head, "", "| write | req/s | p50 ms | p99 ms | errors | to ceiling | "
                 "floor to ceiling | product / floor |", "|---|---:|---:|---:|---:|---|---|---|"]
        noop = parts["writes"].get("_noop")
        for name, r in parts["writes"].items():
            if name == "_noop":
                continue
            lines.append(f"| {name} | {r['req_s']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | "
                         f"{r['errors']} | {spread(r['to_ceiling'])} | "
                         f"{spread(r['floor_to_ceiling'])} | {spread(r['to_floor'])} |")
        ceilings = [r["ceiling_req_s"] for n, r in parts["writes"].items() if n != "_noop"]
        lines.append("")
        lines.append(f"Ceiling (`GET /healthz`, no database): {median(ceilings):.0f} req/s "
                     "(median over the write rounds).")
        if noop:
            lines.append(f"The same no-op without the framework (a bare WSGI function under the "
                         f"same gunicorn): {noop['raw_req_s']:.0f} req/s; Flask's no-op reaches "
                         f"{spread(noop['ratio'])} of it.")
        replace_block("<!-- bench:results -->", "<!-- /bench:results -->", "\n".join(lines))
    if "sqlite" in parts:
        lines = [head, "", "| write, workers | flock + background checkpoints req/s | "
                 "busy_timeout + wal_autocheckpoint req/s | p99 ms (a / b) | a / b |",
                 "|---|---:|---:|---|---|"]
        for name, r in parts["sqlite"].items():
            lines.append(f"| {name} | {r['a_req_s']:.0f} | {r['b_req_s']:.0f} | "
                         f"{r['a_p99']:.1f} / {r['b_p99']:.1f} | "
                         f"{spread(r['ratio'], '{:.2f}x')} |")
        replace_block("<!-- bench:sqlite -->", "<!-- /bench:sqlite -->", "\n".join(lines))
    if "peers" in parts:
        p = parts["peers"]
        lines = [head, "", "| write | service req/s | Prism req/s | service / Prism (>= 1.0x) | "
                 "json-server req/s | service / json-server (>= 2x) | |",
                 "|---|---:|---:|---|---:|---|---|"]
        for name, r in p["empty"].items():
            lines.append(f"| {name} | {r['service']:.0f} | {r['prism']:.0f} | "
                         f"{spread(r['to_prism'], '{:.2f}x')} | {r['json_server']:.0f} | "
                         f"{spread(r['to_json_server'], '{:.2f}x')} | "
                         f"{'PASS' if r['ok'] else 'FAIL'} |")
        lines += ["", f"The service on a ledger of {size_label(s['big'])} consents against "
                  "json-server holding 50,000 records:", "",
                  "| write | service req/s | json-server req/s | service / json-server (>= 2x) "
                  "| |", "|---|---:|---:|---|---|"]
        for name, r in p["large"].items():
            lines.append(f"| {name} | {r['service']:.0f} | {r['json_server']:.0f} | "
                         f"{spread(r['to_json_server'], '{:.1f}x')} | "
                         f"{'PASS' if r['ok'] else 'FAIL'} |")
        replace_block("<!-- bench:peers -->", "<!-- /bench:peers -->", "\n".join(lines))
    if "reads" in parts:
        small, big = size_label(s["small"]), size_label(s["big"])
        lines = [head, "", f"| read | {small} p99 ms | {big} p99 ms | {small} req/s | {big} req/s | "
                 f"p99 {big} / {small} (target <= 1.5x) | |", "|---|---:|---:|---:|---:|---|---|"]
        for name, r in parts["reads"]["reads"].items():
            lines.append(f"| {name} | {r['small_p99']:.2f} | {r['big_p99']:.2f} | "
                         f"{r['small_req_s']:.0f} | {r['big_req_s']:.0f} | "
                         f"{spread(r['ratio'], '{:.2f}x')} | {'PASS' if r['ok'] else 'FAIL'} |")
        replace_block("<!-- bench:reads -->", "<!-- /bench:reads -->", "\n".join(lines))
    if "storage" in parts:
        r = parts["storage"]
        lines = [head, "", f"{r['consents']:,} ledger POSTs with e-mail-like subjects: "
                 f"**{r['mb_per_100k']:.0f} MB per 100k consents** including indexes "
                 f"({r['bytes_per_consent']:.0f} bytes each; target <= 100 MB: "
                 f"{'PASS' if r['ok'] else 'FAIL'}). WAL: at most {r['wal_peak_mb']:.0f} MB under "
                 f"load, {r['wal_idle_mb']:.1f} MB once idle (journal_size_limit: "
                 f"{JOURNAL_SIZE_LIMIT // 2**20} MiB).", "",
                 "| table or index | bytes per consent |", "|---|---:|"]
        lines += [f"| {name} | {b:.0f} |" for name, b in r["shares"]]
        v = r["verify"]
        lines += ["", f"`flask audit verify` of that ledger's chain ({v['events']:,} events, "
                  f"{'valid' if v['ok'] else 'NOT VALID'}): {v['seconds']:.1f} s "
                  f"({v['events_per_s']:,.0f} events/s), peak RSS {v['peak_rss_mb']:.0f} MB."]
        replace_block("<!-- bench:storage -->", "<!-- /bench:storage -->", "\n".join(lines))
    if "export" in parts:
        r = parts["export"]
        lines = [head, "", f"`flask export` of a ledger of {size_label(s['big'])} consents "
                 "(targets at 1M: <= 30 s, peak RSS <= 150 MB):", "",
                 "| format | lines | MB | seconds | peak RSS MB | |", "|---|---:|---:|---:|---:|---|"]
        for fmt in ("jsonl", "csv"):
            e = r[fmt]
            lines.append(f"| {fmt} | {e['lines']:,} | {e['bytes'] / 1e6:.0f} | "
                         f"{e['seconds']:.1f} | {e['peak_rss_mb']:.0f} | "
                         f"{'PASS' if e['ok'] else 'FAIL'} |")
        replace_block("<!-- bench:export -->", "<!-- /bench:export -->", "\n".join(lines))
    if "webhooks" in parts:
        r = parts["webhooks"]
        lines = [head, "", f"Organisation A's receiver accepts and never answers (attempt timeout "
                 f"{r['timeout_s']:g} s); each round, {r['spacing_s']:g} s apart, queues "
                 f"{webhooks.A_PER_ROUND} more of A's deliveries (Veriff decisions), then times "
                 "one of B's, from sending the decision to its webhook arriving at B's receiver "
                 "(target < 2 s; issue 16 measured 97 s with one sequential sender):", "",
                 "| round | s since the start | A's deliveries queued | A's attempts so far | "
                 "A's requests its receiver holds unanswered (before / after; those timed out "
                 "included) | B's latency ms |", "|---:|---:|---:|---:|---|---:|"]
        for i, row in enumerate(r["rounds"], 1):
            lines.append(f"| {i} | {row['at_s']:.0f} | {row['a_queued']} | {row['a_requests']} | "
                         f"{row['a_hanging_before']} / {row['a_hanging_after']} | "
                         f"{row['latency_s'] * 1000:.0f} |")
        lines += ["", f"B's latency: median **{r['median_s'] * 1000:.0f} ms**, at most "
                  f"{r['max_s'] * 1000:.0f} ms "
                  f"({spread([x['latency_s'] * 1000 for x in r['rounds']], '{:.0f}')} ms): "
                  f"{'PASS' if r['ok'] else 'FAIL'}."]
        replace_block("<!-- bench:webhooks -->", "<!-- /bench:webhooks -->", "\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
