"""The branded consent email: sent over SMTP (``CONSENT_SMTP_URL``), or kept in the local outbox.

The recipient's address is used to send and then dropped: an SMTP send stores only a masked
address; the local outbox keeps the full address only while the message waits for the operator
(``flask --app app truconsent outbox done`` clears it). Each message is remembered under the
request's subject (``TcPersonalRef``), so erasing the person deletes it; its audit event names
neither the address nor the person, only the request and the message.
"""
from __future__ import annotations

import logging

from flask import current_app, render_template

from consent.core import audit, mailbox, sql
from consent.core.mailbox import smtp_send
from consent.core.storage import transaction

from .models import REF_MAIL, TcPersonalRef
from .phones import mask_email

log = logging.getLogger("consent.truconsent.mail")


def compose(org, cp, link: str, expires_at) -> tuple[str, str, str]:
    subject = f"{org.name}: please review your consent for {cp.title}"
    ctx = {"org": org, "cp": cp, "link": link, "expires_at": expires_at}
    text = render_template("truconsent/email.txt", **ctx)
    html = render_template("truconsent/email.html", **ctx)
    return subject, text, html


def send_consent_email(org, cp, to: str, link: str, expires_at, request_id: str,
                       actor: str, subject_id: int | None = None) -> str:
    """Send (or queue) the consent email. Returns "sent" or "failed"; never raises."""
    config = current_app.config
    subject, text, html = compose(org, cp, link, expires_at)
    url = config.get("CONSENT_SMTP_URL") or ""
    if url:
        try:
            smtp_send(url, config.get("CONSENT_MAIL_FROM") or "consent@localhost", to, subject,
                      text, html)
            status = "sent"
        except Exception as exc:  # any transport failure: the link stands, delivery failed
            log.warning("consent email for request %s failed: %s", request_id, exc)
            status = "failed"
        transport, keep = "smtp", None
    else:
        status, transport, keep = "sent", "outbox", to
    try:
        with transaction():
            message = mailbox.keep(
                org.id, to_masked=mask_email(to), subject=subject, body_text=text,
                body_html=html, transport=transport,
                status="queued" if transport == "outbox" else status, to_address=keep)
            if subject_id is not None:
                sql.insert(TcPersonalRef, {"org_id": org.id, "subject_id": subject_id,
                                           "kind": REF_MAIL, "ref": message.id})
            audit.append(org.id, actor=actor, action=f"truconsent.email.{status}",
                         entity_type="consent_link", entity_id=request_id, payload={
                             "transport": transport, "outbox_id": message.id})
    except Exception:
        log.exception("could not record the consent email for request %s", request_id)
        if transport == "outbox":
            return "failed"
    return status


def outbox(org, limit: int | None = None, waiting: bool = False) -> list:
    """Messages kept in the local outbox, newest first (``waiting``: not yet marked done)."""
    return mailbox.kept(org.id, waiting=waiting, limit=limit)


def outbox_message(org, message_id: int):
    return mailbox.kept_message(org.id, message_id)


def mark_delivered(org, ids: list[int] | None, actor: str) -> list[int]:
    """Mark waiting messages delivered by hand (all of them when ``ids`` is None) and forget
    their recipients' addresses. Returns the ids marked."""
    with transaction():
        done = [m.id for m in outbox(org, waiting=True) if ids is None or m.id in ids]
        if done:
            mailbox.mark_delivered(done)
            audit.append(org.id, actor=actor, action="truconsent.outbox.done",
                         entity_type="outbox", entity_id=",".join(map(str, done))[:64],
                         payload={"ids": done})
    return sorted(done)
