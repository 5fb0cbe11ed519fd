"""Veriff's media API at the HTTP level: ``GET /v1/media/{id}`` (the file, signed over the media
id), ``GET /v1/attempts/{id}/media`` (signed over the attempt id), the media list's download
``url``, and the session's ``url``/``sessionToken`` that ``PATCH /v1/sessions/{id}`` answers as
Veriff does."""
from __future__ import annotations

import base64
import hashlib

import pytest

from consent.core import outbox
from consent.core.storage import AuditEvent
from consent.dialects.veriff import service
from consent.dialects.veriff.models import VeriffMedia, VeriffSession
from tests.veriff_helpers import (
    FAIL_MISSING_KEY,
    FAIL_NOT_FOUND,
    JPEG,
    MISSING_SIG,
    Integration,
    fail,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR fake png bytes" * 7
BAD_MEDIA_SIG = "Signature does not match the SHA256 hash of media id and shared secret."
BAD_ATTEMPT_SIG = "Signature does not match the SHA256 hash of attempt id and shared secret."


@pytest.fixture(autouse=True)
def no_sending(monkeypatch):
    monkeypatch.setattr(outbox.SENDER, "enabled", False)


@pytest.fixture
def integ(org):
    return Integration(org.org)


def upload(client, integ, session_id, data: bytes, context="document-front"):
    body = {"image": {"context": context, "timestamp": "2026-05-22T10:00:00Z",
                      "content": base64.b64encode(data).decode()}}
    response = integ.post(client, f"/v1/sessions/{session_id}/media", body)
    assert response.status_code == 200, response.json
    return response.json["image"]


def submit(client, integ, session_id):
    response = integ.post(client, f"/v1/sessions/{session_id}",
                          {"verification": {"status": "submitted"}}, method="patch")
    assert response.status_code == 200, response.json
    return response


def decide(client, org, session_id, status):
    response = client.post(f"/ledger/v1/veriff/sessions/{session_id}/decision",
                           json={"status": status}, headers=org.headers())
    assert response.status_code == 200, response.json


# -- GET /v1/media/{id} -------------------------------------------------------------------------------

def test_download_the_file_as_uploaded_signed(client, integ):
    sid = integ.create_session(client)
    image = upload(client, integ, sid, JPEG)
    assert image["url"] == f"http://consent.test/v1/media/{image['id']}"
    listed = integ.get(client, f"/v1/sessions/{sid}/media", sid).json["images"]
    assert [m["url"] for m in listed] == [image["url"]]
    response = integ.get(client, f"/v1/media/{image['id']}", image["id"])
    assert response.status_code == 200
    assert response.get_data() == JPEG and response.mimetype == "image/jpeg"
    assert hashlib.sha256(response.get_data()).hexdigest() == image["sha256"]
    integ.assert_signed(response)     # the signature covers the file's bytes
    png = upload(client, integ, sid, PNG, context="face")
    response = integ.get(client, f"/v1/media/{png['id']}", png["id"])
    assert response.get_data() == PNG and response.mimetype == "image/png"


def test_download_errors_in_veriffs_shape(client, org, integ):
    sid = integ.create_session(client)
    media_id = upload(client, integ, sid, JPEG)["id"]
    path = f"/v1/media/{media_id}"
    response = client.get(path)
    assert response.status_code == 401 and response.json == FAIL_MISSING_KEY
    response = integ.get(client, path, media_id, **{"X-HMAC-SIGNATURE": None})
    assert response.status_code == 401 and response.json == fail(MISSING_SIG)
    response = integ.get(client, path, sid)       # signed over the session id, not the media's
    assert response.status_code == 401 and response.json == fail(BAD_MEDIA_SIG)
    other = Integration(org.org, "other")
    response = other.get(client, path, media_id)
    assert response.status_code == 404 and response.json == FAIL_NOT_FOUND
    response = integ.get(client, "/v1/media/no-such-media", "no-such-media")
    assert response.status_code == 404 and response.json == FAIL_NOT_FOUND
    assert integ.get(client, path, media_id).status_code == 200


def test_a_deleted_sessions_files_are_erased(client, integ):
    sid = integ.create_session(client)
    media_id = upload(client, integ, sid, JPEG)["id"]
    assert integ.get(client, f"/v1/sessions/{sid}", sid, method="delete").status_code == 200
    response = integ.get(client, f"/v1/media/{media_id}", media_id)
    assert response.status_code == 404 and response.json == FAIL_NOT_FOUND
    row = VeriffMedia.get_by_id(media_id)
    assert row.content is None and row.sha256 == hashlib.sha256(JPEG).hexdigest()


# -- GET /v1/attempts/{id}/media ----------------------------------------------------------------------

def test_media_belong_to_their_attempt(client, org, integ):
    sid = integ.create_session(client)
    first = upload(client, integ, sid, JPEG)
    assert first["attemptId"] is None          # no attempt yet: the next one takes it
    submit(client, integ, sid)
    attempts = integ.get(client, f"/v1/sessions/{sid}/attempts", sid).json["verifications"]
    assert len(attempts) == 1
    one = attempts[0]["id"]
    decide(client, org, sid, "resubmission_requested")
    second = upload(client, integ, sid, PNG, context="face")
    submit(client, integ, sid)
    attempts = integ.get(client, f"/v1/sessions/{sid}/attempts", sid).json["verifications"]
    two = attempts[1]["id"]
    response = integ.get(client, f"/v1/attempts/{one}/media", one)
    assert response.status_code == 200
    integ.assert_signed(response)
    assert response.json["status"] == "success" and response.json["videos"] == []
    assert [(m["id"], m["attemptId"], m["context"]) for m in response.json["images"]] == [
        (first["id"], one, "document-front")]
    images = integ.get(client, f"/v1/attempts/{two}/media", two).json["images"]
    assert [(m["id"], m["attemptId"], m["url"]) for m in images] == [
        (second["id"], two, f"http://consent.test/v1/media/{second['id']}")]
    # the session's list has both
    listed = integ.get(client, f"/v1/sessions/{sid}/media", sid).json["images"]
    assert {m["id"] for m in listed} == {first["id"], second["id"]}


def test_media_uploaded_while_the_flow_is_open_belong_to_that_attempt(client, integ):
    response = integ.post(client, "/v1/sessions", {"verification": {"vendorData": "v"}})
    sid, url = response.json["verification"]["id"], response.json["verification"]["url"]
    assert client.get(url.replace("http://consent.test", "")).status_code == 200  # started
    attempt = integ.get(client, f"/v1/sessions/{sid}/attempts", sid).json["verifications"][0]
    image = upload(client, integ, sid, JPEG)
    assert image["attemptId"] == attempt["id"]
    images = integ.get(client, f"/v1/attempts/{attempt['id']}/media",
                       attempt["id"]).json["images"]
    assert [m["id"] for m in images] == [image["id"]]


def test_attempt_media_errors_in_veriffs_shape(client, org, integ):
    sid = integ.create_session(client)
    upload(client, integ, sid, JPEG)
    submit(client, integ, sid)
    attempt = integ.get(client, f"/v1/sessions/{sid}/attempts", sid).json["verifications"][0]
    path = f"/v1/attempts/{attempt['id']}/media"
    assert client.get(path).json == FAIL_MISSING_KEY
    response = integ.get(client, path, sid)
    assert response.status_code == 401 and response.json == fail(BAD_ATTEMPT_SIG)
    response = Integration(org.org, "other").get(client, path, attempt["id"])
    assert response.status_code == 404 and response.json == FAIL_NOT_FOUND
    response = integ.get(client, "/v1/attempts/nope/media", "nope")
    assert response.status_code == 404 and response.json == FAIL_NOT_FOUND
    decide(client, org, sid, "approved")
    assert integ.get(client, f"/v1/sessions/{sid}", sid, method="delete").status_code == 200
    response = integ.get(client, path, attempt["id"])
    assert response.status_code == 404 and response.json == FAIL_NOT_FOUND


# -- PATCH /v1/sessions/{id}: url and sessionToken ------------------------------------------------

def test_patch_answers_the_sessions_url_and_token(client, integ):
    created = integ.post(client, "/v1/sessions", {"verification": {"vendorData": "v"}}).json
    sid = created["verification"]["id"]
    response = submit(client, integ, sid)
    integ.assert_signed(response)
    verification = response.json["verification"]
    assert verification == {"id": sid, "url": created["verification"]["url"],
                            "vendorData": "v", "host": "http://consent.test",
                            "status": "submitted",
                            "sessionToken": created["verification"]["sessionToken"]}
    assert verification["url"].endswith("/v/" + verification["sessionToken"])
    page = client.get(verification["url"].replace("http://consent.test", ""))
    assert page.status_code == 200 and page.mimetype == "text/html"


def test_a_session_token_from_before_is_reissued_once(app, client, org, integ):
    """A session whose stored token hash is not the derived token's (made by an older version):
    PATCH hands out a new token (an audit event) and the old URL stops opening the page."""
    sid = integ.create_session(client)
    old = "old-random-token-" + "x" * 30
    VeriffSession.update(token_hash=service.token_hash(old)).where(
        VeriffSession.id == sid).execute()
    assert client.get(f"/v/{old}").status_code == 200
    token = submit(client, integ, sid).json["verification"]["sessionToken"]
    assert token == service.session_token(app.config["SECRET_KEY"], sid) != old
    assert client.get(f"/v/{old}").status_code == 404
    assert client.get(f"/v/{token}").status_code == 200
    again = submit(client, integ, sid).json["verification"]["sessionToken"]
    assert again == token
    reissued = AuditEvent.select().where((AuditEvent.entity_id == sid) & (
        AuditEvent.action == "veriff.session.token_reissued")).count()
    assert reissued == 1


def test_a_rotated_secret_key_keeps_the_tokens_handed_out(app, client, integ):
    created = integ.post(client, "/v1/sessions", {"verification": {}}).json["verification"]
    app.config["SECRET_KEY"] = [app.config["SECRET_KEY"], "a-newer-secret-key"]
    verification = submit(client, integ, created["id"]).json["verification"]
    assert verification["sessionToken"] == created["sessionToken"]
    assert not AuditEvent.select().where(
        AuditEvent.action == "veriff.session.token_reissued").exists()
    fresh = integ.post(client, "/v1/sessions", {"verification": {}}).json["verification"]
    assert fresh["sessionToken"] == service.session_token("a-newer-secret-key", fresh["id"])


def test_a_file_of_no_known_type_is_served_as_bytes(client, integ):
    sid = integ.create_session(client)
    raw = b"not an image we recognise"
    body = {"image": {"context": "document-back",
                      "content": "data:image/x-unknown;base64," + base64.b64encode(raw).decode()}}
    image = integ.post(client, f"/v1/sessions/{sid}/media", body).json["image"]
    assert image["mimetype"] == "image/x-unknown"
    response = integ.get(client, f"/v1/media/{image['id']}", image["id"])
    assert response.status_code == 200 and response.get_data() == raw
    assert response.mimetype == "application/octet-stream"
    integ.assert_signed(response)


def test_the_incontext_sdks_lang_parameter_opens_the_same_page(client, integ):
    """``createVeriffFrame({url, lang})`` appends ``?lang=``: the page (one language) opens."""
    url = integ.post(client, "/v1/sessions", {"verification": {}}).json["verification"]["url"]
    path = url.replace("http://consent.test", "")
    response = client.get(path + "?lang=et")
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert 'lang="en"' in response.get_data(as_text=True)
