"""Configuration: defaults in code, then ``instance/config.py``, then ``CONSENT_*`` environment variables.

Every setting is an upper-case Flask config key. The environment variable for a key is the key
itself when it already starts with ``CONSENT_`` (``CONSENT_DATABASE_URL``), else ``CONSENT_`` + key.
"""
from __future__ import annotations

import hashlib
import logging
import os
import secrets
import stat
import tempfile
from pathlib import Path

DEFAULTS = {
    # sqlite:///<path> or postgresql://user:pass@host:port/db (playhouse.db_url). Empty means
    # instance/consent.sqlite3.
    "CONSENT_DATABASE_URL": "",
    # Signs session tokens and consent links. Generated once into instance/secret_key if unset.
    "CONSENT_SECRET_KEY": "",
    # Base of the links the service hands out (consent links, Veriff session URLs). Empty: the
    # scheme, host and port each request reached (so a service on another port links to itself).
    "CONSENT_PUBLIC_URL": "",
    # SQLite durability: NORMAL survives process crashes; FULL survives power loss too.
    "CONSENT_SQLITE_SYNCHRONOUS": "NORMAL",
    # Milliseconds a writer waits for the SQLite write lock.
    "CONSENT_SQLITE_BUSY_TIMEOUT_MS": 10000,
    # flock: writers of every process queue on a file lock; none: SQLite's busy handler alone.
    "CONSENT_SQLITE_WRITER_LOCK": "flock",
    # background: WAL checkpoints in a thread after commits; auto: SQLite's own, inside COMMIT.
    "CONSENT_SQLITE_CHECKPOINTS": "background",
    # Largest accepted request body, in bytes.
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    # Longest lifetime a bearer session token may be given, in seconds.
    "CONSENT_SESSION_MAX_AGE": 30 * 24 * 3600,
    # the operator console: how long a sign-in link and a signed-in session last (seconds)
    "CONSENT_CONSOLE_LINK_MAX_AGE": 15 * 60,
    "CONSENT_CONSOLE_SESSION_SECONDS": 8 * 3600,
    # smtp://user:pass@host:port (or smtps://). Empty: mail goes to the local outbox.
    "CONSENT_SMTP_URL": "",
    "CONSENT_MAIL_FROM": "consent@localhost",
    # Origins whose pages may call the header-authenticated provider APIs (CORS), separated by
    # spaces or commas: an exact origin (https://app.example.com), a port wildcard
    # (http://localhost:*), a subdomain wildcard (https://*.example.com), or * for any origin.
    # The default lets a page on any local port use the service (a local demo works as is).
    "CONSENT_CORS_ORIGINS": "http://localhost:* http://127.0.0.1:*",
    # Who may frame the pages that may be framed (Veriff's session page, for the InContext SDK):
    # CSP frame-ancestors sources, the same forms as above plus 'self'.
    "CONSENT_FRAME_ANCESTORS": "'self' http://localhost:* http://127.0.0.1:*",
    # Webhooks (the durable outbox): attempts before a delivery is marked failed, the wait
    # before the second attempt (doubling after each, up to the cap), and each attempt's timeout.
    "CONSENT_WEBHOOK_MAX_ATTEMPTS": 8,
    "CONSENT_WEBHOOK_BACKOFF_BASE": 2.0,
    "CONSENT_WEBHOOK_BACKOFF_CAP": 3600.0,
    "CONSENT_WEBHOOK_TIMEOUT": 10.0,
    # Networks webhooks may reach besides public addresses (CIDRs, separated by spaces or
    # commas). Private, link-local (cloud metadata), multicast and unspecified addresses are
    # refused, and loopback too unless listed: the default lists it so a receiver on this machine
    # (a local stub, the tests') works as it is. Empty: public addresses only.
    "CONSENT_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8 ::1/128",
    # On a database whose schema is older than this code: False, answer 503 (and /readyz 503)
    # until `flask --app app migrate` has run; True, migrate first (under the migration lock).
    "CONSENT_AUTO_MIGRATE": False,
    # Seconds of work one GET /ledger/v1/audit/verify may do (keep it under the worker timeout).
    "CONSENT_VERIFY_BUDGET": 10.0,
    # Signed checkpoints of the audit chain (consent.core.checkpoints). The Ed25519 signing key's
    # directory (empty: instance/checkpoint-keys); instances sharing a database share it.
    "CONSENT_CHECKPOINT_KEY_DIR": "",
    # Witnesses the schedule sends checkpoints to: a URL (POSTed through the webhook outbox)
    # and/or an absolute file path outside the instance folder (one JSON line per checkpoint).
    # Neither set: no scheduled checkpoints.
    "CONSENT_CHECKPOINT_WITNESS_URL": "",
    "CONSENT_CHECKPOINT_WITNESS_FILE": "",
    # A checkpoint is due when the head moved and this many events were added, or this many
    # minutes passed, since the last one sent (0 switches either off); checked this often.
    "CONSENT_CHECKPOINT_EVERY_EVENTS": 1000,
    "CONSENT_CHECKPOINT_EVERY_MINUTES": 60.0,
    "CONSENT_CHECKPOINT_POLL_SECONDS": 10.0,
    # Seconds a Veriff session lives from its creation (Veriff's 7 days); past it, a session
    # not started is decided expired and one started but not submitted abandoned (9104).
    "CONSENT_VERIFF_SESSION_LIFETIME": 7 * 24 * 3600.0,
    # The stub for client test suites (consent.control): the /_control API (reset, clock,
    # faults, request journal, state), off by default; never on a service holding real records.
    "CONSENT_CONTROL": False,
    # Deterministic mode (consent.core.ids): ids, tokens, keys and numbers drawn from this seed.
    # Refused with a non-loopback bind unless CONSENT_SEED_FORCE is set.
    "CONSENT_SEED": "",
    "CONSENT_SEED_FORCE": False,
}

INT_KEYS = {"CONSENT_SQLITE_BUSY_TIMEOUT_MS", "MAX_CONTENT_LENGTH", "CONSENT_SESSION_MAX_AGE",
            "CONSENT_CONSOLE_LINK_MAX_AGE", "CONSENT_CONSOLE_SESSION_SECONDS",
            "CONSENT_WEBHOOK_MAX_ATTEMPTS", "CONSENT_CHECKPOINT_EVERY_EVENTS"}
FLOAT_KEYS = {"CONSENT_VERIFF_SESSION_LIFETIME", "CONSENT_WEBHOOK_BACKOFF_BASE", "CONSENT_WEBHOOK_BACKOFF_CAP",
              "CONSENT_WEBHOOK_TIMEOUT", "CONSENT_VERIFY_BUDGET",
              "CONSENT_CHECKPOINT_EVERY_MINUTES", "CONSENT_CHECKPOINT_POLL_SECONDS"}


BOOL_KEYS = {"CONSENT_AUTO_MIGRATE", "CONSENT_CONTROL", "CONSENT_SEED_FORCE"}


def env_name(key: str) -> str:
    return key if key.startswith("CONSENT_") else "CONSENT_" + key


def load(app, test_config: dict | None = None) -> None:
    """Fill ``app.config`` in order: defaults, instance/config.py, environment, test_config."""
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        for key in list(DEFAULTS):
            value = os.environ.get(env_name(key))
            if value is not None:
                app.config[key] = (int(value) if key in INT_KEYS
                                   else float(value) if key in FLOAT_KEYS
                                   else value.strip().lower() in ("1", "true", "yes", "on")
                                   if key in BOOL_KEYS else value)
    else:
        app.config.from_mapping(test_config)

    instance = Path(app.instance_path)
    owner_only_folder(instance)
    if not app.config["CONSENT_DATABASE_URL"]:
        app.config["CONSENT_DATABASE_URL"] = f"sqlite:///{instance / 'consent.sqlite3'}"
    seed = str(app.config.get("CONSENT_SEED") or "").strip()
    if seed and not app.config["CONSENT_SECRET_KEY"]:
        # deterministic mode: the signing key follows from the seed, so tokens repeat too
        app.config["CONSENT_SECRET_KEY"] = hashlib.sha256(
            f"consent-ledger.seed:{seed}".encode()).hexdigest()
    if not app.config["CONSENT_SECRET_KEY"]:
        app.config["CONSENT_SECRET_KEY"] = instance_secret(instance / "secret_key")
    app.config["SECRET_KEY"] = app.config["CONSENT_SECRET_KEY"]
    app.config["CONSENT_PUBLIC_URL"] = app.config["CONSENT_PUBLIC_URL"].rstrip("/")


def owner_only_folder(path: Path) -> None:
    """Create the instance folder 0700, or make an existing one 0700 (a fresh clone's is 0755:
    git keeps no folder modes), since it holds the database and the secret key."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode != 0o700:
        try:
            os.chmod(path, 0o700)
        except PermissionError:  # not ours to change: say so rather than refuse to start
            logging.getLogger(__name__).warning(
                "%s is mode %04o and not this user's to change: make it 0700", path, mode)


def instance_secret(path: Path) -> str:
    """Read the generated secret key, creating it once (mode 0600) if absent.

    The key is written whole to a temporary file and then linked into place, which fails if
    another process got there first: no process ever reads a partly written key."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=".secret_key.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process won the race; its key is whole
            pass
    finally:
        os.unlink(tmp)
    return path.read_text().strip()
