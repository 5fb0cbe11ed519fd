"""Request-level credential checks shared by dialects. Each failure carries a reason code that the
dialect turns into its own documented message; the organisation always comes from the credential,
never from what the request claims."""
from __future__ import annotations

from dataclasses import dataclass

from flask import g

from consent.core import auth, ledger
from consent.core.storage import Credential, Organisation


class AuthFailure(Exception):
    """reason: missing_org | unknown_org | missing_key | invalid_key | missing_scope"""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Principal:
    org: Organisation
    actor: str
    credential: Credential | None = None
    user_id: str | None = None


def api_key_principal(org_header: str | None, key: str | None, scopes: set[str],
                      kind: str = "api_key") -> Principal:
    """Check an ``X-Org-Id`` + ``X-API-Key`` pair. ``scopes``: any one of them suffices."""
    if not org_header:
        raise AuthFailure("missing_org")
    if not key:
        raise AuthFailure("missing_key")
    cred = auth.find_credential(key, kind=kind)
    if cred is None:
        if ledger.get_org(org_header) is None:
            raise AuthFailure("unknown_org")
        raise AuthFailure("invalid_key")
    org = cred.org
    if org_header not in (org.slug, org.id):
        # A valid key presented for another organisation is, for that organisation, no key.
        if ledger.get_org(org_header) is None:
            raise AuthFailure("unknown_org")
        raise AuthFailure("invalid_key")
    if scopes and not (cred.scope_set & scopes):
        raise AuthFailure("missing_scope")
    principal = Principal(org=org, actor=f"credential:{cred.id}", credential=cred)
    g.principal = principal
    return principal


def current_org() -> Organisation:
    """The organisation of the request's checked credential (set by the auth decorators)."""
    return g.principal.org


def current_actor() -> str:
    """Who the audit log names for this request's writes."""
    return g.principal.actor
