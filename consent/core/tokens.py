"""itsdangerous serializers. One salt per purpose; every load passes a ``max_age``.

``SignatureExpired`` subclasses ``BadSignature``: callers catch it first.
"""
from __future__ import annotations

from functools import lru_cache

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

__all__ = ["BadSignature", "SignatureExpired", "Salt", "dumps", "loads"]


class Salt:
    """The salt of each kind of signed token (never a consent purpose: ``storage.Purpose``).
    Changing one invalidates every token of its kind in circulation."""

    SESSION = "consent-ledger.session-token.v1"
    CONSENT_LINK = "consent-ledger.consent-link.v1"
    CSRF = "consent-ledger.collector-form.v1"
    OPERATOR = "consent-ledger.operator-page.v1"
    ARCHIVE_PAGE = "consent-ledger.archive-page.v1"
    VERIFF_FLOW = "consent-ledger.veriff-flow-form.v1"


def _serializer(secret_key, salt: str) -> URLSafeTimedSerializer:
    # A list of keys gives rotation: sign with the last, accept any.
    keys = secret_key if isinstance(secret_key, (list, tuple)) else [secret_key]
    return _cached_serializer(tuple(keys), salt)


@lru_cache(maxsize=32)
def _cached_serializer(keys: tuple, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(list(keys), salt=salt)


def dumps(secret_key, salt: str, payload) -> str:
    return _serializer(secret_key, salt).dumps(payload)


def loads(secret_key, salt: str, token: str, max_age: int):
    """Verify and decode; raises SignatureExpired or BadSignature."""
    if max_age is None or max_age <= 0:
        raise ValueError("max_age is required")
    return _serializer(secret_key, salt).loads(token, max_age=max_age)
