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

import time

from consent.core.background import PerProcessThread

from . import consents, exports, ratelimit

INTERVAL = 5.0            # seconds between rounds (tests lower it)
PURGE_EVERY = 60.0        # seconds between purges of finished rate-limit windows


def sweep() -> dict:
    """One round: expire what is due, run due exports. Returns what was done."""
    return {"expired": consents.expire_due(), "exports": exports.run_due()}


class Worker(PerProcessThread):
    name = "attestr-worker"
    _last_purge = 0.0

    def interval(self) -> float:
        return INTERVAL

    def run_once(self) -> None:
        sweep()
        if time.monotonic() - self._last_purge > PURGE_EVERY:
            ratelimit.purge()
            self._last_purge = time.monotonic()


WORKER = Worker()
