"""The credentials view: what opens the organisation's APIs, and who may use the console.

* **API keys** (``consent.core.auth`` credentials of kind ``api_key``): name, prefix, scopes,
  created, revoked. Create one (a name and its scopes), revoke one.
* **Veriff integrations** (kind ``hmac``: an API key and a shared secret, made by
  :func:`consent.dialects.veriff.service.create_integration` with its webhook URLs).
* **Attestr clients** (kind ``basic``: a client key and secret, the auth token made of them, made
  by :func:`consent.dialects.attestr.clients.create_client` with its services, IP allow-list,
  credits and webhook URL).
* **Operator tokens**: the bearer session tokens of the organisation's members
  (:func:`consent.core.auth.member_tokens`), the console's own sign-in sessions among them. An
  operator issues themselves one (:func:`consent.core.auth.issue_member_token`); any token is
  revoked for this organisation (:func:`consent.core.auth.revoke_token_for_org`); revoking the
  session one is using signs them out.
* **Members**: listed, and removed (:func:`consent.core.auth.remove_member`): every token of
  theirs stops working here on their next request.

A new secret is shown once, in the page that answers the form's POST (``Cache-Control:
no-store``), never in a URL, a redirect or a log. Revoking and removing ask first: the button
posts without ``confirm`` and gets a page that asks; its own button posts with ``confirm=yes``.
Every change is a core or dialect function: one transaction with its audit event, naming the
operator (``console:<email>``).
"""
from __future__ import annotations

import re

from flask import current_app, redirect, request, url_for

from consent.core import auth
from consent.core.errors import Invalid, NotFound
from consent.dialects.attestr import clients as attestr_clients
from consent.dialects.veriff import service as veriff_service
from consent.dialects.veriff import webhooks as veriff_webhooks

from .. import access
from .webhooks import bad
from ..blueprint import actor, bp, operator, org, render

ID = re.compile(r"[0-9A-Za-z-]{1,36}")
MOST = 200              # credentials of one kind shown (newest first)
TOKENS = 100            # operator tokens shown (newest first)
LIFETIMES = (("1 hour", 3600), ("8 hours", 8 * 3600), ("1 day", 24 * 3600),
             ("7 days", 7 * 24 * 3600), ("30 days", 30 * 24 * 3600))
DONE = {"revoked": "The credential is revoked: it no longer opens the API.",
        "token-revoked": "The token is revoked for this organisation.",
        "member-removed": "The member is removed: they are signed out on their next request."}


def _text(name: str, longest: int, *, required: bool = False, label: str | None = None) -> str:
    """A form field's text, stripped: Invalid when too long, holding a control character, or
    empty and ``required``."""
    value = (request.form.get(name) or "").strip()
    label = label or name
    if len(value) > longest:
        raise Invalid(f"{label} is longer than {longest} characters")
    if any(bad(ch) for ch in value):
        raise Invalid(f"{label} holds a character that is not allowed")
    if required and not value:
        raise Invalid(f"Give the {label}.")
    return value


def _words(name: str, longest: int = 2000) -> list[str]:
    """A field of several values separated by commas, spaces or new lines."""
    return [w for w in re.split(r"[\s,]+", _text(name, longest)) if w]


def lifetimes() -> tuple:
    longest = int(current_app.config["CONSENT_SESSION_MAX_AGE"])
    return tuple((label, seconds) for label, seconds in LIFETIMES if seconds <= longest)


@bp.get("/o/<org>/credentials")
def credentials():
    the_org = org()
    hmac = auth.credentials(the_org.id, "hmac", MOST)
    basic = auth.credentials(the_org.id, "basic", MOST)
    attestr = {c.credential_id: c for c in attestr_clients.clients(the_org)}
    veriff = {}
    for cred in hmac:
        if cred.revoked_at is None:
            veriff[cred.id] = veriff_webhooks.settings_of(the_org, cred.id)
    done = request.args.get("done")
    return render("console/credentials.html", title="Credentials",
                  keys=auth.credentials(the_org.id, "api_key", MOST), hmac=hmac, veriff=veriff,
                  basic=basic, attestr=attestr, most=MOST,
                  tokens=auth.member_tokens(the_org.id, limit=TOKENS), most_tokens=TOKENS,
                  members=auth.members(the_org.id), scopes=auth.SCOPES,
                  lifetimes=lifetimes(), current_token=operator().session.id,
                  me=operator().user.id, done=DONE.get(done))


def _issued(kind: str, name: str, secrets: list[tuple[str, str]], facts: list[tuple[str, str]]):
    """The page answering a create: the secrets, shown this once."""
    return render("console/credential_issued.html", title=f"New {kind}", kind=kind, name=name,
                  secrets=secrets, facts=facts)


@bp.post("/o/<org>/credentials/keys")
def credentials_create_key():
    name = _text("name", 200, required=True)
    scopes = request.form.getlist("scopes")
    if not scopes:
        raise Invalid("Choose at least one scope.")
    if set(scopes) - set(auth.SCOPES):
        raise Invalid(f"Scopes are {', '.join(auth.SCOPES)}.")
    issued = auth.create_credential(org().id, kind="api_key", name=name, scopes=scopes,
                                    actor=actor())
    return _issued("API key", name, [("API key (X-API-Key)", issued.key)], [
        ("Id", issued.credential.id), ("Scopes", ", ".join(sorted(set(scopes)))),
        ("Organisation (X-Org-Id)", org().slug)])


@bp.post("/o/<org>/credentials/veriff")
def credentials_create_veriff():
    name = _text("name", 200, required=True)
    event_url = _text("event_url", 2000) or None
    decision_url = _text("decision_url", 2000) or None
    issued = veriff_service.create_integration(org(), name=name, actor=actor(),
                                               event_url=event_url, decision_url=decision_url)
    return _issued("Veriff integration", name, [
        ("API key (X-AUTH-CLIENT)", issued.key),
        ("Shared secret (HMAC signatures)", issued.shared_secret)], [
        ("Integration id", issued.credential.id),
        ("Event webhook URL", event_url or "none"),
        ("Decision webhook URL", decision_url or "none")])


@bp.post("/o/<org>/credentials/attestr")
def credentials_create_attestr():
    name = _text("name", 200, required=True)
    settings = {"services": _words("services"), "webhook_url": _text("webhook_url", 2000) or None}
    ips = _words("ips")
    if ips:
        settings["ip_allowlist"] = ips
    credits = _text("credits", 19)
    if credits:
        if not (credits.isascii() and credits.isdigit()):
            raise Invalid("credits must be a whole number from 0")
        settings["credits"] = int(credits)
    issued = attestr_clients.create_client(org(), name=name, actor=actor(), **settings)
    secrets = [("Auth token (Authorization: Basic …)", issued.auth_token),
               ("Client secret", issued.client_secret)]
    if issued.webhook_token:
        secrets.append(("Webhook token (sent to your webhook URL)", issued.webhook_token))
    return _issued("Attestr client", name, secrets, [
        ("Client key", issued.client_key), ("Credential id", issued.client.credential_id),
        ("Services", ", ".join(issued.client.services or ()) or "none"),
        ("Webhook URL", issued.client.webhook_url or "none")])


@bp.post("/o/<org>/credentials/tokens")
def credentials_create_token():
    chosen = _text("lifetime", 12, required=True, label="lifetime")
    allowed = {str(seconds): label for label, seconds in lifetimes()}
    if chosen not in allowed:
        raise Invalid("Choose one of the lifetimes offered.")
    config = current_app.config
    row, token = auth.issue_member_token(
        config["SECRET_KEY"], org().id, operator().user, int(chosen),
        int(config["CONSENT_SESSION_MAX_AGE"]), actor=actor())
    return _issued("operator token", operator().user.email, [
        ("Bearer token (Authorization: Bearer …)", token)], [
        ("Token id", row.id), ("For", operator().user.email),
        ("Expires", row.expires_at.strftime("%Y-%m-%d %H:%M:%S UTC"))])


def _confirm(question: str, detail: str, action: str, button: str):
    """The page that asks before a revoke or a removal (its button posts ``confirm=yes``)."""
    return render("console/credential_confirm.html", title=question, question=question,
                  detail=detail, action=action, button=button)


def _confirmed() -> bool:
    return request.form.get("confirm") == "yes"


@bp.post("/o/<org>/credentials/<string(maxlength=36):credential_id>/revoke")
def credentials_revoke(credential_id: str):
    if not ID.fullmatch(credential_id):
        raise NotFound("credential not found")
    cred = auth.credential(credential_id)
    if cred is None or cred.org_id != org().id:
        raise NotFound("credential not found")
    if not _confirmed():
        kind = {"api_key": "API key", "hmac": "Veriff integration",
                "basic": "Attestr client"}.get(cred.kind, "credential")
        return _confirm(f"Revoke the {kind} “{cred.name or cred.key_prefix}”?",
                        f"Anything using the key starting {cred.key_prefix} is refused from "
                        "its next request on. This cannot be undone.",
                        url_for("console.credentials_revoke", credential_id=cred.id),
                        f"Revoke {kind}")
    auth.revoke_credential(org().id, cred.id, actor=actor())
    return redirect(url_for("console.credentials", done="revoked"), 303)


@bp.post("/o/<org>/credentials/tokens/<string(maxlength=36):token_id>/revoke")
def credentials_revoke_token(token_id: str):
    if not ID.fullmatch(token_id):
        raise NotFound("No such token of this organisation's members")
    found = auth.member_token(org().id, token_id)
    if found is None:
        raise NotFound("No such token of this organisation's members")
    own = token_id == operator().session.id
    if not _confirmed():
        return _confirm(
            f"Revoke {found['email']}’s token …{found['hint']}?",
            "This is the session you are signed in with: revoking it signs you out." if own
            else "It stops working for this organisation on its next request.",
            url_for("console.credentials_revoke_token", token_id=token_id), "Revoke token")
    auth.revoke_token_for_org(org().id, token_id, actor=actor())
    if own:
        response = redirect(url_for("console.sign_in"), 303)
        access.clear_cookie(response)
        return response
    return redirect(url_for("console.credentials", done="token-revoked"), 303)


@bp.post("/o/<org>/credentials/members/<string(maxlength=36):user_id>/remove")
def credentials_remove_member(user_id: str):
    if not ID.fullmatch(user_id):
        raise NotFound("No such member of this organisation")
    member = next((m for m in auth.members(org().id) if m["user_id"] == user_id), None)
    if member is None:
        raise NotFound("No such member of this organisation")
    own = user_id == operator().user.id
    if not _confirmed():
        return _confirm(
            f"Remove {member['email']} from {org().name}?",
            "You are removing yourself: you are signed out of this organisation at once." if own
            else "Every token of theirs stops working here on their next request.",
            url_for("console.credentials_remove_member", user_id=user_id), "Remove member")
    auth.remove_member(org().id, user_id, actor=actor())
    if own:
        return redirect(url_for("console.index"), 303)
    return redirect(url_for("console.credentials", done="member-removed"), 303)
