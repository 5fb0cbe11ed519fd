"""What truConsent's SDKs (truKIT React Native and Flutter) read and write under
``/api/v1/internal/consent``: banners (a collection point as the SDK shows it, with a data
principal's value per purpose), the decision a banner sends, the rights center's changes,
suppressions, a data principal's consents, and the data principal timeline.

A purpose's value (``consented``) for a data principal comes from their binding ledger decision on
it, whichever collection point or API recorded it: ``accepted`` (a grant in force), ``shown`` (a
legitimate interest whose notice was shown), ``declined`` (denied or withdrawn), ``pending`` (no
decision, or a grant that expired or is not yet valid: the banner asks again).

Writing, per purpose the SDK sends: ``accepted`` is a grant (valid for the purpose's
``expiry_period``); ``declined`` or ``pending`` a withdrawal when the binding decision is a grant
(superseding it), else a denial; ``shown`` a grant on the basis of a legitimate interest, for a
legitimate-interest purpose only. A purpose without ``consented`` takes it from the action
(approved: accepted; declined, no_action, revoked: declined; notice_shown: shown). Each purpose
must belong to the collection point (rights center: to a collection point of the asset, or of
the organisation); everything else the SDK sends is kept in each decision's evidence.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from consent.core import audit, ledger
from consent.core.storage import transaction, utcnow
from schemas.common import iso

from . import logs, points, queries
from .logs import WITHDRAW_IF_GRANTED, Choice, FieldErrors
from .models import TcSuppression

SOURCE_SDK = "sdk"
SOURCE_RIGHTS_CENTER = "rights_center"
ACTION_DEFAULT = {"approved": "accepted", "declined": "declined", "no_action": "declined",
                  "revoked": "declined", "notice_shown": "shown", "partial_consent": None}


# -- reading ---------------------------------------------------------------------------------------

@dataclass
class Principal:
    """A data principal's binding decisions (purpose id -> (log row, effective status)) and the
    collection points they have any consent log at."""

    binding: dict
    points_seen: set


def principal(org, user_id: str | None) -> Principal:
    if not user_id:
        return Principal({}, set())
    subject = ledger.find_subject(org.id, user_id)
    if subject is None:
        return Principal({}, set())
    now, binding, seen = utcnow(), {}, set()
    for row in queries.LOGS_OF_SUBJECT.all((org.id, subject.id)):
        if row.cp_id:
            seen.add(row.cp_id)
        if row.purpose not in binding:
            binding[row.purpose] = (row, ledger.effective_status(row, now))
    return Principal(binding, seen)


def consented(decision) -> str:
    """A binding decision as a banner shows it: accepted | shown | declined | pending."""
    if decision is None:
        return "pending"
    row, status = decision
    if status in ("expired", "pending"):
        return "pending"
    if status == "granted":
        return "shown" if row.tc_consented == "shown" else "accepted"
    return "declined"


def purpose_view(p: dict, value: str | None = None) -> dict:
    view = points.purpose_view(p)
    view["purpose_type"] = "legitimate_interest" if view["is_legitimate"] else "consent"
    if value is not None:
        view["consented"] = value
    return view


def _asset_view(asset) -> dict:
    return {"id": asset.id, "display_id": asset.display_id, "name": asset.name,
            "description": asset.description, "asset_type": asset.asset_type}


def banner(org, cp, asset, who: Principal, user_id: str | None) -> dict:
    """A collection point as the SDK reads a banner, with this data principal's values."""
    return {
        "id": cp.id, "banner_id": cp.display_id, "collection_point": cp.id,
        "version": cp.notice_version, "title": cp.title, "description": cp.notice_text,
        "consent_type": cp.consent_type, "asset": _asset_view(asset),
        "organization": {"name": org.name}, "organization_name": org.name,
        "purposes": [purpose_view(p, consented(who.binding.get(p["id"]))) for p in cp.purposes],
        "banner_settings": cp.settings or {}, "user_id": user_id,
        "shown_to_principal": cp.id in who.points_seen,
    }


def banners(org, cps: list, user_id: str | None) -> list[dict]:
    who = principal(org, user_id)
    assets = {a.id: a for a in points.assets(org)}
    return [banner(org, cp, assets[cp.asset_id], who, user_id) for cp in cps]


def status_view(decision) -> str:
    """accepted | shown | declined | expired | pending (user-consent-status)."""
    if decision[1] == "expired":
        return "expired"
    return consented(decision)


def user_consent_status(org, user_id: str) -> dict:
    """Per collection point, the data principal's binding decision on each of its purposes that
    has one; points without any are left out."""
    who = principal(org, user_id)
    out = []
    for cp in points.collection_points(org):
        decided = [(p, who.binding[p["id"]]) for p in cp.purposes if p["id"] in who.binding]
        if not decided:
            continue
        out.append({"id": cp.id, "collection_point": cp.id, "banner_id": cp.display_id,
                    "title": cp.title, "latest_consent": {
                        "timestamp": max(d[0].created_at for _, d in decided),
                        "purpose_consents": [{
                            "purpose_id": p["id"], "purpose_name": p["name"],
                            "status": status_view(d), "ledger_status": d[1],
                            "consented": d[1] == "granted", "consent_log_id": d[0].id,
                            "recorded_at": d[0].created_at} for p, d in decided]}})
    return {"userId": user_id, "collectionPoints": out}


def point_view(cp) -> dict:
    """A collection point for the public API: every purpose field, settings as an object."""
    return {"id": cp.id, "display_id": cp.display_id, "asset_id": cp.asset_id, "title": cp.title,
            "notice_text": cp.notice_text, "notice_version": cp.notice_version,
            "consent_type": cp.consent_type,
            "purposes": [points.purpose_view(p) for p in cp.purposes],
            "banner_settings": cp.settings or {}, "created_at": cp.created_at}


# -- writing ---------------------------------------------------------------------------------------

def _purpose_id(item: dict) -> str:
    return item.get("purposeId") or item["id"]


def _id_key(item: dict) -> str:
    return "purposeId" if item.get("purposeId") else "id"


def _check_purposes(org, cp, items: list[dict], asset=None) -> dict:
    """Each item's purpose, on ``cp`` (or, without one, on a collection point of ``asset`` or of
    the organisation): purpose id -> the collection point. Raises FieldErrors."""
    ids = [_purpose_id(i) for i in items]
    if cp is not None:
        where = {p["id"]: cp for p in cp.purposes}
        place = f"collection point {cp.display_id}"
    else:
        where = points.purpose_points(org, asset.id if asset is not None else None)
        place = (f"a collection point of asset {asset.display_id}" if asset is not None
                 else "any collection point of the organisation")
    errors, seen = {}, set()
    for i, (item, pid) in enumerate(zip(items, ids)):
        if pid not in where:
            errors[i] = {_id_key(item): [f"Value error, purpose {pid!r} is not on {place}"]}
        elif pid in seen:
            errors[i] = {_id_key(item): [f"Value error, purpose {pid!r} is listed twice"]}
        seen.add(pid)
    if errors:
        raise FieldErrors({"purposes": errors})
    return where


def _choices(items: list[dict], where: dict, action: str, client: dict) -> list[Choice]:
    errors, out = {}, []
    for i, item in enumerate(items):
        pid = _purpose_id(item)
        cp = where[pid]
        defined = points.purpose_view(points.purpose_def(cp, pid))
        value = item.get("consented") or ACTION_DEFAULT[action]
        if value is None:
            errors[i] = {"consented": ["Field required"]}
            continue
        if value == "shown" and not defined["is_legitimate"]:
            errors[i] = {"consented": [f"Value error, purpose {pid!r} asks for consent: "
                                       "'shown' is for legitimate-interest purposes"]}
            continue
        evidence = {"client": client,
                    "purpose": {k: v for k, v in item.items() if v is not None}}
        if value == "shown":
            evidence["basis"] = "legitimate_interest"
        status = "granted" if value in ("accepted", "shown") else WITHDRAW_IF_GRANTED
        out.append(Choice(pid, status, cp, name=None, version=None, evidence=evidence,
                          consented=value))
    if errors:
        raise FieldErrors({"purposes": errors})
    return out


def fingerprint(cp, data: dict) -> dict:
    """What makes two submissions of one ``requestId`` the same decision: retries of the SDK
    differ only in their timestamps and metadata."""
    return {"userId": data["userId"], "action": data["action"], "collection_point": cp.id,
            "purposes": [[_purpose_id(i), i.get("consented")] for i in data["purposes"]]}


def record_banner(org, cp, data: dict, actor: str) -> list:
    """``POST /api/v1/internal/consent/{collectionPointId}``: one consent log per purpose. Call
    inside a transaction (the route's idempotent one)."""
    items = data["purposes"]
    where = _check_purposes(org, cp, items)
    timestamp = data.get("consentTimestamp")
    client = {"source": data.get("source"), "consent_language": data.get("consentLanguage"),
              "collection_point_version": data.get("collectionPointVersion"),
              "consent_timestamp": iso(dt.datetime.fromtimestamp(timestamp, dt.timezone.utc))
              if timestamp is not None else None, "asset_id": data.get("assetId") or None}
    if data.get("changedPurposes") is not None:
        client["changed_purposes"] = data["changedPurposes"]
    choices = _choices(items, where, data["action"], client)
    return logs.write(org, data["userId"], data["action"], choices, source=SOURCE_SDK,
                      request_id=data.get("requestId"), metadata=data.get("metadata"),
                      actor=actor)


def record_rights_center(org, asset, data: dict, actor: str) -> list:
    """``POST /api/v1/internal/consent/rights-center``: the data principal's changes, each logged
    at the first collection point (of the asset, or of the organisation) with that purpose."""
    with transaction():
        items = data["purposes"]
        where = _check_purposes(org, None, items, asset)
        client = {"source": data.get("source"), "asset_id": data.get("assetId") or None}
        choices = _choices(items, where, data["action"], client)
        return logs.write(org, data["userId"], data["action"], choices,
                          source=SOURCE_RIGHTS_CENTER, request_id=None,
                          metadata=data.get("metadata"), actor=actor)


def suppress(org, user_id: str, purpose_ids: list[str], actor: str) -> list[str]:
    """``POST /api/v1/internal/consent/suppression``: the purposes the data principal declined,
    kept (one row each, naming the user id's subject, made on first use) with an audit event.
    Each must be a purpose of a collection point."""
    known = points.purpose_points(org)
    errors = {i: [f"Value error, purpose {pid!r} is not on any collection point of the "
                  "organisation"] for i, pid in enumerate(purpose_ids) if pid not in known}
    if errors:
        raise FieldErrors({"declinedPurposeIds": errors})
    unique = list(dict.fromkeys(purpose_ids))
    with transaction():
        now = utcnow()
        event = audit.begin(org.id, at=now)
        subject = ledger.ensure_subject(org.id, user_id)   # the data principal's pseudonym
        ids = [event.insert(TcSuppression, {"org_id": org.id, "subject_id": subject.id,
                                            "purpose_id": pid, "created_at": now})
               for pid in unique]
        event.append(actor=actor, action="truconsent.suppression.recorded",
                     entity_type="suppression", entity_id=str(ids[0]),
                     payload={"subject_ref": subject.id, "purpose_ids": unique})
    return unique


# -- the data principal timeline ---------------------------------------------------------------------

def timeline(org, user_id: str) -> list[dict]:
    """Everything that happened to a data principal's consents, oldest first: each consent log
    they hold or that was recorded under them (``recorded``), each event on those (``withdrawn``,
    ``mapped``, ``used``, ``expired``), and each suppression the SDK reported."""
    entries = []
    subject = ledger.find_subject(org.id, user_id)
    if subject is not None:
        rows = queries.LOGS_OF_PRINCIPAL.all((org.id, subject.id, subject.id))
        by_seq = {r.seq: r for r in rows}
        for r in rows:
            entries.append((r.created_at, 0, r.seq, _entry(r, "recorded", r.created_at, {
                "dp_id": r.subject, "recorded_dp_id": r.recorded_subject,
                "valid_from": iso(r.valid_from), "valid_until": iso(r.valid_until),
                "metadata": r.tc_metadata})))
        cache: dict = {}
        for e in ledger.events_of_consents(org.id, list(by_seq)):
            data = {k: v for k, v in (e.data or {}).items() if k != "to_subject"}
            if e.type == "mapped":
                data = logs.mapping(org.id, e.data or {}, cache)
            entries.append((e.at, 1, e.id, _entry(by_seq[e.consent_seq], e.type, e.at, data)))
    suppressed = [] if subject is None else queries.SUPPRESSIONS_OF_SUBJECT.all(
        (org.id, subject.id))
    for s in suppressed:
        entries.append((s.created_at, 2, s.id, {
            "at": s.created_at, "event": "suppressed", "consent_log_id": None,
            "purpose_id": s.purpose_id, "purpose_name": None, "status": None, "action": None,
            "collection_point_id": None, "collection_point_display_id": None,
            "source": SOURCE_SDK, "request_id": None, "data": None}))
    entries.sort(key=lambda e: e[:3])
    return [e[3] for e in entries]


def _entry(row, event: str, at, data: dict) -> dict:
    return {"at": at, "event": event, "consent_log_id": row.id, "purpose_id": row.purpose,
            "purpose_name": row.purpose_name, "status": row.status,
            "action": row.tc_action or (row.evidence or {}).get("action"),
            "collection_point_id": row.cp_id, "collection_point_display_id": row.cp_display_id,
            "source": row.source, "request_id": row.tc_request_id, "data": data}
