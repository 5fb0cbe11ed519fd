"""Attestr clients ("apps"): a core credential of kind ``basic`` plus its Attestr settings.

The auth token a client sends (``Authorization: Basic <authToken>``) is base64 of
``<client key>:<client secret>``: Attestr hands out a client key, a client secret and the auth
token made of them, and this service checks it with the shared
:class:`consent.web.auth.BasicClient` (the secret stored only as SHA-256). Settings per client:
provisioned service codes, an optional IP allow-list, rate limits, an optional credits balance,
an optional webhook URL (checked by :func:`consent.core.outbound.check_url`) and the token sent
to it (shown once; every delivery view masks it). Every write is one transaction with its audit
event.
"""
from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass

from consent.core import audit, auth, ids, outbound, sql
from consent.core.errors import Invalid, NotFound
from consent.core.storage import transaction

from . import catalogue, queries
from .models import AttestrClient

LIMITS = ("account_per_second", "account_per_day", "api_per_second", "api_per_day")
SETTINGS = ("name", "services", "ip_allowlist", *LIMITS, "credits", "webhook_url")


@dataclass
class IssuedClient:
    """What the operator sees once: the settings row, the auth token and its parts."""

    client: object
    client_key: str
    client_secret: str
    webhook_token: str | None

    @property
    def auth_token(self) -> str:
        return auth_token(self.client_key, self.client_secret)

    def as_dict(self) -> dict:
        return {"credential_id": self.client.credential_id, "client_key": self.client_key,
                "client_secret": self.client_secret, "auth_token": self.auth_token,
                "services": self.client.services, "webhook_url": self.client.webhook_url,
                "webhook_token": self.webhook_token}


def auth_token(client_key: str, client_secret: str) -> str:
    return base64.b64encode(f"{client_key}:{client_secret}".encode()).decode()


def find(credential_id: str):
    return queries.CLIENT.one((credential_id,))


def ip_allowed(client, address: str | None) -> bool:
    """Is ``address`` in the client's allow-list (no list: every address)?"""
    if not client.ip_allowlist:
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(entry, strict=False) for entry in client.ip_allowlist)


def _checked(settings: dict) -> dict:
    out = dict(settings)
    if "services" in out:
        services = list(dict.fromkeys(out["services"] or ()))
        bad = [s for s in services if not catalogue.CODE_RE.match(s)]
        if bad:
            raise Invalid(f"service codes are A-Z, 0-9 and _ (1-64): {', '.join(bad)}")
        out["services"] = services
    if out.get("ip_allowlist") is not None:
        entries = list(dict.fromkeys(out["ip_allowlist"]))
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise Invalid(f"not an IP address or network: {entry!r}") from None
        out["ip_allowlist"] = entries or None
    for name in (*LIMITS, "credits"):
        value = out.get(name)
        if value is not None and not 0 <= value < 2 ** 62:
            raise Invalid(f"{name} must be a whole number from 0")
    if "webhook_url" in out:   # resolved and checked (before any transaction opens)
        out["webhook_url"] = outbound.check_url(out["webhook_url"], "webhook_url")
    return out


def create_client(org, *, name: str = "attestr client", services=(), actor: str = "system",
                  **settings) -> IssuedClient:
    """A new credential of kind ``basic`` and its Attestr settings, in one transaction."""
    values = _checked({"services": list(services), **settings})
    token = ids.token_urlsafe(24) if values.get("webhook_url") else None
    with transaction():
        issued = auth.create_credential(org.id, kind="basic", name=name, scopes=("consent",),
                                        actor=actor)
        client = sql.create(AttestrClient, credential_id=issued.credential.id, org_id=org.id,
                            name=name, webhook_token=token, **values)
        audit.append(org.id, actor=actor, action="attestr.client.created",
                     entity_type="credential", entity_id=issued.credential.id,
                     payload=_public(client))
    return IssuedClient(client, issued.credential.client_id, issued.key, token)


def update_client(org, credential_id: str, *, actor: str = "system",
                  rotate_webhook_token: bool = False, **settings):
    """Change the given settings. A webhook token is made when a URL is first set (and on
    ``rotate_webhook_token``). Returns (settings row, new webhook token or None)."""
    values = _checked({k: v for k, v in settings.items() if k in SETTINGS})
    with transaction():
        client = find(credential_id)
        if client is None or client.org_id != org.id:
            raise NotFound(f"no Attestr client {credential_id}")
        token = None
        if rotate_webhook_token or (values.get("webhook_url") and not client.webhook_token):
            token = values["webhook_token"] = ids.token_urlsafe(24)
        if values:
            sql.update(AttestrClient, credential_id, values)
        client = find(credential_id)
        audit.append(org.id, actor=actor, action="attestr.client.updated",
                     entity_type="credential", entity_id=credential_id, payload={
                         "changed": sorted(values), **_public(client)})
    return client, token


def clients(org) -> list:
    return queries.CLIENTS_OF_ORG.all((org.id,))


def _public(client) -> dict:
    """The settings an audit event records (never the webhook token)."""
    return {name: getattr(client, name) for name in SETTINGS}
