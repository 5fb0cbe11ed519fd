"""``make bench``'s ``console`` part: the operator console's pages at 1M consents against the
same pages at 10k, served side by side (two gunicorns, each on a copy of the bench's prefilled
ledger), signed in through a sign-in link as ``seed-demo``'s operator.

Each round fetches every view once from each server, alternating, one request at a time (a
person's browser, not a load test); the figures are each view's median and 90th percentile
over the rounds, and the ratio 1M/10k of the medians. The target (issue 21): the overview under
300 ms at 1M; "no view scans the ledger" shows as ratios near 1."""
from __future__ import annotations

import http.client
import statistics
import time
import urllib.parse
from pathlib import Path

from .server import Server, fresh_copy

TARGET_MS = 300
# Every view's landing page, and the reads that filter the ledger (a subject's consents and
# timeline: subject s5 holds 10 consents at either size; a purpose's; an old page of the chain).
VIEWS = ("", "consents", "consents?subject=s5", "consents?purpose=purpose-1",
         "timeline?subject=s5", "audit", "audit?before=5000", "webhooks", "credentials",
         "providers", "providers/truconsent", "providers/veriff", "providers/avacy",
         "providers/attestr", "rights")


def _spread_days(path: Path) -> None:
    """The prefill writes every consent at one instant; spread them over the last 30 days (the
    overview's window), and fill the console's daily counts as its migration would."""
    import sqlite3

    db = sqlite3.connect(path)
    with db:
        db.execute("UPDATE consent SET created_at = datetime('now', '-' || (seq % 30) || "
                   "' days', '-' || (seq % 600) || ' minutes')")
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'console_day'").fetchone():
            db.execute("DELETE FROM console_day")
            db.execute("INSERT INTO console_day (org_id, day, source, status, purpose_id, count) "
                       "SELECT org_id, DATE(created_at), source, status, purpose_id, COUNT(*) "
                       "FROM consent GROUP BY 1, 2, 3, 4, 5")
    db.close()


def _sign_in(server: Server, email: str) -> str:
    """The console cookie of a fresh sign-in through ``console-link``'s link."""
    link = server.flask("console-link", "--email", email).strip().splitlines()[-1]
    parts = urllib.parse.urlsplit(link)
    token = urllib.parse.parse_qs(parts.query)["t"][0]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request("POST", parts.path, body=urllib.parse.urlencode({"t": token}),
                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    response.read()
    if response.status != 303:
        raise RuntimeError(f"console sign-in answered {response.status}")
    cookie = response.getheader("Set-Cookie").split(";", 1)[0]
    conn.close()
    return cookie


def _fetch(conn, path: str, cookie: str) -> float:
    began = time.perf_counter()
    conn.request("GET", path, headers={"Cookie": cookie})
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - began
    if response.status != 200:
        raise RuntimeError(f"{path} answered {response.status}: {body[:200]!r}")
    return elapsed


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


def measure(small: Path, big: Path, sizes: tuple[int, int], rounds: int, workers: int,
            show) -> dict:
    from consent.cli import DEMO_USER

    times: dict = {view: {"small": [], "big": []} for view in VIEWS}
    copies = (fresh_copy(small, "console-small"), fresh_copy(big, "console-big"))
    for copy in copies:
        _spread_days(copy)
    with Server(copies[0], workers) as s, Server(copies[1], workers) as b:
        servers = {"small": s, "big": b}
        cookies = {name: _sign_in(server, DEMO_USER) for name, server in servers.items()}
        conns = {name: http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
                 for name, server in servers.items()}
        for view in VIEWS:                      # warm: templates compiled, caches filled
            for name in servers:
                _fetch(conns[name], f"/console/o/demo/{view}", cookies[name])
        for n in range(max(rounds, 1) * 10):
            order = ("small", "big") if n % 2 == 0 else ("big", "small")
            for view in VIEWS:
                for name in order:
                    times[view][name].append(_fetch(conns[name], f"/console/o/demo/{view}",
                                                    cookies[name]))
        for conn in conns.values():
            conn.close()
    out = {"sizes": {"small": sizes[0], "big": sizes[1]}, "target_ms": TARGET_MS, "views": {}}
    for view, by_size in times.items():
        row = {name: {"median_ms": statistics.median(v) * 1000, "p90_ms": _p90(v) * 1000,
                      "n": len(v)} for name, v in by_size.items()}
        row["ratio"] = row["big"]["median_ms"] / row["small"]["median_ms"]
        out["views"][view or "overview"] = row
        show(f"console {view or 'overview':28s} {sizes[1]:>9,}: median "
             f"{row['big']['median_ms']:6.1f} ms (p90 {row['big']['p90_ms']:6.1f})   "
             f"{sizes[0]:,}: {row['small']['median_ms']:6.1f} ms   ratio {row['ratio']:.2f}")
    overview = out["views"]["overview"]["big"]
    out["ok"] = overview["p90_ms"] < TARGET_MS
    show(f"console overview at {sizes[1]:,}: p90 {overview['p90_ms']:.1f} ms (target < "
         f"{TARGET_MS} ms): {'met' if out['ok'] else 'NOT met'}")
    return out


def markdown(r: dict, report: dict) -> list[str]:
    small, big = r["sizes"]["small"], r["sizes"]["big"]
    lines = [f"Measured {report['date']} on {report['machine']}: each view fetched one request "
             f"at a time, alternating between a {big:,}-consent and a {small:,}-consent ledger "
             f"served side by side, {r['views']['overview']['big']['n']} times each.", "",
             f"| view | {big:,}: median | {big:,}: p90 | {small:,}: median | ratio "
             f"{big:,}/{small:,} |", "|---|---:|---:|---:|---:|"]
    for view, row in r["views"].items():
        lines.append(f"| {view} | {row['big']['median_ms']:.1f} ms | {row['big']['p90_ms']:.1f} "
                     f"ms | {row['small']['median_ms']:.1f} ms | {row['ratio']:.2f} |")
    overview = r["views"]["overview"]["big"]
    lines += ["", f"Target: the overview under {r['target_ms']} ms at {big:,} consents: p90 "
                  f"{overview['p90_ms']:.1f} ms, {'met' if r['ok'] else 'NOT met'}."]
    return lines
