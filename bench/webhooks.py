"""``make bench`` part ``webhooks``: one slow receiver delays nobody else (issue 16, item 6).

The service under gunicorn; organisation A (the demo organisation) has a Veriff integration
whose decision webhooks go to a receiver that accepts every request and never answers (until the
end); organisation B has one whose webhooks go to a receiver that answers at once. Each round
decides 10 of A's sessions (10 more deliveries to the hanging receiver, on top of those still
pending from earlier rounds), waits until A's receiver holds requests, then decides one of B's
sessions and measures the time from sending that decision to B's webhook arriving. Target: under
2 s (before: 97 s, B's webhook waiting behind A's timeouts in one sequential sender).
"""
from __future__ import annotations

import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from consent.dialects.veriff.testing import veriff_signed
from .report import median
from .server import OUT, Server

TARGET_S = 2.0
A_PER_ROUND = 10
TIMEOUT_S = 10.0          # CONSENT_WEBHOOK_TIMEOUT (the default)
SPACING_S = 4.0           # between rounds: later rounds run while A's attempts time out and retry


class Receiver:
    """A webhook receiver on loopback: ``hang`` holds every request unanswered until
    :meth:`release`; ``arrived`` holds each request's arrival time (perf_counter)."""

    def __init__(self, hang: bool):
        self.arrived: list[float] = []
        self.hanging = 0
        self._release = threading.Event()
        if not hang:
            self._release.set()
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._cond:
                    receiver.arrived.append(time.perf_counter())
                    receiver.hanging += 1
                    receiver._cond.notify_all()
                try:
                    receiver._release.wait(600)
                    self.send_response(200)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass
                finally:
                    with receiver._cond:
                        receiver.hanging -= 1

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, done, timeout: float) -> bool:
        deadline = time.perf_counter() + timeout
        with self._cond:
            while not done():
                left = deadline - time.perf_counter()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()


def call(port: int, method: str, path: str, headers: dict, body: bytes) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                     headers={"Content-Type": "application/json", **headers},
                                     method=method)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


class Tenant:
    """An organisation's Veriff integration and admin key, on the bench server."""

    def __init__(self, server: Server, slug: str, admin_key: str, decision_url: str):
        self.server, self.slug, self.admin_key = server, slug, admin_key
        self.integration = json.loads(server.flask(
            "veriff", "integration-create", "--org", slug, "--decision-url", decision_url))

    def session(self) -> str:
        body = json.dumps({"verification": {"vendorData": "bench"}}).encode()
        made = call(self.server.port, "POST", "/v1/sessions",
                    veriff_signed(self.integration, body), body)
        return made["verification"]["id"]

    def decide(self, session_id: str) -> None:
        call(self.server.port, "POST", f"/ledger/v1/veriff/sessions/{session_id}/decision",
             {"X-API-Key": self.admin_key, "X-Org-Id": self.slug},
             json.dumps({"status": "approved"}).encode())


def measure(rounds: int, workers: int, show=print) -> dict:
    path = OUT / "webhooks.sqlite3"
    for suffix in ("", "-wal", "-shm", "-writer.lock"):
        (OUT / (path.name + suffix)).unlink(missing_ok=True)
    slow, fast = Receiver(hang=True), Receiver(hang=False)
    out = {"rounds": [], "workers": workers, "timeout_s": TIMEOUT_S, "spacing_s": SPACING_S}
    started = time.perf_counter()
    try:
        with Server(path, workers, env={"CONSENT_WEBHOOK_TIMEOUT": str(TIMEOUT_S)}) as server:
            a = Tenant(server, "demo", server.seed["ledger"]["admin_api_key"], slow.url + "/a")
            server.flask("org", "create", "bench-b", "--name", "Bench B")
            b_key = json.loads(server.flask("key", "create", "--org", "bench-b", "--scope",
                                            "admin", "--scope", "consent"))["key"]
            b = Tenant(server, "bench-b", b_key, fast.url + "/b")
            for i in range(rounds):
                if i:
                    time.sleep(SPACING_S)
                for _ in range(A_PER_ROUND):
                    a.decide(a.session())
                if not slow.wait(lambda: slow.hanging >= 1, 30):
                    raise SystemExit("no webhook of A reached its receiver")
                session = b.session()
                seen = len(fast.arrived)
                hanging_before = slow.hanging
                sent = time.perf_counter()
                b.decide(session)
                if not fast.wait(lambda: len(fast.arrived) > seen, 120):
                    raise SystemExit("B's webhook did not arrive within 120 s")
                latency = fast.arrived[seen] - sent
                row = {"latency_s": latency, "a_hanging_before": hanging_before,
                       "a_hanging_after": slow.hanging, "a_queued": A_PER_ROUND * (i + 1),
                       "a_requests": len(slow.arrived), "at_s": sent - started}
                out["rounds"].append(row)
                show(f"webhooks round {i + 1}: B's webhook after {latency * 1000:.0f} ms, "
                     f"{row['a_hanging_after']} of A's requests hanging, "
                     f"{row['a_queued']} queued for A, {row['a_requests']} A attempts so far")
    finally:
        slow.close()
        fast.close()
    latencies = [r["latency_s"] for r in out["rounds"]]
    out["median_s"] = median(latencies)
    out["max_s"] = max(latencies)
    out["ok"] = out["max_s"] < TARGET_S and all(r["a_hanging_after"] > 0 for r in out["rounds"])
    return out
