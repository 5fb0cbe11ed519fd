"""The crash test's client: one request per connection over loopback, the writes of every
dialect's crash kinds sent and what became of each kept (``consent.testing.Sent``), and the
client threads that load the instances."""
from __future__ import annotations

import http.client
import itertools
import json
import random
import threading
import time

from consent.testing import CrashKind, Sent

_counter = itertools.count(1)
_counter_lock = threading.Lock()


def next_marker() -> int:
    """A number no write of this process used before (each write's unique marker)."""
    with _counter_lock:
        return next(_counter)


def call(port: int, method: str, path: str, headers: dict | None = None,
         body: bytes | None = None, timeout: float = 15) -> tuple[int, bytes]:
    """One request on a new connection; OSError (refused, reset, timeout) when there is no
    answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    except http.client.HTTPException as exc:  # a reply cut short by the kill
        raise ConnectionError(repr(exc)) from exc
    finally:
        conn.close()


class Http:
    """What a crash kind reads back through: ``get(path, headers) -> (status, json or None)``
    against one instance."""

    def __init__(self, port: int):
        self.port = port

    def get(self, path: str, headers: dict) -> tuple[int, dict | None]:
        status, raw = call(self.port, "GET", path, headers)
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, None


def send(port: int, kind: CrashKind, sent: Sent, timeout: float = 15) -> Sent:
    try:
        status, raw = call(port, sent.method, sent.path, sent.headers, sent.body, timeout=timeout)
    except OSError as exc:
        sent.error = repr(exc)
        return sent
    sent.status = status
    if 200 <= status < 300:
        sent.ids = kind.ids(json.loads(raw))
    else:
        sent.error = raw[:300].decode("utf-8", "replace")
    return sent


class Load:
    """``clients`` threads writing round-robin over ``kinds`` to the live instances until
    stopped; every request and its outcome kept in ``sent``."""

    def __init__(self, instances: list[Instance], kinds: list[CrashKind], clients: int,
                 limit: int | None = None):
        self.instances, self.kinds, self.clients, self.limit = instances, kinds, clients, limit
        self.sent: list[Sent] = []
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self._issued = itertools.count()
        self._lock = threading.Lock()

    def _take(self) -> int | None:
        with self._lock:
            n = next(self._issued)
        return None if self.limit is not None and n >= self.limit else n

    def _run(self, seed: int):
        rnd = random.Random(seed)
        while not self.stop.is_set():
            n = self._take()
            if n is None:
                return
            kind = self.kinds[n % len(self.kinds)]
            up = [i for i, s in enumerate(self.instances) if not s.killed] or [0]
            index = rnd.choice(up)  # mostly live ones; a few requests still meet a dead port
            sent = kind.build(next_marker())
            sent.instance = index
            send(self.instances[index].port, kind, sent)
            self.sent.append(sent)
            if sent.status is None:
                time.sleep(0.02)  # refused: the instance is down; do not spin

    def __enter__(self):
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(self.clients)]
        for t in self.threads:
            t.start()
        return self

    def join(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(timeout=max(0.1, deadline - time.monotonic()))
        if any(t.is_alive() for t in self.threads):
            raise RuntimeError("client threads did not finish")

    def __exit__(self, *exc):
        self.stop.set()
        self.join()
