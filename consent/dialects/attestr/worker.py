"""The Attestr dialect's background work, one thread per serving process: consents whose
``consentValidTill`` passed expire (with their ``consent.expired`` webhook) without anyone
asking, export jobs run, and finished rate-limit windows are dropped.

The loop is one of the core's background loops (``consent.core.background``), which each serving
process starts with its first request (a restarted or forked worker starts its own); it wakes
every :data:`INTERVAL` seconds and at once after a commit that queued an export. Several processes may run it on one database: each
consent's expiry and each export is claimed by exactly one (see :mod:`.consents` and
:mod:`.exports`). ``flask --app app attestr sweep`` does one round by hand. The loop is a
:class:`consent.core.background.Loop`.
"""
from __future__ import annotations

import time

from consent.core import background

from . import consents, exports, ratelimit

INTERVAL = 5.0            # seconds between rounds (tests lower it)
PURGE_EVERY = 60.0        # seconds between purges of finished rate-limit windows
_last_purge = [0.0]


def sweep() -> dict:
    """One round: expire what is due, run due exports. Returns what was done."""
    return {"expired": consents.expire_due(), "exports": exports.run_due()}


def step() -> bool:
    """One round of the loop; True while there was work (the loop goes on at once)."""
    done = sweep()
    if time.monotonic() - _last_purge[0] > PURGE_EVERY:
        ratelimit.purge()
        _last_purge[0] = time.monotonic()
    return any(done.values())


WORKER = background.Loop("attestr-worker", step, lambda: INTERVAL)
