"""The truConsent dialect's hand-written statements (see :mod:`consent.core.sql`)."""
from __future__ import annotations

from consent.core import sql
from consent.core.queries import CONSENT_JOINS, CONSENT_RECORD_COLUMNS

from .models import TcAsset, TcCollectionPoint, TcConsentRequest, TcLinkEvent, TcLog, TcSuppression

# -- assets and collection points -------------------------------------------------------------------

ASSET = sql.model_select(TcAsset)
ASSET_BY_REF = ASSET.where('t."org_id" = ?', '(t."id" = ? OR t."display_id" = ?)')
ASSETS_OF_ORG = ASSET.where('t."org_id" = ?', order='t."display_id"')
CP = sql.model_select(TcCollectionPoint)
# By UUID or display id; a display id wins should a display id equal another point's UUID.
CP_BY_REF = CP.where('t."org_id" = ?', '(t."display_id" = ? OR t."id" = ?)',
                     order='t."display_id" = ? DESC', limit=True)
CP_BY_ID = CP.where('t."id" = ?')
CPS_OF_ORG = CP.where('t."org_id" = ?', order='t."display_id"')
CP_OF_ASSET = CP.where('t."org_id" = ?', 't."asset_id" = ?', order='t."display_id"',
                       limit=True)
CPS_OF_ASSET = CP.where('t."org_id" = ?', 't."asset_id" = ?', order='t."display_id"')
COUNT_ASSETS = ASSET.count('t."org_id" = ?')
ASSETS_PAGE = ASSET.where('t."org_id" = ?', order='t."display_id"', limit=True, suffix="OFFSET ?")


def display_id_taken(model) -> sql.Statement:
    return sql.model_select(model).count('t."org_id" = ?', 't."display_id" = ?')


def display_ids_used(model) -> sql.Statement:
    return sql.model_select(model).count('t."org_id" = ?')


# -- consent links ------------------------------------------------------------------------------------

REQUEST = sql.model_select(TcConsentRequest)
REQUEST_BY_ID = REQUEST.where('t."org_id" = ?', 't."id" = ?')
REQUEST_BY_ID_LOCKED = REQUEST.where('t."org_id" = ?', 't."id" = ?', suffix="FOR UPDATE")
LINK_EVENT_BY_ID = sql.model_select(TcLinkEvent).where('t."id" = ?')

# One consent-link request with its collection point and current link (history).
LINK = sql.Select(
    "LinkRow",
    sql.columns(TcConsentRequest, "r") + [
        sql.column("cp", TcCollectionPoint.display_id, "cp_display_id"),
        sql.column("cp", TcCollectionPoint.title, "cp_title"),
        sql.column("cp", TcCollectionPoint.asset, "asset_id"),
        sql.column("e", TcLinkEvent.token, "token"),
    ],
    'FROM "truconsent_request" r '
    'JOIN "truconsent_collection_point" cp ON cp."id" = r."collection_point_id" '
    'JOIN "truconsent_link_event" e ON e."id" = r."current_event_id"')
LINKS_OF_ORG = LINK.where('r."org_id" = ?', order='r."created_at" DESC, r."id"', limit=True,
                          suffix="OFFSET ?")
COUNT_LINKS = LINK.count('r."org_id" = ?')


# -- consent logs ---------------------------------------------------------------------------------------

# A ledger consent with what truConsent adds to it (nothing, for consents of other dialects).
LOG = sql.Select(
    "LogRow",
    CONSENT_RECORD_COLUMNS + [
        sql.column("l", TcLog.action, "tc_action"),
        sql.column("l", TcLog.request_id, "tc_request_id"),
        sql.column("l", TcLog.event_id, "tc_event_id"),
        sql.column("l", TcLog.metadata, "tc_metadata"),
        sql.column("l", TcLog.consented, "tc_consented"),
        sql.column("cp", TcCollectionPoint.id, "cp_id"),
        sql.column("cp", TcCollectionPoint.display_id, "cp_display_id"),
    ],
    CONSENT_JOINS + ' LEFT JOIN "truconsent_log" l ON l."consent_id" = c."seq" '
    'LEFT JOIN "truconsent_collection_point" cp ON cp."id" = l."collection_point_id"')

# Filters of the consent-log history, by name; ``logs.page`` ANDs those given.
LOG_FILTERS = {
    "subject_id": 'c."subject_id" = ?',
    "purpose_id": 'c."purpose_id" = ?',
    "action": 'l."action" = ?',
    "source": 'c."source" = ?',
    "cp_id": 'l."collection_point_id" = ?',
    "request_id": 'l."request_id" = ?',
    "date_from": 'c."created_at" >= ?',
    "date_to": 'c."created_at" < ?',
}

# The subject's logs, newest first (the binding decision per purpose is the first of each).
LOGS_OF_SUBJECT = LOG.where('c."org_id" = ?', 'c."subject_id" = ?', order='c."seq" DESC')
# Consents a data principal holds now or was recorded under (the timeline).
LOGS_OF_PRINCIPAL = LOG.where('c."org_id" = ?', '(c."subject_id" = ? OR c."recorded_subject_id" = ?)',
                              order='c."seq"')
SUPPRESSIONS_OF_USER = sql.model_select(TcSuppression).where(
    't."org_id" = ?', 't."user_id" = ?', order='t."id"')
