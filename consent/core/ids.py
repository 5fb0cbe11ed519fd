"""Every random id, token, key and number the service makes, from one place.

By default they come from :mod:`secrets` (the operating system's CSPRNG). In deterministic mode
(``CONSENT_SEED=<n>``, :func:`seed`) they come from :class:`random.Random` streams seeded with
``n``: a fresh database then gets the same ids, numbers, tokens and keys on every run for the
same sequence of requests, so a client project's snapshot tests can pin them. Each thread draws
from its own stream (seeded with ``n`` and the thread's name), so a background loop that makes
an id (an expiry's audit event) never shifts the ids the requests get. Never for production:
keys drawn from a known seed are known to anyone (``consent.settings`` refuses a seed with a
non-loopback bind unless forced).
"""
from __future__ import annotations

import base64
import random
import secrets
import threading
import uuid as _uuid

_seed: int | None = None
_streams: dict[str, random.Random] = {}
_lock = threading.Lock()


def seed(value: int | None) -> None:
    """Deterministic mode with ``value`` as the seed; None: back to the CSPRNG. Every stream
    starts again."""
    global _seed
    with _lock:
        _seed = None if value is None else int(value)
        _streams.clear()


def seeded() -> int | None:
    return _seed


def _stream_name() -> str:
    """Requests share one stream (whichever thread serves them: gunicorn's gthread pool,
    werkzeug's threads); each background thread (named after its loop) has its own."""
    name = threading.current_thread().name
    if name == "MainThread" or name.startswith("ThreadPoolExecutor") or "request" in name:
        return "requests"
    return name


def _stream(name: str | None = None) -> random.Random:
    name = name or _stream_name()
    stream = _streams.get(name)
    if stream is None:
        with _lock:
            stream = _streams.setdefault(name, random.Random(f"{_seed}:{name}"))
    return stream


def token_bytes(n: int, stream: str | None = None) -> bytes:
    """``n`` random bytes; ``stream``: in deterministic mode, draw from the stream of that name
    (a key, a fault's chance), so when it is drawn never shifts the ids the requests get."""
    if _seed is None:
        return secrets.token_bytes(n)
    return _stream(stream).randbytes(n)


def token_hex(n: int) -> str:
    return token_bytes(n).hex()


def token_urlsafe(n: int) -> str:
    return base64.urlsafe_b64encode(token_bytes(n)).rstrip(b"=").decode("ascii")


def randbelow(n: int, stream: str | None = None) -> int:
    if _seed is None:
        return secrets.randbelow(n)
    return _stream(stream).randrange(n)


def uuid4() -> str:
    return str(_uuid.UUID(bytes=token_bytes(16), version=4))


def uuid4_hex() -> str:
    return _uuid.UUID(bytes=token_bytes(16), version=4).hex
