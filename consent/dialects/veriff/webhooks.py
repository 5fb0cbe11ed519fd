"""Veriff's webhooks, through the core's durable outbox, and the bodies they share with the API.

* **Event webhook** (the integration's event URL): ``started`` (7001) and ``submitted`` (7002),
  ``{id, attemptId, feature: "selfid", code, action, vendorData, endUserId}``.
* **Decision webhook** (its decision URL): every decision, with exactly the body
  ``GET /v1/sessions/{id}/decision`` answers: ``{status: "success", verification: {id,
  attemptId, vendorData, endUserId, status, code, reason, reasonCode, decisionTime,
  acceptanceTime, submissionTime, person, document, additionalVerifiedData, riskLabels,
  comments}, technicalData: {ip}}`` (both are dumped by ``schemas.veriff.DecisionOutSchema``).

Each is queued (:func:`consent.core.outbox.enqueue`) in the transaction of the change it reports,
as the exact JSON text sent, signed with the integration's shared secret (HMAC-SHA256, lowercase
hex, over those bytes) in ``X-HMAC-SIGNATURE``, with the integration's API key in
``X-AUTH-CLIENT``, their ``vrf-`` twins and ``vrf-integration-id``. An integration without the URL
gets no webhook. The URLs are checked by the core (:func:`consent.core.outbound.check_url`) when
they are set, and again at each delivery.
"""
from __future__ import annotations

import json

from consent.core import audit, auth, outbound, outbox, sql
from consent.core.errors import Invalid, NotFound
from consent.core.storage import transaction, utcnow
from schemas.veriff import DecisionOutSchema, EventWebhookSchema

from . import codes, queries
from .models import VeriffIntegration

EVENT_TOPIC = "veriff.event"
DECISION_TOPIC = "veriff.decision"
PERSON_FIELDS = ("firstName", "lastName", "dateOfBirth", "gender", "idNumber", "nationality",
                 "citizenship", "placeOfBirth")
DOCUMENT_FIELDS = ("number", "type", "country", "validFrom", "validUntil")
DECISION_OUT = DecisionOutSchema()
EVENT_OUT = EventWebhookSchema()


def veriff_time(value) -> str | None:
    """Veriff's timestamps: UTC with milliseconds and ``Z`` (``2019-11-06T07:18:36.916Z``)."""
    if value is None:
        return None
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def person_of(session) -> dict:
    """The person a session was created with, in the fields Veriff returns (null when unknown)."""
    given = session.person or {}
    out = {name: given.get(name) for name in PERSON_FIELDS}
    birth = out["dateOfBirth"] or ""
    out["yearOfBirth"] = birth[:4] if len(birth) >= 4 and birth[:4].isdigit() else None
    out["pepSanctionMatch"] = None
    return out


def document_of(session) -> dict:
    given = session.document or {}
    return {name: given.get(name) for name in DOCUMENT_FIELDS}


def verification(session, attempt) -> dict:
    """The decision's ``verification`` object (the decided attempt of the session)."""
    return {
        "id": session.id, "attemptId": attempt.id, "vendorData": session.vendor_data,
        "endUserId": session.end_user_id, "status": attempt.status, "code": attempt.code,
        "reason": attempt.reason, "reasonCode": attempt.reason_code,
        "decisionTime": veriff_time(attempt.decided_at),
        "acceptanceTime": veriff_time(session.created_at),
        "submissionTime": veriff_time(attempt.submitted_at),
        "person": person_of(session), "document": document_of(session),
        "additionalVerifiedData": {}, "riskLabels": [], "comments": []}


def decision(session, attempt) -> dict:
    """``GET /decision``'s body: the verification once the session has a decision, else null."""
    decided = attempt is not None and session.status in codes.DECISIONS
    return DECISION_OUT.dump({"status": "success",
                              "verification": verification(session, attempt) if decided else None,
                              "technicalData": {"ip": None}})


def event(session, attempt, action: str) -> dict:
    return EVENT_OUT.dump({"id": session.id, "attemptId": attempt.id, "feature": "selfid",
                           "code": codes.EVENT_CODES[action], "action": action,
                           "vendorData": session.vendor_data, "endUserId": session.end_user_id})


def _send(session, topic: str, url_field: str, body: dict) -> int | None:
    """Queue a webhook of the session's integration (inside the caller's transaction)."""
    settings = queries.INTEGRATION.one((session.integration_id,))
    url = getattr(settings, url_field) if settings else None
    if not url or not settings.api_key:
        return None
    cred = auth.credential(session.integration_id)
    if cred is None or cred.revoked_at is not None or not cred.shared_secret:
        return None
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    signature = auth.hmac_sha256_hex(cred.shared_secret, text.encode("utf-8"))
    return outbox.enqueue(session.org_id, topic=topic, url=url, body=text, reference=session.id,
                          headers={"Content-Type": "application/json",
                                   "X-AUTH-CLIENT": settings.api_key,
                                   "X-HMAC-SIGNATURE": signature,
                                   "vrf-auth-client": settings.api_key,
                                   "vrf-hmac-signature": signature,
                                   "vrf-integration-id": cred.id})


def send_event(session, attempt, action: str) -> int | None:
    return _send(session, EVENT_TOPIC, "event_url", event(session, attempt, action))


def send_decision(session, attempt) -> int | None:
    return _send(session, DECISION_TOPIC, "decision_url", decision(session, attempt))


# -- an integration's webhook settings ------------------------------------------------------------

def _integration_of(org, integration_id: str):
    cred = auth.credential(integration_id)
    if cred is None or cred.org_id != org.id or cred.kind != "hmac" or cred.revoked_at:
        raise NotFound(f"no active Veriff integration {integration_id} in this organisation")
    return cred


def settings_of(org, integration_id: str) -> dict:
    cred = _integration_of(org, integration_id)
    row = queries.INTEGRATION.one((cred.id,))
    return {"id": cred.id, "name": cred.name, "key_prefix": cred.key_prefix,
            "event_webhook_url": row.event_url if row else None,
            "decision_webhook_url": row.decision_url if row else None,
            "api_key_known": bool(row and row.api_key)}


def integrations(org) -> list[dict]:
    """The organisation's integrations (revoked ones too), newest first, with their webhook
    URLs: never the shared secret nor the API key (its prefix only)."""
    out = []
    for cred in auth.credentials(org.id, "hmac"):
        row = queries.INTEGRATION.one((cred.id,))
        out.append({"id": cred.id, "name": cred.name, "key_prefix": cred.key_prefix,
                    "created_at": cred.created_at, "revoked_at": cred.revoked_at,
                    "event_webhook_url": row.event_url if row else None,
                    "decision_webhook_url": row.decision_url if row else None})
    return out


UNSET = object()


def configure(org, integration_id: str, *, event_url=UNSET, decision_url=UNSET,
              api_key: str | None = None, actor: str = "system") -> dict:
    """Set (or clear, with None) an integration's webhook URLs; what is not given is kept.
    ``api_key``: the integration's key, for an integration created outside this dialect (whose
    key only the core's hash knows); checked against that hash and kept for ``X-AUTH-CLIENT``.
    A URL webhooks may not reach (:func:`consent.core.outbound.check_url`: resolved before the
    transaction opens) is Invalid."""
    checked = {}
    if event_url is not UNSET:
        checked["event_url"] = outbound.check_url(event_url, "event_webhook_url")
    if decision_url is not UNSET:
        checked["decision_url"] = outbound.check_url(decision_url, "decision_webhook_url")
    with transaction():
        cred = _integration_of(org, integration_id)
        row = queries.INTEGRATION.one((cred.id,))
        if api_key is not None:
            found = auth.find_credential(api_key, kind="hmac")
            if found is None or found.id != cred.id:
                raise Invalid("api_key is not this integration's API key")
        known_key = api_key or (row.api_key if row else None)
        values = {"event_url": row.event_url if row else None,
                  "decision_url": row.decision_url if row else None}
        values.update(checked)
        if (values["event_url"] or values["decision_url"]) and not known_key:
            raise Invalid("this integration's API key is unknown here (only its hash is kept): "
                          "pass it as api_key once, so its webhooks can carry it in X-AUTH-CLIENT")
        if row is None:
            sql.create(VeriffIntegration, integration_id=cred.id, api_key=known_key, **values)
        else:
            sql.update(VeriffIntegration, cred.id,
                       {"api_key": known_key, "updated_at": utcnow(), **values})
        audit.append(org.id, actor=actor, action="veriff.integration.webhooks",
                     entity_type="credential", entity_id=cred.id, payload={
                         "event_webhook_url": values["event_url"],
                         "decision_webhook_url": values["decision_url"]})
    return settings_of(org, integration_id)


def remember_key(cred, api_key: str) -> None:
    """Inside the transaction creating an integration: keep its API key for its webhooks."""
    sql.create(VeriffIntegration, integration_id=cred.id, api_key=api_key)
