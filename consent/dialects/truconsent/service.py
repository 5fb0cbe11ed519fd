"""truConsent's domain on top of the ledger: assets, collection points, consent links and logs.

Every write is one transaction that appends its audit event(s); consent decisions go through
``ledger.in_transaction_record`` in that same transaction.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from peewee import JOIN

from consent.core import audit, fastsql, ledger, tokens
from consent.core.errors import Conflict, Gone, Invalid, NotFound, RateLimited
from consent.core.storage import (
    Consent,
    ConsentEvent,
    Organisation,
    Purpose,
    Subject,
    is_postgres,
    new_uuid,
    transaction,
    utcnow,
)
from schemas.common import iso

from . import models
from .models import TcAsset, TcCollectionPoint, TcConsentRequest, TcLinkEvent, TcLog

MAX_REGENERATIONS = 5
SOURCE_LINK = "consent_link"
SOURCE_API = "api"
E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
TEN_DIGITS = re.compile(r"^[0-9]{10}$")
ACTION_STATUS = {"approved": "granted", "declined": "denied", "no_action": "denied",
                 "revoked": "withdrawn"}


def normalise_phone(raw: str) -> str | None:
    """E.164 as given, or 10 digits prefixed with +91; anything else is None."""
    value = (raw or "").strip()
    if E164.match(value):
        return value
    if TEN_DIGITS.match(value):
        return "+91" + value
    return None


def mask_phone(phone: str) -> str:
    """``+919876543210`` -> ``+*********210``."""
    if not phone:
        return phone
    head = "+" if phone.startswith("+") else ""
    digits = phone[len(head):]
    return head + "*" * max(len(digits) - 3, 0) + digits[-3:]


def mask_email(address: str) -> str:
    local, _, domain = (address or "").partition("@")
    return (local[:1] + "***@" + domain) if domain else "***"


# -- assets and collection points -----------------------------------------------------------------

def _next_display_id(model, org_id: str, prefix: str) -> str:
    n = model.select().where(model.org == org_id).count() + 1
    while model.select().where((model.org == org_id)
                               & (model.display_id == f"{prefix}{n:03d}")).exists():
        n += 1
    return f"{prefix}{n:03d}"


def create_asset(org: Organisation, name: str, display_id: str | None = None,
                 actor: str = "system") -> TcAsset:
    name = (name or "").strip()
    if not name:
        raise Invalid("an asset needs a name")
    with transaction():
        display_id = display_id or _next_display_id(TcAsset, org.id, "AS")
        if TcAsset.select().where((TcAsset.org == org.id)
                                  & (TcAsset.display_id == display_id)).exists():
            raise Conflict(f"asset {display_id} already exists")
        asset = TcAsset.create(org=org.id, display_id=display_id, name=name)
        audit.append(org.id, actor=actor, action="truconsent.asset.created", entity_type="asset",
                     entity_id=asset.id, payload={"display_id": display_id, "name": name})
    return asset


def find_asset(org: Organisation, ref: str) -> TcAsset | None:
    if not ref:
        return None
    return TcAsset.get_or_none((TcAsset.org == org.id)
                               & ((TcAsset.id == ref) | (TcAsset.display_id == ref)))


def create_collection_point(org: Organisation, asset_ref: str, title: str, notice_text: str,
                            purposes: list[dict], notice_version: str = "1",
                            display_id: str | None = None,
                            actor: str = "system") -> TcCollectionPoint:
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
        if TcCollectionPoint.select().where((TcCollectionPoint.org == org.id)
                                            & (TcCollectionPoint.display_id
                                               == display_id)).exists():
            raise Conflict(f"collection point {display_id} already exists")
        cp = TcCollectionPoint.create(org=org.id, asset=asset, display_id=display_id, title=title,
                                      notice_text=notice_text, notice_version=notice_version,
                                      purposes=clean)
        for p in clean:
            ledger.ensure_purpose(org.id, p["id"], name=p["name"], version=p["version"],
                                  description=p["description"], actor=actor)
        ledger.publish_notice(org.id, f"cp:{cp.id}", title, notice_text, notice_version,
                              actor=actor)
        audit.append(org.id, actor=actor, action="truconsent.collection_point.created",
                     entity_type="collection_point", entity_id=cp.id, payload={
                         "display_id": display_id, "asset_id": asset.id, "title": title,
                         "notice_version": notice_version, "purposes": clean})
    return cp


def find_cp(org: Organisation, ref: str) -> TcCollectionPoint | None:
    """The organisation's collection point with this id or display id (on every record and link
    request, so on cached SQL)."""
    if not ref:
        return None
    return fastsql.get(TcCollectionPoint, '"org_id" = ? AND ("display_id" = ? OR "id" = ?) '
                       'ORDER BY "display_id" = ? DESC LIMIT 1', (org.id, ref, ref, ref))


# -- consent links --------------------------------------------------------------------------------

def link_url(public_url: str, org: Organisation, cp: TcCollectionPoint, event: TcLinkEvent) -> str:
    return f"{public_url}/{org.subdomain}/{cp.display_id}/{event.id}?t={event.token}"


def link_status(req: TcConsentRequest, at: dt.datetime | None = None) -> str:
    if req.completed_at is not None:
        return "complete"
    return "expired" if req.expires_at <= (at or models.now()) else "active"


def _new_event(secret_key, org: Organisation, cp: TcCollectionPoint, req_id: str, hours: int,
               at: dt.datetime) -> TcLinkEvent:
    event_id = new_uuid()
    token = tokens.dumps(secret_key, tokens.Purpose.CONSENT_LINK,
                         {"o": org.id, "c": cp.id, "e": event_id})
    return TcLinkEvent(id=event_id, org=org.id, request=req_id, token=token, created_at=at,
                       expires_at=at + dt.timedelta(hours=hours))


def create_link(secret_key, org: Organisation, cp: TcCollectionPoint, phone: str,
                expiry_hours: int, data_collection_timestamp: dt.datetime | None,
                actor: str) -> tuple[TcConsentRequest, TcLinkEvent]:
    at = models.now()
    with transaction():
        req_id = new_uuid()
        event = _new_event(secret_key, org, cp, req_id, expiry_hours, at)
        req = fastsql.create(TcConsentRequest, id=req_id, org=org.id, collection_point=cp.id,
                             phone=phone, expiry_hours=expiry_hours,
                             data_collection_timestamp=data_collection_timestamp or at,
                             current_event_id=event.id, expires_at=event.expires_at,
                             created_at=at)
        fastsql.create(TcLinkEvent, **event.__data__)
        audit.append(org.id, actor=actor, action="truconsent.link.created",
                     entity_type="consent_link", entity_id=req_id, payload={
                         "event_id": event.id, "collection_point_id": cp.id,
                         "phone": mask_phone(phone), "expires_at": iso(event.expires_at)})
    return req, event


def get_request(org: Organisation, request_id: str, lock: bool = False) -> TcConsentRequest:
    query = TcConsentRequest.select().where((TcConsentRequest.org == org.id)
                                            & (TcConsentRequest.id == request_id))
    if lock and is_postgres():
        query = query.for_update()
    req = query.first()
    if req is None:
        raise NotFound("Consent request not found")
    return req


def regenerate(secret_key, org: Organisation, request_id: str,
               actor: str) -> tuple[TcConsentRequest, TcLinkEvent]:
    with transaction():
        req = get_request(org, request_id, lock=True)
        at = models.now()
        status = link_status(req, at)
        if status == "complete":
            raise Gone("Consent already completed for this request")
        if req.regeneration_count >= MAX_REGENERATIONS:
            raise RateLimited(f"Maximum regeneration limit ({MAX_REGENERATIONS}) reached")
        if status == "active":
            raise Conflict("Consent link is still active")
        cp = TcCollectionPoint.get_by_id(req.collection_point_id)
        event = _new_event(secret_key, org, cp, req.id, req.expiry_hours, at)
        event.save(force_insert=True)
        TcLinkEvent.update(superseded_at=at).where(
            TcLinkEvent.id == req.current_event_id).execute()
        req.previous_event_id = req.current_event_id
        req.current_event_id = event.id
        req.regeneration_count += 1
        req.expires_at = event.expires_at
        req.save()
        audit.append(org.id, actor=actor, action="truconsent.link.regenerated",
                     entity_type="consent_link", entity_id=req.id, payload={
                         "event_id": event.id, "previous_event_id": req.previous_event_id,
                         "regeneration_count": req.regeneration_count,
                         "expires_at": iso(event.expires_at)})
    return req, event


class LinkError(Exception):
    def __init__(self, status: int, title: str, message: str):
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


TAMPERED = (400, "This link is not valid",
            "The link may have been changed or copied incompletely. Please use the exact link "
            "you received, or ask the sender for a new one.")
EXPIRED = (410, "This link has expired",
           "For your protection, consent links only work for a limited time. Please ask the "
           "sender for a new link.")
REPLACED = (410, "This link has been replaced",
            "A newer link was sent for this request. Please use the most recent link you "
            "received.")


@dataclass
class LinkContext:
    org: Organisation
    cp: TcCollectionPoint
    req: TcConsentRequest
    event: TcLinkEvent


def resolve_link(secret_key, subdomain: str, cp_display: str, event_id: str,
                 token: str | None) -> LinkContext:
    """Check a consent link: token signature and age, and that it binds this very path.
    Raises LinkError (400 tampered, 410 expired or replaced)."""
    event = TcLinkEvent.get_or_none(TcLinkEvent.id == event_id)
    if event is None or not token:
        raise LinkError(*TAMPERED)
    req = TcConsentRequest.get_by_id(event.request_id)
    cp = TcCollectionPoint.get_by_id(req.collection_point_id)
    org = Organisation.get_by_id(req.org_id)
    if org.subdomain != subdomain or cp.display_id != cp_display:
        raise LinkError(*TAMPERED)
    try:
        payload = tokens.loads(secret_key, tokens.Purpose.CONSENT_LINK, token,
                               max_age=req.expiry_hours * 3600)
    except tokens.SignatureExpired:
        # The signature is genuine, only old: say why the link no longer works.
        raise LinkError(*(REPLACED if event.superseded_at else EXPIRED)) from None
    except tokens.BadSignature:
        raise LinkError(*TAMPERED) from None
    if payload != {"o": org.id, "c": cp.id, "e": event.id}:
        raise LinkError(*TAMPERED)
    ctx = LinkContext(org, cp, req, event)
    if req.completed_at is not None:
        return ctx
    if event.superseded_at is not None:
        raise LinkError(*REPLACED)
    if event.expires_at <= models.now():
        raise LinkError(*EXPIRED)
    return ctx


class AlreadyCompleted(Exception):
    pass


def complete_link(ctx: LinkContext, choices: dict[str, bool], evidence: dict) -> TcConsentRequest:
    """Record the data principal's decision on a link: one consent per purpose, the link marked
    complete, all in one transaction. Raises AlreadyCompleted or LinkError."""
    org, cp = ctx.org, ctx.cp
    with transaction():
        req = get_request(org, ctx.req.id, lock=True)
        if req.completed_at is not None:
            raise AlreadyCompleted()
        event = TcLinkEvent.get_by_id(ctx.event.id)
        if event.superseded_at is not None:
            raise LinkError(*REPLACED)
        at = models.now()
        if event.expires_at <= at:
            raise LinkError(*EXPIRED)
        granted = [choices[p["id"]] for p in cp.purposes]
        action = ("approved" if all(granted) else "declined" if not any(granted)
                  else "partial_consent")
        decisions = [ledger.Decision(
            subject=req.phone, purpose=p["id"], status="granted" if choices[p["id"]] else "denied",
            source=SOURCE_LINK, purpose_name=p["name"], purpose_version=p["version"],
            notice_version=cp.notice_version, evidence={
                **evidence, "action": action, "event_id": event.id, "request_id": req.id,
                "collection_point_id": cp.id,
                "data_collection_timestamp": iso(req.data_collection_timestamp)})
            for p in cp.purposes]
        consents = ledger.in_transaction_record(org, decisions, actor=f"consent_link:{event.id}")
        TcLog.insert_many([{"consent": c.seq, "org": org.id, "action": action,
                            "collection_point": cp.id, "request_id": req.id,
                            "event_id": event.id, "metadata": None} for c in consents]).execute()
        req.completed_at = at
        req.completed_event_id = event.id
        req.consent_action = action
        req.reference = "TC-" + event.id.replace("-", "")[:10].upper()
        req.save()
        audit.append(org.id, actor=f"consent_link:{event.id}", action="truconsent.link.completed",
                     entity_type="consent_link", entity_id=req.id, payload={
                         "event_id": event.id, "consent_action": action,
                         "reference": req.reference, "consent_ids": [c.id for c in consents]})
    return req


# -- consent logs ---------------------------------------------------------------------------------

def _latest(org_id: str, subject: str, purpose_code: str) -> Consent | None:
    return (Consent.select(Consent.id, Consent.status)
            .join(Subject, on=(Consent.subject == Subject.id))
            .switch(Consent).join(Purpose, on=(Consent.purpose == Purpose.id))
            .where((Consent.org == org_id) & (Subject.identifier == subject)
                   & (Purpose.code == purpose_code))
            .order_by(Consent.seq.desc()).first())


def record_logs(org: Organisation, data: dict, actor: str) -> list[Consent]:
    """The body of POST /api/v1/external/consents/record; call inside a transaction."""
    action = data["action"]
    cp = None
    if data.get("collectionPointId"):
        cp = find_cp(org, data["collectionPointId"])
        if cp is None:
            raise NotFound("Collection point not found")
    known = {p["id"]: p for p in (cp.purposes if cp else [])}
    decisions = []
    for item in data["purposes"]:
        pid = item["id"]
        if action == "partial_consent":
            if item.get("consented") is None:
                raise Invalid("consented is required for every purpose of a partial_consent")
            status = "granted" if item["consented"] else "denied"
        else:
            status = ACTION_STATUS[action]
        supersedes = None
        if status == "withdrawn":
            latest = _latest(org.id, data["userId"], pid)
            supersedes = latest.id if latest is not None and latest.status == "granted" else None
        defined = known.get(pid, {})
        decisions.append(ledger.Decision(
            subject=data["userId"], purpose=pid, status=status, source=SOURCE_API,
            purpose_name=item.get("name") or defined.get("name"),
            purpose_version=item.get("version") or defined.get("version"),
            notice_version=cp.notice_version if cp else None, supersedes=supersedes,
            evidence={"action": action, "request_id": data.get("requestId"),
                      "collection_point_id": cp.id if cp else None,
                      "metadata": data.get("metadata")}))
    consents = ledger.in_transaction_record(org, decisions, actor=actor)
    for c in consents:
        c.tclog = fastsql.create(TcLog, consent=c.seq, org=org.id, action=action,
                                 collection_point=cp.id if cp else None,
                                 request_id=data.get("requestId"), event_id=None,
                                 metadata=data.get("metadata"))
        c.tclog.cp = cp
    return consents


def _log_query(org_id: str):
    holder, recorded = Subject.alias("holder"), Subject.alias("recorded")
    return (Consent
            .select(Consent, holder, recorded, Purpose, TcLog, TcCollectionPoint)
            .join(holder, on=(Consent.subject == holder.id), attr="subject")
            .switch(Consent)
            .join(recorded, on=(Consent.recorded_subject == recorded.id), attr="recorded_subject")
            .switch(Consent)
            .join(Purpose, on=(Consent.purpose == Purpose.id), attr="purpose")
            .switch(Consent)
            .join(TcLog, JOIN.LEFT_OUTER, on=(TcLog.consent == Consent.seq), attr="tclog")
            .join(TcCollectionPoint, JOIN.LEFT_OUTER,
                  on=(TcLog.collection_point == TcCollectionPoint.id), attr="cp")
            .where(Consent.org == org_id)), holder


def _tclog(c: Consent) -> TcLog | None:
    log = getattr(c, "tclog", None)
    return log if log is not None and log.action else None


def log_dict(c: Consent, mappings: dict | None = None) -> dict:
    log = _tclog(c)
    cp = getattr(log, "cp", None) if log else None
    if cp is not None and not cp.id:
        cp = None
    evidence = c.evidence or {}
    return {
        "id": c.id,
        "dp_id": c.subject.identifier,
        "recorded_dp_id": c.recorded_subject.identifier,
        "action": log.action if log else evidence.get("action"),
        "status": c.status,
        "purpose_id": c.purpose.code,
        "purpose_name": c.purpose.name,
        "purpose_version": c.purpose_version,
        "notice_version": c.notice_version,
        "collection_point_id": cp.id if cp else None,
        "collection_point_display_id": cp.display_id if cp else None,
        "source": c.source,
        "event_id": log.event_id if log else None,
        "request_id": log.request_id if log else None,
        "metadata": log.metadata if log else None,
        "mappings": (mappings or {}).get(c.seq, []),
        "created_at": iso(c.created_at),
    }


def _mappings(seqs: list[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    if not seqs:
        return out
    for e in (ConsentEvent.select().where(ConsentEvent.consent.in_(seqs)
                                          & (ConsentEvent.type == "mapped"))
              .order_by(ConsentEvent.id)):
        data = e.data or {}
        out.setdefault(e.consent_id, []).append({
            "from": data.get("from"), "to": data.get("to"), "metadata": data.get("metadata"),
            "mapped_at": iso(e.at)})
    return out


def logs_page(org: Organisation, *, dp_id=None, action=None, source=None, cp_ref=None,
              date_from=None, date_to=None, request_id=None, limit=50, offset=0,
              seqs=None) -> tuple[int, list[dict]]:
    query, holder = _log_query(org.id)
    if seqs is not None:
        query = query.where(Consent.seq.in_(seqs))
    if dp_id is not None:
        query = query.where(holder.identifier == dp_id)
    if action:
        query = query.where(TcLog.action == action)
    if source:
        query = query.where(Consent.source == source)
    if cp_ref:
        cp = find_cp(org, cp_ref)
        if cp is None:
            return 0, []
        query = query.where(TcLog.collection_point == cp.id)
    if request_id:
        query = query.where(TcLog.request_id == request_id)
    if date_from:
        query = query.where(Consent.created_at >= date_from)
    if date_to:
        query = query.where(Consent.created_at < date_to)
    total = query.count()
    rows = list(query.order_by(Consent.seq.desc()).limit(limit).offset(offset))
    maps = _mappings([c.seq for c in rows])
    return total, [log_dict(c, maps) for c in rows]


def user_status(org: Organisation, dp_id: str, cp_ref: str | None = None,
                purpose_id: str | None = None) -> list[dict]:
    """The binding (newest) decision per collection point and purpose for a data principal."""
    query, holder = _log_query(org.id)
    query = query.where(holder.identifier == dp_id)
    if cp_ref:
        cp = find_cp(org, cp_ref)
        if cp is None:
            return []
        query = query.where(TcLog.collection_point == cp.id)
    if purpose_id:
        query = query.where(Purpose.code == purpose_id)
    at = utcnow()
    groups: dict = {}
    seen = set()
    for c in query.order_by(Consent.seq.desc()):
        log = log_dict(c)
        key = (log["collection_point_id"], log["purpose_id"])
        if key in seen:
            continue
        seen.add(key)
        status = ledger.effective_status(c, at)
        group = groups.setdefault(log["collection_point_id"], {
            "collection_point_id": log["collection_point_id"],
            "collection_point_display_id": log["collection_point_display_id"],
            "purposes": []})
        group["purposes"].append({
            "purpose_id": log["purpose_id"], "purpose_name": log["purpose_name"],
            "purpose_version": log["purpose_version"], "notice_version": log["notice_version"],
            "status": status, "consented": status == "granted", "action": log["action"],
            "source": log["source"], "consent_log_id": log["id"],
            "recorded_at": log["created_at"]})
    out = list(groups.values())
    for g in out:
        g["purposes"].sort(key=lambda p: p["purpose_id"])
    out.sort(key=lambda g: g["collection_point_display_id"] or "")
    return out
