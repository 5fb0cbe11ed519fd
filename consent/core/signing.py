"""The installation's checkpoint signing key: Ed25519, kept in a directory of files.

Layout of the key directory (``CONSENT_CHECKPOINT_KEY_DIR``, default ``instance/checkpoint-keys``,
created 0700)::

    current            the id of the key that signs now (one line)
    <key id>.key       that key's private half, PKCS#8 PEM, mode 0600 (only the current key's)
    <key id>.json      every key the installation ever had: {"key_id", "algorithm",
                       "public_key" (PEM), "created_at", "retired_at"}

* The first key is made the first time one is needed. Each file is written whole to a temporary
  file (mode 0600) and then linked into place, and ``current`` is linked last: a process never
  reads a partial key, and of processes racing to make the first key exactly one wins (the others
  remove their own files and read the winner's).
* :meth:`KeyStore.rotate` (``flask --app app audit key rotate``) makes a new key, marks the old
  one retired, points ``current`` at the new one (an atomic rename) and deletes the old private
  key: it never signs again, and its public key stays, so the checkpoints it signed still verify.
  Rotations are serialised by an ``flock`` on ``.lock`` in the directory.
* The key is read from the files at every signing (signing is rare), so every process, and every
  instance that shares the directory, signs with the current key right after a rotation.
  Several instances on one PostgreSQL database must share one directory (a shared volume), or
  be handed copies after each rotation; otherwise each signs with a key of its own and
  verifiers need every instance's public keys.
* The private key is never logged nor printed; ``audit key show`` prints public keys only.
"""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from auditchain import checkpoint as rules

from . import ids

log = logging.getLogger(__name__)


def _now() -> str:
    return rules.format_at(dt.datetime.now(dt.timezone.utc))


class KeyStore:
    def __init__(self, directory: str | os.PathLike):
        self.dir = Path(directory)

    # -- files -------------------------------------------------------------------------------

    def _ensure_dir(self) -> None:
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _temp(self, data: bytes) -> str:
        fd, tmp = tempfile.mkstemp(prefix=".tmp.", dir=self.dir)  # mode 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException:
            os.unlink(tmp)
            raise
        return tmp

    def _link_new(self, name: str, data: bytes) -> None:
        """Write a file that must not exist yet, whole (FileExistsError if it does)."""
        tmp = self._temp(data)
        try:
            os.link(tmp, self.dir / name)
        finally:
            os.unlink(tmp)

    def _replace(self, name: str, data: bytes) -> None:
        os.replace(self._temp(data), self.dir / name)

    def _sync_dir(self) -> None:
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    @contextmanager
    def _locked(self):
        self._ensure_dir()
        fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # -- keys --------------------------------------------------------------------------------

    def _write_key(self) -> str:
        """A new key's files (private and public); returns its id. ``current`` is not touched."""
        # 32 bytes from the CSPRNG (as generate() draws them), or, in deterministic mode
        # (CONSENT_SEED), from the key stream: a fresh key directory gets the same key
        private = Ed25519PrivateKey.from_private_bytes(ids.token_bytes(32, "signing-key"))
        key_id = rules.key_id(private.public_key())
        self._link_new(f"{key_id}.key", private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        self._link_new(f"{key_id}.json", self._info(key_id, private.public_key(), _now(), None))
        return key_id

    @staticmethod
    def _info(key_id: str, public: Ed25519PublicKey, created_at: str, retired_at) -> bytes:
        return (json.dumps({"key_id": key_id, "algorithm": "Ed25519",
                            "public_key": rules.public_pem(public), "created_at": created_at,
                            "retired_at": retired_at}, indent=1) + "\n").encode()

    def _create_first(self) -> None:
        self._ensure_dir()
        key_id = self._write_key()
        try:
            self._link_new("current", f"{key_id}\n".encode())
        except FileExistsError:  # another process made the first key first: use its key
            for suffix in (".key", ".json"):
                (self.dir / f"{key_id}{suffix}").unlink(missing_ok=True)
            return
        self._sync_dir()
        log.info("checkpoint signing key %s created in %s", key_id, self.dir)

    def current_id(self) -> str | None:
        try:
            return (self.dir / "current").read_text().strip()
        except FileNotFoundError:
            return None

    def current(self) -> tuple[str, Ed25519PrivateKey]:
        """The key that signs now (made if there is none yet): (key id, private key)."""
        for _ in range(5):
            key_id = self.current_id()
            if key_id is None:
                self._create_first()
                continue
            try:
                pem = (self.dir / f"{key_id}.key").read_bytes()
            except FileNotFoundError:  # rotated between the two reads: read current again
                continue
            key = serialization.load_pem_private_key(pem, password=None)
            if not isinstance(key, Ed25519PrivateKey) or rules.key_id(key.public_key()) != key_id:
                raise RuntimeError(f"{self.dir / (key_id + '.key')} is not the Ed25519 key "
                                   f"{key_id}")
            return key_id, key
        raise RuntimeError(f"no usable checkpoint signing key in {self.dir}")

    def rotate(self) -> tuple[str | None, str]:
        """Make a new current key and retire the old one: (old id or None, new id)."""
        with self._locked():
            old = self.current_id()
            if old is None:
                self._create_first()
                return None, self.current_id()
            new = self._write_key()
            info = self._read_info(old)
            if info is not None:
                info["retired_at"] = _now()
                self._replace(f"{old}.json", (json.dumps(info, indent=1) + "\n").encode())
            self._replace("current", f"{new}\n".encode())
            (self.dir / f"{old}.key").unlink(missing_ok=True)
            self._sync_dir()
        log.info("checkpoint signing key rotated: %s retired, %s signs now", old, new)
        return old, new

    def _read_info(self, key_id: str) -> dict | None:
        try:
            return json.loads((self.dir / f"{key_id}.json").read_text())
        except FileNotFoundError:
            return None

    def keys(self) -> list[dict]:
        """Every key the installation has had (public halves), oldest first, with ``current``."""
        current = self.current_id()
        out = []
        for path in self.dir.glob("*.json") if self.dir.is_dir() else ():
            try:
                info = json.loads(path.read_text())
                public = rules.load_public_keys(info["public_key"])
            except (ValueError, KeyError, TypeError):
                log.warning("%s is not a checkpoint key description; ignored", path)
                continue
            if info.get("key_id") not in public:   # a description must describe its own key
                log.warning("%s does not hold the key it names; ignored", path)
                continue
            out.append({**info, "current": info["key_id"] == current})
        return sorted(out, key=lambda k: (k["created_at"], k["key_id"]))

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        """Every known public key, by key id: those a checkpoint may be signed with."""
        keys = {}
        for info in self.keys():
            keys.update(rules.load_public_keys(info["public_key"]))
        return keys
