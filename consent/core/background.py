"""Background work of a serving process: named loops, each run by a daemon thread that runs a
step while the step reports more work, then waits until woken or until its interval passes.

A :class:`Loop` is a declaration (a name, a step, an interval): the core declares the webhook
sender and the audit verification runner, a dialect declares its own in its ``Dialect`` entry.
A :class:`Runner` runs the loops of one app: ``create_app`` makes it
(``app.extensions["consent.background"]``), each serving process starts its threads with its
first request (a forked gunicorn worker starts its own), and :meth:`Runner.stop` ends them and
waits for them. Because the database the loops use is the process's one database
(``storage.db``), one runner is active per process: starting a new app's runner stops the
previous app's first, so no loop of an old app ever touches the database of a new one (a test
suite makes an app per test).

The work loops pick up is claimed in the database with leases, so several processes share it
safely and a process that dies leaves nothing half-claimed for long.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable

from . import outage
from .storage import db, release_broken_connection

log = logging.getLogger(__name__)


class Loop:
    """A background loop's declaration. ``enabled`` (default True) lets a test hold one loop
    still; :meth:`wake` wakes it in the runner that runs it, if any."""

    def __init__(self, name: str, step: Callable[[], bool], interval: Callable[[], float],
                 stop: Callable[[], None] | None = None):
        self.name, self.step, self.interval = name, step, interval
        self.on_stop = stop            # called once when its runner stops (e.g. a thread pool)
        self.enabled = True
        self.runner: Runner | None = None

    def wake(self) -> None:
        runner = self.runner
        if runner is not None and self.enabled:
            runner.wake(self)

    def __repr__(self) -> str:
        return f"Loop({self.name!r})"


REPEAT_LOG_EVERY = 60.0   # seconds between two lines about the same failure of a loop


class _Failing:
    """A loop's run of identical failures."""

    def __init__(self, signature: str, at: float):
        self.signature, self.count, self.logged_at = signature, 1, at


_ACTIVE: list["Runner"] = []      # the runner whose threads may run in this process
_ACTIVE_LOCK = threading.Lock()


class Runner:
    """The loops of one app in this process."""

    def __init__(self, loops=()):
        self.loops: list[Loop] = []
        for loop in loops:
            self.add(loop)
        self._pid: int | None = None
        self._stopped = threading.Event()
        self._wakes: dict[str, threading.Event] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._failing: dict[str, _Failing] = {}

    def add(self, loop: Loop) -> None:
        if any(existing.name == loop.name for existing in self.loops):
            raise ValueError(f"two background loops named {loop.name!r}")
        self.loops.append(loop)
        loop.runner = self   # the newest app claims its loops: a wake starts its runner

    @property
    def running(self) -> bool:
        return self._pid == os.getpid() and not self._stopped.is_set()

    def ensure_running(self) -> None:
        """Start this runner's threads in this process if they are not running (cheap when they
        are). A runner that was stopped stays stopped."""
        if self._pid == os.getpid() or self._stopped.is_set():
            return
        with _ACTIVE_LOCK:
            with self._lock:
                if self._pid == os.getpid() or self._stopped.is_set():
                    return
                for other in _ACTIVE:
                    if other is not self:
                        other._stop_here()
                _ACTIVE[:] = [self]
                # After a fork the parent's threads are gone: start afresh in this process.
                self._threads, self._wakes = [], {}
                for loop in self.loops:
                    self._wakes[loop.name] = threading.Event()
                    thread = threading.Thread(target=self._run, args=(loop,),
                                              name=loop.name, daemon=True)
                    self._threads.append(thread)
                    thread.start()
                self._pid = os.getpid()

    def wake(self, loop: Loop) -> None:
        self.ensure_running()
        event = self._wakes.get(loop.name)
        if event is not None:
            event.set()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every loop and wait (up to ``timeout`` each) for the step in progress to end."""
        with _ACTIVE_LOCK:
            self._stop_here(timeout)
            if self in _ACTIVE:
                _ACTIVE.remove(self)

    def _stop_here(self, timeout: float = 15.0) -> None:
        self._stopped.set()
        for event in self._wakes.values():
            event.set()
        if self._pid == os.getpid():
            for thread in self._threads:
                if thread is not threading.current_thread():
                    thread.join(timeout)
                    if thread.is_alive():
                        log.warning("background loop %s did not stop within %.0f s",
                                    thread.name, timeout)
        for loop in self.loops:
            if loop.runner is self:
                loop.runner = None
                if loop.on_stop is not None:
                    loop.on_stop()

    def _run(self, loop: Loop) -> None:
        wake = self._wakes[loop.name]
        while not self._stopped.is_set():
            wake.wait(loop.interval())
            wake.clear()
            if not loop.enabled:
                continue
            try:
                while not self._stopped.is_set() and db.obj is not None and loop.step():
                    pass
            except Exception as exc:  # noqa: BLE001 - logged (see _failed); the next round retries
                if not self._stopped.is_set():
                    self._failed(loop, exc)
            else:
                self._recovered(loop)
        try:
            if db.obj is not None and not db.is_closed():
                db.close()   # this thread's own connection (peewee keeps one per thread)
        except Exception:  # noqa: BLE001 - a connection already gone needs no closing
            pass

    def _failed(self, loop: Loop, exc: Exception) -> None:
        """A step failed. A database that does not answer is the process's outage (one line for
        all, ``consent.core.outage``); anything else is logged with its traceback the first time,
        then at most once a minute while the same error repeats."""
        release_broken_connection()
        if outage.is_unavailable(exc):
            outage.OUTAGE.failed(exc)
            return
        signature = f"{type(exc).__name__}: {exc}"
        now = time.monotonic()
        failing = self._failing.get(loop.name)
        if failing is None or failing.signature != signature:
            self._failing[loop.name] = _Failing(signature, now)
            log.exception("background loop %s failed (retried every round)", loop.name)
            return
        failing.count += 1
        if now - failing.logged_at >= REPEAT_LOG_EVERY:
            failing.logged_at = now
            log.warning("background loop %s still failing (%d times): %s", loop.name,
                        failing.count, signature)

    def _recovered(self, loop: Loop) -> None:
        if self._failing.pop(loop.name, None) is not None:
            log.info("background loop %s runs again", loop.name)


def stop_active(timeout: float = 15.0) -> None:
    """Stop the runner active in this process, if any (before its database is replaced)."""
    runner = active()
    if runner is not None:
        runner.stop(timeout)


def active() -> Runner | None:
    """The runner whose loops run in this process, if any."""
    return _ACTIVE[0] if _ACTIVE else None
