"""The local mail outbox (:class:`~consent.core.storage.OutboxMessage`): mail a dialect sends is
recorded here (its recipient masked), and kept whole while no SMTP server is configured, until the
operator marks it delivered by hand (which forgets the full address). Named rows out; the
statements are in ``consent.core.queries``. Call the writes inside the caller's transaction,
with its audit event."""
from __future__ import annotations

from . import queries, sql
from .storage import OutboxMessage


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
