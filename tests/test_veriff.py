"""The Veriff dialect (/v1) at the HTTP level: sessions, media, submission, consent uploads, every
documented status with its exact body, and signatures computed the way a client computes them."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid

import pytest

from consent.core import ledger
from consent.core.storage import AuditEvent, Consent
from tests.veriff_helpers import (
    BAD_ID_SIG,
    BAD_SIG,
    CONSENT,
    FAIL_500,
    FAIL_MISSING_KEY,
    FAIL_NOT_FOUND,
    FAIL_VALIDATION,
    JPEG,
    MISSING_SIG,
    UNKNOWN_KEY,
    Integration,
    dumps,
    fail,
    sign,
)

@pytest.fixture
def integ(org):
    return Integration(org.org)


@pytest.fixture
def session_id(client, integ):
    return integ.create_session(client)


# -- POST /v1/sessions/{id}/consents: success -----------------------------------------------------

def test_consent_upload_signed_with_python_hmac(client, org, integ, session_id):
    raw = b'{"type": "ine", "approved": true, "text": "User agrees to share their INE details"}'
    signature = hmac.new(integ.secret.encode(), raw, hashlib.sha256).hexdigest()
    response = client.post(f"/v1/sessions/{session_id}/consents", data=raw, headers={
        "X-AUTH-CLIENT": integ.key, "X-HMAC-SIGNATURE": signature,
        "Content-Type": "application/json"})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.json
    assert list(body) == ["id", "context", "sessionId"]
    assert body["context"] == "consent" and body["sessionId"] == session_id
    assert uuid.UUID(body["id"]).version == 4
    integ.assert_signed(response)

    consent = Consent.get(Consent.id == body["id"])
    assert consent.status == "granted" and consent.source == "veriff"
    assert consent.subject.identifier == "user-42"
    assert consent.purpose.code == "veriff:ine"
    assert consent.evidence["text"] == CONSENT["text"]
    assert consent.evidence["veriff_session_id"] == session_id
    assert consent.notice_version == hashlib.sha256(CONSENT["text"].encode()).hexdigest()
    assert ledger.verify(org.org.id)["ok"] is True


def test_response_signature_covers_exact_bytes(client, integ, session_id):
    response = integ.upload(client, session_id)
    raw = response.get_data()
    tampered = raw.replace(b'"consent"', b'"consenT"')
    assert sign(integ.secret, tampered) != response.headers["x-hmac-signature"]
    integ.assert_signed(response)


def test_unsigned_header_variants_vrf_accepted(client, integ, session_id):
    data = dumps(CONSENT)
    response = client.post(f"/v1/sessions/{session_id}/consents", data=data, headers={
        "vrf-auth-client": integ.key, "vrf-hmac-signature": sign(integ.secret, data),
        "Content-Type": "application/json"})
    assert response.status_code == 200


@pytest.mark.parametrize("payload, status", [
    # seed 001: one body schema for every type, approved a plain boolean: false is a refusal
    ({"type": "ine", "approved": False, "text": "User does not agree to share INE details"},
     "denied"),
    ({"type": "bipa", "approved": False, "text": "Biometric notice"}, "denied"),
    ({"type": "bipa", "approved": True, "text": "Biometric notice"}, "granted"),
    ({"type": "aadhaar", "approved": False, "text": "Aadhaar notice"}, "denied"),
    ({"type": "aadhaar", "approved": True, "text": "आधार सहमति"}, "granted"),
])
def test_consent_types_map_to_decisions(client, integ, session_id, payload, status):
    response = integ.upload(client, session_id, payload)
    assert response.status_code == 200
    consent = Consent.get(Consent.id == response.json["id"])
    assert consent.status == status
    assert consent.purpose.code == "veriff:" + payload["type"]
    assert consent.evidence["text"] == payload["text"]


def test_session_without_vendor_data_uses_session_subject(client, org, integ):
    sid = integ.create_session(client, {"person": {"firstName": "Ana"}})
    response = integ.upload(client, sid)
    assert response.status_code == 200
    state = ledger.subject_state(org.org.id, f"veriff-session:{sid}")
    assert [(s.purpose, s.status) for s in state] == [("veriff:ine", "granted")]


# -- latest is binding ----------------------------------------------------------------------------

def test_latest_consent_is_binding_and_history_kept(client, org, integ, session_id):
    first = integ.upload(client, session_id, {"type": "bipa", "approved": False, "text": "v1"})
    second = integ.upload(client, session_id, {"type": "bipa", "approved": True, "text": "v2"})
    assert first.status_code == second.status_code == 200
    assert first.json["id"] != second.json["id"]

    state = ledger.subject_state(org.org.id, "user-42")
    assert len(state) == 1
    assert state[0].purpose == "veriff:bipa"
    assert state[0].status == "granted" and state[0].consent.id == second.json["id"]
    rows, _ = ledger.list_consents(org.org.id, ledger.ConsentFilter(subject="user-42"))
    assert [c.id for c in rows] == [second.json["id"], first.json["id"]]

    listing = integ.get(client, f"/v1/sessions/{session_id}/consents", session_id)
    assert listing.status_code == 200
    integ.assert_signed(listing)
    consents = listing.json["consents"]
    assert listing.json["status"] == "success" and listing.json["sessionId"] == session_id
    assert [(c["id"], c["binding"], c["approved"], c["text"]) for c in consents] == [
        (second.json["id"], True, True, "v2"), (first.json["id"], False, False, "v1")]
    assert all(c["context"] == "consent" and c["type"] == "bipa" for c in consents)


def test_consent_listing_empty_and_auth(client, integ, session_id, org):
    listing = integ.get(client, f"/v1/sessions/{session_id}/consents", session_id)
    assert listing.status_code == 200 and listing.json["consents"] == []
    bad = integ.get(client, f"/v1/sessions/{session_id}/consents", session_id,
                    **{"X-HMAC-SIGNATURE": sign(integ.secret, b"other-id")})
    assert bad.status_code == 401 and bad.json == fail(BAD_ID_SIG)
    missing = integ.get(client, f"/v1/sessions/{session_id}/consents", session_id,
                        **{"X-HMAC-SIGNATURE": None})
    assert missing.status_code == 401 and missing.json == fail(MISSING_SIG)
    nokey = client.get(f"/v1/sessions/{session_id}/consents")
    assert nokey.status_code == 401 and nokey.json == FAIL_MISSING_KEY
    other = Integration(org.org, "other")
    unknown = str(uuid.uuid4())
    assert other.get(client, f"/v1/sessions/{session_id}/consents", session_id).json \
        == FAIL_NOT_FOUND
    assert integ.get(client, f"/v1/sessions/{unknown}/consents", unknown).status_code == 404


# -- 401 ------------------------------------------------------------------------------------------

def test_missing_api_key(client, integ, session_id):
    data = dumps(CONSENT)
    response = client.post(f"/v1/sessions/{session_id}/consents", data=data, headers={
        "X-HMAC-SIGNATURE": sign(integ.secret, data), "Content-Type": "application/json"})
    assert response.status_code == 401
    assert response.json == FAIL_MISSING_KEY
    assert "x-hmac-signature" not in response.headers


def test_unknown_api_key(client, integ, session_id):
    response = integ.upload(client, session_id, **{"X-AUTH-CLIENT": "ik_not-a-key"})
    assert response.status_code == 401 and response.json == fail(UNKNOWN_KEY)


def test_plain_api_key_is_not_an_integration(client, org, integ, session_id):
    response = integ.upload(client, session_id, **{"X-AUTH-CLIENT": org.admin_key})
    assert response.status_code == 401 and response.json == fail(UNKNOWN_KEY)


def test_missing_signature(client, integ, session_id):
    response = integ.upload(client, session_id, **{"X-HMAC-SIGNATURE": None})
    assert response.status_code == 401 and response.json == fail(MISSING_SIG)


def test_one_byte_change_is_rejected(client, integ, session_id):
    signed = dumps(CONSENT)
    sent = signed.replace(b"INE", b"INF")
    assert len(sent) == len(signed) and sum(a != b for a, b in zip(sent, signed)) == 1
    response = integ.post(client, f"/v1/sessions/{session_id}/consents", raw=sent,
                          **{"X-HMAC-SIGNATURE": sign(integ.secret, signed)})
    assert response.status_code == 401 and response.json == fail(BAD_SIG)
    # whitespace is a byte too: re-serialising with spaces breaks a compact signature
    spaced = json.dumps(CONSENT).encode()
    response = integ.post(client, f"/v1/sessions/{session_id}/consents", raw=spaced,
                          **{"X-HMAC-SIGNATURE": sign(integ.secret, signed)})
    assert response.status_code == 401
    assert Consent.select().count() == 0


def test_other_integrations_secret_is_rejected(client, org, other_org, integ, session_id):
    same_org = Integration(org.org, "second")
    foreign = Integration(other_org.org, "foreign")
    for other in (same_org, foreign):
        response = integ.upload(client, session_id, sign_with=other.secret)
        assert response.status_code == 401 and response.json == fail(BAD_SIG)
    assert Consent.select().count() == 0


def test_wrong_case_or_garbage_signature(client, integ, session_id):
    data = dumps(CONSENT)
    upper = sign(integ.secret, data).upper()
    ok = integ.post(client, f"/v1/sessions/{session_id}/consents", raw=data,
                    **{"X-HMAC-SIGNATURE": upper})
    assert ok.status_code == 200  # hex is case-insensitive on the way in
    for bad in ("", "zz", "0" * 64):
        response = integ.post(client, f"/v1/sessions/{session_id}/consents", raw=data,
                              **{"X-HMAC-SIGNATURE": bad})
        assert response.status_code == 401 and response.json == fail(BAD_SIG)


# -- 400 ------------------------------------------------------------------------------------------

BAD_BODIES = [
    b'{"type": "ine", "approved": true, "text": "x"',                      # malformed JSON
    b'',                                                                   # empty body
    b'\xff\xfe{}',                                                         # not UTF-8
    b'[]',
    b'"ine"',
    dumps({"type": "other", "approved": True, "text": "x"}),
    dumps({"type": "INE", "approved": True, "text": "x"}),
    dumps({"type": None, "approved": True, "text": "x"}),
    dumps({"approved": True, "text": "x"}),
    dumps({"type": "bipa", "text": "x"}),
    dumps({"type": "bipa", "approved": "true", "text": "x"}),
    dumps({"type": "bipa", "approved": 1, "text": "x"}),
    dumps({"type": "bipa", "approved": None, "text": "x"}),
    dumps({"type": "bipa", "approved": True}),
    dumps({"type": "bipa", "approved": True, "text": ""}),
    dumps({"type": "bipa", "approved": True, "text": "   "}),
    dumps({"type": "bipa", "approved": True, "text": 42}),
    dumps({"type": "bipa", "approved": True, "text": ["x"]}),
    dumps({"type": "bipa", "approved": True, "text": "x", "extra": 1}),
]


@pytest.mark.parametrize("raw", BAD_BODIES)
def test_validation_failures(client, integ, session_id, raw):
    response = integ.post(client, f"/v1/sessions/{session_id}/consents", raw=raw)
    assert response.status_code == 400, raw
    assert response.json == FAIL_VALIDATION
    assert Consent.select().count() == 0


def test_consent_after_submission_is_refused(client, integ, session_id):
    assert integ.upload(client, session_id).status_code == 200
    submit = {"verification": {"status": "submitted"}}
    assert integ.post(client, f"/v1/sessions/{session_id}", submit,
                      method="patch").status_code == 200
    response = integ.upload(client, session_id)
    assert response.status_code == 400
    assert response.json == fail("Consent cannot be uploaded to a submitted session.")
    assert Consent.select().count() == 1


# -- 404 and 500 ----------------------------------------------------------------------------------

def test_unknown_session(client, integ):
    for sid in (str(uuid.uuid4()), "not-a-uuid"):
        response = integ.upload(client, sid)
        assert response.status_code == 404 and response.json == FAIL_NOT_FOUND


def test_session_of_another_integration(client, org, other_org, integ, session_id):
    for other in (Integration(org.org, "second"), Integration(other_org.org, "foreign")):
        response = other.upload(client, session_id)
        assert response.status_code == 404 and response.json == FAIL_NOT_FOUND
    assert Consent.select().count() == 0


def test_unexpected_failure_is_500_without_trace(client, integ, session_id, monkeypatch):
    from consent.dialects.veriff import service

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals /path/to/file.py")

    monkeypatch.setattr(service, "record_consent", boom)
    response = integ.upload(client, session_id)
    assert response.status_code == 500 and response.json == FAIL_500
    assert b"Traceback" not in response.get_data() and b"internals" not in response.get_data()


def test_unmatched_urls_and_methods_in_veriff_shape(client, integ, session_id):
    key = {"X-AUTH-CLIENT": integ.key}
    response = client.get("/v1/nothing-here", headers=key)
    assert response.status_code == 404 and response.json == FAIL_NOT_FOUND
    # Without a known X-AUTH-CLIENT an unmatched URL says nothing about what exists: 401 first.
    response = client.get("/v1/nothing-here")
    assert response.status_code == 401 and response.json == FAIL_MISSING_KEY
    response = client.get("/v1/nothing-here", headers={"X-AUTH-CLIENT": "ik_unknown"})
    assert response.status_code == 401 and response.json == fail(UNKNOWN_KEY)
    # GET /v1/sessions/{id} is no route of Veriff's; it is never the truConsent collector page.
    response = client.get(f"/v1/sessions/{session_id}", headers=key)
    assert response.status_code == 405 and response.json == fail("Method not allowed")
    assert "PATCH" in response.headers["Allow"] and "GET" not in response.headers["Allow"]
    response = client.delete(f"/v1/sessions/{session_id}/consents", headers=key)
    assert response.status_code == 405
    assert response.json == fail("Method not allowed")
    assert "POST" in response.headers["Allow"]


def test_oversized_body_is_413_in_veriff_shape(client, integ, session_id):
    raw = dumps({"type": "bipa", "approved": True, "text": "x" * (2 * 1024 * 1024)})
    response = integ.post(client, f"/v1/sessions/{session_id}/consents", raw=raw)
    assert response.status_code == 413
    assert response.json == fail("Request body too large")


# -- sessions -------------------------------------------------------------------------------------

def test_create_session(client, org, integ):
    body = {"verification": {"callback": "https://example.com/cb", "vendorData": "user-7",
                             "person": {"firstName": "John", "lastName": "Smith",
                                        "idNumber": "123"}}}
    response = integ.post(client, "/v1/sessions", body)
    assert response.status_code == 201
    integ.assert_signed(response)
    assert response.json["status"] == "success"
    v = response.json["verification"]
    assert list(v) == ["id", "url", "vendorData", "host", "status", "sessionToken"]
    assert uuid.UUID(v["id"]).version == 4
    assert v["status"] == "created" and v["vendorData"] == "user-7"
    assert v["host"] == "http://consent.test"
    assert v["url"] == f"http://consent.test/v/{v['sessionToken']}"
    event = AuditEvent.select().order_by(AuditEvent.id.desc()).first()
    assert (event.action, event.entity_id) == ("veriff.session.created", v["id"])
    kept = json.dumps(event.payload)  # person data is not kept
    assert not [s for s in ("Johnathan", "Smithers", "PASSPORT-XK-9931") if s in kept]


def test_create_session_signature_optional_but_checked(client, integ):
    data = dumps({"verification": {"vendorData": "u"}})
    unsigned = client.post("/v1/sessions", data=data, headers={
        "X-AUTH-CLIENT": integ.key, "Content-Type": "application/json"})
    assert unsigned.status_code == 201 and unsigned.json["verification"]["vendorData"] == "u"
    wrong = integ.post(client, "/v1/sessions", raw=data, sign_with="not-the-secret")
    assert wrong.status_code == 401 and wrong.json == fail(BAD_SIG)
    missing = client.post("/v1/sessions", data=data, headers={"Content-Type": "application/json"})
    assert missing.status_code == 401 and missing.json == FAIL_MISSING_KEY
    unknown = integ.post(client, "/v1/sessions", raw=data, **{"X-AUTH-CLIENT": "ik_nope"})
    assert unknown.status_code == 401 and unknown.json == fail(UNKNOWN_KEY)


@pytest.mark.parametrize("raw", [
    b"{", b"{}", dumps({"verification": "x"}), dumps({"verification": {"vendorData": 5}}),
    dumps({"verification": {"callback": "not a url"}}),
    dumps({"verification": {}, "other": 1}),
    dumps({"verification": {"unknownField": 1}}),
    dumps({"verification": {"person": {"firstName": 3}}}),
])
def test_create_session_validation(client, integ, raw):
    response = integ.post(client, "/v1/sessions", raw=raw)
    assert response.status_code == 400 and response.json == FAIL_VALIDATION


def test_patch_session(client, org, integ, session_id):
    path = f"/v1/sessions/{session_id}"
    bad = integ.post(client, path, {"verification": {"status": "approved"}}, method="patch")
    assert bad.status_code == 400 and bad.json == FAIL_VALIDATION
    nosig = integ.post(client, path, {"verification": {"status": "submitted"}}, method="patch",
                       **{"X-HMAC-SIGNATURE": None})
    assert nosig.status_code == 401 and nosig.json == fail(MISSING_SIG)
    other = Integration(org.org, "other")
    assert other.post(client, path, {"verification": {"status": "submitted"}},
                      method="patch").json == FAIL_NOT_FOUND
    ok = integ.post(client, path, {"verification": {"status": "submitted",
                                                    "frontState": "done"}}, method="patch")
    assert ok.status_code == 200
    integ.assert_signed(ok)
    assert ok.json["verification"]["status"] == "submitted"
    again = integ.post(client, path, {"verification": {"status": "submitted"}}, method="patch")
    assert again.status_code == 200
    actions = [e.action for e in AuditEvent.select().where(AuditEvent.entity_id == session_id)]
    assert actions == ["veriff.session.created", "veriff.session.submitted",
                       "veriff.screening.created"]


# -- media ----------------------------------------------------------------------------------------

def test_media_upload_and_list(client, integ, session_id):
    content = base64.b64encode(JPEG).decode()
    payload = {"image": {"context": "document-front", "content": content,
                         "timestamp": "2025-01-02T03:04:05.678+02:00"}}
    response = integ.post(client, f"/v1/sessions/{session_id}/media", payload)
    assert response.status_code == 200, response.get_data(as_text=True)
    integ.assert_signed(response)
    image = response.json["image"]
    assert image["size"] == len(JPEG)
    assert image["sha256"] == hashlib.sha256(JPEG).hexdigest()
    assert image["mimetype"] == "image/jpeg" and image["context"] == "document-front"
    assert image["timestamp"] == "2025-01-02T01:04:05.678000+00:00"
    event = AuditEvent.select().order_by(AuditEvent.id.desc()).first()
    assert (event.action, event.entity_id) == ("veriff.media.added", image["id"])

    listing = integ.get(client, f"/v1/sessions/{session_id}/media", session_id)
    assert listing.status_code == 200
    integ.assert_signed(listing)
    assert listing.json["images"] == [image] and listing.json["videos"] == []


@pytest.mark.parametrize("image", [
    {"context": "face", "content": "not base64!!"},
    {"context": "face", "content": ""},
    {"context": "", "content": "aGk="},
    {"content": "aGk="},
    {"context": "face", "content": "aGk=", "timestamp": "yesterday"},
    {"context": "face", "content": "aGk=", "extra": True},
])
def test_media_validation(client, integ, session_id, image):
    response = integ.post(client, f"/v1/sessions/{session_id}/media", {"image": image})
    assert response.status_code == 400 and response.json == FAIL_VALIDATION


def test_media_auth_and_state(client, integ, session_id):
    path = f"/v1/sessions/{session_id}/media"
    payload = {"image": {"context": "face", "content": "aGk="}}
    assert integ.post(client, path, payload, sign_with="x").json == fail(BAD_SIG)
    assert integ.get(client, path, "wrong").json == fail(BAD_ID_SIG)
    unknown = str(uuid.uuid4())
    assert integ.post(client, f"/v1/sessions/{unknown}/media", payload).json == FAIL_NOT_FOUND
    integ.post(client, f"/v1/sessions/{session_id}", {"verification": {"status": "submitted"}},
               method="patch")
    late = integ.post(client, path, payload)
    assert late.status_code == 409
    assert late.json == fail("Media cannot be uploaded to a submitted session.")


def test_large_image_above_app_limit_is_accepted(client, integ, session_id):
    big = b"\x89PNG\r\n\x1a\n" + bytes(1536 * 1024)
    payload = {"image": {"context": "face", "content": base64.b64encode(big).decode()}}
    response = integ.post(client, f"/v1/sessions/{session_id}/media", payload)
    assert response.status_code == 200
    assert response.json["image"]["size"] == len(big)
    assert response.json["image"]["mimetype"] == "image/png"


# -- the official demo client's flow (Veriff/js-integration-demo src/api.ts CoreApi) ---------------

def test_core_api_demo_flow(client, org, integ):
    """CoreApi: x-auth-client on every call, x-hmac-signature = HMAC(JSON.stringify(payload)) for
    bodies and HMAC(verificationId) for GET media; createSession -> uploadMedia -> endSession ->
    getMedia. The consent upload happens before endSession, as it must."""
    payload = {"verification": {
        "person": {"firstName": "Carlos", "lastName": "Hernandez",
                   "idNumber": "HECA900101HDFRRL09", "gender": "M"},
        "document": {"country": "MX", "type": "ID_CARD", "number": "1234567890123",
                     "firstIssue": "2015-01-15", "validFrom": "2024-01-15",
                     "validUntil": "2034-01-15", "category": "AB"}}}

    def call(method, path, body=None, signed_over=None):
        headers = {"x-auth-client": integ.key, "content-type": "application/json"}
        data = None
        if body is not None:
            data = dumps(body)
            headers["x-hmac-signature"] = sign(integ.secret, data)
        else:
            headers["x-hmac-signature"] = sign(integ.secret, signed_over.encode())
        return client.open("/v1" + path, method=method, data=data, headers=headers)

    start = call("POST", "/sessions", payload)
    assert start.status_code == 201
    vid = start.json["verification"]["id"]
    media = call("POST", f"/sessions/{vid}/media", {"image": {
        "context": "face", "content": base64.b64encode(JPEG).decode(),
        "timestamp": "2025-06-01T12:00:00.000+03:00"}})
    assert media.status_code == 200
    consent = call("POST", f"/sessions/{vid}/consents", CONSENT)
    assert consent.status_code == 200
    end = call("PATCH", f"/sessions/{vid}", {"verification": {
        "frontState": "done", "status": "submitted",
        "timestamp": "2025-06-01T12:00:01.000+03:00"}})
    assert end.status_code == 200 and end.json["verification"]["status"] == "submitted"
    got = call("GET", f"/sessions/{vid}/media", signed_over=vid)
    assert got.status_code == 200 and [i["context"] for i in got.json["images"]] == ["face"]
    assert ledger.subject_state(org.org.id, f"veriff-session:{vid}")[0].status == "granted"
    assert ledger.verify(org.org.id)["ok"] is True


# -- seed-demo ------------------------------------------------------------------------------------

def test_seed_demo_prints_working_credentials(client, runner):
    sections = []
    for _ in range(2):
        result = runner.invoke(args=["seed-demo", "--json"])
        assert result.exit_code == 0, result.output
        sections.append(json.loads(result.output)["veriff"])
    assert sections[0]["api_key"] != sections[1]["api_key"]
    for section in sections:
        assert set(section) == {"integration_id", "api_key", "shared_secret", "session_id",
                                "session_url", "event_webhook_url", "decision_webhook_url"}
        assert section["session_url"].startswith("http://consent.test/v/")
        data = dumps(CONSENT)
        response = client.post(f"/v1/sessions/{section['session_id']}/consents", data=data,
                               headers={"X-AUTH-CLIENT": section["api_key"],
                                        "X-HMAC-SIGNATURE": sign(section["shared_secret"], data),
                                        "Content-Type": "application/json"})
        assert response.status_code == 200, response.get_data(as_text=True)


def test_integration_create_cli(runner, org):
    result = runner.invoke(args=["veriff", "integration-create", "--org", org.slug])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["api_key"].startswith("ik_") and len(out["shared_secret"]) == 64
    missing = runner.invoke(args=["veriff", "integration-create", "--org", "nope"])
    assert missing.exit_code != 0


# -- the page a session's url opens ------------------------------------------------------------

def test_session_url_opens_the_session_page(client, integ):
    created = integ.post(client, "/v1/sessions", {"verification": {"vendorData": "user-9"}})
    v = created.json["verification"]
    path = v["url"].removeprefix("http://consent.test")

    page = client.get(path)
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert f'<td id="session-id">{v["id"]}</td>' in html
    assert '<td id="session-status">started</td>' in html  # opening the page starts the flow
    assert "user-9" in html and "No consent uploaded yet." in html
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert "frame-ancestors 'self' http://localhost:* http://127.0.0.1:*" in \
        page.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in page.headers

    content = base64.b64encode(JPEG).decode()
    integ.post(client, f"/v1/sessions/{v['id']}/media",
               {"image": {"context": "document-front", "content": content}})
    integ.post(client, f"/v1/sessions/{v['id']}/consents",
               {"type": "bipa", "approved": False, "text": "first"})
    integ.post(client, f"/v1/sessions/{v['id']}/consents", CONSENT)
    integ.post(client, f"/v1/sessions/{v['id']}", {"verification": {"status": "submitted"}},
               method="patch")

    html = client.get(path).get_data(as_text=True)
    assert '<td id="session-status">submitted</td>' in html
    rows = html.split('<table id="consents">')[1].split("</table>")[0]
    # Newest first, the newest binding.
    assert rows.index("<td>ine</td>") < rows.index("<td>bipa</td>")
    assert rows.count("binding") == 1 and "not approved" in rows
    assert "document-front" in html and f"{len(JPEG)} bytes" in html


def test_session_page_unknown_token_is_404(client, integ, session_id):
    page = client.get("/v/not-a-session-token")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "This verification link is not valid." in page.get_data(as_text=True)
    assert session_id not in page.get_data(as_text=True)
