"""Retention: an organisation's policy for how long personal data is kept (off by default).

* ``subject_days``: a subject with no binding grant in force is erased (``consent.core.rights``,
  source ``retention``: a completed erasure request and a ``subject.erased`` event each) once
  ``subject_days`` have passed since their last consent ended (expired) or was withdrawn or
  denied.
* ``evidence_days``: evidence files (Avacy's proofs, Veriff's media) received more than
  ``evidence_days`` ago are erased by their dialects (``People.retention``), an audit event per
  batch.

The background loop :data:`LOOP` applies every organisation's policy (every
``CONSENT_RETENTION_INTERVAL`` seconds, an hour by default); each pass reads the time from the
service's clock, so control mode's moved clock moves retention with it (``run_org`` under the
organisation's clock). Setting a policy is an audit event (``retention.set``).
"""
from __future__ import annotations

import datetime as dt

from . import audit, background, ledger, queries, rights, sql
from .storage import RetentionPolicy, Subject, transaction, utcnow

INTERVAL = 3600.0
BATCH = 500


def policy(org_id: str) -> dict:
    row = queries.RETENTION_POLICY.one((org_id,))
    return {"subject_days": row.subject_days if row else None,
            "evidence_days": row.evidence_days if row else None}


def set_policy(org_id: str, *, actor: str, subject_days: int | None,
               evidence_days: int | None) -> dict:
    with transaction():
        audit.lock_org(org_id)
        values = {"subject_days": subject_days, "evidence_days": evidence_days,
                  "updated_at": utcnow()}
        if queries.RETENTION_POLICY.one((org_id,)) is None:
            sql.insert(RetentionPolicy, {"org_id": org_id, **values})
        else:
            sql.update(RetentionPolicy, org_id, values)
        audit.append(org_id, actor=actor, action="retention.set", entity_type="organisation",
                     entity_id=org_id, payload={"subject_days": subject_days,
                                                "evidence_days": evidence_days})
    return policy(org_id)


def _last_end(consents: list, now: dt.datetime) -> dt.datetime | None:
    """When a subject's last consent ended, from its binding records (None: a grant is still in
    force, or it has none)."""
    seen, ends = set(), []
    for c in consents:   # newest first per purpose
        if c.purpose_id in seen:
            continue
        seen.add(c.purpose_id)
        status = ledger.effective_status(c, now)
        if status in ("granted", "pending"):
            return None
        ends.append(c.valid_until if status == "expired" else c.created_at)
    return max(ends) if ends else None


def due_subjects(org_id: str, days: int, now: dt.datetime, limit: int = BATCH) -> list[str]:
    """Identifiers of subjects whose personal data the policy says to erase now."""
    cutoff = now - dt.timedelta(days=days)
    due, after = [], 0
    while len(due) < limit:
        rows = queries.SUBJECTS_AFTER.all((org_id, after, BATCH))
        for s in rows:
            consents = queries.CONSENTS_OF_SUBJECT.all((org_id, s.id))
            end = _last_end(consents, now)
            if end is not None and end <= cutoff and s.identifier:
                due.append(s.identifier)
                if len(due) >= limit:
                    break
        if len(rows) < BATCH:
            break
        after = rows[-1].id
    return due


def run_org(org_id: str, now: dt.datetime | None = None) -> dict:
    """Apply the organisation's policy now; what it erased: ``{"subjects": n, table: n...}``."""
    now = now or utcnow()
    row = queries.RETENTION_POLICY.one((org_id,))
    done = {"subjects": 0}
    if row is None:
        return done
    if row.subject_days:
        for identifier in due_subjects(org_id, row.subject_days, now):
            _, result = rights.erase_now(org_id, identifier, actor="system:retention",
                                         source="retention",
                                         reason=f"retention policy: {row.subject_days} days")
            done["subjects"] += result is not None
    if row.evidence_days:
        cutoff = now - dt.timedelta(days=row.evidence_days)
        for part in rights.installed().values():
            if part.retention is not None:
                for table, n in (part.retention(org_id, cutoff) or {}).items():
                    done[table] = done.get(table, 0) + n
    return done


def run_all() -> bool:
    """One pass over every organisation with a policy (the loop's step)."""
    for policy_row in queries.RETENTION_POLICIES.all(()):
        run_org(policy_row.org_id)
    return False


LOOP = background.Loop("retention", run_all, lambda: INTERVAL)
