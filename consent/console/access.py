"""Who is signed in to the console, and for which organisation.

* **Sign-in links.** An operator (a user with at least one membership) asks for a link by e-mail
  (``POST /console/sign-in``) or an administrator prints one (``flask --app app console-link
  --email ...``). The link is an itsdangerous token (its own salt) naming the user and a fresh
  nonce, valid ``CONSENT_CONSOLE_LINK_MAX_AGE`` seconds (15 minutes), and it signs in once: the
  nonce's hash is stored when it is used. Opening it shows a button; only the button's POST
  signs in, so a mail scanner that fetches the link uses nothing.
* **Sessions.** Signing in issues an operator session token (``consent.core.auth.issue_session``,
  the bearer tokens of ``/ledger/v1/tokens``: stored as a hash, listed, revocable), with a
  ``console.signed_in`` event in the chain of each organisation the operator is a member of, in
  the same transaction; it lasts
  ``CONSENT_CONSOLE_SESSION_SECONDS`` (8 hours). The browser keeps it in the ``console_session``
  cookie (``HttpOnly``, ``SameSite=Lax``, ``Secure`` when the request came over HTTPS or the
  public URL is ``https``; path ``/console``). Every request checks the token and the membership
  in the organisation of its URL (one query): a member removed, or a token revoked, is signed out
  on the next request. Signing out revokes the token.
* **CSRF.** Every form carries a token signed over the session's id (its own salt, the session's
  lifetime as ``max_age``); a POST without the token of its own session is refused (403), and so
  is one whose ``Origin`` or ``Sec-Fetch-Site`` says it came from another site.
"""
from __future__ import annotations

import datetime as dt
import hmac
import logging
from dataclasses import dataclass

from flask import current_app, request
from peewee import IntegrityError

from consent.core import audit, auth, ids, ledger, mailbox, sql, tokens
from consent.core.errors import Forbidden, Gone, NotFound, Unauthorized
from consent.core.storage import transaction
from consent.web import cross_site_request, public_url

from . import queries
from .models import ConsoleSignIn

log = logging.getLogger("consent.console")


COOKIE = "console_session"
COOKIE_PATH = "/console"
LINK_PATH = "/console/sign-in/link"


@dataclass(frozen=True)
class Operator:
    """A signed-in operator acting for one organisation."""

    user: object          # the user's row (id, email, name)
    session: object       # the session token's row
    org: object           # the organisation of the URL (a row)
    role: str
    orgs: tuple           # every organisation they are a member of (rows), for the switcher


def _secret():
    return current_app.config["SECRET_KEY"]


def _config(name: str) -> int:
    return int(current_app.config[name])


# -- sign-in links ---------------------------------------------------------------------------------

def member_orgs(user_id: str) -> tuple:
    """The organisations a user is a member of (rows), by slug."""
    orgs = [ledger.org_by_id(org_id) for org_id in auth.member_org_ids(user_id)]
    return tuple(sorted((o for o in orgs if o is not None), key=lambda o: o.slug))


def operator_by_email(email: str):
    """The user with this e-mail who is a member of an organisation, or None."""
    user = auth.user_by_email(email or "")
    if user is None or not member_orgs(user.id):
        return None
    return user


def sign_in_link(user) -> str:
    """A one-time sign-in link for ``user`` (an absolute URL)."""
    token = tokens.dumps(_secret(), tokens.Salt.CONSOLE_SIGN_IN,
                         {"uid": user.id, "n": ids.token_hex(16)})
    return f"{public_url()}{LINK_PATH}?t={token}"


def read_link(token: str):
    """The user a sign-in link names (a row) and its nonce; Gone when it expired, Forbidden
    when it is not one, NotFound when the user is gone or no longer a member anywhere."""
    try:
        payload = tokens.loads(_secret(), tokens.Salt.CONSOLE_SIGN_IN, token or "",
                               max_age=_config("CONSENT_CONSOLE_LINK_MAX_AGE"))
    except tokens.SignatureExpired:
        raise Gone("This sign-in link has expired. Ask for a new one.") from None
    except tokens.BadSignature:
        raise Forbidden("This is not a valid sign-in link.") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("n"), str):
        raise Forbidden("This is not a valid sign-in link.")
    user = auth.user_by_id(str(payload.get("uid")))
    if user is None or not member_orgs(user.id):
        raise NotFound("This sign-in link's operator is no longer a member of any organisation.")
    return user, payload["n"]


def use_link(token: str) -> tuple[object, str]:
    """Sign in with a link, once: returns the user's row and a new session token. Gone when the
    link was used before."""
    user, nonce = read_link(token)
    config = current_app.config
    max_age = _config("CONSENT_CONSOLE_LINK_MAX_AGE")
    with transaction():
        # a used nonce matters only while its link could still be presented
        queries.FORGET_USED.execute((_now() - dt.timedelta(seconds=2 * max_age + 60),))
        try:
            with transaction():   # a savepoint: the conflict leaves the outer transaction usable
                sql.insert(ConsoleSignIn, {"nonce_hash": auth.sha256_hex(nonce),
                                           "user_id": user.id, "used_at": _now()})
        except IntegrityError:
            raise Gone("This sign-in link was used already. Ask for a new one.") from None
        row, session_token = auth.issue_session(
            _secret(), user, min(_config("CONSENT_CONSOLE_SESSION_SECONDS"),
                                 int(config["CONSENT_SESSION_MAX_AGE"])),
            int(config["CONSENT_SESSION_MAX_AGE"]))
        # a sign-in is in the chain of every organisation it opens (locked in one order)
        for org in sorted(member_orgs(user.id), key=lambda o: o.id):
            audit.lock_org(org.id)
            audit.append(org.id, actor=f"console:{user.email}"[:100],
                         action="console.signed_in", entity_type="session_token",
                         entity_id=row.id, payload={"user_id": user.id, "email": user.email,
                                                    "expires_at": row.expires_at.isoformat()})
    return user, session_token


def _now():
    from consent.core.storage import utcnow

    return utcnow()


def send_link(email: str) -> str:
    """E-mail a sign-in link to an operator over SMTP (``CONSENT_SMTP_URL``), recorded in the
    mail outbox with the link masked. Returns ``sent``, ``failed``, ``no-smtp`` (no mail server
    is configured: an administrator prints a link with ``console-link``) or ``unknown`` (not an
    operator's address; the page says the same as for ``sent``, so it tells nobody who is
    one)."""
    config = current_app.config
    smtp_url = config.get("CONSENT_SMTP_URL") or ""
    if not smtp_url:
        return "no-smtp"
    user = operator_by_email(email)
    if user is None:
        return "unknown"
    link = sign_in_link(user)
    minutes = _config("CONSENT_CONSOLE_LINK_MAX_AGE") // 60
    text = ("Sign in to the consent ledger's console:\n\n{link}\n\n"
            f"The link works once, for {minutes} minutes. If you did not ask for it, ignore "
            "this message.\n")
    return mailbox.deliver(smtp_url, config.get("CONSENT_MAIL_FROM") or "consent@localhost",
                           to=user.email, subject="Your sign-in link to the consent ledger",
                           body_text=text.format(link=link), body_html=None,
                           recorded_text=text.format(link=LINK_PATH + "?t=***"))


# -- sessions ----------------------------------------------------------------------------------------

def session_token() -> str | None:
    return request.cookies.get(COOKIE) or None


def signed_in_user():
    """The session of the request's cookie (a row with ``.user``), or None."""
    token = session_token()
    if not token:
        return None
    try:
        return auth.session_for_token(_secret(), token, int(current_app.config[
            "CONSENT_SESSION_MAX_AGE"]))
    except Unauthorized:
        return None


def operator_for(org_slug: str) -> Operator | None:
    """The signed-in operator acting for the organisation ``org_slug``, or None when nobody is
    signed in (no cookie, a token expired or revoked, for this organisation too, or an operator
    who is a member of no organisation any more). Raises NotFound for an organisation they are
    not a member of (the same answer as one that does not exist)."""
    session = signed_in_user()
    if session is None:
        return None
    if not (0 < len(org_slug) <= 64 and org_slug.isascii() and org_slug.isprintable()):
        raise NotFound("No such organisation")     # no slug is one (and PostgreSQL refuses NUL)
    org = ledger.get_org(org_slug)
    if org is None or org.slug != org_slug:
        raise NotFound("No such organisation")
    try:
        role = auth.require_session_access(session, org.id)
    except Unauthorized:
        return None          # the token was revoked for it: signed out
    except Forbidden:
        if not member_orgs(session.user_id):
            return None      # a member no more, anywhere: signed out
        raise NotFound("No such organisation") from None
    return Operator(user=session.user, session=session, org=org, role=role,
                    orgs=member_orgs(session.user_id))


def cookie_secure() -> bool:
    return request.is_secure or public_url().startswith("https://")


def set_cookie(response, token: str) -> None:
    response.set_cookie(COOKIE, token, max_age=_config("CONSENT_CONSOLE_SESSION_SECONDS"),
                        path=COOKIE_PATH, secure=cookie_secure(), httponly=True, samesite="Lax")


def clear_cookie(response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, secure=cookie_secure(), httponly=True,
                           samesite="Lax")


def sign_out() -> None:
    """Revoke the request's session token (if any)."""
    token = session_token()
    if token:
        auth.revoke_session_token(token, actor="console")


# -- CSRF ------------------------------------------------------------------------------------------

def csrf_token(session) -> str:
    return tokens.dumps(_secret(), tokens.Salt.CONSOLE_CSRF, session.id)


def check_csrf(session) -> None:
    """Refuse (Forbidden) a form post that is cross-site or lacks its session's token."""
    if cross_site_request():
        raise Forbidden("This form was sent from another site.")
    try:
        value = tokens.loads(_secret(), tokens.Salt.CONSOLE_CSRF, request.form.get("csrf", ""),
                             max_age=_config("CONSENT_CONSOLE_SESSION_SECONDS"))
    except tokens.BadSignature:
        raise Forbidden("This form has expired or was not sent from this page. Reload the page "
                        "and try again.") from None
    if not isinstance(value, str) or not hmac.compare_digest(value, session.id):
        raise Forbidden("This form was not sent from this session. Reload the page and try "
                        "again.")
