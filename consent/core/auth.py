"""Credentials: API keys, HMAC integrations, Basic-auth clients, and bearer session tokens.

Keys and tokens are random, shown once, and stored only as SHA-256. Lookups go through the hash, so
no comparison of secrets happens in Python except signatures and shared secrets, which use
``hmac.compare_digest``. Every write here is one transaction with its audit event.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from . import audit, queries, sql, tokens
from .errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from .storage import Credential, Membership, SessionToken, User, transaction, utcnow

SCOPES = ("consent", "admin")
KINDS = ("api_key", "hmac", "basic")
KEY_PREFIX = {"api_key": "ck_", "hmac": "ik_", "basic": "bt_"}


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, signature: str | None) -> bool:
    """Constant-time check of a lowercase hex HMAC-SHA256 over the raw bytes."""
    if not signature:
        return False
    expected = hmac_sha256_hex(secret, body)
    return hmac.compare_digest(expected.encode(), signature.strip().lower().encode())


@dataclass
class IssuedCredential:
    """What the caller sees once: the credential row and its plaintext secrets."""

    credential: object  # the credential's row
    key: str
    shared_secret: str | None = None

    def as_dict(self) -> dict:
        out = {
            "id": self.credential.id,
            "kind": self.credential.kind,
            "name": self.credential.name,
            "scopes": sorted(queries.scope_set(self.credential.scopes)),
            "key": self.key,
        }
        if self.credential.client_id:
            out["client_id"] = self.credential.client_id
        if self.shared_secret:
            out["shared_secret"] = self.shared_secret
        return out


def create_credential(org, *, kind: str = "api_key", name: str = "",
                      scopes=("consent",), actor: str = "system",
                      client_id: str | None = None) -> IssuedCredential:
    if kind not in KINDS:
        raise Invalid(f"unknown credential kind {kind!r}; use one of {', '.join(KINDS)}")
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise Invalid(f"unknown scope(s) {', '.join(sorted(unknown))}; use {', '.join(SCOPES)}")
    key = KEY_PREFIX[kind] + secrets.token_urlsafe(32)
    shared_secret = secrets.token_hex(32) if kind == "hmac" else None
    if kind == "basic":
        client_id = client_id or "cl_" + secrets.token_hex(8)
    with transaction():
        cred = sql.create(
            Credential, org_id=org.id, kind=kind, name=name, key_hash=sha256_hex(key),
            key_prefix=key[:10], client_id=client_id, scopes=",".join(sorted(set(scopes))),
            shared_secret=shared_secret)
        audit.append(org.id, actor=actor, action="credential.created", entity_type="credential",
                     entity_id=cred.id, payload={"kind": kind, "name": name,
                                                 "scopes": sorted(set(scopes)),
                                                 "key_prefix": cred.key_prefix,
                                                 "client_id": client_id})
    return IssuedCredential(cred, key, shared_secret)


def revoke_credential(org, credential_id: str, actor: str = "system") -> Credential:
    with transaction():
        cred = Credential.get_or_none((Credential.id == credential_id)
                                      & (Credential.org == org.id))
        if cred is None:
            raise NotFound("credential not found")
        if cred.revoked_at is None:
            cred.revoked_at = utcnow()
            cred.save()
            audit.append(org.id, actor=actor, action="credential.revoked",
                         entity_type="credential", entity_id=cred.id, payload={})
    return cred


def find_credential(key: str | None, kind: str | None = None):
    """The active credential a presented key belongs to (a row with its organisation's fields:
    ``.org`` and ``.scope_set``), or None."""
    if not key:
        return None
    cred = queries.CREDENTIAL_BY_KEY_HASH.one((sha256_hex(key),))
    if cred is None or cred.revoked_at is not None or (kind and cred.kind != kind):
        return None
    return cred


def find_basic_client(client_id: str, token: str):
    cred = find_credential(token, kind="basic")
    if cred is None or not hmac.compare_digest((cred.client_id or "").encode(), client_id.encode()):
        return None
    return cred


# -- operators and bearer session tokens ---------------------------------------------------------

def create_user(email: str, name: str = "") -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise Invalid("a user needs an email address")
    with transaction():
        if User.get_or_none(User.email == email):
            raise Conflict(f"user {email} already exists")
        return User.create(email=email, name=name)


def add_member(org, user: User, role: str = "admin", actor: str = "system"):
    with transaction():
        existing = Membership.get_or_none((Membership.org == org.id)
                                          & (Membership.user == user.id))
        if existing:
            return existing
        member = Membership.create(org=org.id, user=user.id, role=role)
        audit.append(org.id, actor=actor, action="member.added", entity_type="user",
                     entity_id=user.id, payload={"email": user.email, "role": role})
        return member


def issue_session_token(secret_key, user: User, lifetime_seconds: int, max_lifetime: int) -> str:
    """Sign a bearer token naming the user; its hash is stored so it can be revoked."""
    if not 0 < lifetime_seconds <= max_lifetime:
        raise Invalid(f"lifetime must be between 1 and {max_lifetime} seconds")
    token_id = secrets.token_hex(16)
    token = tokens.dumps(secret_key, tokens.Purpose.SESSION,
                         {"uid": user.id, "tid": token_id, "ttl": lifetime_seconds})
    with transaction():
        SessionToken.create(id=token_id, user=user, token_hash=sha256_hex(token),
                            expires_at=utcnow() + dt.timedelta(seconds=lifetime_seconds))
    return token


def user_for_session_token(secret_key, token: str, max_lifetime: int) -> User:
    """The user a bearer token names. Raises Unauthorized when expired, tampered or revoked."""
    try:
        payload = tokens.loads(secret_key, tokens.Purpose.SESSION, token, max_age=max_lifetime)
    except tokens.SignatureExpired:
        raise Unauthorized("expired") from None
    except tokens.BadSignature:
        raise Unauthorized("invalid") from None
    row = (SessionToken.select(SessionToken, User).join(User)
           .where(SessionToken.token_hash == sha256_hex(token)).first())
    if (row is None or row.revoked_at is not None or row.expires_at <= utcnow()
            or not isinstance(payload, dict) or row.user_id != payload.get("uid")):
        raise Unauthorized("expired or revoked")
    return row.user


def require_membership(user: User, org) -> Membership:
    member = Membership.get_or_none((Membership.org == org.id) & (Membership.user == user.id))
    if member is None:
        raise Forbidden("user is not a member of this organisation")
    return member


def revoke_session_token(token: str) -> bool:
    with transaction():
        return bool(SessionToken.update(revoked_at=utcnow())
                    .where((SessionToken.token_hash == sha256_hex(token))
                           & SessionToken.revoked_at.is_null()).execute())
