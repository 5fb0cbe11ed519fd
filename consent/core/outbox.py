"""The durable webhook outbox: at-least-once delivery of webhooks that report ledger changes.

A dialect that reports a change calls :func:`enqueue` inside the transaction that makes the change:
the delivery row (URL, exact headers, exact body) commits or rolls back with it, so a webhook is
never sent for a change that did not happen and never lost for one that did. After the commit a
background :class:`Sender` in the process POSTs it; a failure or non-2xx answer schedules another
attempt after an exponential backoff (``base * 2**(attempt-1)``, capped), up to ``max_attempts``,
after which the delivery is ``failed``. Every attempt is logged (``WebhookAttempt``); the operator
lists deliveries and replays one (:func:`replay`, CLI ``webhooks``, ledger API ``/webhooks``).

Several processes may run senders on one database: a sender claims a delivery with a conditional
UPDATE that sets a lease, so two never send the same attempt; a sender that dies mid-attempt
leaves a lease that expires, and the delivery is tried again. Nothing here names a dialect: the
dialect chooses the topic, URL, headers and body (and signs the body) when it enqueues.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from . import audit, sql
from .errors import NotFound
from .storage import WebhookAttempt, WebhookDelivery, db, transaction, utcnow

log = logging.getLogger(__name__)


@dataclass
class Policy:
    max_attempts: int = 8
    backoff_base: float = 2.0      # seconds before the second attempt
    backoff_cap: float = 3600.0    # longest wait between attempts
    timeout: float = 10.0          # seconds per attempt
    lease: float = 60.0            # seconds a claimed delivery stays claimed
    poll_interval: float = 1.0     # how often an idle sender looks for due retries

    def delay(self, attempts: int) -> float:
        return min(self.backoff_cap, self.backoff_base * 2 ** max(attempts - 1, 0))


POLICY = Policy()

DELIVERY = sql.model_select(WebhookDelivery)
DUE = DELIVERY.where('t."status" = ?', 't."next_attempt_at" <= ?',
                     '(t."lease_until" IS NULL OR t."lease_until" < ?)',
                     order='t."next_attempt_at"', limit=True)
DELIVERY_OF_ORG = DELIVERY.where('t."org_id" = ?', 't."id" = ?')
CLAIM = sql.Statement(
    'UPDATE "webhook_delivery" SET "lease_until" = ?, "attempts" = "attempts" + 1 '
    'WHERE "id" = ? AND "status" = \'pending\' AND "next_attempt_at" <= ? '
    'AND ("lease_until" IS NULL OR "lease_until" < ?)')
ATTEMPTS_OF = sql.model_select(WebhookAttempt).where('t."delivery_id" = ?', order='t."id"')


def configure(**settings) -> None:
    """Set the delivery policy (``create_app`` passes the CONSENT_WEBHOOK_* settings)."""
    global POLICY
    POLICY = Policy(**settings)


def enqueue(org_id: str, *, topic: str, url: str, body: str, headers: dict[str, str],
            reference: str | None = None) -> int:
    """Queue a webhook in the caller's transaction; it is sent after the commit. ``body`` is the
    exact text sent (UTF-8); ``headers`` the exact headers (signatures computed over ``body``)."""
    row = sql.create(WebhookDelivery, org_id=org_id, topic=topic, reference=reference, url=url,
                     headers=headers, body=body, next_attempt_at=utcnow())
    db.after_commit(SENDER.wake)
    return row.id


# -- sending ----------------------------------------------------------------------------------------

def _post(delivery) -> tuple[int | None, str | None, str | None]:
    """One attempt: (status code, error, excerpt of the answer)."""
    request = urllib.request.Request(delivery.url, data=delivery.body.encode("utf-8"),
                                     headers=delivery.headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=POLICY.timeout) as answer:
            return answer.status, None, answer.read(500).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}", exc.read(500).decode("utf-8", "replace")
    except (OSError, ValueError) as exc:  # refused, timed out, bad URL...
        return None, f"{type(exc).__name__}: {exc}", None


def attempt(delivery) -> bool:
    """Claim a due delivery, send it once, and record the outcome. False if another sender
    claimed it first."""
    now = utcnow()
    with transaction():
        claimed = CLAIM.execute((now + dt.timedelta(seconds=POLICY.lease), delivery.id, now,
                                 now)).rowcount
    if claimed != 1:
        return False
    attempts = delivery.attempts + 1
    started = time.monotonic()
    status_code, error, excerpt = _post(delivery)
    elapsed = int((time.monotonic() - started) * 1000)
    ok = status_code is not None and 200 <= status_code < 300
    at = utcnow()
    with transaction():
        sql.insert(WebhookAttempt, {"delivery_id": delivery.id, "at": at, "duration_ms": elapsed,
                                    "status_code": status_code, "error": error,
                                    "response_excerpt": excerpt})
        changes = {"lease_until": None, "last_status_code": status_code, "last_error": error}
        if ok:
            changes.update(status="delivered", delivered_at=at)
        elif attempts >= POLICY.max_attempts:
            changes.update(status="failed")
        else:
            changes.update(next_attempt_at=at + dt.timedelta(seconds=POLICY.delay(attempts)))
        WebhookDelivery.update(**changes).where(WebhookDelivery.id == delivery.id).execute()
    if not ok:
        log.info("webhook %s to %s: attempt %d failed (%s)", delivery.id, delivery.url,
                 attempts, error)
    return True


def send_due(limit: int = 20) -> int:
    """Send the deliveries due now (once each); returns how many were attempted."""
    now = utcnow()
    sent = 0
    for delivery in DUE.all(("pending", now, now, limit)):
        sent += attempt(delivery)
    return sent


class Sender:
    """One background thread per process that sends due deliveries: woken after each commit
    that queued one, and polling every ``poll_interval`` for retries that came due."""

    def __init__(self):
        self._wake = threading.Event()
        self._pid: int | None = None
        self._lock = threading.Lock()
        self.enabled = True

    def wake(self) -> None:
        if not self.enabled:
            return
        self.ensure_running()
        self._wake.set()

    def ensure_running(self) -> None:
        if self._pid != os.getpid() and self.enabled:
            with self._lock:
                if self._pid != os.getpid():
                    self._wake = threading.Event()
                    threading.Thread(target=self._run, name="webhook-sender", daemon=True).start()
                    self._pid = os.getpid()

    def _run(self) -> None:
        while True:
            self._wake.wait(POLICY.poll_interval)
            self._wake.clear()
            try:
                while db.obj is not None and send_due():
                    pass
            except Exception as exc:  # the database may be away for a while; try again later
                log.warning("webhook sender: %s: %s", type(exc).__name__, exc)


SENDER = Sender()


# -- the operator's view -----------------------------------------------------------------------------

def deliveries(org, *, status: str | None = None, topic: str | None = None,
               reference: str | None = None, limit: int = 50,
               before_id: int | None = None) -> list:
    """The organisation's deliveries, newest first."""
    query = WebhookDelivery.select().where(WebhookDelivery.org == org.id)
    if status:
        query = query.where(WebhookDelivery.status == status)
    if topic:
        query = query.where(WebhookDelivery.topic == topic)
    if reference:
        query = query.where(WebhookDelivery.reference == reference)
    if before_id:
        query = query.where(WebhookDelivery.id < before_id)
    return list(query.order_by(WebhookDelivery.id.desc()).limit(limit))


def get(org, delivery_id: int):
    delivery = DELIVERY_OF_ORG.one((org.id, delivery_id))
    if delivery is None:
        raise NotFound(f"webhook delivery {delivery_id} not found")
    return delivery


def attempts(delivery) -> list:
    return ATTEMPTS_OF.all((delivery.id,))


def replay(org, delivery_id: int, actor: str = "system"):
    """Send a delivery again (the same request), with a fresh set of attempts."""
    with transaction():
        delivery = get(org, delivery_id)
        WebhookDelivery.update(status="pending", attempts=0, next_attempt_at=utcnow(),
                               lease_until=None).where(
            WebhookDelivery.id == delivery.id).execute()
        audit.append(org.id, actor=actor, action="webhook.replayed", entity_type="webhook",
                     entity_id=str(delivery.id), payload={
                         "topic": delivery.topic, "url": delivery.url,
                         "previous_status": delivery.status, "attempts": delivery.attempts})
        db.after_commit(SENDER.wake)
    return get(org, delivery_id)
