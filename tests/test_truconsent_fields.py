"""Every field of truConsent's documents and of its SDKs' bodies is stored or refused, never
ignored: one table per body, field -> where it is kept, each row checked by sending a body with
every field, reading the value back from where the table says, and sending a bad value of that
field (refused in truConsent's shape, nothing written).

Bodies: the consent-link request (the seed document ``POST /api/consent/consent-links``, its
"Request body" table), map-user (the seed document ``POST /api/v1/external/consents/map-user``,
its "Body" table), the documented consent-log record, and the SDKs' bodies (as
tests/truconsent_sdk_requests.py writes them from their source): a banner's decision, the
suppression, the rights center's changes.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

import pytest

from consent.core.storage import Consent, OutboxMessage, Subject, SubjectLink, ConsentEvent
from consent.dialects.truconsent.models import (
    TcCollectionPoint,
    TcConsentRequest,
    TcLog,
    TcSuppression,
)
from tests import truconsent_sdk_requests as req
from tests.test_truconsent_sdk import Banner


@dataclass
class Row:
    field: str                   # the field's path in the body ([] : every item of a list)
    where: str                   # where it is kept (the table, for a reader)
    kept: Callable               # (sent context) -> the stored value
    expect: Callable | None      # (the value sent) -> the value stored (None: as sent)
    bad: object                  # a value of the field that is refused
    status: int = 422


def get(body, path: str):
    """The value at a dotted path; ``[]`` takes every item of a list."""
    head, _, rest = path.partition(".")
    if head.endswith("[]"):
        items = body[head[:-2]]
        return [get(i, rest) if rest else i for i in items]
    value = body[head]
    return get(value, rest) if rest else value


def put(body, path: str, value):
    """A copy of the body with the field set to ``value`` (in the first item of a list)."""
    import copy

    body = copy.deepcopy(body)
    node, parts = body, path.replace("[]", ".0").split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    node[parts[-1]] = value
    return body


# -- the bodies -------------------------------------------------------------------------------------

class Sent:
    """A body sent, its response, and readers of what it wrote."""

    def __init__(self, body, response):
        self.body, self.response = body, response
        self.json = response.json

    def logs(self):
        ids = [log["id"] for log in self.json["consent_logs"]]
        return [Consent.get(Consent.id == i) for i in ids]

    def tc(self):
        return [TcLog.get(TcLog.consent == c.seq) for c in self.logs()]


def _link_request(s):
    return TcConsentRequest.get(TcConsentRequest.id == s.json["request_id"])


LINK = [  # seed 000: POST /api/consent/consent-links, "Request body"
    Row("collection_point_id", "truconsent_request.collection_point (the point it names)",
        lambda s: TcCollectionPoint.get(
            TcCollectionPoint.id == _link_request(s).collection_point_id).display_id,
        None, "CP404", 404),
    Row("asset_id", "the request's collection point's asset (another asset is refused)",
        lambda s: TcCollectionPoint.get(
            TcCollectionPoint.id == _link_request(s).collection_point_id).asset_id,
        None, "00000000-0000-0000-0000-000000000000", 400),
    Row("phone", "truconsent_request.phone (E.164)", lambda s: _link_request(s).phone,
        lambda v: "+91" + v, "12", 400),
    Row("email", "outbox_message.to_address (the consent email; masked once delivered)",
        lambda s: OutboxMessage.select().order_by(OutboxMessage.id.desc()).get().to_address,
        None, "not-an-email"),
    Row("expiry_hours", "truconsent_request.expiry_hours",
        lambda s: _link_request(s).expiry_hours, None, 25),
    Row("data_collection_timestamp", "truconsent_request.data_collection_timestamp",
        lambda s: _link_request(s).data_collection_timestamp,
        lambda v: dt.datetime(2026, 1, 2, 3, 4, 5), "yesterday"),
]


def _link(client, b):
    body = {"collection_point_id": "CP001", "asset_id": b.asset["id"], "phone": "9876543210",
            "email": "dp@example.test", "expiry_hours": 12,
            "data_collection_timestamp": "2026-01-02T03:04:05+00:00"}
    return "/api/consent/consent-links", body, b.org.headers(b.key)


def _mapped(s):
    return SubjectLink.select().order_by(SubjectLink.created_at.desc()).get()


def _mapped_event(s):
    return ConsentEvent.get(ConsentEvent.type == "mapped").data


MAP_USER = [  # seed 004: POST /api/v1/external/consents/map-user, "Body"
    # (the mapped event names the subjects and the link by id: the values are in their rows)
    Row("anonymousId", "subject_link.anonymous; each moved consent's mapped event (from_subject)",
        lambda s: (Subject.get_by_id(_mapped(s).anonymous_id).identifier,
                   Subject.get_by_id(_mapped_event(s)["from_subject"]).identifier),
        lambda v: (v, v), ""),
    Row("authenticatedUserId", "subject_link.authenticated; the mapped event (to_subject); each "
        "moved consent's holder",
        lambda s: (Subject.get_by_id(_mapped(s).authenticated_id).identifier,
                   Subject.get_by_id(_mapped_event(s)["to_subject"]).identifier),
        lambda v: (v, v), ""),
    Row("metadata", "subject_link.metadata (the mapped event's link_id names it)",
        lambda s: (_mapped(s).metadata,
                   SubjectLink.get_by_id(_mapped_event(s)["link_id"]).metadata),
        lambda v: (v, v), "not an object"),
]


def _map_user(client, b):
    rec = client.post("/api/v1/external/consents/record", headers=b.org.headers(b.key), json={
        "userId": "sess_a3f9b12c4d8e", "action": "approved", "purposes": [{"id": "kyc"}]})
    assert rec.status_code == 200
    body = {"anonymousId": "sess_a3f9b12c4d8e", "authenticatedUserId": "usr_7f3a9b21",
            "metadata": {"login_method": "google_oauth"}}
    return "/api/v1/external/consents/map-user", body, b.org.headers()


RECORD = [  # POST /api/v1/external/consents/record
    Row("userId", "consent.subject", lambda s: [c.subject.identifier for c in s.logs()],
        lambda v: [v], ""),
    Row("action", "truconsent_log.action; consent.evidence.action",
        lambda s: [(t.action, c.evidence["action"]) for t, c in zip(s.tc(), s.logs())],
        lambda v: [(v, v)], "maybe"),
    Row("purposes[].id", "consent.purpose", lambda s: [c.purpose.code for c in s.logs()],
        None, "no-such-purpose"),
    Row("purposes[].name", "consent.evidence.purpose.name", lambda s: _purpose(s, "name"),
        None, ""),
    Row("purposes[].version", "consent.purpose_version; consent.evidence.purpose.version",
        lambda s: [c.purpose_version for c in s.logs()], None, ""),
    Row("purposes[].consented", "truconsent_log.consented; consent.status (partial_consent)",
        lambda s: [(t.consented, c.status) for t, c in zip(s.tc(), s.logs())],
        lambda v: [("declined", "denied")], "perhaps"),
    Row("collectionPointId", "truconsent_log.collection_point",
        lambda s: [TcCollectionPoint.get_by_id(t.collection_point_id).display_id
                   for t in s.tc()], lambda v: [v], "CP404", 404),
    Row("requestId", "truconsent_log.request_id; the idempotency record",
        lambda s: [t.request_id for t in s.tc()], lambda v: [v], ""),
    Row("metadata", "truconsent_log.metadata; consent.evidence.metadata",
        lambda s: [(t.metadata, c.evidence["metadata"]) for t, c in zip(s.tc(), s.logs())],
        lambda v: [(v, v)], ["a list"]),
]


def _record(client, b):
    body = {"userId": "rec-user", "action": "partial_consent", "collectionPointId": "CP001",
            "requestId": "rec-1", "metadata": {"screen": "signup"},
            "purposes": [{"id": "kyc", "name": "KYC", "version": "1", "consented": False}]}
    return "/api/v1/external/consents/record", body, b.org.headers(b.key)


def _client(s, key):
    return [c.evidence["client"].get(key) for c in s.logs()]


def _purpose(s, key):
    return [c.evidence["purpose"].get(key) for c in s.logs()]


BANNER_DECISION = [  # POST /api/v1/internal/consent/{collectionPointId} (BannerService.ts)
    Row("userId", "consent.subject", lambda s: {c.subject.identifier for c in s.logs()},
        lambda v: {v}, ""),
    Row("requestId", "truconsent_log.request_id; the idempotency record (with the action)",
        lambda s: {t.request_id for t in s.tc()}, lambda v: {v}, ""),
    Row("assetId", "consent.evidence.client.asset_id (refused unless the point's asset)",
        lambda s: set(_client(s, "asset_id")), lambda v: {v}, "AS404", 400),
    Row("consentLanguage", "consent.evidence.client.consent_language",
        lambda s: set(_client(s, "consent_language")), lambda v: {v}, ""),
    Row("collectionPointId", "truconsent_log.collection_point (refused unless the path's)",
        lambda s: {t.collection_point_id for t in s.tc()}, lambda v: {v}, "CP404"),
    Row("collectionPointVersion", "consent.evidence.client.collection_point_version",
        lambda s: set(_client(s, "collection_point_version")), lambda v: {v}, ""),
    Row("consentTimestamp", "consent.evidence.client.consent_timestamp (ISO 8601)",
        lambda s: set(_client(s, "consent_timestamp")), lambda v: {req.epoch_iso(v)}, -5),
    Row("source", "consent.evidence.client.source (the ledger's source: sdk)",
        lambda s: set(_client(s, "source")), lambda v: {v}, ""),
    Row("purposes[].purposeId", "consent.purpose", lambda s: [c.purpose.code for c in s.logs()],
        None, "no-such-purpose"),
    Row("purposes[].version", "consent.evidence.purpose.version",
        lambda s: _purpose(s, "version"), None, ""),
    Row("purposes[].consented", "truconsent_log.consented; consent.status",
        lambda s: [t.consented for t in s.tc()], None, "perhaps"),
    Row("purposes[].purpose_type", "consent.evidence.purpose.purpose_type",
        lambda s: _purpose(s, "purpose_type"), None, "vibes"),
    Row("purposes[].is_mandatory", "consent.evidence.purpose.is_mandatory",
        lambda s: _purpose(s, "is_mandatory"), None, "sometimes"),
    Row("action", "truconsent_log.action; consent.evidence.action",
        lambda s: {t.action for t in s.tc()}, lambda v: {v}, "maybe"),
    Row("metadata", "truconsent_log.metadata; consent.evidence.metadata",
        lambda s: [t.metadata for t in s.tc()][0], None, "not an object"),
]


def _banner_decision(client, b):
    shown = b.get_banner("sdk-user")
    path, body = req.rn_submit_consent(
        shown, user_id="sdk-user", request_id="3f1c8c1e-2b7e-4c55-9a53-8f3d0c1e2b7e",
        action="partial_consent", asset_id=b.asset["id"],
        purposes=req.rn_purposes_payload(shown, {"kyc": "accepted", "offers": "declined"}),
        metadata=req.rn_metadata("save_preferences", shown))
    return path, body, b.rn()


SAVE_CONSENT = [  # rightsCenterApi.saveConsent: the same path, purposes by id and name
    Row("purposes[].id", "consent.purpose", lambda s: [c.purpose.code for c in s.logs()],
        None, "no-such-purpose"),
    Row("purposes[].name", "consent.evidence.purpose.name", lambda s: _purpose(s, "name"),
        None, ""),
    Row("changedPurposes", "consent.evidence.client.changed_purposes",
        lambda s: _client(s, "changed_purposes")[0], None, "offers"),
]


def _save_consent(client, b):
    path, body = req.rc_save_consent(b.cp["id"], "rc-user", [
        {"id": "offers", "name": "Offers", "consented": "declined"}], "revoked",
        asset_id=b.asset["id"], changed=["offers"])
    return path, body, req.rc_headers(b.key, b.slug)


SUPPRESSION = [  # BannerService.submitSuppression
    Row("userId", "truconsent_suppression.subject_id (the user id's subject)",
        lambda s: {Subject.get_by_id(r.subject_id).identifier for r in TcSuppression.select()},
        lambda v: {v}, ""),
    Row("declinedPurposeIds", "truconsent_suppression.purpose_id, one row each",
        lambda s: [r.purpose_id for r in TcSuppression.select().order_by(TcSuppression.id)],
        None, ["no-such-purpose"]),
]


def _suppression(client, b):
    path, body = req.rn_suppression("sdk-user", ["offers", "kyc"])
    return path, body, b.rn()


RIGHTS_CENTER = [  # rightsCenterApi.saveConsentFromRightsCenter
    Row("userId", "consent.subject", lambda s: {c.subject.identifier for c in s.logs()},
        lambda v: {v}, ""),
    Row("purposes[].id", "consent.purpose", lambda s: [c.purpose.code for c in s.logs()],
        None, "no-such-purpose"),
    Row("purposes[].name", "consent.evidence.purpose.name", lambda s: _purpose(s, "name"),
        None, ""),
    Row("purposes[].consented", "truconsent_log.consented; consent.status",
        lambda s: [t.consented for t in s.tc()], None, "perhaps"),
    Row("action", "truconsent_log.action", lambda s: {t.action for t in s.tc()},
        lambda v: {v}, "maybe"),
    Row("assetId", "consent.evidence.client.asset_id; the log's collection point is the "
        "asset's", lambda s: set(_client(s, "asset_id")), lambda v: {v}, "AS404", 404),
    Row("source", "consent.evidence.client.source (the ledger's source: rights_center)",
        lambda s: set(_client(s, "source")), lambda v: {v}, ""),
    Row("metadata", "truconsent_log.metadata; consent.evidence.metadata",
        lambda s: [t.metadata for t in s.tc()][0], None, "not an object"),
]


def _rights_center(client, b):
    path, body = req.rc_save_from_rights_center(
        "rc-user", [{"id": "offers", "name": "Offers", "consented": "declined"},
                    {"id": "kyc", "name": "KYC verification", "consented": "accepted"}],
        b.asset["id"], session_id="sess-1")
    return path, body, req.rc_headers(b.key, b.slug)


TABLES = {"consent-link (seed 000)": (LINK, _link),
          "map-user (seed 004)": (MAP_USER, _map_user),
          "record": (RECORD, _record),
          "SDK banner decision": (BANNER_DECISION, _banner_decision),
          "SDK saveConsent": (SAVE_CONSENT, _save_consent),
          "SDK suppression": (SUPPRESSION, _suppression),
          "SDK rights center": (RIGHTS_CENTER, _rights_center)}

# The fields each body has, from its document or its source: the table must name every one.
FIELDS = {
    "consent-link (seed 000)": {"collection_point_id", "asset_id", "phone", "email",
                                "expiry_hours", "data_collection_timestamp"},
    "map-user (seed 004)": {"anonymousId", "authenticatedUserId", "metadata"},
    "record": {"userId", "action", "purposes[].id", "purposes[].name", "purposes[].version",
               "purposes[].consented", "collectionPointId", "requestId", "metadata"},
    "SDK banner decision": {"userId", "requestId", "assetId", "consentLanguage",
                            "collectionPointId", "collectionPointVersion", "consentTimestamp",
                            "source", "purposes[].purposeId", "purposes[].version",
                            "purposes[].consented", "purposes[].purpose_type",
                            "purposes[].is_mandatory", "action", "metadata"},
    "SDK saveConsent": {"purposes[].id", "purposes[].name", "changedPurposes"},
    "SDK suppression": {"userId", "declinedPurposeIds"},
    "SDK rights center": {"userId", "purposes[].id", "purposes[].name", "purposes[].consented",
                          "action", "assetId", "source", "metadata"},
}


def test_every_field_has_a_row():
    for name, (rows, _) in TABLES.items():
        assert {r.field for r in rows} == FIELDS[name], name


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_field_is_stored(client, org, name):
    rows, build = TABLES[name]
    b = Banner(client, org)
    path, body, headers = build(client, b)
    response = client.post(path, json=body, headers=headers)
    assert response.status_code in (200, 201), response.json
    sent = Sent(body, response)
    for row in rows:
        value = get(body, row.field)
        expected = row.expect(value) if row.expect else value
        assert row.kept(sent) == expected, (row.field, row.where)


@pytest.mark.parametrize("name,field", [(n, r.field) for n, (rows, _) in sorted(TABLES.items())
                                        for r in rows])
def test_every_field_is_refused_when_bad(client, org, name, field):
    rows, build = TABLES[name]
    row = next(r for r in rows if r.field == field)
    b = Banner(client, org)
    path, body, headers = build(client, b)
    before = (Consent.select().count(), TcSuppression.select().count(),
              TcConsentRequest.select().count(), SubjectLink.select().count())
    response = client.post(path, json=put(body, field, row.bad), headers=headers)
    assert response.status_code == row.status, (field, response.status_code, response.json)
    assert "detail" in response.json
    assert (Consent.select().count(), TcSuppression.select().count(),
            TcConsentRequest.select().count(), SubjectLink.select().count()) == before
