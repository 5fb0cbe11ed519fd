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

from peewee import JOIN

from . import audit, queries, sql, tokens
from .errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from .storage import (Credential, Membership, Organisation, SessionToken,
                      SessionTokenRevocation, User, transaction, utcnow)

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
#
# A session token is a user's: it works for every organisation the user is a member of, checked
# on every request (no cache): the token must be unexpired and not revoked, the user a member of
# the organisation named, and the token not revoked for that organisation. ``revoked_at`` on the
# token revokes it everywhere (the instance's operator, ``flask --app app token revoke``); an
# organisation's admin revokes it for that organisation only (a ``SessionTokenRevocation``), and
# removing a member revokes their tokens there. Each change is one transaction with its audit
# event, in the chain of every organisation it touches.

TOKEN_HINT_CHARS = 6
TOKEN_STATUSES = ("active", "expired", "revoked")


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


def members(org, email: str | None = None) -> list[dict]:
    """The organisation's members, oldest first."""
    query = (Membership.select(Membership.user.alias("user_id"), User.email, User.name,
                               Membership.role, Membership.created_at)
             .join(User).where(Membership.org == org.id))
    if email is not None:
        query = query.where(User.email == email.strip().lower())
    return list(query.order_by(Membership.created_at, Membership.id).dicts())


def remove_member(org, user_id: str, actor: str = "system") -> dict:
    """Remove a user from the organisation: they lose it on their next request, and every token
    of theirs is revoked for it (adding them again does not bring an old token back). One
    transaction with its ``member.removed`` event."""
    with transaction():
        audit.lock_org(org.id)
        row = (Membership.select(Membership, User).join(User)
               .where((Membership.org == org.id) & (Membership.user == user_id)).first())
        if row is None:
            raise NotFound("No such member of this organisation")
        revoked = _revoke_for_org(org, _live_token_ids(user_id, org), actor)
        Membership.delete().where(Membership.id == row.id).execute()
        audit.append(org.id, actor=actor, action="member.removed", entity_type="user",
                     entity_id=user_id, payload={"email": row.user.email, "role": row.role,
                                                 "tokens_revoked": revoked})
    return {"user_id": user_id, "email": row.user.email, "role": row.role,
            "tokens_revoked": len(revoked)}


def issue_session(secret_key, user: User, lifetime_seconds: int,
                  max_lifetime: int) -> tuple[SessionToken, str]:
    """Sign a bearer token naming the user; only its hash (and a hint) is stored, so it can be
    revoked. Returns the row and the token, which is shown once."""
    if not 0 < lifetime_seconds <= max_lifetime:
        raise Invalid(f"lifetime must be between 1 and {max_lifetime} seconds")
    token_id = secrets.token_hex(16)
    token = tokens.dumps(secret_key, tokens.Salt.SESSION,
                         {"uid": user.id, "tid": token_id, "ttl": lifetime_seconds})
    with transaction():
        row = SessionToken.create(
            id=token_id, user=user, token_hash=sha256_hex(token),
            hint=token[-TOKEN_HINT_CHARS:],
            expires_at=utcnow() + dt.timedelta(seconds=lifetime_seconds))
    return row, token


def issue_session_token(secret_key, user: User, lifetime_seconds: int, max_lifetime: int) -> str:
    return issue_session(secret_key, user, lifetime_seconds, max_lifetime)[1]


def session_for_token(secret_key, token: str, max_lifetime: int) -> SessionToken:
    """The stored session a bearer token is (``.user`` loaded). Raises Unauthorized when it is
    expired, tampered with or revoked everywhere."""
    try:
        payload = tokens.loads(secret_key, tokens.Salt.SESSION, token, max_age=max_lifetime)
    except tokens.SignatureExpired:
        raise Unauthorized("expired") from None
    except tokens.BadSignature:
        raise Unauthorized("invalid") from None
    row = (SessionToken.select(SessionToken, User).join(User)
           .where(SessionToken.token_hash == sha256_hex(token)).first())
    if (row is None or row.revoked_at is not None or row.expires_at <= utcnow()
            or not isinstance(payload, dict) or row.user_id != payload.get("uid")):
        raise Unauthorized("expired or revoked")
    return row


def user_for_session_token(secret_key, token: str, max_lifetime: int) -> User:
    """The user a bearer token names. Raises Unauthorized when expired, tampered or revoked."""
    return session_for_token(secret_key, token, max_lifetime).user


def require_membership(user: User, org) -> Membership:
    member = Membership.get_or_none((Membership.org == org.id) & (Membership.user == user.id))
    if member is None:
        raise Forbidden("user is not a member of this organisation")
    return member


def require_session_access(session: SessionToken, org) -> str:
    """The session's user may act for ``org`` now: a member (else Forbidden) and the token not
    revoked for it (else Unauthorized). One query, on every request. Returns the role."""
    row = (Membership.select(Membership.role, SessionTokenRevocation.id.alias("revocation"))
           .join(SessionTokenRevocation, JOIN.LEFT_OUTER,
                 on=((SessionTokenRevocation.org == Membership.org)
                     & (SessionTokenRevocation.token == session.id)))
           .where((Membership.org == org.id) & (Membership.user == session.user_id))
           .dicts().first())
    if row is None:
        raise Forbidden("user is not a member of this organisation")
    if row["revocation"] is not None:
        raise Unauthorized("revoked for this organisation")
    return row["role"]


def _status(revoked_at, expires_at, now) -> str:
    if revoked_at is not None:
        return "revoked"
    return "expired" if expires_at <= now else "active"


def _live_token_ids(user_id: str, org) -> list[str]:
    """The user's tokens that still work somewhere and are not yet revoked for ``org``."""
    revoked_here = SessionTokenRevocation.select(SessionTokenRevocation.token).where(
        SessionTokenRevocation.org == org.id)
    return [t.id for t in SessionToken.select(SessionToken.id).where(
        (SessionToken.user == user_id) & SessionToken.revoked_at.is_null()
        & (SessionToken.expires_at > utcnow()) & SessionToken.id.not_in(revoked_here))
        .order_by(SessionToken.created_at, SessionToken.id)]


def _revoke_for_org(org, token_ids: list[str], actor: str) -> list[str]:
    """Revocation rows for ``org`` (inside the caller's transaction, its org locked)."""
    if token_ids:
        now = utcnow()
        SessionTokenRevocation.insert_many(
            [{"token": t, "org": org.id, "revoked_at": now, "actor": actor} for t in token_ids]
        ).execute()
    return token_ids


def _member_token_query(org):
    """Session tokens of the organisation's members, with their revocation for it."""
    return (SessionToken.select(SessionToken.id, SessionToken.user.alias("user_id"), User.email,
                                SessionToken.hint, SessionToken.created_at,
                                SessionToken.expires_at, SessionToken.revoked_at,
                                SessionTokenRevocation.revoked_at.alias("revoked_here"))
            .join(User).switch(SessionToken)
            .join(Membership, on=((Membership.user == SessionToken.user)
                                  & (Membership.org == org.id)))
            .switch(SessionToken)
            .join(SessionTokenRevocation, JOIN.LEFT_OUTER,
                  on=((SessionTokenRevocation.token == SessionToken.id)
                      & (SessionTokenRevocation.org == org.id))))


def _org_view(row: dict, now) -> dict:
    """A token as its organisation sees it: revoked if revoked everywhere or for it."""
    times = [t for t in (row["revoked_at"], row["revoked_here"]) if t is not None]
    revoked_at = min(times) if times else None
    return {"id": row["id"], "user_id": row["user_id"], "email": row["email"],
            "hint": row["hint"], "created_at": row["created_at"],
            "expires_at": row["expires_at"], "revoked_at": revoked_at,
            "status": _status(revoked_at, row["expires_at"], now)}


def member_tokens(org, *, user_id: str | None = None, email: str | None = None,
                  status: str | None = None, limit: int = 100) -> list[dict]:
    """Session tokens of the organisation's members, newest first, as the organisation sees
    them. Never the token: its id and hint."""
    now = utcnow()
    query = _member_token_query(org)
    if user_id is not None:
        query = query.where(SessionToken.user == user_id)
    if email is not None:
        query = query.where(User.email == email.strip().lower())
    revoked = (SessionToken.revoked_at.is_null(False)
               | SessionTokenRevocation.revoked_at.is_null(False))
    if status == "revoked":
        query = query.where(revoked)
    elif status == "expired":
        query = query.where(~revoked & (SessionToken.expires_at <= now))
    elif status == "active":
        query = query.where(~revoked & (SessionToken.expires_at > now))
    rows = query.order_by(SessionToken.created_at.desc(), SessionToken.id).limit(limit).dicts()
    return [_org_view(row, now) for row in rows]


def member_token(org, token_id: str) -> dict | None:
    """One token of a member of the organisation, as :func:`member_tokens` shows it, or None."""
    row = _member_token_query(org).where(SessionToken.id == token_id).dicts().first()
    return None if row is None else _org_view(row, utcnow())


def revoke_token_for_org(org, token_id: str, actor: str = "system") -> dict:
    """Revoke a member's token for this organisation only (its user's other organisations
    decide for themselves). Not found unless the token's user is a member. Revoking a revoked
    token changes nothing. One transaction with its ``session_token.revoked`` event."""
    with transaction():
        audit.lock_org(org.id)
        found = member_token(org, token_id)
        if found is None:
            raise NotFound("No such token of this organisation's members")
        if found["revoked_at"] is None:
            _revoke_for_org(org, [token_id], actor)
            audit.append(org.id, actor=actor, action="session_token.revoked",
                         entity_type="session_token", entity_id=token_id,
                         payload={"user_id": found["user_id"], "email": found["email"],
                                  "scope": "organisation"})
            found = member_token(org, token_id)
    return found


# -- the instance's operator (CLI): a user's tokens everywhere ------------------------------------

def user_tokens(user: User) -> list[dict]:
    """Every session token of a user, newest first, with the organisations (slugs) it is revoked
    for. Never the token: its id and hint."""
    now = utcnow()
    revoked_in: dict[str, list[str]] = {}
    for rev in (SessionTokenRevocation.select(SessionTokenRevocation.token, Organisation.slug)
                .join(SessionToken).switch(SessionTokenRevocation).join(Organisation)
                .where(SessionToken.user == user.id).order_by(Organisation.slug).dicts()):
        revoked_in.setdefault(rev["token"], []).append(rev["slug"])
    return [{"id": t.id, "hint": t.hint, "created_at": t.created_at,
             "expires_at": t.expires_at, "revoked_at": t.revoked_at,
             "status": _status(t.revoked_at, t.expires_at, now),
             "revoked_in": revoked_in.get(t.id, [])}
            for t in SessionToken.select().where(SessionToken.user == user.id)
            .order_by(SessionToken.created_at.desc(), SessionToken.id)]


def revoke_tokens(user: User, token_id: str | None = None, actor: str = "system") -> list[str]:
    """Revoke, everywhere, one of the user's tokens (``token_id``) or all that are not revoked
    yet. One transaction, with a ``session_token.revoked`` event per token in the chain of every
    organisation the user is a member of (a user of none has no chain to record it in).
    Returns the ids revoked (none when already revoked)."""
    with transaction():
        orgs = sorted(m.org_id for m in Membership.select(Membership.org)
                      .where(Membership.user == user.id))
        for org_id in orgs:
            audit.lock_org(org_id)
        query = SessionToken.select(SessionToken.id).where(
            (SessionToken.user == user.id) & SessionToken.revoked_at.is_null())
        if token_id is not None:
            query = query.where(SessionToken.id == token_id)
        ids = [t.id for t in query.order_by(SessionToken.created_at, SessionToken.id)]
        if not ids:
            return []
        SessionToken.update(revoked_at=utcnow()).where(SessionToken.id.in_(ids)).execute()
        for org_id in orgs:
            for revoked in ids:
                audit.append(org_id, actor=actor, action="session_token.revoked",
                             entity_type="session_token", entity_id=revoked,
                             payload={"user_id": user.id, "email": user.email, "scope": "all"})
    return ids


def token_owner(token_id: str) -> User | None:
    row = (SessionToken.select(SessionToken, User).join(User)
           .where(SessionToken.id == token_id).first())
    return None if row is None else row.user


def revoke_session_token(token: str, actor: str = "system") -> bool:
    """Revoke a token everywhere, given the token itself."""
    row = SessionToken.get_or_none(SessionToken.token_hash == sha256_hex(token))
    return bool(row and revoke_tokens(row.user, row.id, actor=actor))
