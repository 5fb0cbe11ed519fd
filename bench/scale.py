"""``make bench``'s ``scale`` part: do writes slow down as the ledger grows? Every dialect's hot
write (bench/dialects.py) on a copy of the small ledger and on a copy of the big one, two
servers side by side, alternating which goes first each round; nothing else runs meanwhile
(the ``peers`` part's 1M table runs next to json-server, whose backlog of slow writes at 50k
records keeps a core busy after its own rounds end: its service figures there are not this
comparison). Reported: each write's req/s and p99 at both sizes and the big/small ratios,
medians and every round."""
from __future__ import annotations

from pathlib import Path

from . import dialects, wrk
from .report import median, size_label, spread
from .server import Server, fresh_copy


def measure(bench, small: Path, big: Path) -> dict:
    args = bench.args
    out = {"writes": {}}
    with Server(fresh_copy(small, "scale-small"), args.workers) as s_small, \
            Server(fresh_copy(big, "scale-big"), args.workers) as s_big:
        pairs = [dialects.writes(s_small.seed), dialects.writes(s_big.seed)]
        for sc_small, sc_big in zip(*pairs):
            wrk.check_once(s_small.port, sc_small)
            wrk.check_once(s_big.port, sc_big)
            rounds = []
            for i in range(args.rounds):
                order = [(s_small, sc_small), (s_big, sc_big)]
                if i % 2:
                    order.reverse()
                got = {id(server): bench.measure(server.port, sc) for server, sc in order}
                a, b = got[id(s_small)], got[id(s_big)]
                rounds.append({"small": vars(a), "big": vars(b),
                               "ratio": b.requests_per_s / max(a.requests_per_s, 0.01),
                               "p99_ratio": b.p99_ms / max(a.p99_ms, 0.001)})
            row = {"ratio": [r["ratio"] for r in rounds],
                   "p99_ratio": [r["p99_ratio"] for r in rounds],
                   "small_req_s": median([r["small"]["requests_per_s"] for r in rounds]),
                   "big_req_s": median([r["big"]["requests_per_s"] for r in rounds]),
                   "small_p99": median([r["small"]["p99_ms"] for r in rounds]),
                   "big_p99": median([r["big"]["p99_ms"] for r in rounds]),
                   "errors": sum(r["small"]["errors"] + r["big"]["errors"] for r in rounds)}
            out["writes"][sc_small.name] = row
            bench.show(f"{sc_small.name:34s} req/s {size_label(args.big)} / "
                       f"{size_label(args.small)}: {spread(row['ratio'], '{:.2f}x')}")
    return out


def markdown(result: dict, settings: dict) -> list[str]:
    small, big = size_label(settings["small"]), size_label(settings["big"])
    lines = [f"| write | {small} req/s | {big} req/s | req/s {big} / {small} | {small} p99 ms | "
             f"{big} p99 ms | p99 {big} / {small} |", "|---|---:|---:|---|---:|---:|---|"]
    for name, r in result["writes"].items():
        lines.append(f"| {name} | {r['small_req_s']:.0f} | {r['big_req_s']:.0f} | "
                     f"{spread(r['ratio'], '{:.2f}x')} | {r['small_p99']:.1f} | "
                     f"{r['big_p99']:.1f} | {spread(r['p99_ratio'], '{:.2f}x')} |")
    return lines
