"""Signed checkpoints of the audit chain, as Certificate Transparency signs its tree heads.

A checkpoint says "the chain of organisation ``org`` had ``seq`` events and its newest one had the
hash ``head_hash``, at ``at``", signed with the installation's Ed25519 key::

    {"org": "<organisation id>", "seq": 42, "head_hash": "<64 hex>",
     "at": "2025-01-31T12:00:00.000000Z", "key_id": "<16 hex>", "signature": "<base64>"}

* ``org`` is the organisation's id (the ``org`` every event's hash covers, which
  ``X-Org-Id`` also accepts); ``seq`` counts events (0 for an empty chain, whose ``head_hash`` is
  64 zeros); ``at`` is UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.
* The signature is Ed25519 (RFC 8032) over the UTF-8 bytes of this text, each line ending in
  ``\\n``, and is written in standard base64 (with padding)::

      consent-ledger checkpoint v1
      <org>
      <seq in decimal>
      <head_hash>
      <at>

  No field may hold a line break, ``seq`` is a plain decimal integer and ``head_hash`` is lower
  case hex, so one text reads one way only. Any Ed25519 library verifies it.
* ``key_id`` names the key: the first 16 hex digits of the SHA-256 of the raw 32-byte public key.
  It is not signed (a wrong one only makes the right key unknown).

A checkpoint proves a chain *extends* it when the chain verifies (every hash recomputed, every
link checked) and its event ``seq`` has the hash ``head_hash``: since each hash covers the one
before it, events 1..seq are then exactly those the checkpoint saw. A chain re-hashed after an
edit has other hashes from the edited event on, so every checkpoint issued after that event and
before the edit fails.

Standard library and ``cryptography`` only: see the package's docstring.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

VERSION_LINE = "consent-ledger checkpoint v1"
FIELDS = ("org", "seq", "head_hash", "at", "key_id", "signature")

HEX64 = re.compile(r"[0-9a-f]{64}")
AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
KEY_ID = re.compile(r"[0-9a-f]{16}")
ORG = re.compile(r"[^\r\n]{1,200}")
PEM_BLOCK = re.compile(r"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.S)


@dataclass(frozen=True)
class Checkpoint:
    org: str
    seq: int
    head_hash: str
    at: str
    key_id: str
    signature: str

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in FIELDS}

    def describe(self) -> str:
        return f"org {self.org} seq {self.seq} at {self.at} (key {self.key_id})"


def format_at(value: dt.datetime) -> str:
    """A checkpoint's time: UTC, ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (a naive value is UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds") + "Z"


def message(org: str, seq: int, head_hash: str, at: str) -> bytes:
    """The bytes a checkpoint's signature covers (refuses values that would make it ambiguous)."""
    if not isinstance(org, str) or not ORG.fullmatch(org):
        raise ValueError("org must be 1-200 characters without a line break")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise ValueError("seq must be a non-negative integer")
    if not isinstance(head_hash, str) or not HEX64.fullmatch(head_hash):
        raise ValueError("head_hash must be 64 lower-case hex digits")
    if not isinstance(at, str) or not AT.fullmatch(at):
        raise ValueError("at must be YYYY-MM-DDTHH:MM:SS.ffffffZ")
    return f"{VERSION_LINE}\n{org}\n{seq}\n{head_hash}\n{at}\n".encode()


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """A public key's id: the first 16 hex digits of the SHA-256 of its raw 32 bytes."""
    return hashlib.sha256(raw_public_key(key)).hexdigest()[:16]


def public_pem(key: Ed25519PublicKey) -> str:
    """A public key as PEM (SubjectPublicKeyInfo), what verifiers are handed."""
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_keys(text: str) -> dict[str, Ed25519PublicKey]:
    """Every Ed25519 public key in a text of PEM blocks, by key id. Raises ValueError if the text
    holds none, or a block that is not an Ed25519 public key."""
    keys = {}
    blocks = PEM_BLOCK.findall(text)
    if not blocks:
        raise ValueError("no PEM public key (-----BEGIN PUBLIC KEY-----) found")
    for block in blocks:
        try:
            key = serialization.load_pem_public_key(block.encode())
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise ValueError(f"not a public key: {exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        keys[key_id(key)] = key
    return keys


def sign(private_key: Ed25519PrivateKey, org: str, seq: int, head_hash: str,
         at: str) -> Checkpoint:
    signature = private_key.sign(message(org, seq, head_hash, at))
    return Checkpoint(org, seq, head_hash, at, key_id(private_key.public_key()),
                      base64.b64encode(signature).decode())


def parse(data) -> Checkpoint:
    """A checkpoint from its JSON object; ValueError naming what is wrong with it."""
    if not isinstance(data, dict):
        raise ValueError("a checkpoint is a JSON object")
    missing = [name for name in FIELDS if name not in data]
    if missing:
        raise ValueError(f"missing field(s): {', '.join(missing)}")
    cp = Checkpoint(**{name: data[name] for name in FIELDS})
    message(cp.org, cp.seq, cp.head_hash, cp.at)  # the fields' forms
    if not isinstance(cp.key_id, str) or not KEY_ID.fullmatch(cp.key_id):
        raise ValueError("key_id must be 16 lower-case hex digits")
    if not isinstance(cp.signature, str):
        raise ValueError("signature must be base64 text")
    return cp


def check_signature(cp: Checkpoint, keys: dict[str, Ed25519PublicKey]) -> str | None:
    """Why the checkpoint's signature is not good under the known keys, or None if it is."""
    key = keys.get(cp.key_id)
    if key is None:
        return f"signed by an unknown key {cp.key_id}"
    try:
        signature = base64.b64decode(cp.signature, validate=True)
    except (binascii.Error, ValueError):
        return "the signature is not base64"
    try:
        key.verify(signature, message(cp.org, cp.seq, cp.head_hash, cp.at))
    except InvalidSignature:
        return f"bad signature (key {cp.key_id})"
    return None


def read_file(path: str) -> list[tuple[str, Checkpoint | str]]:
    """The checkpoints of a file: one JSON object, or JSON Lines of them (blank lines skipped).
    Each entry is (where: ``path`` or ``path:line``, the checkpoint or why it cannot be read)."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except UnicodeDecodeError:
        return [(path, "not UTF-8 text")]
    try:
        whole = json.loads(text)
    except ValueError:
        whole = None
    if isinstance(whole, dict):
        return [(path, _parsed(whole))]
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            out.append((where, _parsed(json.loads(line))))
        except ValueError as exc:
            out.append((where, f"not JSON: {exc}"))
    if not out:
        out.append((path, "holds no checkpoint"))
    return out


def _parsed(data) -> Checkpoint | str:
    try:
        return parse(data)
    except (ValueError, TypeError) as exc:
        return f"not a checkpoint: {exc}"


def judge(cp: Checkpoint, keys: dict[str, Ed25519PublicKey], *, org: str | None,
          head_seq: int, hash_at, broken_at: int | None = None) -> str | None:
    """Why a chain does not extend a checkpoint, or None if it does.

    ``org``: the organisation the chain is of; ``head_seq``: its last event verified;
    ``hash_at(seq)``: the hash of its event ``seq`` (only called for 1..head_seq);
    ``broken_at``: the seq where the chain stopped verifying, if it did."""
    reason = check_signature(cp, keys)
    if reason:
        return reason
    if org is not None and cp.org != org:
        return f"the checkpoint is of organisation {cp.org}, the chain of {org}"
    if cp.seq > head_seq:
        if broken_at is not None:
            return (f"the chain does not verify from seq {broken_at} on, before the "
                    f"checkpoint's seq {cp.seq}")
        return (f"the chain ends at seq {head_seq}, before the checkpoint's seq {cp.seq}: "
                f"events were removed")
    found = hash_at(cp.seq) if cp.seq else "0" * 64
    if found != cp.head_hash:
        return (f"the chain's event {cp.seq} has the hash {found}, the checkpoint says "
                f"{cp.head_hash}: the chain was rewritten")
    return None
