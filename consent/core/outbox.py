"""The durable webhook outbox: at-least-once delivery of webhooks that report ledger changes.

A dialect that reports a change calls :func:`enqueue` inside the transaction that makes the change:
the delivery row (URL, exact headers, exact body) commits or rolls back with it, so a webhook is
never sent for a change that did not happen and never lost for one that did. After the commit the
background sender of the process (:data:`SENDER`) POSTs it; a failure, a redirect or a non-2xx
answer schedules another attempt after an exponential backoff (``base * 2**(attempt-1)``,
capped), up to ``max_attempts``, after which the delivery is ``failed``. Every attempt is logged
(``WebhookAttempt``: status, error, a short excerpt of the answer); the operator lists deliveries
and replays one (:func:`replay`, CLI ``webhooks``, ledger API ``/webhooks``), and sees every
secret header (``Authorization``, API keys, tokens) masked (:func:`masked_headers`).

Each attempt goes through :mod:`consent.core.outbound`: the URL's host is resolved once, every
address checked (no private, loopback, link-local or metadata address unless the operator allows
its network), and the connection made to the address checked; redirects are never followed.

Sending is concurrent and fair (:class:`Pool`): a bounded set of threads per process
(``workers``), at most ``per_destination`` in flight to one destination (scheme, host, port), so
a receiver that hangs holds its own share and delays nobody else's webhooks.

Several processes may run senders on one database: a sender claims a delivery with a conditional
UPDATE that sets a lease, so two never send the same attempt; a sender that dies mid-attempt
leaves a lease that expires, and the delivery is tried again. Nothing here names a dialect: the
dialect chooses the topic, URL, headers and body (and signs the body) when it enqueues.
"""
from __future__ import annotations

import collections
import datetime as dt
import functools
import logging
import os
import queue
import re
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from . import audit, background, clock, outbound, queries, sql
from .errors import NotFound
from .storage import WebhookAttempt, WebhookDelivery, db, transaction, utcnow

log = logging.getLogger(__name__)

EPOCH = dt.datetime(1970, 1, 1)


@dataclass
class Policy:
    max_attempts: int = 8
    backoff_base: float = 2.0      # seconds before the second attempt
    backoff_cap: float = 3600.0    # longest wait between attempts
    timeout: float = 10.0          # seconds per attempt
    lease: float = 60.0            # seconds a claimed delivery stays claimed
    poll_interval: float = 1.0     # how often an idle sender looks for due retries
    workers: int = 8               # attempts in flight per process at most
    per_destination: int = 2       # of which to one destination (scheme, host, port) at most

    def delay(self, attempts: int) -> float:
        return min(self.backoff_cap, self.backoff_base * 2 ** max(attempts - 1, 0))


POLICY = Policy()

# -- secrets in what the operator sees ---------------------------------------------------------------

# A header whose name says it carries a credential is shown masked in every delivery view and
# never written to a log (dialects put API keys, tokens and Basic credentials in such headers;
# signatures and ids are not secrets and stay readable).
SECRET_HEADER = re.compile(r"auth|token|secret|key|passw|cookie|credential", re.IGNORECASE)
SECRET_HEADER_EXCEPT = re.compile(r"signature", re.IGNORECASE)
MASK = "***"


def is_secret_header(name: str) -> bool:
    return bool(SECRET_HEADER.search(name)) and not SECRET_HEADER_EXCEPT.search(name)


def masked_headers(headers: dict[str, str]) -> dict[str, str]:
    """The headers with every credential masked (``Basic ***``: the scheme stays readable)."""
    out = {}
    for name, value in headers.items():
        if is_secret_header(name):
            scheme, _, rest = str(value).partition(" ")
            value = f"{scheme} {MASK}" if rest and scheme.isalpha() else MASK
        out[name] = value
    return out


def redact_url(url: str) -> str:
    """The URL without a password (set before URLs were checked; none is accepted now)."""
    try:
        parts = urlsplit(url)
        if parts.password is None and parts.username is None:
            return url
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit(parts._replace(netloc=f"{MASK}@{host}"))
    except ValueError:
        return url


def scrub(text: str | None, headers: dict[str, str]) -> str | None:
    """``text`` (an attempt's error) with the values of the secret headers masked."""
    if text is None:
        return None
    for name, value in headers.items():
        if is_secret_header(name) and value:
            for part in {str(value), *str(value).split(" ")[1:]}:
                if len(part) >= 4:
                    text = text.replace(part, MASK)
    return text


def configure(**settings) -> None:
    """Set the delivery policy (``create_app`` passes the CONSENT_WEBHOOK_* settings)."""
    global POLICY
    POLICY = Policy(**settings)


def enqueue(org_id: str, *, topic: str, url: str, body: str, headers: dict[str, str],
            reference: str | None = None) -> int:
    """Queue a webhook in the caller's transaction; it is sent after the commit. ``body`` is the
    exact text sent (UTF-8); ``headers`` the exact headers (signatures computed over ``body``)."""
    row = sql.create(WebhookDelivery, org_id=org_id, topic=topic, reference=reference, url=url,
                     headers=headers, body=body, next_attempt_at=clock.real_utcnow())
    db.after_commit(SENDER.wake)
    return row.id


# -- sending ----------------------------------------------------------------------------------------

def destination(url: str) -> tuple:
    """Where a delivery goes, for fairness: (scheme, host, port)."""
    try:
        parts = urlsplit(url)
        return (parts.scheme, parts.hostname, parts.port
                or (443 if parts.scheme == "https" else 80))
    except ValueError:
        return (url,)


def _claim(delivery) -> bool:
    """Lease a due delivery (and count the attempt); False if another sender has it."""
    now = utcnow()
    with transaction():
        return queries.CLAIM_DELIVERY.execute(
            (now + dt.timedelta(seconds=POLICY.lease), delivery.id, now, now)).rowcount == 1


def _release(delivery_id: int) -> None:
    """Give back a claim never attempted (its sender stopped first)."""
    with transaction():
        queries.RELEASE_DELIVERY.execute((delivery_id,))


def _record(delivery, attempts: int, answer: outbound.Answer, elapsed: int) -> None:
    ok = answer.status is not None and 200 <= answer.status < 300
    error = scrub(answer.error, delivery.headers)
    at = utcnow()
    with transaction():
        sql.insert(WebhookAttempt, {"delivery_id": delivery.id, "at": at, "duration_ms": elapsed,
                                    "status_code": answer.status, "error": error,
                                    "response_excerpt": answer.excerpt})
        changes = {"lease_until": None, "last_status_code": answer.status, "last_error": error}
        if ok:
            changes.update(status="delivered", delivered_at=at)
        elif attempts >= POLICY.max_attempts:
            changes.update(status="failed")
        else:
            changes.update(next_attempt_at=at + dt.timedelta(seconds=POLICY.delay(attempts)))
        sql.update(WebhookDelivery, delivery.id, changes)
    if not ok:
        log.info("webhook %s to %s: attempt %d failed (%s)", delivery.id,
                 redact_url(delivery.url), attempts, error)


def record_attempt(delivery, attempt: int, answer: outbound.Answer, elapsed_ms: int) -> None:
    """Record an attempt made outside the sender (``seed-demo --sample`` writes a history's):
    the delivery's attempt count set to ``attempt``, then what the sender records of one, in
    one transaction."""
    with transaction():
        sql.update(WebhookDelivery, delivery.id, {"attempts": attempt})
        _record(delivery, attempt, answer, elapsed_ms)


class Pool:
    """Sends claimed deliveries on a bounded set of threads (``POLICY.workers``), at most
    ``POLICY.per_destination`` at a time to one destination (scheme, host, port), so a receiver
    that hangs holds only its own share and everyone else's webhooks go on; and one at a time per
    destination and ``reference`` (the entity a webhook is about), so one consent's or session's
    webhooks arrive in the order they were queued (unless an attempt fails and is retried).
    ``on_free`` is called whenever a thread is done with one (the process's sender looks for more
    then).
    :meth:`stop` ends every attempt in flight (recorded as failed, retried after the backoff),
    gives back the claims not started, and ends the threads."""

    PAGE = 100     # due deliveries read per query
    PAGES = 20     # queries per dispatch at most

    def __init__(self, on_free=None, name: str = "webhook"):
        self.workers, self.per_destination = POLICY.workers, POLICY.per_destination
        self.on_free, self.name = on_free, name
        self.pid = os.getpid()
        self._lock = threading.Condition()
        self._tasks: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._busy: collections.Counter = collections.Counter()   # destination -> in flight
        self._entities: set[tuple] = set()     # (destination, reference) in flight
        self._posts: dict[int, tuple[outbound.Post, float]] = {}   # delivery id -> (post, until)
        self._in_flight = 0
        self._stopped = False
        self.runner = None      # the background runner this pool serves, if any

    # the sender's side
    def dispatch(self, limit: int | None = None) -> int:
        """Claim the due deliveries there is room for and hand them to the threads; returns how
        many. Also ends attempts that outlived their timeout."""
        self._end_overdue()
        handed = 0
        skip_urls: set[str] = set()
        after = (EPOCH, 0)
        now = utcnow()
        for _ in range(self.PAGES):
            with self._lock:
                room = self.workers - self._in_flight
            if self._stopped or room <= 0 or (limit is not None and handed >= limit):
                break
            # destinations full: their other deliveries wait
            skipped = sql.pad(sorted(skip_urls)) if skip_urls else []
            rows = queries.due_deliveries(len(skipped)).all(
                (now, now, after[0], after[0], after[1], *skipped, self.PAGE))
            for delivery in rows:
                if limit is not None and handed >= limit:
                    break
                where = destination(delivery.url)
                entity = (where, delivery.reference) if delivery.reference else None
                with self._lock:
                    if self._stopped or self._in_flight >= self.workers:
                        break
                    if self._busy[where] >= self.per_destination:
                        skip_urls.add(delivery.url)
                        continue
                    if entity in self._entities:   # one entity's webhooks go in order
                        continue
                if not _claim(delivery):
                    continue
                with self._lock:
                    stopped = self._stopped
                    if not stopped:
                        self._busy[where] += 1
                        if entity is not None:
                            self._entities.add(entity)
                        self._in_flight += 1
                        self._start_threads()
                if stopped:
                    _release(delivery.id)
                    break
                self._tasks.put((delivery, delivery.attempts + 1, where, entity))
                handed += 1
            if len(rows) < self.PAGE:
                break
            after = (rows[-1].next_attempt_at, rows[-1].id)
        return handed

    def room(self) -> int:
        with self._lock:
            return self.workers - self._in_flight

    def idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is in flight; False if ``timeout`` passed first."""
        with self._lock:
            return self._lock.wait_for(lambda: self._in_flight == 0, timeout)

    def stop(self, timeout: float = 15.0) -> None:
        with self._lock:
            self._stopped = True
            posts = [post for post, _ in self._posts.values()]
        for post in posts:
            post.abort("aborted: the sender stopped before an answer came")
        for _ in self._threads:
            self._tasks.put(None)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
                if thread.is_alive():
                    log.warning("webhook thread %s did not stop within %.0f s", thread.name,
                                timeout)

    def _start_threads(self) -> None:   # under the lock
        if not self._threads:
            for i in range(self.workers):
                thread = threading.Thread(target=self._work, name=f"{self.name}-{i + 1}",
                                          daemon=True)
                self._threads.append(thread)
                thread.start()

    def _end_overdue(self) -> None:
        now = time.monotonic()
        with self._lock:
            overdue = [post for post, until in self._posts.values() if until < now]
        for post in overdue:
            post.abort(f"TimeoutError: no answer within {POLICY.timeout:g} s")

    # the threads' side
    def _work(self) -> None:
        try:
            while True:
                task = self._tasks.get()
                if task is None:
                    return
                delivery, attempts, where, entity = task
                try:
                    if self._stopped:
                        _release(delivery.id)
                    else:
                        self._send(delivery, attempts)
                except Exception as exc:  # the database may be away; the lease runs out
                    log.warning("webhook %s: %s: %s", delivery.id, type(exc).__name__, exc)
                finally:
                    with self._lock:
                        self._busy[where] -= 1
                        if not self._busy[where]:
                            del self._busy[where]
                        self._entities.discard(entity)
                        self._in_flight -= 1
                        self._lock.notify_all()
                    if self.on_free is not None and not self._stopped:
                        self.on_free()
        finally:
            try:
                if db.obj is not None and not db.is_closed():
                    db.close()   # this thread's own connection
            except Exception:  # noqa: BLE001 - a connection already gone needs no closing
                pass

    def _send(self, delivery, attempts: int) -> None:
        post = outbound.Post(delivery.url, delivery.body.encode("utf-8"), delivery.headers,
                             POLICY.timeout)
        started = time.monotonic()
        with self._lock:
            self._posts[delivery.id] = (post, started + POLICY.timeout)
        try:
            answer = post.run()
        finally:
            with self._lock:
                self._posts.pop(delivery.id, None)
        if INTERCEPT is not None:   # control mode's delivery faults (consent.control)
            answer = INTERCEPT(delivery, answer)
        _record(delivery, attempts, answer, int((time.monotonic() - started) * 1000))


# Control mode (consent.control) sets it: (delivery, answer) -> the answer recorded.
INTERCEPT = None


def send_due(limit: int | None = None) -> int:
    """Send the deliveries due now, once each, and wait for them (the CLI's ``webhooks send``
    and ``replay``); returns how many were attempted. Fair as the background sender is: a
    destination's share waits for the next call."""
    pool = Pool(name="webhook-cli")
    try:
        sent = pool.dispatch(limit)
        while not pool.idle(0.2):
            pool._end_overdue()
        return sent
    finally:
        pool.stop()


# The sender of each process: woken after each commit that queued a delivery and whenever one of
# its threads is free, and polling every ``poll_interval`` for retries that came due. Its pool
# belongs to the runner that runs it and stops with it.
_POOL: Pool | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> Pool:
    global _POOL
    runner = SENDER.runner
    with _POOL_LOCK:
        pool = _POOL
        if pool is None or pool.pid != os.getpid() or pool.runner is not runner:
            if pool is not None and pool.pid == os.getpid():
                pool.stop()
            pool = _POOL = Pool(on_free=lambda: runner.wake(SENDER) if runner else None)
            pool.runner = runner
        return pool


def _step() -> bool:
    pool = _pool()
    return pool.dispatch() > 0 and pool.room() > 0


def _stop_pool() -> None:
    global _POOL
    with _POOL_LOCK:
        pool, _POOL = _POOL, None
    if pool is not None and pool.pid == os.getpid():
        pool.stop()


SENDER = background.Loop("webhook-sender", _step, lambda: POLICY.poll_interval, stop=_stop_pool)


# -- the operator's view -----------------------------------------------------------------------------
# Every view masks the secrets a delivery carries (masked_headers, redact_url): a webhook token or
# API key is shown once, when it is made, and never again here.

def deliveries(org_id: str, *, status: str | None = None, topic: str | None = None,
               reference: str | None = None, limit: int = 50,
               before_id: int | None = None) -> list:
    """The organisation's deliveries, newest first, as the operator sees them (:func:`shown`)."""
    given = {"status": status, "topic": topic, "reference": reference, "before_id": before_id}
    names = [n for n in queries.DELIVERY_FILTERS if given[n]]
    statement = queries.DELIVERY.where(
        queries.DELIVERY_BY_ORG, *(queries.DELIVERY_FILTERS[n] for n in names),
        order=queries.DELIVERY_NEWEST_FIRST, limit=True)
    return [shown(row) for row in statement.all((org_id, *(given[n] for n in names), limit))]


def count(org_id: str, status: str) -> int:
    """How many of the organisation's deliveries have ``status`` (pending, delivered, failed)."""
    return queries.DELIVERIES_WITH_STATUS.value((status, org_id)) or 0


def count_up_to(org_id: str, status: str, cap: int) -> int:
    """How many of the organisation's deliveries have ``status``, counting no further than
    ``cap`` (the console shows "cap+" beyond it): bounded work for a status most deliveries
    have."""
    return queries.DELIVERIES_WITH_STATUS_UP_TO.value((org_id, status, cap)) or 0


def _get(org_id: str, delivery_id: int):
    delivery = queries.DELIVERY_OF_ORG.one((org_id, delivery_id))
    if delivery is None:
        raise NotFound(f"webhook delivery {delivery_id} not found")
    return delivery


def shown(delivery):
    """A delivery as the operator sees it: secret headers masked, URL redacted."""
    return delivery._replace(url=redact_url(delivery.url),
                             headers=masked_headers(delivery.headers))


def get(org_id: str, delivery_id: int):
    """One delivery of the organisation, as the operator sees it (:func:`shown`)."""
    return shown(_get(org_id, delivery_id))


def attempts(delivery) -> list:
    return queries.ATTEMPTS_OF.all((delivery.id,))


# -- erasure --------------------------------------------------------------------------------------

FORGOTTEN = "not sent: its personal data was erased"


def forget(org_id: str, references, topic: str | None = None) -> int:
    """Inside an erasure's transaction (``consent.core.rights``): the organisation's deliveries
    about these references (``topic``: of that topic only) lose their body and the signatures
    taken over it (a keyed hash of the body), and those still pending are given up (``failed``,
    with :data:`FORGOTTEN`), so no webhook about an erased person is sent after its erasure. A
    delivery's other headers, URL, topic and history stay. Returns how many deliveries were
    blanked (idempotent: one already blank counts again, with nothing to change)."""
    references = sorted({str(r) for r in references if r})
    done = 0
    for chunk in sql.chunks(references):
        statement = queries.deliveries_about(sql.padded(len(chunk)), topic is not None)
        params = (org_id, *sql.pad(chunk), *((topic,) if topic is not None else ()))
        for delivery in statement.all(params):
            headers = {name: value for name, value in (delivery.headers or {}).items()
                       if not SECRET_HEADER_EXCEPT.search(name)}
            queries.FORGET_DELIVERY.execute((WebhookDelivery.headers.db_value(headers),
                                             FORGOTTEN, delivery.id))
            done += 1
    return done


def replay(org_id: str, delivery_id: int, actor: str = "system"):
    """Send a delivery again (the same request), with a fresh set of attempts."""
    with transaction():
        delivery = _get(org_id, delivery_id)
        again = delivery._replace(status="pending", attempts=0,
                                  next_attempt_at=clock.real_utcnow(), lease_until=None)
        sql.update(WebhookDelivery, delivery.id, {
            "status": again.status, "attempts": 0, "next_attempt_at": again.next_attempt_at,
            "lease_until": None})
        audit.append(org_id, actor=actor, action="webhook.replayed", entity_type="webhook",
                     entity_id=str(delivery.id), payload={
                         "topic": delivery.topic, "url": redact_url(delivery.url),
                         "previous_status": delivery.status, "attempts": delivery.attempts})
        db.after_commit(SENDER.wake)
    return shown(again)  # as replayed (the sender may be at it already)


# -- people's rights ----------------------------------------------------------------------------------

ERASED_ERROR = "body erased (people's rights)"


@functools.lru_cache(maxsize=None)
def _forget_statement(n: int) -> sql.Statement:
    t = sql.Table(WebhookDelivery)
    return sql.Statement(
        f"UPDATE {t} SET {t.body} = '', {t.lease_until} = NULL, "
        f"{t.last_error} = CASE WHEN {t.status} = 'pending' THEN ? ELSE {t.last_error} END, "
        f"{t.status} = CASE WHEN {t.status} = 'pending' THEN 'failed' ELSE {t.status} END "
        f"WHERE {t.org} = ? AND {t.reference} IN ({sql.marks(n)}) AND {t.body} <> ''")


def forget_bodies(org_id: str, references) -> int:
    """Blank the stored bodies of the organisation's deliveries about these ``reference``s
    (entities a person's erasure erased), in the caller's transaction: a delivery still pending
    is never sent (it fails, saying why). Returns how many bodies were blanked."""
    done = 0
    for chunk in sql.chunks(sorted({r for r in references if r})):
        done += _forget_statement(sql.padded(len(chunk))).execute(
            (ERASED_ERROR, org_id, *sql.pad(chunk))).rowcount
    return done
