"""Background work of a serving process: named loops, each a daemon thread that runs a step
while the step reports more work, then waits until woken or until its interval passes.

The webhook outbox's sender and the audit verification runner are loops. Each process (every
gunicorn worker) runs its own; the work they pick up is claimed in the database with leases, so
several processes share it safely and a process that dies leaves nothing half-claimed for long.
``ensure_running`` (called before each request) starts the loops of a new process, a forked
child included.
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Callable

from .storage import db

log = logging.getLogger(__name__)
LOOPS: list["Loop"] = []


class Loop:
    def __init__(self, name: str, step: Callable[[], bool], interval: Callable[[], float]):
        self.name, self.step, self.interval = name, step, interval
        self.enabled = True
        self._wake = threading.Event()
        self._pid: int | None = None
        self._lock = threading.Lock()
        LOOPS.append(self)

    def wake(self) -> None:
        if self.enabled:
            self.ensure_running()
            self._wake.set()

    def ensure_running(self) -> None:
        if self._pid != os.getpid() and self.enabled:
            with self._lock:
                if self._pid != os.getpid():
                    self._wake = threading.Event()
                    threading.Thread(target=self._run, name=self.name, daemon=True).start()
                    self._pid = os.getpid()

    def _run(self) -> None:
        while True:
            self._wake.wait(self.interval())
            self._wake.clear()
            if not self.enabled:
                continue
            try:
                while db.obj is not None and self.step():
                    pass
            except Exception as exc:  # the database may be away for a while; try again later
                log.warning("%s: %s: %s", self.name, type(exc).__name__, exc)


def ensure_running() -> None:
    """Start every loop in this process if it is not running yet (cheap when it is)."""
    for loop in LOOPS:
        loop.ensure_running()
