"""The service's one clock: real time, moved per organisation in control mode.

Every timestamp the service writes and every expiry, validity window, rate-limit window and
token ``max_age`` it checks reads :func:`utcnow` (``consent.core.storage.utcnow`` is this
function) or :func:`timestamp` (itsdangerous' clock, :mod:`consent.core.tokens`). Both add the
*offset of the current context*: zero, unless control mode (``CONSENT_CONTROL=1``,
:mod:`consent.control`) found the organisation a request acts for and that organisation's clock
was moved (``POST /_control/clock``). The offset lives in a :class:`contextvars.ContextVar`, so it
is per thread (per request under gunicorn) and never leaks into another organisation's request.
Background loops run with no offset (real time), except where control mode runs an
organisation's sweeps under its own clock (:func:`offset`).

Scheduling that is not an organisation's business (when the webhook sender retries a delivery,
when a checkpoint is due) reads :func:`real_utcnow`: the outbox's due times are real times.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import time
from contextvars import ContextVar

_offset: ContextVar[float] = ContextVar("consent_clock_offset", default=0.0)
_frozen: ContextVar[dt.datetime | None] = ContextVar("consent_clock_frozen", default=None)

# Deterministic mode's ``seed-demo`` runs at this instant (consent.core.ids): its timestamps and
# the tokens it signs are the same on every run. In the future, so what it issues is valid now.
SEED_EPOCH = dt.datetime(2100, 1, 1)


def real_utcnow() -> dt.datetime:
    """Naive UTC, real time: never moved."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def utcnow() -> dt.datetime:
    """Naive UTC timestamp of the current context's clock (the one form every stored datetime
    takes)."""
    frozen = _frozen.get()
    if frozen is not None:
        return frozen
    moved = _offset.get()
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    return now + dt.timedelta(seconds=moved) if moved else now


def timestamp() -> float:
    """Epoch seconds of the current context's clock."""
    frozen = _frozen.get()
    if frozen is not None:
        return frozen.replace(tzinfo=dt.timezone.utc).timestamp()
    return time.time() + _offset.get()


def current_offset() -> float:
    return _offset.get()


def set_offset(seconds: float):
    """Move the current context's clock; returns a token for :func:`restore`."""
    return _offset.set(float(seconds))


def restore(token) -> None:
    _offset.reset(token)


@contextlib.contextmanager
def offset(seconds: float):
    """Run a block under a clock ``seconds`` away from real time."""
    token = _offset.set(float(seconds))
    try:
        yield
    finally:
        _offset.reset(token)


def frozen_at() -> dt.datetime | None:
    return _frozen.get()


@contextlib.contextmanager
def frozen(at: dt.datetime):
    """Run a block with the clock stopped at ``at`` (naive UTC)."""
    token = _frozen.set(at)
    try:
        yield
    finally:
        _frozen.reset(token)
