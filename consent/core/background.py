"""A background thread per serving process, for work that must happen without a request asking
for it (sending webhooks, sweeps). Started lazily (``ensure_running``, e.g. from a
``before_request`` hook), again in a forked child, woken early by ``wake`` (e.g. after a commit
that queued work), and otherwise every ``interval()`` seconds. A round that fails (the database
away for a while) is logged and tried again at the next one."""
from __future__ import annotations

import logging
import os
import threading

from .storage import db

log = logging.getLogger(__name__)


class PerProcessThread:
    name = "background"

    def __init__(self):
        self._wake = threading.Event()
        self._pid: int | None = None
        self._lock = threading.Lock()
        self.enabled = True

    def interval(self) -> float:
        raise NotImplementedError

    def run_once(self) -> None:
        raise NotImplementedError

    def wake(self) -> None:
        if not self.enabled:
            return
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
            if db.obj is None or not self.enabled:
                continue
            try:
                self.run_once()
            except Exception as exc:  # noqa: BLE001 - try again at the next round
                log.warning("%s: %s: %s", self.name, type(exc).__name__, exc)
