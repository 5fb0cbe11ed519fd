"""Assets (an app or website) and collection points (a notice with its purposes, under an asset).

A collection point's purposes become ledger purposes (their ``id`` is the purpose code) and its
notice a ledger notice (``cp:<id>``), in the transaction that creates it.
"""
from __future__ import annotations

from consent.core import audit, ledger
from consent.core.errors import Conflict, Invalid, NotFound
from consent.core.storage import new_uuid, transaction

from . import queries
from .models import TcAsset, TcCollectionPoint


def _next_display_id(model, org_id: str, prefix: str) -> str:
    n = queries.display_ids_used(model).value((org_id,)) + 1
    while queries.display_id_taken(model).value((org_id, f"{prefix}{n:03d}")):
        n += 1
    return f"{prefix}{n:03d}"


def create_asset(org, name: str, display_id: str | None = None, actor: str = "system"):
    name = (name or "").strip()
    if not name:
        raise Invalid("an asset needs a name")
    with transaction():
        event = audit.begin(org.id)
        display_id = display_id or _next_display_id(TcAsset, org.id, "AS")
        if queries.display_id_taken(TcAsset).value((org.id, display_id)):
            raise Conflict(f"asset {display_id} already exists")
        asset = event.create(TcAsset, org_id=org.id, display_id=display_id, name=name)
        event.append(actor=actor, action="truconsent.asset.created", entity_type="asset",
                     entity_id=asset.id, payload={"display_id": display_id, "name": name})
    return asset


def find_asset(org, ref: str):
    """The organisation's asset with this UUID or display id, or None."""
    return queries.ASSET_BY_REF.one((org.id, ref, ref)) if ref else None


def assets(org) -> list:
    return queries.ASSETS_OF_ORG.all((org.id,))


def create_collection_point(org, asset_ref: str, title: str, notice_text: str,
                            purposes: list[dict], notice_version: str = "1",
                            display_id: str | None = None, actor: str = "system"):
    title, notice_text = (title or "").strip(), (notice_text or "").strip()
    if not title or not notice_text:
        raise Invalid("a collection point needs a title and notice text")
    if not purposes:
        raise Invalid("a collection point needs at least one purpose")
    clean = []
    for p in purposes:
        name = (p.get("name") or "").strip()
        if not name:
            raise Invalid("every purpose needs a name")
        clean.append({"id": p.get("id") or new_uuid(), "name": name,
                      "description": p.get("description") or "",
                      "version": str(p.get("version") or "1")})
    if len({p["id"] for p in clean}) != len(clean):
        raise Invalid("purpose ids must be unique")
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
                          notice_version=notice_version, purposes=clean)
        event.append(actor=actor, action="truconsent.collection_point.created",
                     entity_type="collection_point", entity_id=cp.id, payload={
                         "display_id": display_id, "asset_id": asset.id, "title": title,
                         "notice_version": notice_version, "purposes": clean})
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
