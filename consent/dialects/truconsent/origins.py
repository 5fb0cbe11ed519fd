"""Which web pages may call the SDK API (``/api/v1/internal/...``) for an asset: truConsent's
allowed origins ("domains") per asset.

A request with an ``Origin`` header (a browser page) is served only if the origin matches the
asset's ``allowed_origins`` (origin sources as ``CONSENT_CORS_ORIGINS`` takes them: exact
origins, ``:*`` for any port, ``*.`` for subdomains, ``*``), or, for an asset without its own
list, ``CONSENT_CORS_ORIGINS``; otherwise 403 ``{"detail": "Origin not authorized"}``. An
operation tied to no asset (suppression, a user's consents) needs an origin some asset of the
organisation allows. A request without ``Origin`` (a native app, a server) is not a page: the
API key alone decides, as truConsent's SDKs expect (they send no Origin from native code).
"""
from __future__ import annotations

from functools import lru_cache

from flask import current_app, request

from consent.web.cors import origin_patterns, split_sources

MESSAGE = "Origin not authorized"


@lru_cache(maxsize=256)
def _patterns(sources: tuple[str, ...]) -> tuple:
    return tuple(origin_patterns(list(sources)))


def _allows(sources, origin: str) -> bool:
    if sources is None:
        sources = split_sources(current_app.config["CONSENT_CORS_ORIGINS"])
    patterns = _patterns(tuple(sources))
    if "*" in patterns:
        return True
    return any(p.match(origin) for p in patterns)


def request_origin() -> str | None:
    return request.headers.get("Origin") or None


def allowed(asset=None, assets=None) -> bool:
    """May this request's page call for ``asset`` (or, without one, for any of ``assets``)?"""
    origin = request_origin()
    if origin is None:
        return True
    if asset is not None:
        return _allows(asset.allowed_origins, origin)
    return any(_allows(a.allowed_origins, origin) for a in (assets or ()))
