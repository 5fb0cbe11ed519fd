"""Credentials: API keys, HMAC integrations, Basic-auth clients, and bearer session tokens.

Keys and tokens are random, shown once, and stored only as SHA-256. Lookups go through the hash, so
no comparison of secrets happens in Python except signatures and shared secrets, which use
``hmac.compare_digest``. Every write here is one transaction with its audit event.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from . import audit, ids, queries, sql, tokens
from .errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from .storage import (Credential, Membership, SessionToken, SessionTokenRevocation, User,
                      transaction, utcnow)

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


def create_credential(org_id: str, *, kind: str = "api_key", name: str = "",
                      scopes=("consent",), actor: str = "system",
                      client_id: str | None = None) -> IssuedCredential:
    if kind not in KINDS:
        raise Invalid(f"unknown credential kind {kind!r}; use one of {', '.join(KINDS)}")
    unknown = set(scopes) - set(SCOPES)
    if unknown:
        raise Invalid(f"unknown scope(s) {', '.join(sorted(unknown))}; use {', '.join(SCOPES)}")
    key = KEY_PREFIX[kind] + ids.token_urlsafe(32)
    shared_secret = ids.token_hex(32) if kind == "hmac" else None
    if kind == "basic":
        client_id = client_id or "cl_" + ids.token_hex(8)
    with transaction():
        cred = sql.create(
            Credential, org_id=org_id, kind=kind, name=name, key_hash=sha256_hex(key),
            key_prefix=key[:10], client_id=client_id, scopes=",".join(sorted(set(scopes))),
            shared_secret=shared_secret)
        audit.append(org_id, actor=actor, action="credential.created", entity_type="credential",
                     entity_id=cred.id, payload={"kind": kind, "name": name,
                                                 "scopes": sorted(set(scopes)),
                                                 "key_prefix": cred.key_prefix,
                                                 "client_id": client_id})
    return IssuedCredential(cred, key, shared_secret)


def revoke_credential(org_id: str, credential_id: str, actor: str = "system"):
    """Revoke one of the organisation's credentials (NotFound for another's); returns its row."""
    with transaction():
        cred = queries.CREDENTIAL_OF_ORG.one((credential_id, org_id))
        if cred is None:
            raise NotFound("credential not found")
        if cred.revoked_at is None:
            cred = cred._replace(revoked_at=utcnow())
            sql.update(Credential, cred.id, {"revoked_at": cred.revoked_at})
            audit.append(org_id, actor=actor, action="credential.revoked",
                         entity_type="credential", entity_id=cred.id, payload={})
    return cred


def credentials(org_id: str, kind: str, limit: int = 200) -> list:
    """The organisation's credentials of one kind (rows, revoked ones too), newest first; never
    a key (its prefix)."""
    if kind not in KINDS:
        raise Invalid(f"unknown credential kind {kind!r}; use one of {', '.join(KINDS)}")
    return queries.CREDENTIALS_OF_ORG_KIND.all((org_id, kind, limit))


def credential(credential_id: str):
    """The credential with this id (a row with ``.scope_set`` and ``.active``; revoked ones
    too), or None. Callers check its organisation and kind."""
    return queries.CREDENTIAL_BY_ID.one((credential_id,))


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


def create_user(email: str, name: str = ""):
    """A new operator (their row); Conflict if the email is taken."""
    email = email.strip().lower()
    if "@" not in email:
        raise Invalid("a user needs an email address")
    with transaction():
        if queries.USER_BY_EMAIL.one((email,)):
            raise Conflict(f"user {email} already exists")
        return sql.create(User, email=email, name=name)


def user_by_id(user_id: str):
    """The operator with this id (a row), or None."""
    return queries.USER_BY_ID.one((user_id,))


def member_org_ids(user_id: str) -> list[str]:
    """The ids of the organisations a user is a member of."""
    return [org_id for (org_id,) in queries.MEMBER_ORG_IDS.execute((user_id,)).fetchall()]


def user_by_email(email: str):
    """The operator with this email (a row), or None."""
    return queries.USER_BY_EMAIL.one((email.strip().lower(),))


def add_member(org_id: str, user, role: str = "admin", actor: str = "system"):
    """Make a user a member of the organisation (their membership's row; the existing one if
    they are)."""
    with transaction():
        existing = queries.MEMBERSHIP.one((org_id, user.id))
        if existing:
            return existing
        member = sql.create(Membership, org_id=org_id, user_id=user.id, role=role)
        audit.append(org_id, actor=actor, action="member.added", entity_type="user",
                     entity_id=user.id, payload={"email": user.email, "role": role})
        return member


def _member_view(row) -> dict:
    return {"user_id": row.user_id, "email": row.email, "name": row.name, "role": row.role,
            "created_at": row.created_at}


def members(org_id: str, email: str | None = None) -> list[dict]:
    """The organisation's members, oldest first."""
    if email is None:
        rows = queries.MEMBERS.all((org_id,))
    else:
        rows = queries.MEMBERS_BY_EMAIL.all((org_id, email.strip().lower()))
    return [_member_view(row) for row in rows]


def remove_member(org_id: str, user_id: str, actor: str = "system") -> dict:
    """Remove a user from the organisation: they lose it on their next request, and every token
    of theirs is revoked for it (adding them again does not bring an old token back). One
    transaction with its ``member.removed`` event."""
    with transaction():
        audit.lock_org(org_id)
        row = queries.MEMBER_OF_ORG.one((org_id, user_id))
        if row is None:
            raise NotFound("No such member of this organisation")
        revoked = _revoke_for_org(org_id, _live_token_ids(user_id, org_id), actor)
        queries.DELETE_MEMBERSHIP.execute((row.membership_id,))
        audit.append(org_id, actor=actor, action="member.removed", entity_type="user",
                     entity_id=user_id, payload={"email": row.email, "role": row.role,
                                                 "tokens_revoked": revoked})
    return {"user_id": user_id, "email": row.email, "role": row.role,
            "tokens_revoked": len(revoked)}


def issue_session(secret_key, user, lifetime_seconds: int,
                  max_lifetime: int) -> tuple[object, str]:
    """Sign a bearer token naming the user; only its hash (and a hint) is stored, so it can be
    revoked. Returns the row and the token, which is shown once."""
    if not 0 < lifetime_seconds <= max_lifetime:
        raise Invalid(f"lifetime must be between 1 and {max_lifetime} seconds")
    token_id = ids.token_hex(16)
    token = tokens.dumps(secret_key, tokens.Salt.SESSION,
                         {"uid": user.id, "tid": token_id, "ttl": lifetime_seconds})
    with transaction():
        row = sql.create(
            SessionToken, id=token_id, user_id=user.id, token_hash=sha256_hex(token),
            hint=token[-TOKEN_HINT_CHARS:],
            expires_at=utcnow() + dt.timedelta(seconds=lifetime_seconds))
    return row, token


def issue_member_token(secret_key, org_id: str, user, lifetime_seconds: int, max_lifetime: int,
                       actor: str = "system") -> tuple[object, str]:
    """A member issues themselves a bearer token from an organisation (the console): the token
    of :func:`issue_session` and a ``session_token.created`` event in the organisation's chain,
    one transaction. Forbidden unless the user is a member."""
    with transaction():
        audit.lock_org(org_id)
        require_membership(user, org_id)
        row, token = issue_session(secret_key, user, lifetime_seconds, max_lifetime)
        audit.append(org_id, actor=actor, action="session_token.created",
                     entity_type="session_token", entity_id=row.id,
                     payload={"user_id": user.id, "email": user.email,
                              "expires_at": row.expires_at.isoformat()})
    return row, token


def issue_session_token(secret_key, user, lifetime_seconds: int, max_lifetime: int) -> str:
    return issue_session(secret_key, user, lifetime_seconds, max_lifetime)[1]


def session_for_token(secret_key, token: str, max_lifetime: int):
    """The stored session a bearer token is (a row with ``.user``). Raises Unauthorized when it
    is expired, tampered with or revoked everywhere."""
    try:
        payload = tokens.loads(secret_key, tokens.Salt.SESSION, token, max_age=max_lifetime)
    except tokens.SignatureExpired:
        raise Unauthorized("expired") from None
    except tokens.BadSignature:
        raise Unauthorized("invalid") from None
    row = queries.SESSION_BY_TOKEN_HASH.one((sha256_hex(token),))
    if (row is None or row.revoked_at is not None or row.expires_at <= utcnow()
            or not isinstance(payload, dict) or row.user_id != payload.get("uid")):
        raise Unauthorized("expired or revoked")
    return row


def user_for_session_token(secret_key, token: str, max_lifetime: int):
    """The user a bearer token names. Raises Unauthorized when expired, tampered or revoked."""
    return session_for_token(secret_key, token, max_lifetime).user


def require_membership(user, org_id: str):
    """The user's membership of the organisation (its row); Forbidden if they are none."""
    member = queries.MEMBERSHIP.one((org_id, user.id))
    if member is None:
        raise Forbidden("user is not a member of this organisation")
    return member


def require_session_access(session, org_id: str) -> str:
    """The session's user may act for the organisation now: a member (else Forbidden) and the
    token not revoked for it (else Unauthorized). One query, on every request. Returns the
    role."""
    row = queries.SESSION_ACCESS.execute((session.id, org_id, session.user_id)).fetchone()
    if row is None:
        raise Forbidden("user is not a member of this organisation")
    role, revocation = row
    if revocation is not None:
        raise Unauthorized("revoked for this organisation")
    return role


def _status(revoked_at, expires_at, now) -> str:
    if revoked_at is not None:
        return "revoked"
    return "expired" if expires_at <= now else "active"


def _live_token_ids(user_id: str, org_id: str) -> list[str]:
    """The user's tokens that still work somewhere and are not yet revoked for the
    organisation."""
    return [token_id for (token_id,) in queries.LIVE_TOKEN_IDS.execute(
        (user_id, utcnow(), org_id)).fetchall()]


def _revoke_for_org(org_id: str, token_ids: list[str], actor: str) -> list[str]:
    """Revocation rows for the organisation (inside the caller's transaction, its org
    locked)."""
    now = utcnow()
    for token_id in token_ids:
        sql.insert(SessionTokenRevocation, {"token_id": token_id, "org_id": org_id,
                                            "revoked_at": now, "actor": actor})
    return token_ids


def _org_view(row, now) -> dict:
    """A token as its organisation sees it: revoked if revoked everywhere or for it."""
    times = [t for t in (row.revoked_at, row.revoked_here) if t is not None]
    revoked_at = min(times) if times else None
    return {"id": row.id, "user_id": row.user_id, "email": row.email, "hint": row.hint,
            "created_at": row.created_at, "expires_at": row.expires_at,
            "revoked_at": revoked_at, "status": _status(revoked_at, row.expires_at, now)}


def _member_tokens(org_id: str, given: dict, limit: int) -> list:
    """Tokens of the organisation's members, newest first, filtered by
    ``queries.MEMBER_TOKEN_FILTERS`` (``{name: param}``; a None param: a filter without one)."""
    names = [n for n in queries.MEMBER_TOKEN_FILTERS if n in given]
    statement = queries.MEMBER_TOKEN.where(
        *(queries.MEMBER_TOKEN_FILTERS[n] for n in names), order=queries.MEMBER_TOKEN_ORDER,
        limit=True)
    params = [given[n] for n in names if given[n] is not None]
    return statement.all((org_id, org_id, *params, limit))


def member_tokens(org_id: str, *, user_id: str | None = None, email: str | None = None,
                  status: str | None = None, limit: int = 100) -> list[dict]:
    """Session tokens of the organisation's members, newest first, as the organisation sees
    them. Never the token: its id and hint."""
    now = utcnow()
    given = {}
    if user_id is not None:
        given["user_id"] = user_id
    if email is not None:
        given["email"] = email.strip().lower()
    if status in TOKEN_STATUSES:
        given[status] = None if status == "revoked" else now
    return [_org_view(row, now) for row in _member_tokens(org_id, given, limit)]


def member_token(org_id: str, token_id: str) -> dict | None:
    """One token of a member of the organisation, as :func:`member_tokens` shows it, or None."""
    rows = _member_tokens(org_id, {"id": token_id}, 1)
    return _org_view(rows[0], utcnow()) if rows else None


def revoke_token_for_org(org_id: str, token_id: str, actor: str = "system") -> dict:
    """Revoke a member's token for this organisation only (its user's other organisations
    decide for themselves). Not found unless the token's user is a member. Revoking a revoked
    token changes nothing. One transaction with its ``session_token.revoked`` event."""
    with transaction():
        audit.lock_org(org_id)
        found = member_token(org_id, token_id)
        if found is None:
            raise NotFound("No such token of this organisation's members")
        if found["revoked_at"] is None:
            _revoke_for_org(org_id, [token_id], actor)
            audit.append(org_id, actor=actor, action="session_token.revoked",
                         entity_type="session_token", entity_id=token_id,
                         payload={"user_id": found["user_id"], "email": found["email"],
                                  "scope": "organisation"})
            found = member_token(org_id, token_id)
    return found


# -- the instance's operator (CLI): a user's tokens everywhere ------------------------------------

def user_tokens(user) -> list[dict]:
    """Every session token of a user, newest first, with the organisations (slugs) it is revoked
    for. Never the token: its id and hint."""
    now = utcnow()
    revoked_in: dict[str, list[str]] = {}
    for token_id, slug in queries.REVOKED_IN.execute((user.id,)).fetchall():
        revoked_in.setdefault(token_id, []).append(slug)
    return [{"id": t.id, "hint": t.hint, "created_at": t.created_at,
             "expires_at": t.expires_at, "revoked_at": t.revoked_at,
             "status": _status(t.revoked_at, t.expires_at, now),
             "revoked_in": revoked_in.get(t.id, [])}
            for t in queries.TOKENS_OF_USER.all((user.id,))]


def revoke_tokens(user, token_id: str | None = None, actor: str = "system") -> list[str]:
    """Revoke, everywhere, one of the user's tokens (``token_id``) or all that are not revoked
    yet. One transaction, with a ``session_token.revoked`` event per token in the chain of every
    organisation the user is a member of (a user of none has no chain to record it in).
    Returns the ids revoked (none when already revoked)."""
    with transaction():
        orgs = member_org_ids(user.id)
        for org_id in orgs:
            audit.lock_org(org_id)
        if token_id is None:
            found = queries.UNREVOKED_TOKEN_IDS.execute((user.id,))
        else:
            found = queries.UNREVOKED_TOKEN_ID.execute((user.id, token_id))
        ids = [t for (t,) in found.fetchall()]
        if not ids:
            return []
        at = utcnow()
        for chunk in sql.chunks(ids):
            queries.revoke_tokens(sql.padded(len(chunk))).execute((at, *sql.pad(chunk)))
        for org_id in orgs:
            for revoked in ids:
                audit.append(org_id, actor=actor, action="session_token.revoked",
                             entity_type="session_token", entity_id=revoked,
                             payload={"user_id": user.id, "email": user.email, "scope": "all"})
    return ids


def token_owner(token_id: str):
    """The user whose session token this is (their row), or None."""
    row = queries.SESSION_BY_ID.one((token_id,))
    return None if row is None else row.user


def revoke_session_token(token: str, actor: str = "system") -> bool:
    """Revoke a token everywhere, given the token itself."""
    row = queries.SESSION_BY_TOKEN_HASH.one((sha256_hex(token),))
    return bool(row and revoke_tokens(row.user, row.id, actor=actor))
