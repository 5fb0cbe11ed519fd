"""Listeners for ledger changes, called inside the transaction that makes the change.

A dialect that keeps state of its own about a consent (a status, a webhook to send) subscribes to
the changes the core makes, whichever API made them: a withdrawal through the ledger API must
show in the dialect that recorded the consent, in the same commit. The core names no dialect: it
emits an event name and keyword data; a listener that raises rolls the change back.

Subscriptions are declared, not made by importing a module: a dialect lists its
``(event, listener)`` pairs in its ``Dialect`` entry (``subscriptions``), and the app factory
installs every entry's (:func:`install`). A listener is marked with :func:`listener`, which
registers nothing: it lets a test find every listener a dialect defines and check that its entry
declares it.

Events:

* ``consent.recorded``: ``org_id``, ``consent`` (the new record, a ``ConsentRecord``), ``event``.
* ``consent.withdrawn``: ``org_id``, ``consent`` (the grant, a ``ConsentRecord``),
  ``withdrawal`` (the new ``withdrawn`` record), ``actor``, ``at``, ``event``.
* ``consent.used``: ``org_id``, ``consent``, ``use`` (the ``ConsentUse`` row), ``single_use``,
  ``actor``, ``at``, ``event``.

``event`` is the change's audit event, begun and not yet appended (``consent.core.audit.Pending``):
a listener that changes rows of a covered table writes them through it (``event.update(...)``),
so the event records their new hashes (``consent.core.covered``).
"""
from __future__ import annotations

from typing import Callable, Iterable

RECORDED = "consent.recorded"
WITHDRAWN = "consent.withdrawn"
USED = "consent.used"
EVENTS = (RECORDED, WITHDRAWN, USED)

_listeners: dict[str, tuple[Callable, ...]] | None = None


def listener(name: str) -> Callable[[Callable], Callable]:
    """Mark a function as a listener of ``name`` (registers nothing: its dialect's entry
    subscribes it)."""
    if name not in EVENTS:
        raise ValueError(f"no hook event {name!r} (events: {', '.join(EVENTS)})")

    def mark(fn: Callable) -> Callable:
        fn.hook_event = name
        return fn
    return mark


def install(subscriptions: Iterable[tuple[str, Callable]]) -> None:
    """Make these ``(event, listener)`` pairs the process's subscriptions (replacing those
    installed before), each listener called once per event, in the order given."""
    global _listeners
    listeners: dict[str, list[Callable]] = {name: [] for name in EVENTS}
    for name, fn in subscriptions:
        if name not in listeners:
            raise ValueError(f"no hook event {name!r} (events: {', '.join(EVENTS)})")
        if fn not in listeners[name]:
            listeners[name].append(fn)
    _listeners = {name: tuple(fns) for name, fns in listeners.items()}


def emit(name: str, /, **data) -> None:
    """Call every listener of ``name``; inside the caller's transaction."""
    if _listeners is None:
        from .components import NotDeclared

        raise NotDeclared("hook subscriptions")
    for fn in _listeners[name]:
        fn(**data)
