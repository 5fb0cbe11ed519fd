"""The webhooks view: the organisation's webhook deliveries (every dialect's, through the core
outbox), by status, newest first, with how many are pending, delivered and failed.

* ``GET /console/o/<org>/webhooks``: filter by ``status`` and ``topic``; pages by id
  (``before``: the keyset of ``consent.core.outbox.deliveries``, the ``(org, id)`` index), never
  an offset; ``limit`` from 1 to 200.
* ``GET /console/o/<org>/webhooks/<id>``: one delivery's exact request, the way
  ``GET /ledger/v1/webhooks/{id}`` shows it (:func:`consent.core.outbox.get`: the URL redacted,
  every secret header masked), and every attempt (time, duration, status code, error, the kept
  excerpt of the answer).
* ``POST /console/o/<org>/webhooks/<id>/replay``: send it again (:func:`consent.core.outbox.replay`:
  one transaction with its ``webhook.replayed`` event naming the operator), then back to the
  delivery, pending again.
"""
from __future__ import annotations

import re

from flask import redirect, request, url_for

from consent.core import outbox
from consent.core.errors import Invalid
from schemas.common import INT64_MAX

from ..blueprint import actor, bp, org, render

STATUSES = ("pending", "delivered", "failed")
TOPIC = re.compile(r"[A-Za-z0-9_.:/-]{1,64}")   # the dialects' topics (veriff.decision...)
PAGE = 50
COUNT_CAP = 10_000     # delivered deliveries counted no further (shown as "10000+")
MOST = 200


def bad(ch: str) -> bool:
    """A character no filter holds: a control character, a surrogate, or U+FFFD (what a
    query's bytes that are not UTF-8, a lone surrogate's among them, are decoded to)."""
    return ord(ch) < 32 or ord(ch) == 127 or 0xD800 <= ord(ch) <= 0xDFFF or ch == "\ufffd"


def text_param(name: str, longest: int) -> str | None:
    """A query parameter that is text: None when absent or empty; Invalid (a 422 page) when it
    is too long or holds a character of :func:`bad`."""
    value = request.args.get(name, "")
    if value == "":
        return None
    if len(value) > longest or any(bad(ch) for ch in value):
        raise Invalid(f"{name} is not a valid value")
    return value


def int_param(name: str, default: int | None, low: int, high: int) -> int | None:
    """A whole-number query parameter from ``low`` to ``high`` (Invalid otherwise)."""
    value = request.args.get(name, "")
    if value == "":
        return default
    if not (value.isascii() and value.isdigit()) or len(value) > 19 or not \
            low <= int(value) <= high:
        raise Invalid(f"{name} must be a whole number from {low} to {high}")
    return int(value)


@bp.get("/o/<org>/webhooks")
def webhooks():
    status = text_param("status", 16)
    if status is not None and status not in STATUSES:
        raise Invalid(f"status must be one of {', '.join(STATUSES)}")
    topic = text_param("topic", 64)
    if topic is not None and not TOPIC.fullmatch(topic):
        raise Invalid("topic is a name such as veriff.decision or consent.registered")
    limit = int_param("limit", PAGE, 1, MOST)
    before = int_param("before", None, 1, INT64_MAX)
    org_id = org().id
    rows = outbox.deliveries(org_id, status=status, topic=topic, limit=limit + 1,
                             before_id=before)
    more = len(rows) > limit
    rows = rows[:limit]
    # pending and failed are few (the status index); delivered is counted up to a cap
    counts = {s: outbox.count(org_id, s) for s in ("pending",)}
    counts["delivered"] = outbox.count_up_to(org_id, "delivered", COUNT_CAP + 1)
    counts["failed"] = outbox.count(org_id, "failed")
    filters = {k: v for k, v in (("status", status), ("topic", topic)) if v}
    if limit != PAGE:
        filters["limit"] = limit
    return render("console/webhooks.html", title="Webhooks", deliveries=rows, counts=counts, cap=COUNT_CAP,
                  chosen=status, topic=topic, filters=filters, before=before,
                  next_before=rows[-1].id if more else None)


@bp.get("/o/<org>/webhooks/<int(max=%d):delivery_id>" % INT64_MAX)
def webhooks_delivery(delivery_id: int):
    delivery = outbox.get(org().id, delivery_id)
    return render("console/webhook.html", title=f"Webhook delivery {delivery.id}",
                  delivery=delivery, attempts=outbox.attempts(delivery),
                  replayed=request.args.get("replayed") == "1")


@bp.post("/o/<org>/webhooks/<int(max=%d):delivery_id>/replay" % INT64_MAX)
def webhooks_replay(delivery_id: int):
    outbox.replay(org().id, delivery_id, actor=actor())
    return redirect(url_for("console.webhooks_delivery", delivery_id=delivery_id, replayed=1),
                    303)
