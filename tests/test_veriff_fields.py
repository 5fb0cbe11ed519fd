"""Every field the Veriff dialect is sent is stored or refused, never ignored: one row per field
of seed 001 (the consent upload), of what ``@veriff/js-sdk`` 2.0.0 sends (``POST /v1/sessions``,
its ``createSession`` in lib/veriff.js), and of the other bodies of the API this service
documents (session creation's other fields, submission, media). Each row posts a body with that
field set to a marker and reads the marker back from where the table says it is kept.

``@veriff/incontext-sdk`` 2.5.0 sends no body: it frames the session's ``url`` (its ``lang``
option is a query parameter of the page; see the README's closing note).
"""
from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import Callable

import pytest

from consent.core import outbox
from schemas import veriff as veriff_schemas
from consent.core.storage import AuditEvent, Consent
from consent.dialects.veriff.models import (
    VeriffConsent,
    VeriffMedia,
    VeriffSession,
    VeriffSessionState,
)
from tests.veriff_helpers import FAIL_VALIDATION, JPEG, Integration, dumps


@pytest.fixture(autouse=True)
def no_sending(monkeypatch):
    monkeypatch.setattr(outbox.SENDER, "enabled", False)


@pytest.fixture
def integ(org):
    return Integration(org.org)


@dataclass(frozen=True)
class Field:
    source: str          # where the field comes from
    path: str            # the field in the body
    value: object        # the marker sent
    kept: str            # where it is kept ("table.column[.key]"), or "refused with 400"
    read: Callable | None = None   # (ids) -> what is stored there
    expect: object = None          # what must be read (default: the marker)


def _state(ids):
    return VeriffSessionState.get(VeriffSessionState.session == ids["session"])


def _session(ids):
    return VeriffSession.get_by_id(ids["session"])


def _upload(ids):
    return VeriffConsent.get(VeriffConsent.session == ids["session"])


def _consent(ids):
    return Consent.get(Consent.id == _upload(ids).consent_id)


def _media(ids):
    return VeriffMedia.get(VeriffMedia.session == ids["session"])


def _submitted_event(ids):
    return AuditEvent.get((AuditEvent.entity_id == ids["session"])
                          & (AuditEvent.action == "veriff.session.submitted")).payload


# -- POST /v1/sessions: @veriff/js-sdk 2.0.0 and the rest of Veriff's verification object --------

SESSION_FIELDS = [
    Field("js-sdk", "verification.callback", "https://marker.example/after",
          "veriff_session.callback", lambda i: _session(i).callback),
    Field("js-sdk", "verification.person.firstName", "Zmarkerfirst",
          "veriff_session_state.person.firstName", lambda i: _state(i).person["firstName"]),
    Field("js-sdk", "verification.person.lastName", "Zmarkerlast",
          "veriff_session_state.person.lastName", lambda i: _state(i).person["lastName"]),
    Field("js-sdk", "verification.person.idNumber", "ZMARK-ID-1",
          "veriff_session_state.person.idNumber", lambda i: _state(i).person["idNumber"]),
    Field("js-sdk", "verification.vendorData", "zmarker-vendor",
          "veriff_session.vendor_data", lambda i: _session(i).vendor_data),
    Field("js-sdk", "verification.timestamp", "2026-05-22T10:11:12.345Z",
          "veriff_session_state.request.timestamp", lambda i: _state(i).request["timestamp"]),
    Field("api", "verification.endUserId", "zmarker-end-user",
          "veriff_session.end_user_id", lambda i: _session(i).end_user_id),
    Field("api", "verification.person.dateOfBirth", "1911-11-11",
          "veriff_session_state.person.dateOfBirth", lambda i: _state(i).person["dateOfBirth"]),
    Field("api", "verification.person.extraMarker", "zmarker-extra",
          "veriff_session_state.request.person.extraMarker",
          lambda i: _state(i).request["person"]["extraMarker"]),
    Field("api", "verification.document.number", "ZMARK-DOC",
          "veriff_session_state.document.number", lambda i: _state(i).document["number"]),
    Field("api", "verification.address.fullAddress", "1 Zmarker Street",
          "veriff_session_state.request.address.fullAddress",
          lambda i: _state(i).request["address"]["fullAddress"]),
    Field("api", "verification.consents", [{"type": "ine", "approved": True}],
          "veriff_session_state.request.consents", lambda i: _state(i).request["consents"]),
    Field("api", "verification.zmarkerUnknown", "x", "refused with 400"),
    Field("api", "zmarkerTopLevel", "x", "refused with 400"),
]
# Every documented key of person and document: kept as sent with the session's request.
SESSION_FIELDS += [
    Field("api", f"verification.{part}.{key}", f"zmarker-{part}-{key}",
          f"veriff_session_state.request.{part}.{key}",
          lambda i, part=part, key=key: _state(i).request[part][key])
    for part, schema in (("person", veriff_schemas.PersonSchema),
                         ("document", veriff_schemas.DocumentSchema))
    for key in schema().fields]


def _set(body: dict, path: str, value) -> dict:
    *parents, last = path.split(".")
    node = body
    for name in parents:
        node = node.setdefault(name, {})
    node[last] = value
    return body


@pytest.mark.parametrize("field", SESSION_FIELDS, ids=lambda f: f.path)
def test_session_fields_are_kept(client, integ, field):
    body = _set({"verification": {}}, field.path, field.value)
    response = integ.post(client, "/v1/sessions", body)
    if field.kept.startswith("refused"):
        assert response.status_code == 400 and response.json == FAIL_VALIDATION
        assert VeriffSession.select().count() == 0
        return
    assert response.status_code == 201, response.json
    ids = {"session": response.json["verification"]["id"]}
    assert field.read(ids) == (field.expect if field.expect is not None else field.value)


def test_the_js_sdk_request_replayed_byte_for_byte(client, integ):
    """lib/veriff.js createSession: JSON.stringify of exactly this object, POSTed with
    ``content-type``, ``x-auth-client`` and ``x-origin: js-sdk``, unsigned."""
    sent = {"verification": {"callback": "https://shop.example/done",
                             "person": {"firstName": "Zmarkerann", "lastName": "Zmarkerlee",
                                        "idNumber": "ZM-1"},
                             "vendorData": "zmarker-user-7",
                             "timestamp": "2026-05-22T10:11:12.345Z"}}
    response = client.post("/v1/sessions", data=dumps(sent), headers={
        "Content-Type": "application/json", "X-AUTH-CLIENT": integ.key, "x-origin": "js-sdk"})
    assert response.status_code == 201, response.json
    ids = {"session": response.json["verification"]["id"]}
    for field in (f for f in SESSION_FIELDS if f.source == "js-sdk"):
        value = sent
        for name in field.path.split("."):
            value = value[name]
        assert field.read(ids) == value, field.path
    assert _state(ids).request == sent["verification"]     # the whole object, as sent


# -- POST /v1/sessions/{id}/consents: seed 001 ----------------------------------------------------

CONSENT_FIELDS = [
    Field("seed 001", "type", "aadhaar", "veriff_consent.type (and consent.purpose veriff:…)",
          lambda i: (_upload(i).type, _consent(i).purpose.code),
          ("aadhaar", "veriff:aadhaar")),
    Field("seed 001", "approved", False, "veriff_consent.approved (and consent.status)",
          lambda i: (_upload(i).approved, _consent(i).status), (False, "denied")),
    Field("seed 001", "text", "Zmarker consent text, exactly as shown",
          "consent.evidence.text (its SHA-256 as consent.notice_version)",
          lambda i: _consent(i).evidence["text"]),
    Field("seed 001", "zmarkerUnknown", "x", "refused with 400"),
]


@pytest.mark.parametrize("field", CONSENT_FIELDS, ids=lambda f: f.path)
def test_consent_upload_fields_are_kept(client, integ, field):
    sid = integ.create_session(client)
    body = {"type": "bipa", "approved": True, "text": "notice", field.path: field.value}
    response = integ.upload(client, sid, body)
    if field.kept.startswith("refused"):
        assert response.status_code == 400 and response.json == FAIL_VALIDATION
        assert VeriffConsent.select().count() == 0
        return
    assert response.status_code == 200, response.json
    assert field.read({"session": sid}) == (field.expect if field.expect is not None
                                            else field.value)


# -- PATCH /v1/sessions/{id} and POST /v1/sessions/{id}/media -------------------------------------

OTHER_FIELDS = [
    Field("api", "verification.status", "submitted", "veriff_session_state.status",
          lambda i: _state(i).status),
    Field("api", "verification.frontState", "zmarker-front", "audit_event.payload.frontState",
          lambda i: _submitted_event(i)["frontState"]),
    Field("api", "verification.timestamp", "2026-05-22T11:00:00.000Z",
          "audit_event.payload.timestamp", lambda i: _submitted_event(i)["timestamp"]),
    Field("api", "image.context", "zmarker-context", "veriff_media.context",
          lambda i: _media(i).context),
    Field("api", "image.content", base64.b64encode(JPEG).decode(),
          "veriff_media.content (the decoded bytes)", lambda i: bytes(_media(i).content),
          JPEG),
    Field("api", "image.timestamp", "2026-05-22T09:08:07Z", "veriff_media.timestamp",
          lambda i: _media(i).timestamp, dt.datetime(2026, 5, 22, 9, 8, 7)),
    Field("api", "image.zmarkerUnknown", "x", "refused with 400"),
]


@pytest.mark.parametrize("field", OTHER_FIELDS, ids=lambda f: f.path)
def test_submission_and_media_fields_are_kept(client, integ, field):
    sid = integ.create_session(client)
    if field.path.startswith("image."):
        body = _set({"image": {"context": "face",
                               "content": base64.b64encode(JPEG).decode()}},
                    field.path, field.value)
        response = integ.post(client, f"/v1/sessions/{sid}/media", body)
    else:
        body = _set({"verification": {"status": "submitted"}}, field.path, field.value)
        response = integ.post(client, f"/v1/sessions/{sid}", body, method="patch")
    if field.kept.startswith("refused"):
        assert response.status_code == 400 and response.json == FAIL_VALIDATION
        assert VeriffMedia.select().count() == 0
        return
    assert response.status_code == 200, response.json
    assert field.read({"session": sid}) == (field.expect if field.expect is not None
                                            else field.value)


def test_the_table_covers_every_field_of_the_schemas():
    """A field added to a request schema without a row here fails: every field is accounted
    for."""
    veriff = veriff_schemas

    def paths(schema, prefix=""):
        out = set()
        for name, f in schema().fields.items():
            path = f"{prefix}{name}"
            nested = getattr(f, "nested", None)
            out.add(path)
            if isinstance(nested, type):
                out |= paths(nested, path + ".")
        return out

    rows = {f.path for f in SESSION_FIELDS + CONSENT_FIELDS + OTHER_FIELDS}
    documented = (paths(veriff.SessionCreateSchema) | paths(veriff.ConsentUploadSchema)
                  | paths(veriff.SessionSubmitSchema) | paths(veriff.MediaUploadSchema))
    containers = {"verification", "verification.person", "verification.document",
                  "verification.address", "image"}
    missing = documented - rows - containers
    assert not missing, f"fields without a row in the table: {sorted(missing)}"
