"""The Attestr dialect's background work, one thread per serving process: consents whose
``consentValidTill`` passed expire (with their ``consent.expired`` webhook) without anyone
asking, export jobs run, and finished rate-limit windows are dropped.

The thread starts with the first request a process serves (a ``before_app_request`` hook, so a
restarted or forked worker starts its own), wakes every :data:`INTERVAL` seconds and at once
after a commit that queued an export. Several processes may run it on one database: each
consent's expiry and each export is claimed by exactly one (see :mod:`.consents` and
:mod:`.exports`). ``flask --app app attestr sweep`` does one round by hand.
"""
from __future__ import annotations

import logging
import os
import threading
import time

from consent.core.storage import db

from . import consents, exports, ratelimit

log = logging.getLogger(__name__)

INTERVAL = 5.0            # seconds between rounds (tests lower it)
PURGE_EVERY = 60.0        # seconds between purges of finished rate-limit windows


def sweep() -> dict:
    """One round: expire what is due, run due exports. Returns what was done."""
    return {"expired": consents.expire_due(), "exports": exports.run_due()}


class Worker:
    def __init__(self):
        self._wake = threading.Event()
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._last_purge = 0.0
        self.enabled = True

    def wake(self) -> None:
        if self.enabled:
            self.ensure_running()
            self._wake.set()

    def ensure_running(self) -> None:
        if self._pid != os.getpid() and self.enabled:
            with self._lock:
                if self._pid != os.getpid():
                    self._wake = threading.Event()
                    threading.Thread(target=self._run, name="attestr-worker",
                                     daemon=True).start()
                    self._pid = os.getpid()

    def _run(self) -> None:
        while True:
            self._wake.wait(INTERVAL)
            self._wake.clear()
            if db.obj is None or not self.enabled:
                continue
            try:
                sweep()
                if time.monotonic() - self._last_purge > PURGE_EVERY:
                    ratelimit.purge()
                    self._last_purge = time.monotonic()
            except Exception as exc:  # the database may be away for a while; try again later
                log.warning("attestr worker: %s: %s", type(exc).__name__, exc)


WORKER = Worker()
