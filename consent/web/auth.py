"""Credential kinds as reusable request checks, one class each, shared by every dialect.

A scheme reads the request, finds the credential (hashed lookups in :mod:`consent.core.auth`) and
returns a :class:`Principal`, whose organisation always comes from the credential, never from
what the request claims. When the check fails it raises :class:`AuthFailed` with a *reason*
(``missing_key``, ``invalid_key``...); the dialect that owns the route turns the reason into its
own status and message (``ErrorShape.auth_errors``), so the same piece answers in four wire
formats. Each scheme also describes itself for OpenAPI: its ``securitySchemes`` entries, the
security requirement of the operations it guards, and the reasons it can fail with (which become
documented error responses).

Kinds: :class:`ApiKey` (a key with scopes, for an organisation named by a header or by the URL),
:class:`BearerSession` (an operator's session token, for an organisation they are a member of),
:class:`HmacSignature` (an integration key and a shared secret signing the raw body or an id),
:class:`BasicClient` (a client token sent as HTTP Basic), and :class:`OneOf` (the first of several
whose credential the request carries).
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from flask import current_app, g, request

from consent.core import auth, ledger
from consent.core.errors import Forbidden, Unauthorized


class AuthFailed(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class Principal:
    """Who a request acts as: the organisation, the audit actor, and the credential or user."""

    org: object            # the organisation's row
    actor: str
    credential: object = None
    user_id: str | None = None


def current_principal() -> Principal:
    return g.principal


def current_org():
    """The organisation of the request's checked credential."""
    return g.principal.org


def current_actor() -> str:
    """Who the audit log names for this request's writes."""
    return g.principal.actor


def _credential_principal(cred) -> Principal:
    return Principal(org=cred.org, actor=f"credential:{cred.id}", credential=cred)


class Scheme:
    """One credential kind. Subclasses set the class attributes and implement :meth:`check`."""

    # reason -> what it means (documentation only; the dialect owns status and message)
    reasons: dict[str, str] = {}
    # template values for the dialect's messages (e.g. the scope a message names)
    context: dict = {}

    def authenticate(self) -> Principal:
        principal = self.check()
        g.principal = principal
        return principal

    def check(self) -> Principal:
        raise NotImplementedError

    def identify(self) -> Principal:
        """Whom the request's credential belongs to, with no side effect (control mode reads it
        before the view runs: ``consent.control``); raises like :meth:`check`."""
        return self.check()

    def carried(self) -> bool:
        """Does the request carry this kind of credential at all (for :class:`OneOf`)?"""
        return True

    # -- OpenAPI --------------------------------------------------------------------------------
    def security_schemes(self) -> dict:
        return {}

    def security(self) -> list[dict]:
        return [{name: [] for name in self.security_schemes()}]


class ApiKey(Scheme):
    """An API key with scopes (any one of ``scopes`` suffices) for one organisation.

    The key comes from the ``key_header`` header, or with ``bearer=True`` from
    ``Authorization: Bearer``. The organisation the caller names comes from ``org_header``, or
    with ``org_arg`` from that URL segment; a valid key presented for another organisation is, for
    that organisation, no key (``invalid_key``)."""

    reasons = {
        "missing_org": "no organisation named",
        "unknown_org": "the organisation named does not exist",
        "missing_key": "no API key",
        "invalid_key": "the key is unknown, revoked, or of another organisation",
        "missing_scope": "the key lacks the scope the operation needs",
    }

    def __init__(self, scopes=("consent",), *, key_header: str = "X-API-Key",
                 org_header: str | None = "X-Org-Id", org_arg: str | None = None,
                 bearer: bool = False, kind: str = "api_key", scope_name: str | None = None,
                 scheme_name: str = "ApiKey"):
        self.scopes = set(scopes)
        self.key_header, self.org_header, self.org_arg = key_header, org_header, org_arg
        self.bearer, self.kind, self.scheme_name = bearer, kind, scheme_name
        self.context = {"scope": scope_name or sorted(self.scopes)[0]}

    def _key(self) -> str | None:
        if self.bearer:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
        return request.headers.get(self.key_header) or None

    def _org_ref(self) -> str | None:
        if self.org_arg:
            return (request.view_args or {}).get(self.org_arg)
        return request.headers.get(self.org_header) or None

    def carried(self) -> bool:
        return self._key() is not None

    def check(self) -> Principal:
        org_ref, key = self._org_ref(), self._key()
        if not org_ref:
            raise AuthFailed("missing_org")
        if not key:
            raise AuthFailed("missing_key")
        cred = auth.find_credential(key, kind=self.kind)
        if cred is None or org_ref not in (cred.org_slug, cred.org_id):
            raise AuthFailed("invalid_key" if ledger.get_org(org_ref) else "unknown_org")
        if self.scopes and not (cred.scope_set & self.scopes):
            raise AuthFailed("missing_scope")
        return _credential_principal(cred)

    def security_schemes(self) -> dict:
        out = {}
        if self.bearer:
            out[self.scheme_name] = {"type": "http", "scheme": "bearer",
                                     "description": "An API token of the organisation"}
        else:
            out[self.scheme_name] = {"type": "apiKey", "in": "header", "name": self.key_header,
                                     "description": "An API key of the organisation"}
        if not self.org_arg:
            out["OrgId"] = {"type": "apiKey", "in": "header", "name": self.org_header,
                            "description": "The organisation's slug or id"}
        return out


class BearerSession(Scheme):
    """An operator's bearer session token, for an organisation (``X-Org-Id``) they belong to."""

    reasons = {
        "missing_token": "no bearer token",
        "invalid_token": "the token is expired, revoked (everywhere or for this organisation) "
                         "or not this service's",
        "missing_org": "no organisation named",
        "unknown_org": "the organisation named does not exist",
        "not_member": "the token's user is not a member of the organisation",
    }

    def __init__(self, org_header: str = "X-Org-Id"):
        self.org_header = org_header

    @staticmethod
    def _token() -> str | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def carried(self) -> bool:
        return self._token() is not None

    def check(self) -> Principal:
        token = self._token()
        if token is None:
            raise AuthFailed("missing_token")
        config = current_app.config
        try:
            session = auth.session_for_token(config["SECRET_KEY"], token,
                                             config["CONSENT_SESSION_MAX_AGE"])
        except Unauthorized:
            raise AuthFailed("invalid_token") from None
        org_ref = request.headers.get(self.org_header)
        if not org_ref:
            raise AuthFailed("missing_org")
        org = ledger.get_org(org_ref)
        if org is None:
            raise AuthFailed("unknown_org")
        # Checked against the database on every request (nothing cached): a revocation or a
        # removal from the organisation holds from the next request on.
        try:
            auth.require_session_access(session, org.id)
        except Forbidden:
            raise AuthFailed("not_member") from None
        except Unauthorized:
            raise AuthFailed("invalid_token") from None
        return Principal(org=org, actor=f"user:{session.user_id}", user_id=session.user_id)

    def security_schemes(self) -> dict:
        return {"BearerSession": {"type": "http", "scheme": "bearer",
                                  "description": "An operator's session token "
                                                 "(flask --app app token create)"},
                "OrgId": {"type": "apiKey", "in": "header", "name": self.org_header,
                          "description": "The organisation's slug or id"}}


class HmacSignature(Scheme):
    """An integration (a credential of kind ``hmac``): its key in ``X-AUTH-CLIENT`` and the
    lowercase hex HMAC-SHA256, with its shared secret, in ``X-HMAC-SIGNATURE`` (each also
    accepted with a ``VRF-`` prefix). ``sign_over``: ``"body"`` (the raw request bytes, checked
    before anything parses them) or the name of a URL segment whose value is signed.
    ``optional``: a request without a signature passes on the key alone; ``sign_over=None``: the
    key alone is checked. ``max_body``: this operation's body size limit instead of the app's
    (enforced before anything reads the body, by :mod:`consent.web.limits`)."""

    reasons = {
        "missing_key": "no X-AUTH-CLIENT",
        "unknown_key": "the key is not an active integration's",
        "missing_signature": "no X-HMAC-SIGNATURE",
        "bad_body_signature": "the signature does not match the request body",
        "bad_id_signature": "the signature does not match the id in the path",
    }

    def __init__(self, *, sign_over: str | None = "body", optional: bool = False,
                 max_body: int | None = None, scopes=("consent",)):
        self.sign_over, self.optional, self.max_body = sign_over, optional, max_body
        self.scopes = set(scopes)
        if sign_over is None:
            self.reasons = {k: v for k, v in self.reasons.items() if k.endswith("_key")}

    @staticmethod
    def header(name: str) -> str | None:
        return request.headers.get("X-" + name, request.headers.get("VRF-" + name))

    def integration(self):
        """The integration the request names (key only, no signature), or AuthFailed."""
        key = self.header("AUTH-CLIENT")
        if not key:
            raise AuthFailed("missing_key")
        cred = auth.find_credential(key, kind="hmac")
        if cred is None or not (cred.scope_set & self.scopes) or not cred.shared_secret:
            raise AuthFailed("unknown_key")
        return cred

    def check(self) -> Principal:
        cred = self.integration()
        signature = self.header("HMAC-SIGNATURE")
        if self.sign_over is None or (signature is None and self.optional):
            return _credential_principal(cred)
        if signature is None:
            raise AuthFailed("missing_signature")
        if self.sign_over == "body":
            payload, reason = request.get_data(cache=True), "bad_body_signature"
        else:
            payload = str((request.view_args or {}).get(self.sign_over, "")).encode()
            reason = "bad_id_signature"
        if not auth.signature_matches(cred.shared_secret, payload, signature):
            raise AuthFailed(reason)
        return _credential_principal(cred)

    def security_schemes(self) -> dict:
        return {"HmacClient": {"type": "apiKey", "in": "header", "name": "X-AUTH-CLIENT",
                               "description": "The integration's API key"},
                "HmacSignature": {"type": "apiKey", "in": "header", "name": "X-HMAC-SIGNATURE",
                                  "description": "Lowercase hex HMAC-SHA256, with the "
                                                 "integration's shared secret, of the raw "
                                                 "request body (POST, PATCH) or of the id in "
                                                 "the path (GET, DELETE)"}}

    def security(self) -> list[dict]:
        both = [{"HmacClient": [], "HmacSignature": []}]
        if self.sign_over is None:
            return [{"HmacClient": []}]
        return [{"HmacClient": []}] + both if self.optional else both


class BasicClient(Scheme):
    """A client token as HTTP Basic: ``Authorization: Basic <token>``, the token being
    base64(``client_id:secret``) of a credential of kind ``basic``."""

    reasons = {
        "missing_token": "no Basic authorization",
        "invalid_token": "the token is malformed, unknown or revoked",
    }

    def carried(self) -> bool:
        return request.headers.get("Authorization", "").lower().startswith("basic ")

    def check(self) -> Principal:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic" or not token.strip():
            raise AuthFailed("missing_token")
        try:
            decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise AuthFailed("invalid_token") from None
        client_id, sep, secret = decoded.partition(":")
        cred = auth.find_basic_client(client_id, secret) if sep else None
        if cred is None:
            raise AuthFailed("invalid_token")
        return _credential_principal(cred)

    def security_schemes(self) -> dict:
        return {"BasicClient": {"type": "http", "scheme": "basic",
                                "description": "base64(client_id:secret) of a client"}}


class OneOf(Scheme):
    """The first scheme whose credential the request carries; the last one otherwise (so its
    "missing" reason is what a bare request gets)."""

    def __init__(self, *schemes: Scheme):
        self.schemes = schemes
        self.reasons = {r: d for s in schemes for r, d in s.reasons.items()}
        self.context = {k: v for s in reversed(schemes) for k, v in s.context.items()}

    def check(self) -> Principal:
        chosen = next((s for s in self.schemes if s.carried()), self.schemes[-1])
        return chosen.check()

    def identify(self) -> Principal:
        chosen = next((s for s in self.schemes if s.carried()), self.schemes[-1])
        return chosen.identify()

    def security_schemes(self) -> dict:
        return {k: v for s in self.schemes for k, v in s.security_schemes().items()}

    def security(self) -> list[dict]:
        return [req for s in self.schemes for req in s.security()]


# The service's own APIs (the ledger's, and every dialect's operator API) take an admin API key.
ADMIN_KEY = ApiKey(("admin",))
