"""The Avacy dialect's part in people's rights (``consent.core.rights.People``).

What the archive holds about a person: its entries (:class:`~.models.AvacyConsent`), found by
the ids of the person's subjects (``person.subject_ids``): the identifier, the IP address, the
proofs (HTML, byte for byte) and their SHA-256, the request (the subject's data: e-mail, names,
address, age; a v4 form's ``consent_data``, ``identifier`` and ``source``) and the v4
``versions`` as sent.

* :func:`erase`: each entry is written again through the erasure's event with those columns
  blanked (``[erased]`` for the NOT NULL text ones, NULL for the others) and the request cut to
  what is no one's data (the preferences, the legal notices and versions accepted, without
  the links a v4 request sent, a v4 form's consent type, opt-in and features; a documented request's ``identifier``, the *name* of the
  identifying field). Its decisions (``avacy_decision``) and the ledger's pseudonymous history
  stay. The audit events that archived entries before Avacy's version 5 named the identifier,
  the IP address and the proofs' SHA-256: they are redacted (``person.redact``).
* :func:`report`: every entry with every value held, its decisions and the ids that prove them.
* :func:`retention`: the proofs of entries archived before a cutoff are removed (their SHA-256
  and the rest of the entry stay), a batch per transaction with an ``avacy.proofs.removed``
  audit event each.

After an erasure the archive answers the person's identifier as it answers an unknown one (no
entry); an entry read by its id shows its personal values as None.
"""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from consent.core import audit, personal, rights
from consent.core.rights import People, Person, iso as _iso
from consent.core.storage import transaction

from . import archive, queries
from .models import AvacyConsent

RETENTION_BATCH = 200
RETENTION_ACTOR = "system:retention"
RETENTION_ACTION = "avacy.proofs.removed"

# What of a request is no one's personal data, by channel (kept by erasure).
KEPT_DOCUMENTED = ("identifier", "legal_notices", "preferences")   # identifier: a field's name
KEPT_V4 = ("consent_type", "optin", "consent_features", "legal_notices")


def kept_request(row) -> dict:
    """The request of an erased entry: what is no one's data (a legal notice's name and
    version; not its link, which a v4 request sends as it likes)."""
    request = row.request or {}
    names = KEPT_V4 if row.channel == "v4" else KEPT_DOCUMENTED
    kept = {name: request[name] for name in names if name in request}
    if isinstance(kept.get("legal_notices"), list):
        kept["legal_notices"] = [
            {k: v for k, v in n.items() if k in ("name", "version")} if isinstance(n, dict)
            else n for n in kept["legal_notices"]]
    return kept


def _entries(person: Person) -> list:
    rows = []
    for subject_id in person.subject_ids:
        rows.extend(queries.ENTRIES_OF_SUBJECT.all((person.org_id, subject_id)))
    return rows


def erase(person: Person) -> dict:
    """Blank the person's entries (inside the erasure's transaction); see the module."""
    org_id, event = person.org_id, person.event
    rows = _entries(person)
    sealed = personal.sealed_seq(org_id)
    if sealed:
        for found in audit.events_by_id(org_id, [r.audit_event_id for r in rows]).values():
            if found.seq <= sealed:
                person.redact.add(found.seq)
    erased = 0
    for row in rows:
        if archive.erased(row) and row.pd_salt is None:
            continue   # erased already (an anonymous subject erased before its mapping)
        event.erase(AvacyConsent, row, identifier=personal.ERASED,
                    ip_address=personal.ERASED, proofs=None, proofs_sha256=personal.ERASED,
                    request=kept_request(row), versions=None)
        erased += 1
    return {"avacy_consent": erased}




def report(person: Person) -> dict:
    """The person's archive entries, every value held (see the module)."""
    rows = _entries(person)
    if not rows:
        return {}
    org = SimpleNamespace(id=person.org_id)
    entries = []
    for found in archive._with_decisions(org, rows):
        row = found.row
        entries.append({
            "id": row.id, "webspace_id": row.webspace_number, "channel": row.channel,
            "subject_ref": row.subject_id, "identifier": archive._shown(row.identifier),
            "ip_address": archive._shown(row.ip_address), "proofs": row.proofs,
            "proofs_sha256": archive._shown(row.proofs_sha256), "request": found.request,
            "versions": row.versions, "created_at": _iso(row.created_at),
            "preferences": [{"name": d.name, "accepted": d.accepted,
                             "consent_id": d.consent.id, "status": d.consent.status}
                            for d in found.decisions],
            "proof": {"audit_event_id": row.audit_event_id, "audit_seq": row.audit_seq,
                      "intact": archive.intact(found)},
        })
    return {"archive": entries}


def retention(org_id: str, cutoff: dt.datetime) -> dict:
    """Remove the proofs of the organisation's entries archived before ``cutoff``: batches of
    :data:`RETENTION_BATCH`, each one transaction with its audit event (the entries' ids; their
    new hashes). Returns ``{"avacy_consent.proofs": n}``."""
    done = 0
    while True:
        with transaction():
            event = audit.begin(org_id)
            rows = queries.PROOFS_BEFORE.all((org_id, cutoff, RETENTION_BATCH))
            if not rows:
                break
            for row in rows:
                event.update(AvacyConsent, row, proofs=None)
            event.append(actor=RETENTION_ACTOR, action=RETENTION_ACTION,
                         entity_type="avacy_consent", entity_id=str(rows[0].id), payload={
                             "entries": [row.id for row in rows], "count": len(rows),
                             "before": _iso(cutoff)})
        done += len(rows)
    if done:
        rights.compact()   # SQLite: the removed proofs leave the write-ahead log too
    return {"avacy_consent.proofs": done}


PEOPLE = People(erase=erase, report=report, retention=retention)
