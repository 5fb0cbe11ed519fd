"""Routes of the Veriff dialect, under /v1 as Veriff serves them.

Authentication is Veriff's: ``X-AUTH-CLIENT`` names the integration (an ``hmac`` credential) and
``X-HMAC-SIGNATURE`` is the lowercase hex HMAC-SHA256, with the integration's shared secret, of the
raw request body (POST, PATCH) or of the session id (GET). Signatures are checked over
``request.get_data()`` before anything parses the body. Successful responses carry the API key in
``x-auth-client``/``vrf-auth-client`` and the HMAC of the exact response bytes in
``x-hmac-signature``/``vrf-hmac-signature``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import ValidationError

from consent.core import auth
from consent.core.storage import Credential
from schemas.common import iso
from schemas.veriff import (
    ConsentListOutSchema,
    ConsentOutSchema,
    ConsentUploadSchema,
    FailSchema,
    MediaListOutSchema,
    MediaUploadOutSchema,
    MediaUploadSchema,
    SessionCreateSchema,
    SessionOutSchema,
    SessionSubmitSchema,
)

from . import service

blp = Blueprint("veriff", __name__, url_prefix="/v1",
                description="Veriff-compatible session API (X-AUTH-CLIENT + X-HMAC-SIGNATURE).")

MISSING_KEY = "Mandatory X-AUTH-CLIENT header containing the API key is missing from the request."
UNKNOWN_KEY = "Integration with the API key in X-AUTH-CLIENT was not found."
MISSING_SIGNATURE = ("Mandatory X-HMAC-SIGNATURE header containing the SHA256 hash of the "
                     "payload is missing from the request.")
BAD_BODY_SIGNATURE = "Signature does not match the SHA256 hash of request body and shared secret."
BAD_ID_SIGNATURE = "Signature does not match the SHA256 hash of session id and shared secret."
VALIDATION_FAILED = "Validation failed"
NOT_FOUND = "Resource not found"
SUBMITTED_CONSENT = "Consent cannot be uploaded to a submitted session."
SUBMITTED_MEDIA = "Media cannot be uploaded to a submitted session."
# Veriff accepts images up to 24 MB base64; the app-wide limit is lower.
MEDIA_MAX_BYTES = 25 * 1024 * 1024

ERRORS = {400: {"description": "Validation failed", "schema": FailSchema},
          401: {"description": "Missing or unknown API key, missing or wrong signature",
                "schema": FailSchema},
          404: {"description": "No such session for this integration", "schema": FailSchema}}


def _errors(*statuses):
    def decorate(view):
        for status in statuses:
            view = blp.alt_response(status, **ERRORS[status])(view)
        return view
    return decorate


@dataclass
class Caller:
    credential: Credential
    api_key: str


def _header(name: str) -> str | None:
    return request.headers.get("X-" + name, request.headers.get("VRF-" + name))


def integration(*, signed: bytes | None = None, sign_over_id: str | None = None,
                signature_required: bool = True, max_body: int | None = None) -> Caller:
    """Identify the integration and check the request signature. With ``signed`` / ``sign_over_id``
    unset the raw body is what is signed (read only after the key is known)."""
    key = _header("AUTH-CLIENT")
    if not key:
        abort(401, message=MISSING_KEY)
    cred = auth.find_credential(key, kind="hmac")
    if cred is None or "consent" not in cred.scope_set or not cred.shared_secret:
        abort(401, message=UNKNOWN_KEY)
    if max_body is not None:
        request.max_content_length = max_body
    signature = _header("HMAC-SIGNATURE")
    if signature is None and not signature_required:
        return Caller(cred, key)
    if signature is None:
        abort(401, message=MISSING_SIGNATURE)
    payload = sign_over_id.encode() if sign_over_id is not None else request.get_data(cache=True)
    if not auth.signature_matches(cred.shared_secret, payload, signature):
        abort(401, message=BAD_ID_SIGNATURE if sign_over_id is not None else BAD_BODY_SIGNATURE)
    return Caller(cred, key)


def parse(schema_cls) -> dict:
    """The raw body as JSON, validated; any failure is Veriff's 400."""
    try:
        body = json.loads(request.get_data(cache=True))
    except (ValueError, UnicodeDecodeError):
        abort(400, message=VALIDATION_FAILED)
    try:
        return schema_cls().load(body)
    except ValidationError:
        abort(400, message=VALIDATION_FAILED)


def signed_response(caller: Caller, body: dict, status: int = 200) -> Response:
    """Serialise once, sign those exact bytes, send those exact bytes."""
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    signature = auth.hmac_sha256_hex(caller.credential.shared_secret, raw)
    return Response(raw, status=status, mimetype="application/json", headers={
        "x-auth-client": caller.api_key, "vrf-auth-client": caller.api_key,
        "x-hmac-signature": signature, "vrf-hmac-signature": signature})


def _verification(session, token: str | None) -> dict:
    host = current_app.config["CONSENT_PUBLIC_URL"]
    return {"id": session.id, "url": f"{host}/v/{token}",
            "vendorData": session.vendor_data, "host": host, "status": session.status,
            "sessionToken": token}


def _session_or_404(caller: Caller, session_id: str):
    session = service.find_session(caller.credential, session_id)
    if session is None:
        abort(404, message=NOT_FOUND)
    return session


def _media(m) -> dict:
    return {"id": m.id, "sessionId": m.session_id, "context": m.context, "name": m.context,
            "timestamp": iso(m.timestamp), "size": m.size, "mimetype": m.mimetype,
            "sha256": m.sha256}


@blp.route("/sessions")
class Sessions(MethodView):
    @blp.doc(requestBody={"required": True,
                          "content": {"application/json": {"schema": SessionCreateSchema}}})
    @blp.response(201, SessionOutSchema)
    @_errors(400, 401)
    def post(self):
        """Create a verification session

        ``X-HMAC-SIGNATURE`` is optional here; when sent it must sign the body."""
        caller = integration(signature_required=False)
        data = parse(SessionCreateSchema)
        session, token = service.create_session(caller.credential, data["verification"])
        return signed_response(caller, {"status": "success",
                                        "verification": _verification(session, token)}, 201)


@blp.route("/sessions/<string:session_id>")
class Session(MethodView):
    @blp.doc(requestBody={"required": True,
                          "content": {"application/json": {"schema": SessionSubmitSchema}}})
    @blp.response(200, SessionOutSchema)
    @_errors(400, 401, 404)
    def patch(self, session_id):
        """Submit a session (``verification.status`` = ``submitted``), signed over the body"""
        caller = integration()
        _session_or_404(caller, session_id)
        data = parse(SessionSubmitSchema)
        session = service.submit_session(caller.credential, session_id, data["verification"])
        if session is None:
            abort(404, message=NOT_FOUND)
        body = _verification(session, None)
        del body["sessionToken"], body["url"]  # only the token's hash is kept
        return signed_response(caller, {"status": "success", "verification": body})


@blp.route("/sessions/<string:session_id>/media")
class Media(MethodView):
    @blp.doc(requestBody={"required": True,
                          "content": {"application/json": {"schema": MediaUploadSchema}}})
    @blp.response(200, MediaUploadOutSchema)
    @_errors(400, 401, 404)
    @blp.alt_response(409, description="The session is already submitted", schema=FailSchema)
    def post(self, session_id):
        """Upload an image (base64); its context, timestamp, size and SHA-256 are kept"""
        caller = integration(max_body=MEDIA_MAX_BYTES)
        _session_or_404(caller, session_id)
        data = parse(MediaUploadSchema)
        try:
            media = service.add_media(caller.credential, session_id, data["image"])
        except service.BadMedia:
            abort(400, message=VALIDATION_FAILED)
        except service.SessionStateError:
            abort(409, message=SUBMITTED_MEDIA)
        if media is None:
            abort(404, message=NOT_FOUND)
        return signed_response(caller, {"status": "success", "image": _media(media)})

    @blp.response(200, MediaListOutSchema)
    @_errors(401, 404)
    def get(self, session_id):
        """List a session's media, signed over the session id"""
        caller = integration(sign_over_id=session_id)
        session = _session_or_404(caller, session_id)
        return signed_response(caller, {
            "status": "success", "videos": [],
            "images": [_media(m) for m in service.list_media(session)]})


@blp.route("/sessions/<string:session_id>/consents")
class Consents(MethodView):
    @blp.doc(requestBody={"required": True,
                          "content": {"application/json": {"schema": ConsentUploadSchema}}})
    @blp.response(200, ConsentOutSchema, headers={
        "x-auth-client": {"description": "The integration's API key", "schema": {"type": "string"}},
        "vrf-auth-client": {"description": "Same as x-auth-client", "schema": {"type": "string"}},
        "x-hmac-signature": {"description": "HMAC-SHA256 (hex) of the response body",
                             "schema": {"type": "string"}},
        "vrf-hmac-signature": {"description": "Same as x-hmac-signature",
                               "schema": {"type": "string"}}})
    @_errors(400, 401, 404)
    def post(self, session_id):
        """Upload a consent (ine, bipa or aadhaar) for a session

        Several may be uploaded; the latest is binding. Refused (400) once the session is
        submitted. ``X-HMAC-SIGNATURE`` signs the raw body."""
        caller = integration()
        _session_or_404(caller, session_id)
        data = parse(ConsentUploadSchema)
        try:
            row = service.record_consent(caller.credential, session_id, data)
        except service.SessionStateError:
            abort(400, message=SUBMITTED_CONSENT)
        if row is None:
            abort(404, message=NOT_FOUND)
        return signed_response(caller, {"id": row.consent_id, "context": "consent",
                                        "sessionId": session_id})

    @blp.response(200, ConsentListOutSchema)
    @_errors(401, 404)
    def get(self, session_id):
        """List a session's consents newest first; the first is binding. Signed over the id"""
        caller = integration(sign_over_id=session_id)
        session = _session_or_404(caller, session_id)
        items = []
        for index, (row, text) in enumerate(service.session_consents(session)):
            items.append({"id": row.consent_id, "context": "consent", "sessionId": session.id,
                          "type": row.type, "approved": row.approved, "text": text,
                          "binding": index == 0, "createdAt": iso(row.created_at)})
        return signed_response(caller, {"status": "success", "sessionId": session.id,
                                        "consents": items})
