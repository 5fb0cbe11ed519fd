"""How the audit chain is hashed: the one definition the service and the verifier share.

* **Canonical JSON**: keys sorted, no spaces (``,`` and ``:``), UTF-8 as is (no ``\\u`` escapes
  but those JSON requires), values that are not JSON written as their ``str()``. Every stored
  hash (events, consent records, idempotent requests) is computed over this form.
* **An event's content** is the object ``{"event_id", "org", "seq", "at", "actor", "action",
  "entity_type", "entity_id", "payload", "prev_hash"}`` where ``org`` is the organisation's id,
  ``at`` is the UTC time as ``YYYY-MM-DDTHH:MM:SS.ffffff`` (six decimals, no zone) and ``payload``
  is the event's JSON object.
* **An event's hash** is the lower-case hex SHA-256 of the UTF-8 bytes of its content's canonical
  JSON. The first event of an organisation has ``prev_hash`` :data:`GENESIS` (64 zeros), every
  later one its predecessor's hash, and ``seq`` counts 1, 2, 3... without gaps.

* **A redacted event**: an erasure of personal data (the service's ``consent.core.personal``)
  may replace the payload of an event of a chain's *sealed prefix* (the events written before the
  installation made personal data erasable, up to a seq it reports) by
  ``{"redacted": {"by_seq": n}[, "rows": ...]}`` (:func:`is_redacted`). Its hash can no longer
  be recomputed; it is taken as stored, still bound to its neighbours by ``prev_hash``.

Standard library only: see the package's docstring.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json

GENESIS = "0" * 64

# The fields an event's hash covers, in the order an export writes them (``hash`` follows).
CONTENT_FIELDS = ("event_id", "org", "seq", "at", "actor", "action", "entity_type", "entity_id",
                  "payload", "prev_hash")

# One encoder for every call: json.dumps builds a new encoder whenever options are passed.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              default=str)


def canonical_json(value) -> str:
    """Sorted keys, no spaces, UTF-8 as is: the form every stored hash is computed over."""
    return _CANONICAL.encode(value)


def sha256_hex(value) -> str:
    """The hex SHA-256 of a value's canonical JSON."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def format_at(value) -> str:
    """An event's time as its hash covers it: ``YYYY-MM-DDTHH:MM:SS.ffffff`` (naive UTC). A string
    (as an export holds it) is taken as it is."""
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


def event_content(event_id: str, org: str, seq: int, at, actor: str, action: str,
                  entity_type: str, entity_id: str, payload, prev_hash: str) -> dict:
    """The object an event's hash covers (everything but the hash itself)."""
    return {
        "event_id": event_id,
        "org": org,
        "seq": seq,
        "at": format_at(at),
        "actor": actor,
        "action": action,
        "entity_type": entity_type,
        "entity_id": entity_id,
        "payload": payload,
        "prev_hash": prev_hash,
    }


def content_hash(content: dict) -> str:
    """The hash of an event's content (:func:`event_content`)."""
    return sha256_hex(content)


def event_hash(record: dict) -> str:
    """The hash an exported event (a mapping with the :data:`CONTENT_FIELDS`) should carry."""
    return content_hash(event_content(*(record[name] for name in CONTENT_FIELDS)))


REDACTED = "redacted"


def is_redacted(payload) -> bool:
    """Whether an event's payload is an erasure's redaction (see the module's docstring)."""
    return isinstance(payload, dict) and isinstance(payload.get(REDACTED), dict) \
        and set(payload) <= {REDACTED, "rows"}
