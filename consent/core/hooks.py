"""Listeners for ledger changes, called inside the transaction that makes the change.

A dialect that keeps state of its own about a consent (a status, a webhook to send) subscribes to
the changes the core makes, whichever API made them: a withdrawal through the ledger API must
show in the dialect that recorded the consent, in the same commit. The core names no dialect: it
emits an event name and keyword data; a listener that raises rolls the change back.

Events:

* ``consent.withdrawn``: ``org_id``, ``consent`` (the grant, a ``ConsentRecord``),
  ``withdrawal`` (the new ``withdrawn`` record), ``actor``, ``at``, ``event``.
* ``consent.used``: ``org_id``, ``consent``, ``use`` (the ``ConsentUse`` row), ``single_use``,
  ``actor``, ``at``, ``event``.

``event`` is the change's audit event, begun and not yet appended (``consent.core.audit.Pending``):
a listener that changes rows of a covered table writes them through it (``event.update(...)``),
so the event records their new hashes (``consent.core.covered``).
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable

_listeners: dict[str, list[Callable]] = defaultdict(list)


def subscribe(name: str, listener: Callable) -> None:
    """Call ``listener(**data)`` whenever ``name`` is emitted (once, however often added)."""
    if listener not in _listeners[name]:
        _listeners[name].append(listener)


def emit(name: str, /, **data) -> None:
    """Call every listener of ``name``; inside the caller's transaction."""
    for listener in _listeners.get(name, ()):
        listener(**data)
