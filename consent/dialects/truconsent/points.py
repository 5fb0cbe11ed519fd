"""Assets (an app or website) and collection points (a notice with its purposes, under an asset).

A collection point's purposes become ledger purposes (their ``id`` is the purpose code) and its
notice a ledger notice (``cp:<id>``), in the transaction that creates it. A collection point is
also what truConsent's SDKs show as a *banner*: each purpose carries what the banner shows
(``PURPOSE_DEFAULTS``), the point its ``consent_type`` and banner ``settings``; an asset its
``allowed_origins`` (who may call the SDK API for it, see :mod:`.origins`).
"""
from __future__ import annotations

import calendar
import datetime as dt
import re

from consent.core import audit, ledger
from consent.core.errors import Conflict, Invalid, NotFound
from consent.core.storage import new_uuid, transaction

from . import queries
from .models import TcAsset, TcCollectionPoint

# What a purpose of a collection point holds besides its id, name, description and version.
PURPOSE_DEFAULTS = {"is_mandatory": False, "is_legitimate": False, "expiry_period": "",
                    "data_elements": [], "processing_activities": [], "legal_entities": [],
                    "tools": []}
ITEM_LISTS = ("data_elements", "processing_activities", "legal_entities", "tools")
CONSENT_TYPES = ("standard_consent", "cookie_consent", "general")
# Path segments of the SDK API next to /api/v1/internal/consent/{id}: never a display id.
RESERVED_IDS = {"suppression", "rights-center", "user", "user-consent-status"}

_PERIOD = re.compile(r"^\s*(\d{1,5})\s*(day|week|month|year)?s?\s*$", re.IGNORECASE)


def parse_expiry(period: str | None):
    """``expiry_period`` as (count, unit): ``"365"`` (days), ``"30 days"``, ``"6 months"``,
    ``"1 Year"``; None for none (empty). Raises Invalid otherwise."""
    if not period or not period.strip():
        return None
    match = _PERIOD.match(period)
    if match is None or int(match[1]) == 0:
        raise Invalid(f"expiry_period {period!r} is not a period: use a number of days or "
                      "'N days|weeks|months|years'")
    return int(match[1]), (match[2] or "day").lower()


def expiry_after(start: dt.datetime, period: str | None) -> dt.datetime | None:
    """When a grant given at ``start`` expires under ``period`` (None: never). Months and years
    are calendar months (the 31st of a shorter month is its last day)."""
    parsed = parse_expiry(period)
    if parsed is None:
        return None
    count, unit = parsed
    if unit in ("day", "week"):
        return start + dt.timedelta(days=count * (7 if unit == "week" else 1))
    months = count * (12 if unit == "year" else 1) + start.month - 1
    year, month = start.year + months // 12, months % 12 + 1
    if year > 9999:
        return dt.datetime.max.replace(microsecond=0)
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def _reserved(display_id: str | None, what: str) -> None:
    if display_id and display_id.lower() in RESERVED_IDS:
        raise Invalid(f"{display_id!r} cannot be a {what} display id (a path of the SDK API)")


def _next_display_id(model, org_id: str, prefix: str) -> str:
    n = queries.display_ids_used(model).value((org_id,)) + 1
    while queries.display_id_taken(model).value((org_id, f"{prefix}{n:03d}")):
        n += 1
    return f"{prefix}{n:03d}"


def check_origins(sources) -> list[str] | None:
    """An allowed-origins list as stored: None (the service's CONSENT_CORS_ORIGINS) or a list of
    origin sources, each checked as CONSENT_CORS_ORIGINS' are. Raises Invalid."""
    from consent.web.cors import origin_patterns

    if sources is None:
        return None
    clean = [str(s).strip() for s in sources if str(s).strip()]
    for source in clean:
        try:
            origin_patterns(source)
        except ValueError as exc:
            raise Invalid(str(exc)) from None
    return clean


def create_asset(org, name: str, display_id: str | None = None, actor: str = "system", *,
                 asset_type: str | None = None, description: str | None = None,
                 allowed_origins: list[str] | None = None):
    name = (name or "").strip()
    if not name:
        raise Invalid("an asset needs a name")
    _reserved(display_id, "asset")
    allowed_origins = check_origins(allowed_origins)
    with transaction():
        event = audit.begin(org.id)
        display_id = display_id or _next_display_id(TcAsset, org.id, "AS")
        if queries.display_id_taken(TcAsset).value((org.id, display_id)):
            raise Conflict(f"asset {display_id} already exists")
        asset = event.create(TcAsset, org_id=org.id, display_id=display_id, name=name,
                             asset_type=asset_type, description=description,
                             allowed_origins=allowed_origins)
        event.append(actor=actor, action="truconsent.asset.created", entity_type="asset",
                     entity_id=asset.id, payload={
                         "display_id": display_id, "name": name, "asset_type": asset_type,
                         "description": description, "allowed_origins": allowed_origins})
    return asset


ASSET_FIELDS = ("name", "asset_type", "description", "allowed_origins")


def update_asset(org, ref: str, changes: dict, actor: str = "system"):
    """Change an asset's name, type, description or allowed origins (``changes``: those given;
    ``allowed_origins`` None: back to the service's CONSENT_CORS_ORIGINS)."""
    changes = {k: v for k, v in changes.items() if k in ASSET_FIELDS}
    if "name" in changes:
        changes["name"] = (changes["name"] or "").strip()
        if not changes["name"]:
            raise Invalid("an asset needs a name")
    if "allowed_origins" in changes:
        changes["allowed_origins"] = check_origins(changes["allowed_origins"])
    with transaction():
        event = audit.begin(org.id)   # the write lock first: the row read is the one updated
        asset = find_asset(org, ref)
        if asset is None:
            raise NotFound("Asset not found")
        if changes:
            asset = event.update(TcAsset, asset, **changes)
            event.append(actor=actor, action="truconsent.asset.updated",
                         entity_type="asset", entity_id=asset.id, payload=changes)
    return asset


def find_asset(org, ref: str):
    """The organisation's asset with this UUID or display id, or None."""
    return queries.ASSET_BY_REF.one((org.id, ref, ref)) if ref else None


def assets(org) -> list:
    return queries.ASSETS_OF_ORG.all((org.id,))


def _item(item: dict) -> dict:
    """A data element, processing activity, legal entity or tool as a purpose keeps it."""
    name = (item.get("name") or "").strip()
    if not name:
        raise Invalid("every data element, processing activity, legal entity and tool needs a "
                      "name")
    out = {"id": item.get("id") or new_uuid(), "name": name}
    for key in ("description", "display_id"):
        if item.get(key):
            out[key] = item[key]
    return out


def clean_purposes(purposes: list[dict]) -> list[dict]:
    """Purpose definitions as a collection point keeps them (defaults filled in). Raises
    Invalid."""
    if not purposes:
        raise Invalid("a collection point needs at least one purpose")
    clean = []
    for p in purposes:
        name = (p.get("name") or "").strip()
        if not name:
            raise Invalid("every purpose needs a name")
        purpose = {"id": p.get("id") or new_uuid(), "name": name,
                   "description": p.get("description") or "",
                   "version": str(p.get("version") or "1")}
        for key, default in PURPOSE_DEFAULTS.items():
            value = p.get(key, default)
            if key in ITEM_LISTS:
                value = [_item(i) for i in (value or [])]
            elif key == "expiry_period":
                value = (value or "").strip()
                parse_expiry(value)
            else:
                value = bool(value)
            purpose[key] = value
        if purpose["is_legitimate"] and purpose["expiry_period"]:
            raise Invalid(f"purpose {name!r} is a legitimate interest: it has no consent to "
                          "expire")
        clean.append(purpose)
    if len({p["id"] for p in clean}) != len(clean):
        raise Invalid("purpose ids must be unique")
    return clean


def create_collection_point(org, asset_ref: str, title: str, notice_text: str,
                            purposes: list[dict], notice_version: str = "1",
                            display_id: str | None = None, actor: str = "system", *,
                            consent_type: str = "standard_consent",
                            settings: dict | None = None):
    title, notice_text = (title or "").strip(), (notice_text or "").strip()
    if not title or not notice_text:
        raise Invalid("a collection point needs a title and notice text")
    _reserved(display_id, "collection point")
    if consent_type not in CONSENT_TYPES:
        raise Invalid(f"consent_type must be one of {', '.join(CONSENT_TYPES)}")
    clean = clean_purposes(purposes)
    check_settings(settings, clean)
    with transaction():
        asset = find_asset(org, asset_ref)
        if asset is None:
            raise NotFound("asset not found")
        display_id = display_id or _next_display_id(TcCollectionPoint, org.id, "CP")
        if queries.display_id_taken(TcCollectionPoint).value((org.id, display_id)):
            raise Conflict(f"collection point {display_id} already exists")
        cp_id = new_uuid()
        for p in clean:
            ledger.ensure_purpose(org.id, p["id"], name=p["name"], version=p["version"],
                                  description=p["description"], actor=actor)
        ledger.publish_notice(org.id, f"cp:{cp_id}", title, notice_text, notice_version,
                              actor=actor)
        event = audit.begin(org.id)
        cp = event.create(TcCollectionPoint, id=cp_id, org_id=org.id, asset_id=asset.id,
                          display_id=display_id, title=title, notice_text=notice_text,
                          notice_version=notice_version, purposes=clean,
                          consent_type=consent_type, settings=settings or None)
        event.append(actor=actor, action="truconsent.collection_point.created",
                     entity_type="collection_point", entity_id=cp.id, payload={
                         "display_id": display_id, "asset_id": asset.id, "title": title,
                         "notice_version": notice_version, "purposes": clean,
                         "consent_type": consent_type, "settings": settings or None})
    return cp


def check_settings(settings: dict | None, purposes: list[dict]) -> None:
    """Settings the schema accepted that contradict the purposes: a notice-only template shows
    no choice, so every purpose must be a legitimate interest (else the SDK would send a consent
    purpose as merely "shown")."""
    if (settings or {}).get("general_notice_template") == "notice_only" and not all(
            p.get("is_legitimate") for p in purposes):
        raise Invalid("the notice_only template is for collection points whose purposes are "
                      "all legitimate interests")


def update_collection_point(org, ref: str, changes: dict, actor: str = "system"):
    """Change a collection point's banner: ``consent_type`` and ``banner_settings`` (replaced
    whole; None or {} removes them). Its notice and purposes are versioned by the ledger and are
    not changed here."""
    with transaction():
        event = audit.begin(org.id)   # the write lock first: the row read is the one updated
        cp = find_cp(org, ref)
        if cp is None:
            raise NotFound("Collection point not found")
        update = {}
        if "consent_type" in changes:
            if changes["consent_type"] not in CONSENT_TYPES:
                raise Invalid(f"consent_type must be one of {', '.join(CONSENT_TYPES)}")
            update["consent_type"] = changes["consent_type"]
        if "banner_settings" in changes:
            check_settings(changes["banner_settings"], cp.purposes)
            update["settings"] = changes["banner_settings"] or None
        if update:
            cp = event.update(TcCollectionPoint, cp, **update)
            event.append(actor=actor, action="truconsent.collection_point.updated",
                         entity_type="collection_point", entity_id=cp.id, payload=update)
    return cp


def find_cp(org, ref: str):
    """The organisation's collection point with this UUID or display id, or None."""
    if not ref:
        return None
    return queries.CP_BY_REF.one((org.id, ref, ref, ref, 1))


def collection_points(org) -> list:
    return queries.CPS_OF_ORG.all((org.id,))


def first_cp_of_asset(org, asset_id: str):
    return queries.CP_OF_ASSET.one((org.id, asset_id, 1))


def cps_of_asset(org, asset_id: str) -> list:
    return queries.CPS_OF_ASSET.all((org.id, asset_id))


def purpose_points(org, asset_id: str | None = None) -> dict[str, object]:
    """Each purpose id of the organisation's collection points (or one asset's) -> the first
    collection point (by display id) that has it."""
    out: dict[str, object] = {}
    for cp in (cps_of_asset(org, asset_id) if asset_id else collection_points(org)):
        for p in cp.purposes:
            out.setdefault(p["id"], cp)
    return out


def purpose_def(cp, purpose_id: str) -> dict | None:
    return next((p for p in cp.purposes if p["id"] == purpose_id), None)


def purpose_view(p: dict) -> dict:
    """A stored purpose with every field a banner shows (defaults for older points)."""
    return {**PURPOSE_DEFAULTS, **p}
