"""``make bench``: load the service under gunicorn on loopback with wrk and check the targets.

Every target is a ratio to a baseline measured in the same run (the machines are shared and
noisy): the framework ceiling is ``GET /healthz`` of the same app. Results go to
``bench/out/results.json`` and into the results block of ``BENCHMARKS.md``.

Each write scenario's ratio is measured in rounds that alternate the ceiling and the scenario on
the same server, and the median round counts: the machines drift between slow and fast spells
over a minute, and a ceiling measured once at the start would tilt every later ratio. The state
GET at 10k and at 1M records is measured the same way, from two servers running side by side.

Run: ``make bench`` (``BENCH_ARGS="--duration 3 --big 100000"`` for a quicker look).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
VENV_BIN = Path(sys.executable).parent
SECRET = "bench-secret-key-not-for-production"
PURPOSES = 5
RECORDS_PER_SUBJECT = 10  # 2 decisions per purpose: a history, not just one row


@dataclass
class Scenario:
    name: str
    method: str = "GET"
    path: str = "/healthz"
    headers: dict = field(default_factory=dict)
    body: str | None = None
    lua: str = ""            # extra Lua for per-request variation (overrides method/path/body)
    server: str = "small"    # which prefilled database the server runs on
    expect_status: int = 200


@dataclass
class Result:
    name: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk from Debian's packages ...", file=sys.stderr)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    return shutil.which("wrk")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- prefilled databases --------------------------------------------------------------------------

def prefill(path: Path, records: int) -> None:
    """A ledger with ``records`` consents (10 per subject over 5 purposes), written in bulk.

    Rows are inserted directly (not through the API) to keep setup short; their record hashes are
    placeholders, so ``verify`` is not meaningful on a bench database."""
    if path.exists():
        return
    tmp = path.with_suffix(".tmp")
    for suffix in ("", "-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    sys.path.insert(0, str(ROOT))
    from consent.core import ledger, storage

    storage.init_database(f"sqlite:///{tmp}")
    storage.create_tables()
    org = ledger.create_org("demo", "Demo Organisation", "demo")
    purposes = [ledger.ensure_purpose(org, f"purpose-{p}").id for p in range(PURPOSES)]
    subjects = max(1, records // RECORDS_PER_SUBJECT)
    conn = storage.db.connection()
    start = time.time()
    now = storage.utcnow().isoformat(sep=" ")
    with storage.db.atomic():
        conn.executemany('INSERT INTO "subject" (id, org_id, identifier, created_at) '
                         "VALUES (?, ?, ?, ?)",
                         ((i + 1000, org.id, f"s{i}", now) for i in range(subjects)))
        rows = (
            (f"00000000-0000-4000-8000-{n:012d}", org.id, 1000 + n // RECORDS_PER_SUBJECT,
             1000 + n // RECORDS_PER_SUBJECT, purposes[n % PURPOSES], "1",
             "granted" if (n // PURPOSES) % 2 else "denied", "bench", now, now, "0" * 64)
            for n in range(records))
        conn.executemany(
            'INSERT INTO "consent" (id, org_id, subject_id, recorded_subject_id, purpose_id, '
            "purpose_version, status, source, valid_from, created_at, record_hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    storage.db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    storage.db.execute_sql("ANALYZE")
    storage.db.close()
    tmp.rename(path)
    print(f"prefilled {records:,} consents for {subjects:,} subjects in "
          f"{time.time() - start:.0f}s -> {path.name}", file=sys.stderr)


# -- the server -------------------------------------------------------------------------------------

class Server:
    def __init__(self, db_path: Path, workers: int, app_spec: str = "app:app"):
        self.app_spec = app_spec
        self.db_path = db_path
        self.port = free_port()
        self.env = {**os.environ, "CONSENT_DATABASE_URL": f"sqlite:///{db_path}",
                    "CONSENT_SECRET_KEY": SECRET,
                    "CONSENT_PUBLIC_URL": f"http://127.0.0.1:{self.port}"}
        self.workers = workers
        self.proc = None

    def flask(self, *args) -> str:
        return subprocess.run([str(VENV_BIN / "flask"), "--app", "app", *args], cwd=ROOT,
                              env=self.env, check=True, capture_output=True, text=True).stdout

    def __enter__(self):
        self.flask("init-db")
        self.seed = json.loads(self.flask("seed-demo", "--json"))
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers",
             str(self.workers), "--log-level", "warning", self.app_spec],
            cwd=ROOT, env=self.env, start_new_session=True)
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


# -- wrk ---------------------------------------------------------------------------------------------

UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def lua_script(s: Scenario) -> str:
    lines = [f'wrk.method = "{s.method}"', f"wrk.path = {json.dumps(s.path)}"]
    for key, value in s.headers.items():
        lines.append(f"wrk.headers[{json.dumps(key)}] = {json.dumps(value)}")
    if s.body is not None:
        lines.append(f"wrk.body = {lua_string(s.body)}")
    lines.append(s.lua)
    return "\n".join(lines) + "\n"


def lua_string(value: str) -> str:
    return "[==[" + value + "]==]"


def run_wrk(wrk: str, port: int, s: Scenario, duration: int, connections: int) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(lua_script(s))
        script = fh.name
    try:
        out = subprocess.run(
            [wrk, "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "--latency",
             "-s", script, f"http://127.0.0.1:{port}"],
            capture_output=True, text=True, check=True, timeout=duration + 60).stdout
    finally:
        os.unlink(script)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(x) for x in sock.groups())

    def pct(label):
        value, unit = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s|m)\b", out).groups()
        return float(value) * UNIT[unit]

    return Result(s.name, rps, pct("50"), pct("99"), total, errors)


def check_once(port: int, s: Scenario) -> None:
    """One request by hand first: a scenario that answers errors measures nothing."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = s.body.encode() if s.body is not None else None
    path = s.path
    conn.request(s.method, path, body=body, headers=s.headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != s.expect_status:
        raise SystemExit(f"scenario {s.name}: {s.method} {path} answered {response.status}: "
                         f"{data[:300]!r}")


# -- scenarios ----------------------------------------------------------------------------------------

def ledger_scenarios(seed: dict, subjects: int, server: str) -> list[Scenario]:
    headers = {"X-Org-Id": "demo", "X-API-Key": seed["ledger"]["admin_api_key"],
               "Content-Type": "application/json"}
    state_lua = (
        f"math.randomseed(42)\nrequest = function()\n"
        f"  local path = '/ledger/v1/subjects/s' .. math.random(0, {subjects - 1}) .. '/state'\n"
        f"  return wrk.format('GET', path)\nend\n")
    return [Scenario(f"state GET ({server})", headers=headers,
                     path="/ledger/v1/subjects/s0/state", lua=state_lua, server=server)]


def record_scenario(seed: dict) -> Scenario:
    headers = {"X-Org-Id": "demo", "X-API-Key": seed["ledger"]["admin_api_key"],
               "Content-Type": "application/json"}
    lua = (
        "counter = 0\nrequest = function()\n  counter = counter + 1\n"
        "  local body = '{\"subject\":\"bench-' .. counter .. '\",\"purpose\":\"purpose-1\","
        "\"status\":\"granted\",\"notice_version\":\"v1\"}'\n"
        "  return wrk.format(nil, nil, nil, body)\nend\n")
    return Scenario("ledger record POST", method="POST", path="/ledger/v1/consents",
                    headers=headers, lua=lua, expect_status=201,
                    body=json.dumps({"subject": "bench-0", "purpose": "purpose-1",
                                     "status": "granted"}))


def dialect_scenarios(seed: dict) -> list[tuple[Scenario, float]]:
    """Scenarios of the provider dialects, each with its target ratio to the ceiling."""
    from bench import dialects

    return dialects.scenarios(seed)


# -- main ------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=4, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3,
                        help="ceiling/scenario alternations per write scenario (median ratio)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    args = parser.parse_args(argv)

    wrk = ensure_wrk()
    OUT.mkdir(parents=True, exist_ok=True)
    dbs = {"small": OUT / f"ledger-{args.small}.sqlite3", "big": OUT / f"ledger-{args.big}.sqlite3"}
    prefill(dbs["small"], args.small)
    prefill(dbs["big"], args.big)

    results: dict[str, Result] = {}
    ratios: dict[str, list[float]] = {}
    ceilings: list[Result] = []
    targets: list[tuple[str, bool, str]] = []

    def measure(port, scenario, quiet=False):
        result = run_wrk(wrk, port, scenario, args.duration, args.connections)
        if not quiet:
            print(f"{result.name:38s} {result.requests_per_s:9.1f} req/s   p50 {result.p50_ms:7.2f} ms"
                  f"   p99 {result.p99_ms:7.2f} ms   errors {result.errors}", flush=True)
        return result

    ceiling_scenario = Scenario("no-op GET /healthz (ceiling)")

    def versus_ceiling(port, scenario):
        """Alternate ceiling and scenario ``rounds`` times: a ratio per round, so that a slow or
        fast spell of the shared machine moves both sides of a ratio, not one."""
        check_once(port, scenario)
        rounds = []
        for _ in range(args.rounds):
            ceiling = measure(port, ceiling_scenario, quiet=True)
            result = measure(port, scenario, quiet=True)
            ceilings.append(ceiling)
            rounds.append((result.requests_per_s / ceiling.requests_per_s, result))
        rounds.sort(key=lambda r: r[0])
        ratio, median = rounds[len(rounds) // 2]
        results[scenario.name] = median
        ratios[scenario.name] = [r for r, _ in rounds]
        print(f"{median.name:38s} {median.requests_per_s:9.1f} req/s   p50 {median.p50_ms:7.2f} ms"
              f"   p99 {median.p99_ms:7.2f} ms   errors {sum(r.errors for _, r in rounds)}   "
              f"ratio {ratio:.0%} (rounds: {', '.join(f'{r:.0%}' for r, _ in rounds)})",
              flush=True)
        return median, ratio, sum(r.errors for _, r in rounds)

    # Writes go to a scratch copy so the prefilled databases stay as prefilled.
    scratch = fresh_copy(dbs["small"], "scratch")
    write_scenarios = []
    with Server(scratch, args.workers) as server:
        check_once(server.port, ceiling_scenario)
        write_scenarios.append((versus_ceiling(server.port, record_scenario(server.seed)), 0.35))
        for scenario, target in dialect_scenarios(server.seed):
            write_scenarios.append((versus_ceiling(server.port, scenario), target))

    # The state GET at both sizes, from two servers running side by side, alternated the same way.
    with Server(fresh_copy(dbs["small"], "state-small"), args.workers) as small_server, \
            Server(dbs["big"], args.workers) as big_server:
        small_scenario = ledger_scenarios(small_server.seed, args.small // 10,
                                          size_label(args.small))[0]
        big_scenario = ledger_scenarios(big_server.seed, args.big // 10, size_label(args.big))[0]
        check_once(small_server.port, small_scenario)
        check_once(big_server.port, big_scenario)
        state_rounds = []
        for _ in range(args.rounds):
            small = measure(small_server.port, small_scenario, quiet=True)
            big = measure(big_server.port, big_scenario, quiet=True)
            state_rounds.append((big.p99_ms / small.p99_ms, small, big))
        state_rounds.sort(key=lambda r: r[0])
        p99_ratio, small, big = state_rounds[len(state_rounds) // 2]
        for r in (small, big):
            results[r.name] = r
            print(f"{r.name:38s} {r.requests_per_s:9.1f} req/s   p50 {r.p50_ms:7.2f} ms"
                  f"   p99 {r.p99_ms:7.2f} ms   errors {r.errors}", flush=True)
        print(f"state GET p99 {size_label(args.big)} / {size_label(args.small)}: "
              f"{p99_ratio:.2f}x (rounds: "
              f"{', '.join(f'{r:.2f}x' for r, _, _ in state_rounds)})", flush=True)

    ceiling = sorted(ceilings, key=lambda r: r.requests_per_s)[len(ceilings) // 2]
    results = {ceiling_scenario.name: ceiling, **results}
    for (result, ratio, errors), target in write_scenarios:
        targets.append((f"{result.name}: {ratio:.0%} of ceiling (target >= {target:.0%})",
                        ratio >= target and errors == 0, f"{ratio:.3f}"))
    state_text = ", ".join(f"{r:.2f}x" for r, _, _ in state_rounds)
    targets.insert(1, (f"state GET p99 at {args.big:,} / at {args.small:,}: {p99_ratio:.2f}x "
                       f"(rounds: {state_text}) (target <= 1.5x)",
                       p99_ratio <= 1.5 and all(b.errors == 0 for _, _, b in state_rounds),
                       f"{p99_ratio:.3f}"))

    print()
    for text, ok, _ in targets:
        print(("PASS " if ok else "FAIL ") + text)
    report = {
        "date": dt.date.today().isoformat(),
        "machine": machine(),
        "settings": vars(args),
        "results": [vars(r) for r in results.values()],
        "ratios": ratios,
        "targets": [{"target": t, "ok": ok} for t, ok, _ in targets],
    }
    (OUT / "results.json").write_text(json.dumps(report, indent=2))
    write_markdown(report)
    return 0 if all(ok for _, ok, _ in targets) else 1


def size_label(records: int) -> str:
    return f"{records // 1_000_000}M" if records % 1_000_000 == 0 else f"{records // 1000}k"


def fresh_copy(source: Path, name: str) -> Path:
    """A copy of a prefilled database that a run may change."""
    target = OUT / f"{name}.sqlite3"
    for suffix in ("", "-wal", "-shm", "-writer.lock"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    shutil.copy(source, target)
    return target


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def write_markdown(report: dict) -> None:
    settings = report["settings"]
    lines = [f"Measured {report['date']} on {report['machine']}.",
             f"wrk: 1 thread, {settings['connections']} connections, {settings['duration']} s per "
             f"measurement; each write scenario alternates with the ceiling "
             f"{settings['rounds']} times and its ratio is the median round's (the state GETs at "
             f"both sizes alternate the same way, from two servers side by side); gunicorn "
             f"{settings['workers']} sync workers; SQLite (WAL, synchronous=NORMAL).",
             "", "| scenario | req/s | p50 ms | p99 ms | errors | ratio to ceiling (rounds) |",
             "|---|---:|---:|---:|---:|---|"]
    for r in report["results"]:
        rounds = report.get("ratios", {}).get(r["name"])
        ratio = ", ".join(f"{x:.0%}" for x in rounds) if rounds else ""
        lines.append(f"| {r['name']} | {r['requests_per_s']:.0f} | {r['p50_ms']:.2f} | "
                     f"{r['p99_ms']:.2f} | {r['errors']} | {ratio} |")
    lines += ["", "| target | result |", "|---|---|"]
    for t in report["targets"]:
        lines.append(f"| {t['target']} | {'PASS' if t['ok'] else 'FAIL'} |")
    replace_block("<!-- bench:results -->", "<!-- /bench:results -->", "\n".join(lines))


def replace_block(start: str, end: str, block: str) -> None:
    """Put ``block`` between the ``start`` and ``end`` markers of BENCHMARKS.md (appended with
    them if they are not there yet)."""
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else ""
    if start in text and end in text:
        text = text[:text.index(start) + len(start)] + "\n" + block + "\n" + text[text.index(end):]
    else:
        text += f"\n{start}\n{block}\n{end}\n"
    path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
