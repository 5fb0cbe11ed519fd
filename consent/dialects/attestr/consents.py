"""What the Attestr consent endpoints do to the ledger. Every write is one transaction with its
audit event(s).

Mapping (Attestr consent -> ledger):

* subject: ``consentPrincipalUserId`` when given (the client's own id of the person, so the
  ledger joins it with that person's other consents), else ``attestr-consent:<_id>``.
* purpose: ``attestr:<consentPurpose>:<_id>``, one per consent: in Attestr every consent stands
  alone (a person may hold several valid KYC consents for different services at once), while in
  the ledger the newest decision per subject and purpose supersedes the others.
* status ``granted``, source ``attestr``; ``valid_from``/``valid_until`` = ``consentValidFrom``/
  ``consentValidTill``; ``notice_version`` = ``clientPrivacyPolicyVersion``; evidence: the
  registered consent (normalised) with its ``_id``, ``number`` and the client.
* terms (``consent.core.usage``): ``consentOperations`` granted, single use for ``single_use``.
* ``consentDataCategories`` must be categories (and data types) of the consent's services, as the
  catalogue maps them (:func:`.catalogue.not_needed`): else 400 4001 naming the field.

Revocation is a ledger withdrawal; a use is a ledger use (``POST /ledger/v1/checks``, which
takes the Attestr ``_id`` as well as the ledger's id: :func:`ledger_id`). Both are
seen through :mod:`consent.core.hooks`, whichever API made them, so the Attestr status and the
webhooks follow. Expiry is found by the worker's sweep (:func:`expire_due`).

Status: ``revoked``, else ``consumed`` (single use, used), else ``expired`` (from
``consentValidTill``), else ``pending`` (before ``consentValidFrom``), else ``active``.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging

from consent.core import audit, hooks, ids, ledger, personal, rights, usage
from consent.core.errors import Conflict
from consent.core.storage import canonical_json, transaction

from . import catalogue, codes, models, queries, webhooks
from .codes import AttestrError
from .models import AttestrConsent

log = logging.getLogger(__name__)

SOURCE = "attestr"
SUBJECT_PREFIX = "attestr-consent:"
EXPIRY_ACTOR = "system:attestr-expiry"


def actor_for(client) -> str:
    return f"credential:{client.credential_id}"


def new_id(prefix: str = "CX") -> str:
    """A URL-safe random id like Attestr's (``CX3S-m5YMohWXqt7b-``)."""
    return prefix + ids.token_urlsafe(12)


def new_number() -> str:
    """A human-readable number like ``3991-752664-7914``, unique among consents and jobs."""
    for _ in range(10):
        digits = str(ids.randbelow(9 * 10 ** 13) + 10 ** 13)
        number = f"{digits[:4]}-{digits[4:10]}-{digits[10:]}"
        if queries.NUMBER_TAKEN.value((number, number)) is None:
            return number
    raise RuntimeError("no free number after 10 tries")


def status(row, now: dt.datetime | None = None) -> str:
    now = now or models.now()
    if row.revoked_at is not None:
        return "revoked"
    if row.consumed_at is not None:
        return "consumed"
    if row.valid_till <= now:
        return "expired"
    if row.valid_from > now:
        return "pending"
    return "active"


def require_provisioned(client, services: list[dict]) -> list[str]:
    """The service codes asked for; 403 4035 naming those the client is not provisioned for."""
    asked = [s["service"] for s in services]
    missing = [s for s in asked if s not in client.services]
    if missing:
        raise AttestrError(codes.NOT_PROVISIONED,
                           details=f"Not provisioned for this client: {', '.join(missing)}")
    return asked


def data_categories(client, data: dict) -> dict:
    """The data categories and types the services need (the catalogue's), merged and each."""
    asked = require_provisioned(client, data["services"])
    return {"type": data["type"], "consentDataCategories": catalogue.merged(asked),
            "services": [{"service": code, "consentDataCategories": catalogue.categories(code)}
                         for code in asked]}


def reference_lookup(org_id: str, reference_id: str) -> str:
    """The keyed hash a consent is found by its client's reference id (under the
    organisation's key, made now if it has none: call inside the write's transaction)."""
    return personal.keyed_hash(personal.org_key(org_id, create=True), reference_id)


def erased(row) -> bool:
    """Was the consent's person erased (``.people``)? The API then no longer knows it."""
    return row.reference_id == personal.ERASED


def _normalised(data: dict) -> dict:
    return {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in data.items()}


def register(client, data: dict, provided: dict):
    """Register a consent (``data``: the validated body, ``provided``: as sent). A repeat of a
    ``consentReferenceId`` with the same body returns the consent registered first."""
    asked = require_provisioned(client, data["services"])
    refused = catalogue.not_needed(asked, data["consentDataCategories"])
    if refused:
        raise AttestrError(codes.MALFORMED, details="; ".join(refused))
    normalised = _normalised(data)
    request_hash = hashlib.sha256(canonical_json(normalised).encode()).hexdigest()
    org_id, actor = client.org_id, actor_for(client)
    with transaction():
        audit.lock_org(org_id)
        lookup = reference_lookup(org_id, data["consentReferenceId"])
        existing = queries.CONSENT_BY_REFERENCE.one((client.credential_id, lookup))
        if existing is not None:
            if existing.request_hash != request_hash:
                raise AttestrError(codes.MALFORMED, details=(
                    f"consentReferenceId {data['consentReferenceId']!r} is already registered "
                    f"(consent {existing.id}) with a different body"))
            return existing
        if queries.CREDITS.value((client.credential_id,)) is not None \
                and queries.DEBIT.execute((client.credential_id,)).rowcount != 1:
            raise AttestrError(codes.LOW_CREDITS)
        consent_id, number, now = new_id(), new_number(), models.now()
        recorded = ledger.in_transaction_record(org_id, [ledger.Decision(
            subject=data.get("consentPrincipalUserId") or SUBJECT_PREFIX + consent_id,
            purpose=f"attestr:{data['consentPurpose']}:{consent_id}",
            purpose_name=data["consentPurpose"], status="granted", source=SOURCE,
            notice_version=data.get("clientPrivacyPolicyVersion"),
            valid_from=data["consentValidFrom"], valid_until=data["consentValidTill"],
            evidence={"attestr": {"_id": consent_id, "number": number,
                                  "client": client.credential_id, **normalised}},
        )], actor=actor)[0].consent
        # The consent's Attestr side is recorded by its terms' audit event.
        event = audit.begin(org_id)
        row = event.create(
            AttestrConsent, id=consent_id, number=number, org_id=org_id,
            client_id=client.credential_id, consent_id=recorded.id,
            reference_id=data["consentReferenceId"], reference_lookup=lookup,
            request_hash=request_hash, data=provided,
            single_use=data["consentType"] == "single_use", webhook=data["webhook"],
            valid_from=data["consentValidFrom"], valid_till=data["consentValidTill"],
            created_at=now, sweep_at=data["consentValidTill"])
        usage.set_terms(org_id, recorded.id, operations=data["consentOperations"],
                        single_use=data["consentType"] == "single_use", actor=actor,
                        event=event)
        webhooks.consent_event(row, "consent.registered", status(row, now), now)
    return row


def find(client, consent_id: str):
    """A consent of the client's organisation (Attestr account), or 400 4001 (as for a consent
    whose person was erased)."""
    row = queries.CONSENT_OF_ORG.one((client.org_id, consent_id))
    if row is None:
        raise AttestrError(codes.MALFORMED, details=f"No consent with _id {consent_id!r}")
    return row


def in_org(org_id: str, consent_id: str):
    """A consent of the organisation (not erased), or None (the operator console)."""
    return queries.CONSENT_OF_ORG.one((org_id, consent_id))


def page(org_id: str, statement_all, statement_before, limit: int, before):
    """One keyset page (newest first) of ``statement_all``/``statement_before`` (params: org
    id[, created_at, created_at, id], limit): (rows, the next page's ``before`` or None)."""
    if before is None:
        rows = statement_all.all((org_id, limit + 1))
    else:
        at, row_id = before
        rows = statement_before.all((org_id, at, at, row_id, limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, ((rows[-1].created_at, rows[-1].id) if more and rows else None)


def consents_page(org_id: str, limit: int = 50, before: tuple | None = None):
    """The organisation's consents (not erased), newest first: one keyset page. ``before``:
    the (created_at, id) the previous page ended with. Returns (rows, next ``before``)."""
    return page(org_id, queries.CONSENTS_OF_ORG, queries.CONSENTS_OF_ORG_BEFORE, limit, before)


def revoke(client, consent_id: str):
    """Withdraw the consent in the ledger (status ``revoked``; :func:`on_withdrawn` does the
    rest in the same transaction), and ask for the clean-up a revocation calls for (DPDP: the
    data fiduciary erases the principal's data once consent is withdrawn): an erasure rights
    request of the principal (source ``attestr``), received in the same transaction, which the
    operator completes (``/ledger/v1/rights-requests``) once nothing else needs the data.
    Revoking a revoked consent changes nothing."""
    row = find(client, consent_id)
    if row.revoked_at is None:
        try:
            with transaction():
                withdrawal = ledger.withdraw(
                    row.org_id, row.consent_id, actor=actor_for(client), source=SOURCE,
                    evidence={"attestr": {"_id": row.id, "number": row.number,
                                          "revokedBy": client.credential_id}})
                rights.create_request(
                    row.org_id, "erasure", withdrawal.subject, actor=actor_for(client),
                    source=SOURCE, reason="consent revoked through Attestr: clean-up of the "
                                          "principal's data",
                    metadata={"_id": row.id, "number": row.number})
        except Conflict as exc:  # withdrawn meanwhile, or superseded through the ledger API
            row = find(client, consent_id)
            if row.revoked_at is None:
                raise AttestrError(codes.MALFORMED, details=exc.message) from None
    return find(client, consent_id)


# -- what the core tells the dialect (inside the change's transaction) ------------------------------

@hooks.listener(hooks.WITHDRAWN)
def on_withdrawn(org_id, consent, withdrawal, actor, at, event, **_):
    row = queries.CONSENT_BY_LEDGER_ID.one((consent.id,))
    if row is not None and event.update(AttestrConsent, row, condition=queries.NOT_REVOKED,
                                        revoked_at=at, sweep_at=None):
        webhooks.consent_event(row, "consent.revoked", "revoked", at)


@hooks.listener(hooks.USED)
def on_used(org_id, consent, use, single_use, actor, at, event, **_):
    if not single_use:
        return
    row = queries.CONSENT_BY_LEDGER_ID.one((consent.id,))
    if row is not None and event.update(AttestrConsent, row, condition=queries.NOT_CONSUMED,
                                        consumed_at=at, sweep_at=None):
        webhooks.consent_event(row, "consent.consumed", "consumed", at)


@usage.consent_lookup
def ledger_id(org_id: str, attestr_id: str) -> str | None:
    """The ledger consent of an Attestr ``_id`` of the organisation (``POST /ledger/v1/checks``
    accepts the id the app holds)."""
    row = queries.CONSENT_OF_ORG.one((org_id, attestr_id))
    return row.consent_id if row is not None else None


# The core's hooks this dialect listens to (declared in its entry, DIALECT.subscriptions).
SUBSCRIPTIONS = ((hooks.WITHDRAWN, on_withdrawn), (hooks.USED, on_used))


# -- expiry -----------------------------------------------------------------------------------------

def expire_due(now: dt.datetime | None = None, limit: int = 100,
               org_id: str | None = None) -> int:
    """Record the expiry of every consent whose ``consentValidTill`` passed (and that was not
    revoked or consumed first): a ``consent.expired`` audit event, an ``expired`` event on the
    ledger consent and, when asked for, the ``consent.expired`` webhook. Each consent is claimed
    by one process only. Returns how many expired. ``org_id``: that organisation's only."""
    now = now or models.now()
    done = 0
    due_rows = (queries.EXPIRY_DUE.all((now, limit)) if org_id is None
                else queries.EXPIRY_DUE_OF_ORG.all((org_id, now, limit)))
    for due in due_rows:
        with transaction():
            event = audit.begin(due.org_id, at=now)
            row = queries.CONSENT_BY_ID.one((due.id,))   # as it is now, under the lock
            if row is None or event.update(AttestrConsent, row, condition=queries.STILL_SWEPT,
                                           sweep_at=None, expired_at=now) is None:
                continue   # revoked, consumed or expired by someone else meanwhile
            usage.record_expiry(row.org_id, ledger.get_consent(row.org_id, row.consent_id),
                                at=now, actor=EXPIRY_ACTOR, event=event,
                                data={"attestr_consent_id": row.id, "number": row.number})
            webhooks.consent_event(row, "consent.expired", "expired", now)
        done += 1
    return done
