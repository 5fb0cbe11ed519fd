"""Consent logs: truConsent's name for ledger consents, one per purpose, with the action, collection
point, link and metadata truConsent adds (a ``TcLog`` row beside each consent).

``approved`` is recorded as granted, ``declined`` and ``no_action`` as denied, ``revoked`` as
withdrawn (superseding the binding grant, if any); ``partial_consent`` takes each purpose's
``consented``. Consents recorded by other dialects appear in the history and status too, without
truConsent's additions.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from consent.core import ledger
from consent.core.errors import Invalid, NotFound
from consent.core.storage import utcnow
from schemas.common import iso

from . import points, queries
from .models import TcLog

SOURCE_API = "api"
ACTION_STATUS = {"approved": "granted", "declined": "denied", "no_action": "denied",
                 "revoked": "withdrawn"}


@dataclass(slots=True)
class Log:
    """One consent log: the consent with truConsent's additions, and its identity mappings."""

    row: object                     # queries.LOG's row
    mappings: list = field(default_factory=list)

    @property
    def action(self) -> str | None:
        return self.row.tc_action or (self.row.evidence or {}).get("action")


@dataclass(slots=True)
class Choice:
    """One purpose's decision to write as a consent log."""

    purpose_id: str
    status: str                     # granted | denied | withdrawn ("withdraw-if-granted":
    #                                 withdrawn when the binding decision is a grant, else denied)
    cp: object = None               # the collection point it was made at, if any
    name: str | None = None
    version: str | None = None
    evidence: dict = field(default_factory=dict)
    consented: str | None = None    # what an SDK sent (accepted | declined | shown | pending)


WITHDRAW_IF_GRANTED = "withdraw-if-granted"


def write(org, user_id: str, action: str, choices: list[Choice], *, source: str,
          request_id: str | None, metadata: dict | None, actor: str) -> list[Log]:
    """Write consent logs: one ledger decision per choice (with its audit event) and its
    ``TcLog`` row, in the caller's transaction. A grant of a purpose with an ``expiry_period``
    is valid until then; a withdrawal supersedes the binding grant. Returns the logs."""
    now = utcnow()
    decisions = []
    for c in choices:
        defined = points.purpose_def(c.cp, c.purpose_id) if c.cp is not None else None
        status, supersedes = c.status, None
        if status in ("withdrawn", WITHDRAW_IF_GRANTED):
            latest = ledger.latest_consent(org.id, user_id, c.purpose_id)
            granted = latest is not None and latest.status == "granted"
            supersedes = latest.id if granted else None
            if status == WITHDRAW_IF_GRANTED:
                status = "withdrawn" if granted else "denied"
        valid_until = None
        if status == "granted" and defined and not defined.get("is_legitimate"):
            valid_until = points.expiry_after(now, defined.get("expiry_period"))
        decisions.append(ledger.Decision(
            subject=user_id, purpose=c.purpose_id, status=status, source=source,
            purpose_name=c.name or (defined or {}).get("name"),
            purpose_version=c.version or (defined or {}).get("version"),
            notice_version=c.cp.notice_version if c.cp is not None else None,
            supersedes=supersedes, valid_until=valid_until,
            evidence={"action": action, "request_id": request_id,
                      "collection_point_id": c.cp.id if c.cp is not None else None,
                      "metadata": metadata, **c.evidence}))
    pending = iter(choices)

    def log_row(event, consent):   # recorded by the consent's own audit event
        c = next(pending)
        event.insert(TcLog, {"consent_seq": consent.seq, "org_id": org.id, "action": action,
                             "collection_point_id": c.cp.id if c.cp is not None else None,
                             "request_id": request_id, "event_id": None, "metadata": metadata,
                             "consented": c.consented})

    out = []
    for c, r in zip(choices, ledger.in_transaction_record(org.id, decisions, actor=actor, now=now,
                                                          rows=log_row)):
        cp_id = c.cp.id if c.cp is not None else None
        out.append(Log(queries.LOG.cls(
            **r.consent._asdict(), tc_action=action, tc_request_id=request_id, tc_event_id=None,
            tc_metadata=metadata, tc_consented=c.consented, cp_id=cp_id,
            cp_display_id=c.cp.display_id if c.cp is not None else None)))
    return out


def unknown_purposes(org, cp, ids: list[str]) -> dict[int, str]:
    """The ids (by position) that are not purposes of ``cp`` (None: of any collection point of
    the organisation), each with the reason."""
    if cp is not None:
        known, where = {p["id"] for p in cp.purposes}, f"collection point {cp.display_id}"
    else:
        known, where = set(points.purpose_points(org)), "any collection point of the organisation"
    return {i: f"Value error, purpose {pid!r} is not on {where}"
            for i, pid in enumerate(ids) if pid not in known}


def record(org, data: dict, actor: str) -> list[Log]:
    """POST /api/v1/external/consents/record; call inside a transaction. Returns the logs as
    written. Every purpose must be one of the collection point's (without a collection point:
    of one of the organisation's points)."""
    action = data["action"]
    cp = None
    if data.get("collectionPointId"):
        cp = points.find_cp(org, data["collectionPointId"])
        if cp is None:
            raise NotFound("Collection point not found")
    unknown = unknown_purposes(org, cp, [p["id"] for p in data["purposes"]])
    if unknown:
        raise FieldErrors({"purposes": {i: {"id": [msg]} for i, msg in unknown.items()}})
    choices = []
    for item in data["purposes"]:
        if action == "partial_consent":
            if item.get("consented") is None:
                raise Invalid("consented is required for every purpose of a partial_consent")
            status = "granted" if item["consented"] else "denied"
        else:
            status = ACTION_STATUS[action]
        given = item.get("consented")
        choices.append(Choice(
            item["id"], status, cp, item.get("name"), item.get("version"),
            evidence={"purpose": {k: v for k, v in item.items() if v is not None}},
            consented=None if given is None else "accepted" if given else "declined"))
    return write(org, data["userId"], action, choices, source=SOURCE_API,
                 request_id=data.get("requestId"), metadata=data.get("metadata"), actor=actor)


class FieldErrors(Invalid):
    """Invalid input found after parsing, as field messages (``{"purposes": {0: {"id": [...]}}}``)
    that the dialect renders as FastAPI's 422 ``detail`` list."""

    def __init__(self, messages: dict):
        super().__init__("Validation failed")
        self.messages = messages


def mapping(org_id: str, data: dict, cache: dict | None = None) -> dict:
    """What a ``mapped`` consent event says as truConsent shows it: ``{from, to, metadata}``.
    Events name the subjects and the identity link by id (their identifiers and metadata are
    read from those rows); events from before personal data became erasable held them in their
    data. An erased person's identifier is ``""`` (as a log's ``dp_id`` then is), their
    metadata None."""
    if "from_subject" not in data and "link_id" not in data:
        return {"from": data.get("from") or "", "to": data.get("to") or "",
                "metadata": data.get("metadata")}
    cache = {} if cache is None else cache

    def read(key, statement, ref):
        if ref is None:
            return None
        if (key, ref) not in cache:
            cache[key, ref] = statement.one((org_id, ref))
        return cache[key, ref]

    def identifier(ref):
        row = read("subject", queries.SUBJECT_BY_ID, ref)
        return row.identifier if row is not None else ""

    link = read("link", queries.SUBJECT_LINK_BY_ID, data.get("link_id"))
    return {"from": identifier(data.get("from_subject")), "to": identifier(data.get("to_subject")),
            "metadata": link.metadata if link is not None else None}


def _mappings(org, rows: list) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    if not rows:
        return out
    cache: dict = {}
    for e in ledger.events_of_consents(org.id, [r.seq for r in rows], mapped_only=True):
        out.setdefault(e.consent_seq, []).append({
            **mapping(org.id, e.data or {}, cache), "mapped_at": iso(e.at)})
    return out


def page(org, *, dp_id=None, action=None, source=None, cp_ref=None, date_from=None,
         date_to=None, request_id=None, limit=50, offset=0) -> tuple[int, list[Log]]:
    """Consent logs newest first, filtered (AND), with the total matching."""
    given = {"action": action, "source": source, "request_id": request_id,
             "date_from": date_from, "date_to": date_to}
    if dp_id is not None:
        subject = ledger.find_subject(org.id, dp_id)
        if subject is None:
            return 0, []
        given["subject_id"] = subject.id
    if cp_ref:
        cp = points.find_cp(org, cp_ref)
        if cp is None:
            return 0, []
        given["cp_id"] = cp.id
    names = tuple(n for n in queries.LOG_FILTERS if given.get(n) not in (None, ""))
    params = (org.id, *(given[n] for n in names))
    total = queries.log_count(names).value(params)
    rows = queries.log_page(names).all((*params, limit, offset))
    maps = _mappings(org, rows)
    return total, [Log(r, maps.get(r.seq, [])) for r in rows]


@dataclass(slots=True)
class PurposeStatus:
    log: Log
    status: str          # granted | denied | withdrawn | expired | pending

    @property
    def consented(self) -> bool:
        """May the data be processed for this purpose now."""
        return self.status == "granted"


@dataclass(slots=True)
class PointStatus:
    cp_id: str | None
    cp_display_id: str | None
    purposes: list[PurposeStatus]


def user_status(org, dp_id: str, cp_ref: str | None = None,
                purpose_id: str | None = None) -> list[PointStatus]:
    """The binding (newest) decision per collection point and purpose for a data principal."""
    subject = ledger.find_subject(org.id, dp_id)
    if subject is None:
        return []
    conditions = [queries.LOG_BY_ORG, queries.LOG_FILTERS["subject_id"]]
    params = [org.id, subject.id]
    if cp_ref:
        cp = points.find_cp(org, cp_ref)
        if cp is None:
            return []
        conditions.append(queries.LOG_FILTERS["cp_id"])
        params.append(cp.id)
    if purpose_id:
        conditions.append(queries.LOG_PURPOSE_CODE)
        params.append(purpose_id)
    at = utcnow()
    groups: dict = {}
    seen = set()
    for row in queries.LOG.where(*conditions, order=queries.LOG_NEWEST_FIRST).all(params):
        key = (row.cp_id, row.purpose)
        if key in seen:
            continue
        seen.add(key)
        group = groups.setdefault(row.cp_id, PointStatus(row.cp_id, row.cp_display_id, []))
        group.purposes.append(PurposeStatus(Log(row), ledger.effective_status(row, at)))
    out = list(groups.values())
    for g in out:
        g.purposes.sort(key=lambda p: p.log.row.purpose)
    out.sort(key=lambda g: g.cp_display_id or "")
    return out
