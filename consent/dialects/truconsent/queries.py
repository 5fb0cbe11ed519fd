"""The truConsent dialect's statements (see :mod:`consent.core.sql`): its own tables, column names
from the models. Ledger consents with a truConsent log beside each are read through the core's
``consent_with`` (the core writes the SQL over its tables; this module names only its own
fields)."""
from __future__ import annotations

from functools import lru_cache

from consent.core import queries as core
from consent.core import sql
from consent.core.sql import Table, eq

from consent.core.personal import ERASED
from consent.core.storage import SubjectLink

from .models import (
    TcAsset,
    TcCollectionPoint,
    TcConsentRequest,
    TcLinkEvent,
    TcLog,
    TcPersonalRef,
    TcSuppression,
)

# -- assets and collection points -------------------------------------------------------------------

_t = Table(TcAsset, "t")
ASSET = sql.model_select(TcAsset)
ASSET_BY_REF = ASSET.where(*eq(_t.org), f"({_t.id} = ? OR {_t.display_id} = ?)")
ASSETS_OF_ORG = ASSET.where(*eq(_t.org), order=_t.display_id)
COUNT_ASSETS = ASSET.count(*eq(_t.org))
ASSETS_PAGE = ASSET.where(*eq(_t.org), order=_t.display_id, limit=True, suffix="OFFSET ?")
_t = Table(TcCollectionPoint, "t")
CP = sql.model_select(TcCollectionPoint)
# By UUID or display id; a display id wins should a display id equal another point's UUID.
CP_BY_REF = CP.where(*eq(_t.org), f"({_t.display_id} = ? OR {_t.id} = ?)",
                     order=f"{_t.display_id} = ? DESC", limit=True)
CP_BY_ID = CP.where(*eq(_t.id))
CPS_OF_ORG = CP.where(*eq(_t.org), order=_t.display_id)
CP_OF_ASSET = CP.where(*eq(_t.org, _t.asset), order=_t.display_id, limit=True)
CPS_OF_ASSET = CP.where(*eq(_t.org, _t.asset), order=_t.display_id)


def display_id_taken(model) -> sql.Statement:
    t = Table(model, "t")
    return sql.model_select(model).count(*eq(t.org, t.display_id))


def display_ids_used(model) -> sql.Statement:
    return sql.model_select(model).count(*eq(Table(model, "t").org))


# -- consent links ------------------------------------------------------------------------------------

_t = Table(TcConsentRequest, "t")
REQUEST = sql.model_select(TcConsentRequest)
REQUEST_BY_ID = REQUEST.where(*eq(_t.org, _t.id))
REQUEST_BY_ID_LOCKED = REQUEST.where(*eq(_t.org, _t.id), suffix="FOR UPDATE")
_t = Table(TcLinkEvent, "t")
LINK_EVENT_BY_ID = sql.model_select(TcLinkEvent).where(*eq(_t.id))

# One consent-link request with its collection point and current link (history).
_r, _cp, _e = Table(TcConsentRequest, "r"), Table(TcCollectionPoint, "cp"), Table(TcLinkEvent, "e")
LINK = sql.Select(
    "LinkRow",
    sql.columns(TcConsentRequest, "r") + [
        sql.column("cp", TcCollectionPoint.display_id, "cp_display_id"),
        sql.column("cp", TcCollectionPoint.title, "cp_title"),
        sql.column("cp", TcCollectionPoint.asset, "asset_id"),
        sql.column("e", TcLinkEvent.token, "token"),
    ],
    f"FROM {_r} JOIN {_cp} ON {_cp.id} = {_r.collection_point} "
    f"JOIN {_e} ON {_e.id} = {_r.current_event_id}")
# A request whose data principal was erased is no one's any more: the history leaves it out.
_KNOWN = f"{_r.phone} <> '{ERASED}'"
LINKS_OF_ORG = LINK.where(*eq(_r.org), _KNOWN, order=f"{_r.created_at} DESC, {_r.id}",
                          limit=True, suffix="OFFSET ?")
COUNT_LINKS = LINK.count(*eq(_r.org), _KNOWN)


# -- consent logs ---------------------------------------------------------------------------------------

# A ledger consent with what truConsent adds to it (nothing, for consents of other dialects): its
# log, and the log's collection point.
LOG = core.consent_with("LogRow", TcLog.consent, [
    ("tc_action", TcLog.action),
    ("tc_request_id", TcLog.request_id),
    ("tc_event_id", TcLog.event_id),
    ("tc_metadata", TcLog.metadata),
    ("tc_consented", TcLog.consented),
    ("cp_id", TcCollectionPoint.id, 1),
    ("cp_display_id", TcCollectionPoint.display_id, 1),
], joins=(TcLog.collection_point,))

LOG_BY_ORG = core.CONSENT_BY_ORG
# Filters of the consent-log history, by name; ``logs.page`` ANDs those given.
LOG_FILTERS = {
    "subject_id": core.CONSENT_FILTERS["subject_id"],
    "purpose_id": core.CONSENT_FILTERS["purpose_id"],
    "action": core.extension_filter(TcLog.action),
    "source": core.CONSENT_FILTERS["source"],
    "cp_id": core.extension_filter(TcLog.collection_point),
    "request_id": core.extension_filter(TcLog.request_id),
    "date_from": core.CONSENT_FILTERS["date_from"],
    "date_to": core.CONSENT_FILTERS["date_to"],
}
LOG_PURPOSE_CODE = core.PURPOSE_CODE_FILTER
LOG_NEWEST_FIRST = core.CONSENT_NEWEST_FIRST



@lru_cache(maxsize=None)
def log_page(names: tuple[str, ...]) -> sql.Select:
    """A page of the history, newest first, filtered by these of :data:`LOG_FILTERS` (params:
    org id, the filters' values, limit, offset)."""
    return LOG.where(LOG_BY_ORG, *(LOG_FILTERS[n] for n in names), order=LOG_NEWEST_FIRST,
                     limit=True, suffix="OFFSET ?")


@lru_cache(maxsize=None)
def log_count(names: tuple[str, ...]) -> sql.Statement:
    """How many logs :func:`log_page` pages through (params: org id, the filters' values)."""
    return LOG.count(LOG_BY_ORG, *(LOG_FILTERS[n] for n in names))


# The subject's logs, newest first (the binding decision per purpose is the first of each).
LOGS_OF_SUBJECT = LOG.where(LOG_BY_ORG, LOG_FILTERS["subject_id"], order=LOG_NEWEST_FIRST)
# Consents a data principal holds now or was recorded under (the timeline).
LOGS_OF_PRINCIPAL = LOG.where(LOG_BY_ORG, core.HELD_OR_RECORDED, order=core.CONSENT_OLDEST_FIRST)
# A mapping event names its subjects and identity link by id (consent.core.ledger.map_identity):
# the identifiers and metadata a log shows are read from them.
SUBJECT_BY_ID = core.SUBJECT_BY_ID
_t = Table(SubjectLink, "t")
SUBJECT_LINK_BY_ID = sql.model_select(SubjectLink).where(*eq(_t.org, _t.id))
_t = Table(TcSuppression, "t")
SUPPRESSIONS_OF_SUBJECT = sql.model_select(TcSuppression).where(*eq(_t.org, _t.subject_id),
                                                                order=_t.id)


# -- people (erasure and access, see .people) -----------------------------------------------------

@lru_cache(maxsize=None)
def _of_subjects(model, n: int) -> sql.Statement:
    t = Table(model, "t")
    return sql.model_select(model).where(
        *eq(t.org), f"{t.subject_id} IN ({sql.marks(n)})", order=t.id)


def requests_of_subjects(n: int) -> sql.Statement:
    """The organisation's consent requests to an ``IN`` list of ``n`` (padded) subject ids."""
    return _of_subjects(TcConsentRequest, n)


def suppressions_of_subjects(n: int) -> sql.Statement:
    return _of_subjects(TcSuppression, n)


def refs_of_subjects(n: int) -> sql.Statement:
    return _of_subjects(TcPersonalRef, n)


@lru_cache(maxsize=None)
def forget_refs(n: int) -> sql.Statement:
    t = Table(TcPersonalRef)
    return sql.Statement(f"DELETE FROM {t} WHERE {t.org} = ? AND {t.subject_id} IN "
                         f"({sql.marks(n)})")


@lru_cache(maxsize=None)
def logs_of_consents(n: int) -> sql.Statement:
    """The truConsent logs of an ``IN`` list of ``n`` (padded) consent seqs."""
    t = Table(TcLog, "t")
    return sql.model_select(TcLog).where(f"{t.consent} IN ({sql.marks(n)})", order=t.consent)
