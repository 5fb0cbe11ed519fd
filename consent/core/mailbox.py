"""The local mail outbox (:class:`~consent.core.storage.OutboxMessage`): mail a dialect sends is
recorded here (its recipient masked), and kept whole while no SMTP server is configured, until the
operator marks it delivered by hand (which forgets the full address). Named rows out; the
statements are in ``consent.core.queries``. Call the writes inside the caller's transaction,
with its audit event."""
from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from . import queries, sql
from .database import transaction
from .storage import OutboxMessage

log = logging.getLogger("consent.mail")


def smtp_send(url: str, sender: str, to: str, subject: str, text: str, html: str | None,
              timeout: float = 10) -> None:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    options = parse_qs(parts.query)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = make_msgid(domain=sender.partition("@")[2] or "localhost")
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    if parts.scheme == "smtps":
        conn = smtplib.SMTP_SSL(host, parts.port or 465, timeout=timeout)
    else:
        conn = smtplib.SMTP(host, parts.port or 25, timeout=timeout)
    with conn:
        if parts.scheme != "smtps" and options.get("starttls", ["0"])[0] in ("1", "true", "yes"):
            conn.starttls()
        if parts.username:
            conn.login(unquote(parts.username), unquote(parts.password or ""))
        conn.send_message(msg)


def mask_address(address: str) -> str:
    """``a***@example.com``: what is kept of an address once the message has gone."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def deliver(smtp_url: str, sender: str, *, to: str, subject: str, body_text: str,
            body_html: str | None, org_id: str | None = None,
            recorded_text: str | None = None) -> str:
    """Send one message over SMTP (``smtp_url``), or keep it in the local outbox when there is
    none; either way it is recorded (the address masked once sent; ``recorded_text``, when
    given, is what is kept of the body: a message carrying a secret keeps it masked). Returns
    ``sent``, ``queued`` (local outbox) or ``failed``; never raises for a transport failure."""
    if smtp_url:
        try:
            smtp_send(smtp_url, sender, to, subject, body_text, body_html)
            status = "sent"
        except Exception as exc:  # noqa: BLE001 - any transport failure: recorded as failed
            log.warning("mail to %s failed: %s", mask_address(to), exc)
            status = "failed"
        transport, keep_address = "smtp", None
    else:
        status, transport, keep_address = "queued", "outbox", to
    with transaction():
        keep(org_id, to_masked=mask_address(to), subject=subject,
             body_text=body_text if recorded_text is None else recorded_text,
             body_html=body_html if recorded_text is None else None, transport=transport, status=status, to_address=keep_address)
    return status




def keep(org_id: str, *, to_masked: str, subject: str, body_text: str, body_html: str | None,
         transport: str, status: str, to_address: str | None):
    """Record one message (``transport``: ``smtp`` or ``outbox``; ``to_address``: the full
    address, kept only while it waits in the local outbox). Returns its row."""
    return sql.create(OutboxMessage, org_id=org_id, to_masked=to_masked, subject=subject,
                      body_text=body_text, body_html=body_html, transport=transport,
                      status=status, to_address=to_address)


def kept(org_id: str, *, waiting: bool = False, limit: int | None = None) -> list:
    """The organisation's messages in the local outbox, newest first (``waiting``: those not
    yet marked delivered)."""
    conditions = queries.KEPT_MAIL_OF_ORG + ((queries.KEPT_MAIL_WAITING,) if waiting else ())
    statement = queries.KEPT_MAIL.where(*conditions, order=queries.KEPT_MAIL_NEWEST_FIRST,
                                        limit=bool(limit))
    return statement.all((org_id, limit) if limit else (org_id,))


def kept_message(org_id: str, message_id: int):
    """One message of the organisation's local outbox, or None."""
    return queries.KEPT_MAIL_BY_ID.one((org_id, message_id))


def mark_delivered(message_ids: list[int]) -> None:
    """Mark messages (of the local outbox) delivered and forget their full addresses."""
    for chunk in sql.chunks(sorted(message_ids)):
        queries.mail_delivered(sql.padded(len(chunk))).execute(sql.pad(chunk))


def forget(org_id: str, message_ids: list[int]) -> int:
    """Delete messages of the organisation (their person was erased). Returns how many."""
    done = 0
    for chunk in sql.chunks(sorted(set(message_ids))):
        done += queries.forget_mail_by_id(sql.padded(len(chunk))).execute(
            (org_id, *sql.pad(chunk))).rowcount
    return done
