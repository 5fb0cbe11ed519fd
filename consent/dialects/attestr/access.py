"""Who may call the Attestr API: the request checks every operation runs, in this order.

1. ``Authorization: Basic <authToken>`` names an active client credential (the shared
   :class:`~consent.web.auth.BasicClient`): else 401 4016.
2. The credential is an Attestr client (it has Attestr settings): else 403 4031.
3. The caller's address is in the client's IP allow-list, if it has one: else 403 4039. The
   address is ``request.remote_addr``: ``X-Forwarded-For`` is not trusted. Behind a reverse
   proxy, wrap the app in werkzeug's ``ProxyFix`` with the number of proxies you run.
4. The client's rate limits (:mod:`.ratelimit`): else 429 4291-4294 with ``Retry-After``.
"""
from __future__ import annotations

from flask import g, request

from consent.web.auth import AuthFailed, BasicClient, Principal

from . import clients, ratelimit


class AttestrClientAuth(BasicClient):
    """The checks above for one API (``api``: its name in the rate-limit counters; None for
    URLs that match no operation, which are not counted)."""

    reasons = {
        **BasicClient.reasons,
        "not_a_client": "the credential has no Attestr settings",
        "ip_not_allowed": "the caller's address is not in the client's allow-list",
        "account_rate": "over the client's per-second limit for every API",
        "api_rate": "over the client's per-second limit for this API",
        "account_daily": "over the client's daily limit for every API",
        "api_daily": "over the client's daily limit for this API",
    }

    def __init__(self, api: str | None = None):
        self.api = api
        if api is None:
            self.reasons = {k: v for k, v in self.reasons.items()
                            if not k.endswith(("_rate", "_daily"))}

    def check(self) -> Principal:
        principal = super().check()
        client = clients.find(principal.credential.id)
        if client is None:
            raise AuthFailed("not_a_client")
        if not clients.ip_allowed(client, request.remote_addr):
            raise AuthFailed("ip_not_allowed")
        if self.api is not None:
            ratelimit.hit(client, self.api)   # raises the 429 itself (with Retry-After)
        g.attestr_client = client
        return principal

    def identify(self) -> Principal:
        return super().check()   # the credential only: the rate limits count once, in check

    def security_schemes(self) -> dict:
        return {"AttestrAuthToken": {
            "type": "http", "scheme": "basic",
            "description": "Attestr's auth token: base64 of <client key>:<client secret> "
                           "(flask --app app attestr client-create)"}}


def current_client():
    """The Attestr client of the request (after :class:`AttestrClientAuth`)."""
    return g.attestr_client
