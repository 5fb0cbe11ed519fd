"""The attack of issue 16 §5, done with the project's own functions: change what the ledger
recorded, then re-hash every event from there on, so plain verify passes again."""
from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from consent.core import audit, ledger, personal
from consent.core.storage import Subject, AuditEvent, Consent, transaction

ROOT = Path(__file__).resolve().parent.parent


def rehash_from(org_id: str, seq: int) -> None:
    """Recompute ``prev_hash`` and ``hash`` of every event from ``seq`` on (audit.compute_hash)."""
    events = list(AuditEvent.select().where(AuditEvent.org == org_id, AuditEvent.seq >= seq)
                  .order_by(AuditEvent.seq))
    prev = (AuditEvent.get(AuditEvent.org == org_id, AuditEvent.seq == seq - 1).hash
            if seq > 1 else audit.GENESIS)
    for event in events:
        event.prev_hash = prev
        event.hash = audit.compute_hash(event)
        event.save()
        prev = event.hash


def rewrite_consent(org_id: str, consent_id: str, status: str) -> int:
    """Turn a consent's decision into another, with a matching record hash, recording event and
    chain after it. Returns the seq of the edited event."""
    with transaction():
        c = Consent.get(Consent.id == consent_id)
        c.status = status
        who = Subject.get_by_id(c.recorded_subject_id)
        c.record_hash = ledger.consent_hash(c, who.secret,
                                            personal.subject_commitment(who.secret, who.identifier))
        c.save()
        event = AuditEvent.get(AuditEvent.org == org_id, AuditEvent.seq == c.audit_seq)
        event.payload = {**event.payload, "status": status, "record_hash": c.record_hash}
        event.save()
        rehash_from(org_id, event.seq)
    return event.seq


def rewrite_event(org_id: str, seq: int, **payload) -> None:
    """Change an event's payload and re-hash the chain from it on."""
    with transaction():
        event = AuditEvent.get(AuditEvent.org == org_id, AuditEvent.seq == seq)
        event.payload = {**event.payload, **payload}
        event.save()
        rehash_from(org_id, seq)


def write_json(path: Path, value) -> Path:
    path.write_text(json.dumps(value))
    return path


def message(cp: dict) -> bytes:
    """The signed text, built here from the documented format (not with the code under test)."""
    return ("consent-ledger checkpoint v1\n"
            f"{cp['org']}\n{cp['seq']}\n{cp['head_hash']}\n{cp['at']}\n").encode()


def signature_holds(cp: dict, public_pem: str) -> bool:
    from cryptography.exceptions import InvalidSignature

    key = serialization.load_pem_public_key(public_pem.encode())
    try:
        key.verify(base64.b64decode(cp["signature"]), message(cp))
    except InvalidSignature:
        return False
    return True


def standalone(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m auditchain ARGS`` in a process of its own, from the repository's root."""
    return subprocess.run([sys.executable, "-m", "auditchain", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
