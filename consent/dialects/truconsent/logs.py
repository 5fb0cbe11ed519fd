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
from consent.core.storage import ConsentEvent, utcnow
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


def record(org, data: dict, actor: str) -> list[Log]:
    """POST /api/v1/external/consents/record; call inside a transaction. Returns the logs as
    written."""
    action = data["action"]
    cp = None
    if data.get("collectionPointId"):
        cp = points.find_cp(org, data["collectionPointId"])
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
            latest = ledger.latest_consent(org, data["userId"], pid)
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
    tc = {"tc_action": action, "tc_request_id": data.get("requestId"), "tc_event_id": None,
          "tc_metadata": data.get("metadata")}

    def log_row(event, consent):   # recorded by the consent's own audit event
        event.insert(TcLog, {"consent_id": consent.seq, "org_id": org.id, "action": action,
                             "collection_point_id": cp.id if cp else None,
                             "request_id": tc["tc_request_id"], "event_id": None,
                             "metadata": tc["tc_metadata"]})

    return [Log(queries.LOG.cls(**r.consent._asdict(), **tc, cp_id=cp.id if cp else None,
                                cp_display_id=cp.display_id if cp else None))
            for r in ledger.in_transaction_record(org, decisions, actor=actor, rows=log_row)]


def _mappings(rows: list) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    if not rows:
        return out
    for e in (ConsentEvent.select().where(ConsentEvent.consent.in_([r.seq for r in rows])
                                          & (ConsentEvent.type == "mapped"))
              .order_by(ConsentEvent.id)):
        data = e.data or {}
        out.setdefault(e.consent_id, []).append({
            "from": data.get("from"), "to": data.get("to"), "metadata": data.get("metadata"),
            "mapped_at": iso(e.at)})
    return out


def page(org, *, dp_id=None, action=None, source=None, cp_ref=None, date_from=None,
         date_to=None, request_id=None, limit=50, offset=0) -> tuple[int, list[Log]]:
    """Consent logs newest first, filtered (AND), with the total matching."""
    given = {"action": action, "source": source, "request_id": request_id,
             "date_from": date_from, "date_to": date_to}
    if dp_id is not None:
        subject = ledger.find_subject(org, dp_id)
        if subject is None:
            return 0, []
        given["subject_id"] = subject.id
    if cp_ref:
        cp = points.find_cp(org, cp_ref)
        if cp is None:
            return 0, []
        given["cp_id"] = cp.id
    names = [n for n in queries.LOG_FILTERS if given.get(n) not in (None, "")]
    conditions = ('c."org_id" = ?', *(queries.LOG_FILTERS[n] for n in names))
    params = (org.id, *(given[n] for n in names))
    total = queries.LOG.count(*conditions).value(params)
    rows = queries.LOG.where(*conditions, order='c."seq" DESC', limit=True,
                             suffix="OFFSET ?").all((*params, limit, offset))
    maps = _mappings(rows)
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
    subject = ledger.find_subject(org, dp_id)
    if subject is None:
        return []
    conditions, params = ['c."org_id" = ?', 'c."subject_id" = ?'], [org.id, subject.id]
    if cp_ref:
        cp = points.find_cp(org, cp_ref)
        if cp is None:
            return []
        conditions.append(queries.LOG_FILTERS["cp_id"])
        params.append(cp.id)
    if purpose_id:
        conditions.append('p."code" = ?')
        params.append(purpose_id)
    at = utcnow()
    groups: dict = {}
    seen = set()
    for row in queries.LOG.where(*conditions, order='c."seq" DESC').all(params):
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
