"""``make bench``'s ``layout`` part: the storage layout before and after personal data became
erasable (issue 18: keyed subject lookups, subject secrets, commitments in record hashes), side
by side in one run. Two servers at once on ledgers of ``--big`` consents, each prefilled by its
own code: the current checkout, and the baseline commit (:data:`BASELINE`, the last one before
the change; ``--baseline`` picks another) checked out as a git worktree under bench/out. For
every read of bench/dialects.py and every dialect's hot write, rounds alternate which server
goes first; reported per scenario: p99 and req/s of each, and after/before ratios (medians and
every round)."""
from __future__ import annotations

import subprocess
from pathlib import Path

from . import dialects, wrk
from .report import ROOT, median, spread
from .server import OUT, PURPOSES, RECORDS_PER_SUBJECT, VENV_BIN, Server, fresh_copy, prefill

BASELINE = "a704421"   # main before the people's rights work (issue 18)


def baseline_checkout(ref: str) -> Path:
    """The baseline commit's checkout (a detached git worktree, made once)."""
    path = OUT / f"baseline-{ref}"
    if not (path / "app.py").exists():
        subprocess.run(["git", "worktree", "prune"], cwd=ROOT, check=True)
        subprocess.run(["git", "worktree", "add", "--force", "--detach", str(path), ref],
                       cwd=ROOT, check=True, capture_output=True)
    return path


def baseline_prefill(root: Path, path: Path, records: int) -> None:
    """A ledger prefilled by the baseline's own code (its schema, its prefill)."""
    if path.exists():
        return
    subprocess.run([str(VENV_BIN / "python"), "-c",
                    "import sys; from pathlib import Path; from bench.server import prefill; "
                    f"prefill(Path({str(path)!r}), {records})"], cwd=root, check=True)


def measure(bench, big: Path, records: int, ref: str) -> dict:
    args = bench.args
    root = baseline_checkout(ref)
    old_db = OUT / f"ledger-{records}-baseline-{ref}.sqlite3"
    baseline_prefill(root, old_db, records)
    prefill(big, records)
    out = {"baseline": ref, "records": records, "scenarios": {}}
    with Server(fresh_copy(old_db, "layout-before"), args.workers, root=root) as before, \
            Server(fresh_copy(big, "layout-after"), args.workers) as after:
        pairs = []
        for server in (before, after):
            for write in dialects.prepare_reads(server.seed):
                wrk.check_once(server.port, write)
            pairs.append(dialects.reads(server.seed, records, records // RECORDS_PER_SUBJECT,
                                        PURPOSES) + dialects.writes(server.seed))
        for sc_before, sc_after in zip(*pairs):
            wrk.check_once(before.port, sc_before)
            wrk.check_once(after.port, sc_after)
            rounds = []
            for i in range(args.rounds):
                order = [(before, sc_before), (after, sc_after)]
                if i % 2:
                    order.reverse()
                got = {id(server): bench.measure(server.port, sc) for server, sc in order}
                b, a = got[id(before)], got[id(after)]
                rounds.append({"before": vars(b), "after": vars(a),
                               "p99_ratio": a.p99_ms / max(b.p99_ms, 0.001),
                               "rps_ratio": a.requests_per_s / max(b.requests_per_s, 0.001)})
            p99 = [r["p99_ratio"] for r in rounds]
            rps = [r["rps_ratio"] for r in rounds]
            out["scenarios"][sc_after.name] = {
                "p99_ratio": p99, "rps_ratio": rps, "rounds": rounds,
                "before_p99": median([r["before"]["p99_ms"] for r in rounds]),
                "after_p99": median([r["after"]["p99_ms"] for r in rounds]),
                "before_rps": median([r["before"]["requests_per_s"] for r in rounds]),
                "after_rps": median([r["after"]["requests_per_s"] for r in rounds]),
                "errors": sum(r["before"]["errors"] + r["after"]["errors"] for r in rounds)}
            bench.show(f"{sc_after.name:32s} after/before at {records:,}: p99 "
                       f"{spread(p99, '{:.2f}x')}, req/s {spread(rps, '{:.2f}x')}")
    return out


def markdown(r: dict) -> list[str]:
    lines = [f"The same reads and writes on two ledgers of {r['records']:,} consents at once, "
             f"one served by the baseline `{r['baseline']}` (before), one by this checkout "
             "(after), rounds alternating which goes first; ratios after/before (medians, then "
             "every round; p99 lower is better, req/s higher is better):", "",
             "| scenario | p99 before | p99 after | p99 after/before | req/s before | "
             "req/s after | req/s after/before |", "|---|---:|---:|---|---:|---:|---|"]
    for name, s in r["scenarios"].items():
        lines.append(f"| {name} | {s['before_p99']:.1f} ms | {s['after_p99']:.1f} ms | "
                     f"{spread(s['p99_ratio'], '{:.2f}x')} | {s['before_rps']:,.0f} | "
                     f"{s['after_rps']:,.0f} | {spread(s['rps_ratio'], '{:.2f}x')} |")
    return lines
