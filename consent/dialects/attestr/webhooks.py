"""Attestr's webhooks, through the core's durable outbox (:mod:`consent.core.outbox`).

Attestr posts ``{"event": "<name>", "payload": {...}}`` to the URL a client registered, with
``Authorization: Basic <the webhook's token>`` (no signature). It documents its asynchronous and
flow events (``async.completed``, ``async.errored``, ``flowx.*``) but names no consent-lifecycle
events; ``consent.registered``, ``consent.revoked``, ``consent.consumed`` and ``consent.expired``
are this service's names, in the same style. A consent's events go out only when it was
registered with ``webhook: true`` and its client has a webhook URL; an export's
``async.completed`` / ``async.errored`` under the same condition. Each is queued in the
transaction of the change it reports, so it is sent only after that change commits.
"""
from __future__ import annotations

import datetime as dt
import json

from consent.core import outbox
from consent.core.personal import ERASED

from . import queries

EPOCH = dt.datetime(1970, 1, 1)


def millis(at: dt.datetime) -> int:
    return int((at - EPOCH).total_seconds() * 1000)


def _send(org_id: str, client, event: str, payload: dict, reference: str) -> int | None:
    if client is None or not client.webhook_url or not client.webhook_token:
        return None
    body = json.dumps({"event": event, "payload": payload}, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False)
    return outbox.enqueue(org_id, topic=event, url=client.webhook_url, body=body,
                          reference=reference, headers={
                              "Content-Type": "application/json",
                              "Authorization": f"Basic {client.webhook_token}"})


def consent_event(row, event: str, status: str, at: dt.datetime) -> int | None:
    """Queue a consent lifecycle event (inside the change's transaction). None for a consent
    whose person was erased: the API no longer knows it."""
    if not row.webhook or row.reference_id == ERASED:
        return None
    return _send(row.org_id, queries.CLIENT.one((row.client_id,)), event, {
        "_id": row.id, "number": row.number, "consentReferenceId": row.reference_id,
        "consentType": "single_use" if row.single_use else "multi_use", "status": status,
        "updated": millis(at)}, row.id)


def async_event(job, consent_row, event: str, payload: dict) -> int | None:
    """Queue ``async.completed`` / ``async.errored`` for an export job."""
    if not consent_row.webhook or consent_row.reference_id == ERASED:
        return None
    return _send(job.org_id, queries.CLIENT.one((job.client_id,)), event, payload, job.id)
