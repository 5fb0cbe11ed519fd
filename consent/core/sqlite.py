"""SQLite under several writing processes: a kernel-queued writer lock and WAL checkpoints off the
request path, each switchable so ``make bench`` can measure them against SQLite's own mechanisms
side by side (``busy_timeout`` and ``wal_autocheckpoint``). See BENCHMARKS.md for the figures
that chose the defaults.

``CONSENT_SQLITE_WRITER_LOCK``: ``flock`` (default) or ``none``.
``CONSENT_SQLITE_CHECKPOINTS``: ``background`` (default) or ``auto``.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import sqlite3
import threading
import time

from peewee import SqliteDatabase

from .outage import OUTAGE, DatabaseUnavailable
from .scope import TransactionScope

log = logging.getLogger(__name__)

WRITER_LOCKS = ("flock", "none")
CHECKPOINTS = ("background", "auto")
AUTOCHECKPOINT_DEFAULT = 1000      # pages: SQLite's own default
AUTOCHECKPOINT_BACKSTOP = 20000    # pages (80 MB at 4 KiB): only if the checkpointer falls behind
# Truncate the WAL back to this size after a checkpoint that reset it (SQLite otherwise keeps the
# file at its high-water mark for ever).
JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024


class WriterLock:
    """One writer at a time across every process on this machine that opens the same file.

    SQLite lets one writer in and makes the others poll: its busy handler sleeps 1, 2, 5, 10 ms...
    between attempts, so a writer that arrives a moment after another sleeps while the lock sits
    free. Here writers queue on ``flock`` on a file next to the database instead, and the kernel
    wakes the next one the moment the lock is released. ``BEGIN IMMEDIATE`` and the busy timeout
    stay in force for anything that does not take this lock (the ``sqlite3`` shell, another
    program). A thread lock orders the threads of one process, which share the lock file's
    descriptor and so would all count as its holder."""

    def __init__(self, path: str):
        self.path = path
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid: int | None = None

    def acquire(self) -> None:
        self._thread_lock.acquire()
        try:
            if self._fd is None or self._pid != os.getpid():  # a forked child opens its own
                try:
                    self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                except OSError as exc:   # its directory is gone or not writable: an outage
                    raise DatabaseUnavailable(f"cannot open the writer lock: {exc}") from exc
                self._pid = os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def release(self) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()


class Checkpointer:
    """WAL checkpoints in a background thread of each process that writes, off the request path.

    SQLite's automatic checkpoint runs inside the COMMIT that pushes the WAL past its threshold:
    that request copies the WAL back into the database and waits for two fsyncs while it still
    holds the write lock. Here request connections raise the automatic threshold to
    :data:`AUTOCHECKPOINT_BACKSTOP` pages, reached only if this thread falls behind, and the thread
    runs a PASSIVE checkpoint (it blocks neither readers nor writers) at most every ``interval``
    seconds after a commit."""

    def __init__(self, path: str, interval: float = 0.25):
        self.path = path
        self.interval = interval
        self._pending = threading.Event()
        self._stopped = False
        self._pid: int | None = None
        self._start_lock = threading.Lock()

    def notify(self) -> None:
        """A transaction committed; make sure a checkpoint follows."""
        self._pending.set()
        if self._pid != os.getpid():  # first commit in this process (or in a forked child)
            with self._start_lock:
                if self._pid != os.getpid():
                    threading.Thread(target=self._run, name="wal-checkpointer",
                                     daemon=True).start()
                    self._pid = os.getpid()

    def stop(self) -> None:
        """End the thread after one last checkpoint (when the database is replaced or closed)."""
        self._stopped = True
        self._pending.set()

    def _run(self) -> None:
        conn = None
        while not self._stopped:
            self._pending.wait()
            if not self._stopped:
                time.sleep(self.interval)
            self._pending.clear()
            try:
                if conn is None:  # mode=rw: never create a file that is not there any more
                    conn = sqlite3.connect(f"file:{self.path}?mode=rw", uri=True, timeout=1.0,
                                           isolation_level=None, check_same_thread=False)
                    conn.execute(f"PRAGMA journal_size_limit = {JOURNAL_SIZE_LIMIT}")
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:  # the next commit brings another attempt
                log.warning("WAL checkpoint failed: %s", exc)
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()


def _sha256_hex(value):
    return None if value is None else hashlib.sha256(
        value if isinstance(value, bytes) else str(value).encode()).hexdigest()


class LedgerSqliteDatabase(TransactionScope, SqliteDatabase):
    """SQLite in WAL mode whose outermost transactions start with ``BEGIN IMMEDIATE`` and, with
    ``writer_lock="flock"``, hold the :class:`WriterLock` from BEGIN to COMMIT or ROLLBACK
    (savepoints inside them do not touch it); with ``checkpoints="background"`` WAL checkpoints
    run in a :class:`Checkpointer` thread."""

    def __init__(self, database, *, synchronous: str = "NORMAL", busy_timeout_ms: int = 10000,
                 writer_lock: str = "flock", checkpoints: str = "background", **kwargs):
        if writer_lock not in WRITER_LOCKS:
            raise ValueError(f"CONSENT_SQLITE_WRITER_LOCK must be one of {WRITER_LOCKS}")
        if checkpoints not in CHECKPOINTS:
            raise ValueError(f"CONSENT_SQLITE_CHECKPOINTS must be one of {CHECKPOINTS}")
        on_disk = bool(database) and database != ":memory:"
        background = on_disk and checkpoints == "background"
        super().__init__(database, pragmas={
            "journal_mode": "wal",
            "synchronous": synchronous,
            "foreign_keys": 1,
            "busy_timeout": busy_timeout_ms,
            "cache_size": -32000,
            "wal_autocheckpoint": AUTOCHECKPOINT_BACKSTOP if background
            else AUTOCHECKPOINT_DEFAULT,
            "journal_size_limit": JOURNAL_SIZE_LIMIT,
            # No memory-mapped I/O: it made no measurable difference to writes or reads here, and
            # a full scan (the export, verify) would map the whole file into the process.
            "mmap_size": 0,
            # Deleted and overwritten content is zeroed, not left in free space: an erasure's
            # old values are gone from the file once the WAL is checkpointed
            # (consent.core.rights).
            "secure_delete": 1,
        }, timeout=busy_timeout_ms / 1000, lock_type="IMMEDIATE", autoconnect=True, **kwargs)
        # The SHA-256 (hex) of a blob, as consent.core.covered reads covered blob columns.
        self.register_function(_sha256_hex, "ledger_sha256", 1, deterministic=True)
        self.writer_lock = WriterLock(f"{database}-writer.lock") if (
            on_disk and writer_lock == "flock") else None
        self.checkpointer = Checkpointer(database) if background else None
        self._holding = threading.local()

    def _connect(self):
        if self.database and self.database != ":memory:":
            try:
                _create_private(self.database)
            except OSError as exc:   # its directory is gone or not writable: an outage
                raise DatabaseUnavailable(f"unable to open database file: {exc}") from exc
        return super()._connect()

    def execute_sql(self, sql, params=None, *args, **kwargs):
        cursor = super().execute_sql(sql, params, *args, **kwargs)
        if OUTAGE.active:   # the database answers: an outage this process saw is over
            OUTAGE.ok()
        return cursor

    def begin(self, lock_type=None):
        if self.writer_lock is None:
            return super().begin(lock_type)
        self.writer_lock.acquire()
        self._holding.value = True
        try:
            super().begin(lock_type)
        except BaseException:
            self._release_writer()
            raise

    def commit(self):
        try:
            super().commit()
        finally:
            self._release_writer()
        if self.checkpointer is not None:
            self.checkpointer.notify()

    def rollback(self):
        try:
            super().rollback()
        finally:
            self._release_writer()

    def _release_writer(self):
        if getattr(self._holding, "value", False):
            self._holding.value = False
            self.writer_lock.release()

    def retire(self) -> None:
        """Stop background work (the database is being replaced)."""
        if self.checkpointer is not None:
            self.checkpointer.stop()


def _create_private(path: str) -> None:
    """Create the database file owner-only (0600) before SQLite creates it with the process umask:
    it holds shared secrets and personal data. SQLite gives its WAL and shared-memory files the
    database file's own mode."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
