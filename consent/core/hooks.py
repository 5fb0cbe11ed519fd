"""Listeners for ledger changes, called inside the transaction that makes the change.

A dialect that keeps state of its own about a consent (a status, a webhook to send) subscribes to
the changes the core makes, whichever API made them: a withdrawal through the ledger API must
show in the dialect that recorded the consent, in the same commit. The core names no dialect: it
emits an event name and keyword data; a listener that raises rolls the change back.

Events:

* ``consent.withdrawn``: ``org_id``, ``consent`` (the grant, a ``ConsentRecord``),
  ``withdrawal`` (the new ``withdrawn`` record), ``actor``, ``at``.
* ``consent.used``: ``org_id``, ``consent``, ``use`` (the ``ConsentUse`` row), ``single_use``,
  ``actor``, ``at``.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable

_listeners: dict[str, list[Callable]] = defaultdict(list)


def subscribe(event: str, listener: Callable) -> None:
    """Call ``listener(**data)`` whenever ``event`` is emitted (once, however often added)."""
    if listener not in _listeners[event]:
        _listeners[event].append(listener)


def emit(event: str, **data) -> None:
    """Call every listener of ``event``; inside the caller's transaction."""
    for listener in _listeners.get(event, ()):
        listener(**data)
