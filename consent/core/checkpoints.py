"""Signed checkpoints of the audit chain: what catches a chain rewritten from the inside.

The chain has no key: someone who can write the database can edit an event (or a consent and its
recording event), re-hash every event after it with this project's own functions, and verify
passes again; only the head hash changes. As Certificate Transparency does with its signed tree
heads, the service signs checkpoints, ``{org, seq, head_hash, at, key_id, signature}`` (the
format, the signed message and the key id are defined in ``auditchain.checkpoint``), with a key
the database does not hold (``consent.core.signing``). A checkpoint kept anywhere else proves what
the chain was: ``flask --app app audit verify --checkpoint FILE`` and the standalone
``python -m auditchain`` fail, naming the checkpoint, when the chain no longer extends it.

* **Issuing.** ``GET /ledger/v1/audit/checkpoint`` and ``flask --app app audit checkpoint`` sign
  the organisation's current head. Every checkpoint issued is kept (:class:`AuditCheckpoint`,
  table ``audit_checkpoint``), one per head and key: asked again while the head has not moved,
  the kept one answers (after its signature is checked again). Issuing is bookkeeping, like a
  verification pass: it adds no event to the chain it signs.
* **Witnesses.** A checkpoint only protects where a rewriter cannot reach it. With a witness
  configured, a background loop in each serving process (:data:`WITNESS`, every
  ``CONSENT_CHECKPOINT_POLL_SECONDS``) issues a checkpoint for each organisation whose head
  moved since the last one it sent, once ``CONSENT_CHECKPOINT_EVERY_EVENTS`` events were added or
  ``CONSENT_CHECKPOINT_EVERY_MINUTES`` passed (0 switches either off), and sends it to:

  - ``CONSENT_CHECKPOINT_WITNESS_URL``: POSTed as JSON through the durable webhook outbox
    (topic ``audit.checkpoint``), queued in the checkpoint's own transaction, retried like every
    webhook;
  - ``CONSENT_CHECKPOINT_WITNESS_FILE``: appended as one JSON line to a file outside the
    database (never inside the instance folder, nor the database's own files), created
    owner-only (0600). Each line is one ``write`` to a file opened ``O_APPEND`` under an
    exclusive ``flock``, then fsynced, then marked written: a crash in between writes the line
    again (an identical line), never loses it.

  Several processes (gunicorn workers, instances on one PostgreSQL database) decide under the
  organisation's write lock, so a head is witnessed once.
* **Verifying** (:func:`verify_files`): each checkpoint's signature against the known public keys
  (unknown key or bad signature: refused), then that its organisation's chain verifies and its
  event ``seq`` has the hash ``head_hash`` (``auditchain.checkpoint.judge``).
* **Export** (:func:`write_export`): the organisation's events as JSON Lines, every field the hash
  covers and the hash, oldest first, written owner-only: what the standalone verifier reads.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from auditchain import checkpoint as rules
from auditchain.hashing import CONTENT_FIELDS, GENESIS, canonical_json

from . import audit, background, ledger, outbox, queries, sql
from .signing import KeyStore
# The table of checkpoints is the core's (storage); named here too, where it is written.
from .storage import AuditCheckpoint, transaction, utcnow

log = logging.getLogger(__name__)

TOPIC = "audit.checkpoint"


# -- configuration -----------------------------------------------------------------------------

class Config:
    key_dir: Path | None = None
    witness_url: str = ""
    witness_file: Path | None = None
    every_events: int = 1000
    every_minutes: float = 60.0
    poll_seconds: float = 10.0


CONFIG = Config()


def init_app(app) -> None:
    """Read the CONSENT_CHECKPOINT_* settings (``create_app``); ValueError on a witness that
    cannot be one."""
    config = app.config
    instance = Path(app.instance_path).resolve()
    key_dir = Path(config.get("CONSENT_CHECKPOINT_KEY_DIR") or instance / "checkpoint-keys")
    url = (config.get("CONSENT_CHECKPOINT_WITNESS_URL") or "").strip()
    if url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
        raise ValueError(f"CONSENT_CHECKPOINT_WITNESS_URL must be an http(s) URL, not {url!r}")
    path = (config.get("CONSENT_CHECKPOINT_WITNESS_FILE") or "").strip()
    witness_file = witness_file_path(path, instance, config["CONSENT_DATABASE_URL"],
                                     key_dir) if path else None
    CONFIG.key_dir, CONFIG.witness_url, CONFIG.witness_file = key_dir, url, witness_file
    CONFIG.every_events = int(config.get("CONSENT_CHECKPOINT_EVERY_EVENTS", 1000))
    CONFIG.every_minutes = float(config.get("CONSENT_CHECKPOINT_EVERY_MINUTES", 60.0))
    CONFIG.poll_seconds = float(config.get("CONSENT_CHECKPOINT_POLL_SECONDS", 10.0))


def witness_file_path(path: str, instance: Path, database_url: str, key_dir: Path) -> Path:
    """The witness file, absolute; ValueError if it is where a rewriter of the database reaches
    it anyway: the database's own files, the instance folder, the key directory."""
    target = Path(path).expanduser()
    if not target.is_absolute():
        raise ValueError(f"CONSENT_CHECKPOINT_WITNESS_FILE must be an absolute path, not {path!r}")
    target = target.parent.resolve() / target.name
    if not target.parent.is_dir():
        raise ValueError(f"CONSENT_CHECKPOINT_WITNESS_FILE: no directory {target.parent}")
    if target.is_dir():
        raise ValueError(f"CONSENT_CHECKPOINT_WITNESS_FILE is a directory: {target}")
    forbidden = [instance, key_dir.resolve()]
    if database_url.startswith("sqlite:///"):
        database = Path(database_url[len("sqlite:///"):].split("?")[0]).resolve()
        if target.name.startswith(database.name) and target.parent == database.parent:
            raise ValueError("CONSENT_CHECKPOINT_WITNESS_FILE must be outside the database: "
                             f"{target} is one of the database's files")
    for folder in forbidden:
        if target.is_relative_to(folder):
            raise ValueError(f"CONSENT_CHECKPOINT_WITNESS_FILE must be outside {folder}: a "
                             "witness kept with the database is rewritten with it")
    return target


def store():
    """The installation's signing keys (``consent.core.signing``)."""
    if CONFIG.key_dir is None:
        raise RuntimeError("checkpoints are not configured (create_app calls init_app)")
    return KeyStore(CONFIG.key_dir)


# -- issuing -------------------------------------------------------------------------------------

def head(org_id: str) -> tuple[int, str]:
    """The chain's head: (seq, hash); (0, 64 zeros) for an empty chain."""
    row = queries.AUDIT_HEAD.execute((org_id,)).fetchone()
    return (row[0], row[1]) if row else (0, GENESIS)


def as_checkpoint(row) -> rules.Checkpoint:
    return rules.Checkpoint(row.org_id, row.seq, row.head_hash, rules.format_at(row.at),
                            row.key_id, row.signature)


def _kept(org_id: str, seq: int, head_hash: str, key_id: str):
    return queries.CHECKPOINT_KEPT.one((org_id, seq, head_hash, key_id, 1))


def _good(row, key) -> bool:
    """A kept row whose signature still holds (a row edited in the database is never handed
    out: a fresh checkpoint is signed instead)."""
    return row is not None and rules.check_signature(
        as_checkpoint(row), {row.key_id: key.public_key()}) is None


def _issue_locked(org_id: str, origin: str, key_id: str, key):
    """In a transaction holding the organisation's lock: the kept checkpoint of the current head
    and key, or a new one signed now."""
    seq, head_hash = head(org_id)
    row = _kept(org_id, seq, head_hash, key_id)
    if _good(row, key):
        return row
    at = utcnow()
    cp = rules.sign(key, org_id, seq, head_hash, rules.format_at(at))
    if row is not None:  # kept, but its signature no longer holds: someone edited it
        log.warning("checkpoint %s of organisation %s was altered in the database; signed anew",
                    row.id, org_id)
        sql.update(AuditCheckpoint, row.id, {"at": at, "signature": cp.signature})
        return queries.CHECKPOINT_BY_ID.one((row.id,))
    return sql.create(AuditCheckpoint, org_id=org_id, seq=seq, head_hash=head_hash, at=at,
                      key_id=cp.key_id, signature=cp.signature, origin=origin)


def issue(org_id: str, origin: str = "request") -> rules.Checkpoint:
    """The signed checkpoint of the organisation's current head (kept, or signed now)."""
    key_id, key = store().current()
    seq, head_hash = head(org_id)
    row = _kept(org_id, seq, head_hash, key_id)
    if not _good(row, key):
        with transaction():
            audit.lock_org(org_id)
            row = _issue_locked(org_id, origin, key_id, key)
    return as_checkpoint(row)


def listing(org_id: str, limit: int = 50) -> list:
    """The organisation's kept checkpoints, newest first."""
    return queries.CHECKPOINTS_OF_ORG.all((org_id, limit))


def describe(row) -> dict:
    return {**as_checkpoint(row).as_dict(), "origin": row.origin, "witnessed": row.witnessed,
            "witness_file": row.witness_file}


# -- the schedule and the witnesses ------------------------------------------------------------------

def _last_witnessed(org_id: str):
    return queries.LAST_WITNESSED.one((org_id, True, 1))


def _due(org_id: str, now: dt.datetime) -> bool:
    seq, _ = head(org_id)
    last = _last_witnessed(org_id)
    last_seq = last.seq if last else 0
    if seq <= last_seq:
        return False
    if CONFIG.every_events and seq - last_seq >= CONFIG.every_events:
        return True
    return bool(CONFIG.every_minutes) and (
        last is None or now - last.at >= dt.timedelta(minutes=CONFIG.every_minutes))


def witness_due(now: dt.datetime | None = None) -> int:
    """Issue and send a checkpoint for every organisation that is due; returns how many."""
    if not (CONFIG.witness_url or CONFIG.witness_file):
        return 0
    now = now or utcnow()
    sent = 0
    keys = None
    for org_id in ledger.all_org_ids():
        if not _due(org_id, now):
            continue
        keys = keys or store()
        key_id, key = keys.current()
        with transaction():
            audit.lock_org(org_id)
            if not _due(org_id, now):  # another process got here first
                continue
            row = _issue_locked(org_id, "schedule", key_id, key)
            cp = as_checkpoint(row)
            changes = {"witnessed": True}
            if CONFIG.witness_file:
                changes["witness_file"] = "pending"
            sql.update(AuditCheckpoint, row.id, changes)
            if CONFIG.witness_url:
                outbox.enqueue(org_id, topic=TOPIC, url=CONFIG.witness_url,
                               body=json.dumps(cp.as_dict()),
                               headers={"Content-Type": "application/json"},
                               reference=str(cp.seq))
        sent += 1
    return sent


def write_witness_file(limit: int = 500) -> int:
    """Append the checkpoints waiting for the witness file; returns how many lines."""
    path = CONFIG.witness_file
    if path is None:
        return 0
    if not queries.WITNESS_PENDING.all((1,)):
        return 0
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # one process appends at a time
        rows = queries.WITNESS_PENDING.all((limit,))
        for row in rows:
            os.write(fd, (json.dumps(as_checkpoint(row).as_dict()) + "\n").encode())
        os.fsync(fd)
        if rows:
            with transaction():
                for chunk in sql.chunks([r.id for r in rows]):
                    queries.witness_written(sql.padded(len(chunk))).execute(sql.pad(chunk))
    finally:
        os.close(fd)   # and with it the lock
    return len(rows)


def run_witness() -> bool:
    """The witness loop's step: issue what is due, write the witness file. True if the file has
    more lines waiting."""
    witness_due()
    return write_witness_file() >= 500


WITNESS = background.Loop("audit-checkpoints", run_witness, lambda: CONFIG.poll_seconds)


# -- verifying ----------------------------------------------------------------------------------



def verify_files(paths) -> list[tuple[bool, str]]:
    """Check every checkpoint in the files against the database's chains and the known keys:
    (ok, line to print) per checkpoint, in the order given."""
    keys = store().public_keys()
    entries = [entry for path in paths for entry in rules.read_file(path)]
    chains: dict[str, tuple] = {}
    out = []
    for where, cp in entries:
        if isinstance(cp, str):
            out.append((False, f"REFUSED: checkpoint {where}: {cp}"))
            continue
        refused = rules.check_signature(cp, keys)
        if refused:
            out.append((False, f"REFUSED: checkpoint {where} ({cp.describe()}): {refused}"))
            continue
        if cp.org not in chains:
            org = ledger.org_by_id(cp.org)
            chains[cp.org] = (org, audit.verify_chain(cp.org) if org else None)
        org, chain = chains[cp.org]
        label = f"{where} (org {org.slug if org else cp.org} seq {cp.seq} at {cp.at}, " \
                f"key {cp.key_id})"
        if org is None:
            out.append((False, f"BROKEN: checkpoint {label}: no organisation {cp.org} here"))
            continue
        reason = rules.judge(
            cp, keys, org=org.id, head_seq=chain.checked,
            hash_at=lambda seq, org_id=org.id: _hash_at(org_id, seq),
            broken_at=None if chain.ok else chain.first_bad_seq)
        if reason:
            out.append((False, f"BROKEN: checkpoint {label}: {reason}"))
        else:
            out.append((True, f"OK: checkpoint {label}: the chain extends it"))
    return out


def _hash_at(org_id: str, seq: int) -> str | None:
    row = queries.AUDIT_EVENT_AT.one((org_id, seq))
    return row.hash if row else None


# -- export ---------------------------------------------------------------------------------------

def export_lines(org_id: str, batch: int = 2000):
    """The organisation's events as JSON Lines (every field the hash covers, and the hash)."""
    last_seq = 0
    while True:
        rows = queries.AUDIT_AFTER.all((org_id, last_seq, batch))
        for e in rows:
            record = audit.event_content(e)
            record["hash"] = e.hash
            yield canonical_json({name: record[name] for name in (*CONTENT_FIELDS, "hash")}) + "\n"
            last_seq = e.seq
        if len(rows) < batch:
            return


def write_export(org_id: str, path: str) -> int:
    """Write the export to ``path`` whole (a temporary file, mode 0600, renamed into place);
    returns the number of events."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for line in export_lines(org_id):
                fh.write(line)
                count += 1
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return count

