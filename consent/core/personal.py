"""Personal data kept apart from what the audit chain hashes, so that it can be erased and the
chain still verifies (see the README's "Personal data and erasure").

Three tools, each for one kind of place personal data sits in:

* **Identifiers** (an e-mail, a phone number, a user id) live only in the subject's row
  (``Subject.identifier``). Every other row names the person by the subject's integer id, a
  pseudonym. An identifier is found by :func:`lookup`, an HMAC-SHA256 of its normalised form
  (:func:`normalise`) under a key of the organisation (``org_key``): the index holds no plain
  value, and once the subject is erased its lookup is gone and the identifier finds nothing.
* **Covered rows** (``consent.core.covered``) that hold personal data declare those columns
  (``cover(..., personal=(...))``) and have a ``pd_salt`` column: a random salt, hashed with
  the row, so the hash an audit event records is a salted commitment that cannot confirm a guess
  once the salt is gone. Erasure (``audit.Pending.erase``) writes the row again through the
  ``subject.erased`` event with its personal columns blanked and the salt NULL.
* **A consent's evidence** is covered by its record hash, which never changes: the record hash
  commits to it as ``{"hmac-sha256": commitment(subject secret, evidence)}``
  (:func:`evidence_digest`), and erasure replaces the evidence by :func:`tombstone` (the
  commitment, without the secret), which verify hashes the same way.

Audit event payloads never hold personal data: they name a subject by ``subject_ref`` (its id).
Events written before this design (up to ``org_key.sealed_seq``) may; erasure redacts them
(:data:`REDACTED`) and verify accepts a redacted event of that sealed prefix by its links.

The secrets (the organisation's lookup key, each subject's secret) are made with the row that
needs them, in the same transaction, are never logged, and live in the database, which is
owner-only at rest.
"""
from __future__ import annotations

import hashlib
import hmac
import unicodedata

from auditchain import hashing
from auditchain.hashing import canonical_json

from . import ids

ERASED = "[erased]"          # what a NOT NULL text column holds once its person is erased
REDACTED = hashing.REDACTED  # the key of a redacted event's payload
EVIDENCE_DIGEST = "hmac-sha256"
EVIDENCE_ERASED = "erased"
# In deterministic mode (CONSENT_SEED) the secrets come from a stream of their own: the same
# history gets the same secrets, and drawing them never shifts the ids requests get.
_STREAM = "personal"


def normalise(identifier: str) -> str:
    """The form an identifier is looked up by: surrounding white space removed, Unicode NFC
    (the same text typed on two systems finds the same subject). Case is kept: identifiers are
    case-sensitive, as the providers' are."""
    return unicodedata.normalize("NFC", (identifier or "").strip())


def new_key() -> str:
    """A 256-bit secret, as hex (an organisation's lookup key)."""
    return ids.token_bytes(32, stream=_STREAM).hex()


def new_secret() -> bytes:
    """A subject's secret: 128 random bits (the key of the commitments to their data)."""
    return ids.token_bytes(16, stream=_STREAM)


def _key(key) -> bytes:
    """A key as bytes: hex text, bytes, or what a driver returns for a blob (memoryview)."""
    return bytes.fromhex(key) if isinstance(key, str) else bytes(key)


def new_salt() -> str:
    """A 128-bit salt, as hex (a covered row's ``pd_salt``)."""
    return ids.token_bytes(16, stream=_STREAM).hex()


def _digest(key, text: str) -> bytes:
    return hmac.new(_key(key), text.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()


def keyed_hash(key, text: str) -> str:
    """HMAC-SHA256 (hex) of a text under a key (hex text or bytes)."""
    return _digest(key, text).hex()


def lookup_digest(key, identifier: str) -> bytes:
    """The 16 bytes a subject's row is found by: HMAC-SHA256 of the normalised identifier
    under the organisation's key, its first 128 bits (a collision among a billion subjects has
    odds of about 1 in 10^20; the unique index would refuse it rather than mix two people)."""
    return _digest(key, normalise(identifier))[:16]


def commitment(secret, value) -> str:
    """HMAC-SHA256 (hex) of a value's canonical JSON under a subject's secret."""
    return keyed_hash(secret, canonical_json(value))


def subject_commitment(secret, identifier: str) -> str:
    """What a consent's record hash binds its subject's identifier with (``subject`` in the
    hashed content; stored nowhere while the subject is known): 128 bits of HMAC-SHA256 under
    the subject's secret. Verify recomputes it from the subject's row (an identifier swapped
    there fails); erasure keeps it in the row (``Subject.commitment``) and destroys the secret,
    after which it confirms nothing."""
    return keyed_hash(secret, "subject:" + identifier)[:32]


# -- consent evidence -----------------------------------------------------------------------------

def is_tombstone(evidence) -> bool:
    return isinstance(evidence, dict) and set(evidence) == {EVIDENCE_ERASED}


def tombstone(secret, evidence) -> dict | None:
    """What an erased consent's evidence column holds: the commitment its record hash took
    (``{"erased": hex}``), or ``{"erased": None}`` for a record hashed over its plain evidence
    (recorded before the upgrade, see ``org_key.sealed_seq``). None stays None."""
    if evidence is None or is_tombstone(evidence):
        return evidence
    return {EVIDENCE_ERASED: commitment(secret, evidence) if secret is not None else None}


def evidence_digest(secret, evidence):
    """What a consent's record hash covers for its evidence: None for none; the commitment for
    evidence held (under the recorded subject's secret) or erased (its tombstone); the plain
    evidence for a record without a secret (recorded before the upgrade)."""
    if evidence is None:
        return None
    if is_tombstone(evidence):
        return {EVIDENCE_DIGEST: evidence[EVIDENCE_ERASED]}
    if secret is None:
        return evidence
    return {EVIDENCE_DIGEST: commitment(secret, evidence)}


# -- redacted events ------------------------------------------------------------------------------

def redacted_payload(payload: dict, erasure_seq: int) -> dict:
    """A sealed event's payload once its subject is erased: only the covered rows' hashes it
    recorded (rows still point at them) and the seq of the erasure that redacted it."""
    out = {REDACTED: {"by_seq": erasure_seq}}
    rows = payload.get("rows") if isinstance(payload, dict) else None
    if rows:
        out["rows"] = rows
    return out


is_redacted = hashing.is_redacted


# -- keys and lookups (the database) --------------------------------------------------------------

def org_key(org_id: str, *, create: bool = False) -> str | None:
    """The organisation's lookup key (hex); made now with ``create`` (inside the write's
    transaction, so it commits with the subject that needed it), else None if it has none."""
    from . import queries
    from .database import db

    # An organisation's key never changes: each database (object) keeps the keys it has read
    # (a new database, a test's for one, starts with none).
    cache = getattr(db.obj, "consent_org_keys", None)
    if cache is None:
        cache = {}
        try:
            db.obj.consent_org_keys = cache
        except AttributeError:   # no database bound
            pass
    key = cache.get(org_id)
    if key is not None:
        return key
    row = queries.ORG_KEY.one((org_id,))
    if row is not None:
        if _in_transaction(db):   # this transaction may have made it: kept once committed
            db.obj.after_commit(lambda: cache.setdefault(org_id, row.lookup_key))
        else:                     # read outside a transaction: committed, for good
            cache[org_id] = row.lookup_key
        return row.lookup_key
    if not create:
        return None
    queries.ORG_KEY_CREATE.execute((org_id, new_key()))
    row = queries.ORG_KEY.one((org_id,))
    return None if row is None else row.lookup_key


def lookup(org_id: str, identifier: str, *, create: bool = False) -> str | None:
    """The keyed hash (hex) of an identifier in this organisation, for a dialect's own lookup
    column (None: the organisation has no key yet; with ``create`` the key is made). The
    subject's row keeps its first 16 bytes as a blob (:func:`subject_lookup`)."""
    key = org_key(org_id, create=create)
    return None if key is None else keyed_hash(key, normalise(identifier))


def subject_lookup(org_id: str, identifier: str, *, create: bool = False) -> bytes | None:
    """``Subject.lookup`` of an identifier (None: the organisation has no key yet)."""
    key = org_key(org_id, create=create)
    return None if key is None else lookup_digest(key, identifier)


def sealed_seq(org_id: str) -> int:
    """The last seq of the organisation's chain written before personal data became erasable
    (0: none); events up to it may be redacted by erasure."""
    from . import queries

    row = queries.ORG_KEY.one((org_id,))
    return 0 if row is None else row.sealed_seq


def _in_transaction(db) -> bool:
    """Whether a transaction is open (a key read in one may have been made in it, and a
    rollback would take it back: it is not cached then)."""
    try:
        return bool(db.obj.in_transaction())
    except Exception:   # noqa: BLE001 -- no database bound, or no connection: none open
        return False
