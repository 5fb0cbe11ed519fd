"""A real HTTP receiver on loopback for webhook tests: records every request (method, path,
headers, exact body bytes) and answers with the statuses it is told to, in order.

``body``: what it answers (default a small JSON); ``location``: the Location of a 3xx;
``hang``: every request waits, unanswered, until :meth:`release` (``in_progress`` and
``most_at_once`` count them); ``tls``: an ``ssl.SSLContext`` to serve https with (the names
clients asked for, SNI, are kept in ``server_names``)."""
from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    method: str
    path: str
    headers: dict
    body: bytes


class Receiver:
    def __init__(self, statuses: list[int] | None = None, *, body: bytes | None = None,
                 location: str | None = None, hang: bool = False,
                 tls: ssl.SSLContext | None = None):
        self.received: list[Received] = []
        self.statuses = list(statuses or [])  # answered in order, then 200
        self.server_names: list[str | None] = []
        self.in_progress = 0
        self.most_at_once = 0
        self._released = threading.Event()
        if not hang:
            self._released.set()
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length)
                with receiver._cond:
                    receiver.received.append(Received(
                        self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                        data))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.in_progress += 1
                    receiver.most_at_once = max(receiver.most_at_once, receiver.in_progress)
                    receiver._cond.notify_all()
                try:
                    receiver._released.wait(60)
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    if location and 300 <= status < 400:
                        self.send_header("Location", location)
                    answer = body if body is not None else (
                        b'{"ok": true}' if status < 300 else b'{"error": "nope"}')
                    self.send_header("Content-Length", str(len(answer)))
                    self.end_headers()
                    self.wfile.write(answer)
                except OSError:
                    pass   # the sender hung up first
                finally:
                    with receiver._cond:
                        receiver.in_progress -= 1
                        receiver._cond.notify_all()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        scheme = "http"
        if tls is not None:
            tls.sni_callback = lambda sock, name, ctx: self.server_names.append(name)
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.release()
        self.server.shutdown()
        self.server.server_close()

    def release(self) -> None:
        """Answer the requests that hang, and every later one at once."""
        self._released.set()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until ``count`` requests have arrived (bounded in time)."""
        return self._wait(lambda: len(self.received) >= count, timeout,
                          lambda: f"expected {count} requests, got {len(self.received)}")

    def wait_hanging(self, count: int, timeout: float = 10.0) -> None:
        """Block until ``count`` requests are held unanswered at once."""
        self._wait(lambda: self.in_progress >= count, timeout,
                   lambda: f"expected {count} requests hanging, got {self.in_progress}")

    def _wait(self, done, timeout, why):
        deadline = time.monotonic() + timeout
        with self._cond:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(why())
                self._cond.wait(left)
            return list(self.received)
