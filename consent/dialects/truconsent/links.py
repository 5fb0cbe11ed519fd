"""Consent links: a request to one data principal (by phone) for one collection point, and the
signed, expiring links (events) it is sent as; regeneration adds a new link to the same request.

A link is ``{public URL}/{org subdomain}/{cp display id}/{event id}?t=<token>``; the token is an
itsdangerous signature (salt ``consent-link``) over the organisation, collection point and event,
checked with the request's own lifetime as ``max_age``. Opening and answering a link is
:func:`resolve` and :func:`complete`; every write is one transaction with its audit event(s).

A request names its data principal by the ledger's subject of the phone (made with the request),
and its audit events by ``subject_ref``; the phone itself is a personal column (salted). Once the
person is erased (:mod:`.people`) the request is no one's: its phone is ``[erased]``, the
history leaves it out, its status and regeneration answer 404 and its links are refused as an
unknown link is.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from consent.core import audit, ledger, personal, tokens
from consent.core.errors import Conflict, Gone, NotFound, RateLimited
from consent.core.storage import is_postgres, new_uuid, transaction, utcnow
from schemas.common import iso

from . import logs, models, points, queries
from .models import TcConsentRequest, TcLinkEvent, TcLog
from .phones import mask_phone

MAX_REGENERATIONS = 5
SOURCE_LINK = "consent_link"


def url(public_url: str, org, cp_display_id: str, event_id: str, token: str) -> str:
    return f"{public_url}/{org.subdomain}/{cp_display_id}/{event_id}?t={token}"


def status(req, at: dt.datetime | None = None) -> str:
    """active, complete or expired."""
    if req.completed_at is not None:
        return "complete"
    return "expired" if req.expires_at <= (at or models.now()) else "active"


@dataclass
class Issued:
    """A link just issued: its request, its event (the link itself) and its URL."""

    request: object
    event: object
    url: str
    previous_event_id: str | None = None
    delivery: dict | None = None


def _new_event(audit_event, secret_key, org, cp, request_id: str, hours: int, at: dt.datetime,
               event_id: str | None = None):
    """Insert a new link (event) of a request, through the audit event of the write: its id
    and its signed token."""
    event_id = event_id or new_uuid()
    token = tokens.dumps(secret_key, tokens.Salt.CONSENT_LINK,
                         {"o": org.id, "c": cp.id, "e": event_id})
    return audit_event.create(TcLinkEvent, id=event_id, org_id=org.id, request_id=request_id,
                              token=token, created_at=at,
                              expires_at=at + dt.timedelta(hours=hours))


def create(secret_key, public_url: str, org, cp, phone: str, expiry_hours: int,
           data_collection_timestamp: dt.datetime | None, actor: str) -> Issued:
    at = models.now()
    with transaction():
        written = audit.begin(org.id)
        subject = ledger.ensure_subject(org.id, phone)   # the data principal's pseudonym
        request_id, event_id = new_uuid(), new_uuid()
        req = written.create(TcConsentRequest, id=request_id, org_id=org.id,
                             subject_id=subject.id,
                             collection_point_id=cp.id, phone=phone, expiry_hours=expiry_hours,
                             data_collection_timestamp=data_collection_timestamp or at,
                             current_event_id=event_id,
                             expires_at=at + dt.timedelta(hours=expiry_hours), created_at=at)
        event = _new_event(written, secret_key, org, cp, request_id, expiry_hours, at, event_id)
        written.append(actor=actor, action="truconsent.link.created",
                       entity_type="consent_link", entity_id=request_id, payload={
                         "event_id": event_id, "collection_point_id": cp.id,
                         "subject_ref": subject.id, "expires_at": iso(event.expires_at)})
    return Issued(req, event, url(public_url, org, cp.display_id, event_id, event.token))


@dataclass
class Summary:
    """A request as the history lists it."""

    row: object  # queries.LINK's row: the request with its point and current link
    status: str
    url: str

    @property
    def phone(self) -> str:
        return mask_phone(self.row.phone)

    @property
    def is_completed(self) -> bool:
        return self.row.completed_at is not None


@dataclass
class State:
    """A request with its collection point, status and consent logs (the status endpoint)."""

    req: object
    cp: object
    status: str
    logs: list


def state(org, request_id: str) -> State:
    req = get_request(org, request_id)
    cp = queries.CP_BY_ID.one((req.collection_point_id,))
    _, found = logs.page(org, request_id=req.id, limit=1000)
    found.sort(key=lambda log: log.row.purpose)
    return State(req, cp, status(req), found)


def history(public_url: str, org, limit: int, offset: int) -> tuple[int, list[Summary]]:
    total = queries.COUNT_LINKS.value((org.id,))
    at = models.now()
    rows = queries.LINKS_OF_ORG.all((org.id, limit, offset))
    return total, [Summary(r, status(r, at), url(public_url, org, r.cp_display_id,
                                                 r.current_event_id, r.token)) for r in rows]


def recent(org, limit: int) -> list[Summary]:
    """The newest ``limit`` requests (the (org, created_at) index; no count): the operator
    console's list. Their ``url`` is empty: the console shows no link's token."""
    at = models.now()
    return [Summary(r, status(r, at), "") for r in queries.LINKS_OF_ORG.all((org.id, limit, 0))]


def get_request(org, request_id: str, lock: bool = False):
    statement = queries.REQUEST_BY_ID_LOCKED if lock and is_postgres() else queries.REQUEST_BY_ID
    req = statement.one((org.id, request_id))
    if req is None or req.phone == personal.ERASED:
        raise NotFound("Consent request not found")
    return req


def regenerate(secret_key, public_url: str, org, request_id: str, actor: str) -> Issued:
    with transaction():
        req = get_request(org, request_id, lock=True)
        at = models.now()
        current = status(req, at)
        if current == "complete":
            raise Gone("Consent already completed for this request")
        if req.regeneration_count >= MAX_REGENERATIONS:
            raise RateLimited(f"Maximum regeneration limit ({MAX_REGENERATIONS}) reached")
        if current == "active":
            raise Conflict("Consent link is still active")
        cp = queries.CP_BY_ID.one((req.collection_point_id,))
        written = audit.begin(org.id)
        event = _new_event(written, secret_key, org, cp, req.id, req.expiry_hours, at)
        written.update(TcLinkEvent, queries.LINK_EVENT_BY_ID.one((req.current_event_id,)),
                       superseded_at=at)
        req = written.update(TcConsentRequest, req, previous_event_id=req.current_event_id,
                             current_event_id=event.id,
                             regeneration_count=req.regeneration_count + 1,
                             expires_at=event.expires_at)
        written.append(actor=actor, action="truconsent.link.regenerated",
                       entity_type="consent_link", entity_id=req.id, payload={
                         "event_id": event.id, "previous_event_id": req.previous_event_id,
                         "regeneration_count": req.regeneration_count,
                         "expires_at": iso(event.expires_at)})
    return Issued(req, event, url(public_url, org, cp.display_id, event.id, event.token),
                  previous_event_id=req.previous_event_id)


# -- opening and answering a link -------------------------------------------------------------------

class LinkError(Exception):
    """A link that cannot be used: ``kind`` is tampered (400), expired or replaced (410)."""

    STATUS = {"tampered": 400, "expired": 410, "replaced": 410}

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind
        self.status = self.STATUS[kind]


class AlreadyCompleted(Exception):
    pass


@dataclass
class Opened:
    """A link whose token checked out, with everything it refers to."""

    org: object
    cp: object
    req: object
    event: object


def resolve(secret_key, subdomain: str, cp_display: str, event_id: str,
            token: str | None) -> Opened:
    """Check a link: the token's signature and age, and that it binds this very path. Raises
    LinkError."""
    event = queries.LINK_EVENT_BY_ID.one((event_id,))
    if event is None or not token:
        raise LinkError("tampered")
    org = ledger.get_org(event.org_id)
    req = queries.REQUEST_BY_ID.one((event.org_id, event.request_id))
    if req.phone == personal.ERASED:   # its person was erased: a link of no one
        raise LinkError("tampered")
    cp = queries.CP_BY_ID.one((req.collection_point_id,))
    if org.subdomain != subdomain or cp.display_id != cp_display:
        raise LinkError("tampered")
    try:
        payload = tokens.loads(secret_key, tokens.Salt.CONSENT_LINK, token,
                               max_age=req.expiry_hours * 3600)
    except tokens.SignatureExpired:
        # The signature is genuine, only old: say why the link no longer works.
        raise LinkError("replaced" if event.superseded_at else "expired") from None
    except tokens.BadSignature:
        raise LinkError("tampered") from None
    if payload != {"o": org.id, "c": cp.id, "e": event.id}:
        raise LinkError("tampered")
    opened = Opened(org, cp, req, event)
    if req.completed_at is not None:
        return opened
    if event.superseded_at is not None:
        raise LinkError("replaced")
    if event.expires_at <= models.now():
        raise LinkError("expired")
    return opened


def complete(link: Opened, choices: dict[str, bool], evidence: dict):
    """Record the data principal's decision on a link: one consent per purpose and the request
    marked complete, in one transaction. Returns the completed request. Raises AlreadyCompleted
    or LinkError."""
    org, cp = link.org, link.cp
    with transaction():
        req = get_request(org, link.req.id, lock=True)
        if req.completed_at is not None:
            raise AlreadyCompleted()
        event = queries.LINK_EVENT_BY_ID.one((link.event.id,))
        if event.superseded_at is not None:
            raise LinkError("replaced")
        at = models.now()
        if event.expires_at <= at:
            raise LinkError("expired")
        granted = [choices[p["id"]] for p in cp.purposes]
        action = ("approved" if all(granted) else "declined" if not any(granted)
                  else "partial_consent")
        actor = f"consent_link:{event.id}"
        now = utcnow()
        recorded = ledger.in_transaction_record(org.id, [ledger.Decision(
            subject=req.phone, purpose=p["id"], status="granted" if choices[p["id"]] else "denied",
            source=SOURCE_LINK, purpose_name=p["name"], purpose_version=p["version"],
            notice_version=cp.notice_version,
            valid_until=points.expiry_after(now, p.get("expiry_period"))
            if choices[p["id"]] and not p.get("is_legitimate") else None, evidence={
                **evidence, "action": action, "event_id": event.id, "request_id": req.id,
                "collection_point_id": cp.id,
                "data_collection_timestamp": iso(req.data_collection_timestamp)})
            for p in cp.purposes], actor=actor, now=now)
        written = audit.begin(org.id)
        for r in recorded:
            written.insert(TcLog, {"consent_seq": r.consent.seq, "org_id": org.id,
                                   "action": action, "collection_point_id": cp.id,
                                   "request_id": req.id, "event_id": event.id,
                                   "metadata": None})
        req = written.update(TcConsentRequest, req, completed_at=at, completed_event_id=event.id,
                             consent_action=action,
                             reference="TC-" + event.id.replace("-", "")[:10].upper())
        written.append(actor=actor, action="truconsent.link.completed",
                       entity_type="consent_link", entity_id=req.id, payload={
                         "event_id": event.id, "consent_action": action,
                         "reference": req.reference,
                         "consent_ids": [r.consent.id for r in recorded]})
    return req
