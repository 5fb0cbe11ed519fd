"""itsdangerous serializers. One salt per purpose; every load passes a ``max_age``.

``SignatureExpired`` subclasses ``BadSignature``: callers catch it first.
"""
from __future__ import annotations

from functools import lru_cache

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from . import clock

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
    CONSOLE_SIGN_IN = "consent-ledger.console-sign-in.v1"
    CONSOLE_CSRF = "consent-ledger.console-form.v1"


def _serializer(secret_key, salt: str) -> URLSafeTimedSerializer:
    # A list of keys gives rotation: sign with the last, accept any.
    keys = secret_key if isinstance(secret_key, (list, tuple)) else [secret_key]
    return _cached_serializer(tuple(keys), salt)


class ClockSigner(TimestampSigner):
    """itsdangerous' signer on the service's clock (:mod:`consent.core.clock`): a token's
    timestamp and its ``max_age`` follow an organisation's clock moved in control mode."""

    def get_timestamp(self) -> int:
        if clock.frozen_at() is not None:
            return int(clock.timestamp())
        return super().get_timestamp() + int(clock.current_offset())


@lru_cache(maxsize=32)
def _cached_serializer(keys: tuple, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(list(keys), salt=salt, signer=ClockSigner)


def dumps(secret_key, salt: str, payload) -> str:
    return _serializer(secret_key, salt).dumps(payload)


def loads(secret_key, salt: str, token: str, max_age: int):
    """Verify and decode; raises SignatureExpired or BadSignature."""
    if max_age is None or max_age <= 0:
        raise ValueError("max_age is required")
    return _serializer(secret_key, salt).loads(token, max_age=max_age)
