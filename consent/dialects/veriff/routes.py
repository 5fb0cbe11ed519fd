"""Routes of the Veriff dialect, under /v1 as Veriff serves them.

Authentication is Veriff's (:class:`consent.web.auth.HmacSignature`): ``X-AUTH-CLIENT`` names
the integration and ``X-HMAC-SIGNATURE`` is the lowercase hex HMAC-SHA256, with its shared
secret, of the raw request body (POST, PATCH) or of the id in the path (GET, DELETE: the session
id; the media id of ``GET /v1/media/{id}``, the attempt id of ``GET /v1/attempts/{id}/media``),
checked before anything parses the body. Every successful response carries the API key in
``x-auth-client``/``vrf-auth-client`` and the HMAC of the exact bytes sent in
``x-hmac-signature``/``vrf-hmac-signature`` (:func:`sign_response`).
"""
from __future__ import annotations

from flask import Response, current_app, g
from flask.views import MethodView
from flask_smorest import abort

from consent.core import auth
from consent.web import public_url
from consent.web.auth import ADMIN_KEY, HmacSignature, current_actor, current_org, current_principal
from consent.web.blueprint import DialectBlueprint
from consent.web.cors import CorsPolicy
from consent.web.dialect import SERVICE_ERRORS
from schemas.veriff import (
    AttemptMediaOutSchema,
    AttemptsOutSchema,
    ConsentListOutSchema,
    ConsentOutSchema,
    ConsentUploadSchema,
    DecisionOutSchema,
    MediaListOutSchema,
    MediaUploadOutSchema,
    MediaUploadSchema,
    PersonOutSchema,
    ScreeningChangeOutSchema,
    ScreeningChangeSchema,
    ScreeningOutSchema,
    SessionCreateSchema,
    SessionOutSchema,
    SessionSubmitSchema,
    SubmittedOutSchema,
    VeriffDecideSchema,
    VeriffIntegrationSchema,
    VeriffIntegrationUpdateSchema,
)

from . import lifecycle, screening, service, webhooks
from .errors import ERRORS

blp = DialectBlueprint("veriff", __name__, url_prefix="/v1", errors=ERRORS,
                       description="Veriff-compatible session API (X-AUTH-CLIENT + "
                                   "X-HMAC-SIGNATURE).")
admin_blp = DialectBlueprint("veriff_admin", __name__, url_prefix="/ledger/v1/veriff",
                             errors=SERVICE_ERRORS,
                             description="Veriff integrations' webhook URLs, and decisions "
                                         "without a browser (admin key).")

NOT_FOUND = "Resource not found"
SUBMITTED_CONSENT = "Consent cannot be uploaded to a submitted session."
SUBMITTED_MEDIA = "Media cannot be uploaded to a submitted session."
# Veriff accepts images up to 24 MB base64; the app-wide limit is lower.
MEDIA_MAX_BYTES = 25 * 1024 * 1024

NOT_ENABLED = "Watchlist screening is not enabled"
# The media types a file is served with (what the upload's bytes were recognised as); any
# other (a data: URI's own claim) is served as bytes.
OCTET_STREAM = "application/octet-stream"
FILE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/heic",
              "application/pdf", OCTET_STREAM)


class VeriffSignature(HmacSignature):
    """Veriff's HMAC scheme; a signature over an id names which id in its 401 message."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        signed = self.sign_over if self.sign_over not in (None, "body") else "session_id"
        self.context = {"signed": signed.replace("_", " ")}


SIGNED_BODY = VeriffSignature()
SIGNED_BODY_OPTIONAL = VeriffSignature(optional=True)
SIGNED_MEDIA = VeriffSignature(max_body=MEDIA_MAX_BYTES)
SIGNED_ID = VeriffSignature(sign_over="session_id")
SIGNED_MEDIA_ID = VeriffSignature(sign_over="media_id")
SIGNED_ATTEMPT_ID = VeriffSignature(sign_over="attempt_id")
# Unmatched URLs under /v1/: the integration must be known before a 404 or 405 says anything.
KNOWN_INTEGRATION = VeriffSignature(sign_over=None)
NOT_COMPLETED = lifecycle.NOT_COMPLETED

# What Veriff's browser SDKs send and read (@veriff/js-sdk: content-type, x-auth-client,
# x-origin, vrf-integration-id), and the signed requests of other clients.
CORS = CorsPolicy(
    paths=("/v1/",),
    allow_headers=("Content-Type", "X-AUTH-CLIENT", "X-HMAC-SIGNATURE", "X-ORIGIN",
                   "VRF-AUTH-CLIENT", "VRF-HMAC-SIGNATURE", "VRF-INTEGRATION-ID"),
    expose_headers=("X-AUTH-CLIENT", "X-HMAC-SIGNATURE", "VRF-AUTH-CLIENT",
                    "VRF-HMAC-SIGNATURE"),
    methods=("GET", "POST", "PATCH", "DELETE"))

SIGNED_HEADERS = {name: {"description": text, "schema": {"type": "string"}} for name, text in (
    ("x-auth-client", "The integration's API key"),
    ("vrf-auth-client", "Same as x-auth-client"),
    ("x-hmac-signature", "HMAC-SHA256 (hex), with the shared secret, of the response body"),
    ("vrf-hmac-signature", "Same as x-hmac-signature"))}


@blp.after_request
def sign_response(response):
    """Sign the exact bytes of every successful answer with the caller's shared secret."""
    principal = g.get("principal")
    if response.status_code < 400 and principal is not None and principal.credential:
        sign(response, principal.credential)
    return response


def sign(response, credential):
    """Sign a response's exact bytes with an integration's shared secret (Veriff's headers)."""
    signature = auth.hmac_sha256_hex(credential.shared_secret, response.get_data())
    key = HmacSignature.header("AUTH-CLIENT")
    response.headers.update({"x-auth-client": key, "vrf-auth-client": key,
                             "x-hmac-signature": signature, "vrf-hmac-signature": signature})
    return response


def _integration():
    return current_principal().credential


def _session_or_404(session_id: str):
    session = service.find_session(_integration(), session_id)
    if session is None:
        abort(404, message=NOT_FOUND)
    return session


def _secret_key():
    return current_app.config["SECRET_KEY"]


def _verification(session, token: str | None = None) -> dict:
    host = public_url()
    out = {"id": session.id, "vendorData": session.vendor_data, "host": host,
           "status": session.status}
    if token is not None:
        out.update(url=f"{host}/v/{token}", sessionToken=token)
    return out


def _media(m) -> dict:
    return {"id": m.id, "sessionId": m.session_id, "attemptId": m.attempt_id,
            "context": m.context, "name": m.context, "timestamp": m.timestamp, "size": m.size,
            "mimetype": m.mimetype, "sha256": m.sha256, "url": f"{public_url()}/v1/media/{m.id}"}


@blp.route("/sessions")
class Sessions(MethodView):
    @blp.auth(SIGNED_BODY_OPTIONAL)
    @blp.arguments(SessionCreateSchema())
    @blp.response(201, SessionOutSchema, headers=SIGNED_HEADERS)
    def post(self, data):
        """Create a verification session

        ``X-HMAC-SIGNATURE`` is optional here; when sent it must sign the body."""
        session, token = service.create_session(_integration(), data["verification"],
                                                _secret_key())
        return {"status": "success", "verification": _verification(session, token)}


@blp.route("/sessions/<string:session_id>")
class Session(MethodView):
    @blp.auth(SIGNED_BODY)
    @blp.arguments(SessionSubmitSchema())
    @blp.response(200, SessionOutSchema, headers=SIGNED_HEADERS)
    @blp.errors(**{"404": "No such session for this integration"})
    def patch(self, data, session_id):
        """Submit a session (``verification.status`` = ``submitted``), signed over the body

        Answers as Veriff does, with the session's ``url`` and ``sessionToken``."""
        found = service.submit_session(_integration(), session_id, data["verification"],
                                       _secret_key())
        if found is None:
            abort(404, message=NOT_FOUND)
        session, token = found
        return {"status": "success", "verification": _verification(session, token)}

    @blp.auth(SIGNED_ID)
    @blp.response(200, SubmittedOutSchema, headers=SIGNED_HEADERS)
    @blp.errors(**{"400": "Session is not in a completed status (submitted, review)",
                   "404": "No such session for this integration"})
    def delete(self, session_id):
        """Delete a session, signed over the session id

        Refused while ``submitted`` or in ``review``. A session not yet decided is first
        decided ``expired`` (created) or ``abandoned`` (started, resubmission_requested), with
        its decision webhook. Afterwards every call about it answers 404; its consents stay in
        the ledger."""
        try:
            session = service.delete_session(_integration(), session_id)
        except service.SessionStateError:
            abort(400, message=NOT_COMPLETED)
        if session is None:
            abort(404, message=NOT_FOUND)
        return {"status": "success", "verification": _verification(session)}


@blp.route("/sessions/<string:session_id>/decision")
class Decision(MethodView):
    @blp.auth(SIGNED_ID)
    @blp.response(200, DecisionOutSchema, headers=SIGNED_HEADERS)
    @blp.errors(**{"404": "No such session for this integration"})
    def get(self, session_id):
        """The session's decision, signed over the session id

        ``verification`` is null until the session has a decision (a 9000-code status)."""
        return service.decision(_session_or_404(session_id))


@blp.route("/sessions/<string:session_id>/person")
class Person(MethodView):
    @blp.auth(SIGNED_ID)
    @blp.response(200, PersonOutSchema, headers=SIGNED_HEADERS)
    @blp.errors(**{"404": "No such session for this integration"})
    def get(self, session_id):
        """The person the session was created with, signed over the session id"""
        person = webhooks.person_of(_session_or_404(session_id))
        return {"status": "success", "person": {
            **person, "citizenships": [person["citizenship"]] if person["citizenship"] else [],
            "pepSanctionMatches": []}}


@blp.route("/sessions/<string:session_id>/attempts")
class Attempts(MethodView):
    @blp.auth(SIGNED_ID)
    @blp.response(200, AttemptsOutSchema, headers=SIGNED_HEADERS)
    @blp.errors(**{"404": "No such session for this integration"})
    def get(self, session_id):
        """The session's attempts, oldest first, signed over the session id"""
        session = _session_or_404(session_id)
        return {"status": "success", "verifications": [
            {"id": a.id, "status": a.status, "createdTime": webhooks.veriff_time(a.created_at)}
            for a in lifecycle.attempts(session)]}


@blp.route("/sessions/<string:session_id>/media")
class Media(MethodView):
    @blp.auth(SIGNED_MEDIA)
    @blp.arguments(MediaUploadSchema())
    @blp.response(200, MediaUploadOutSchema, headers=SIGNED_HEADERS)
    @blp.errors(**{"404": "No such session for this integration",
                   "409": "The session is already submitted"})
    def post(self, data, session_id):
        """Upload an image (base64); kept with its context, timestamp, size and SHA-256

        ``GET /v1/media/{id}`` gives the file back until the session is deleted."""
        _session_or_404(session_id)
        try:
            media = service.add_media(_integration(), session_id, data["image"])
        except service.BadMedia:
            abort(400, message="Validation failed")
        except service.SessionStateError:
            abort(409, message=SUBMITTED_MEDIA)
        if media is None:
            abort(404, message=NOT_FOUND)
        return {"status": "success", "image": _media(media)}

    @blp.auth(SIGNED_ID)
    @blp.response(200, MediaListOutSchema, headers=SIGNED_HEADERS)
    @blp.errors(**{"404": "No such session for this integration"})
    def get(self, session_id):
        """List a session's media, signed over the session id"""
        session = _session_or_404(session_id)
        return {"status": "success", "videos": [],
                "images": [_media(m) for m in service.list_media(session)]}


@blp.route("/media/<string:media_id>")
class MediaFile(MethodView):
    @blp.auth(SIGNED_MEDIA_ID)
    @blp.response(200, description="The file, as uploaded", headers=SIGNED_HEADERS)
    @blp.doc(responses={200: {"content": {kind: {"schema": {"type": "string",
                                                            "format": "binary"}}
                                          for kind in FILE_TYPES}}})
    @blp.errors(**{"404": "No such media of this integration (or its session was deleted)"})
    def get(self, media_id):
        """Download a media file, signed over the media id

        The bytes uploaded with ``POST /v1/sessions/{id}/media``, with their media type; the
        response body is signed like every other."""
        media = service.media_file(_integration(), media_id)
        if media is None or media.content is None:
            abort(404, message=NOT_FOUND)
        mimetype = media.mimetype if media.mimetype in FILE_TYPES else OCTET_STREAM
        return Response(bytes(media.content), mimetype=mimetype,
                        headers={"Cache-Control": "no-store"})


@blp.route("/attempts/<string:attempt_id>/media")
class AttemptMedia(MethodView):
    @blp.auth(SIGNED_ATTEMPT_ID)
    @blp.response(200, AttemptMediaOutSchema, headers=SIGNED_HEADERS)
    @blp.errors(**{"404": "No such attempt of this integration"})
    def get(self, attempt_id):
        """List an attempt's media, signed over the attempt id

        Media uploaded while no attempt was in progress belong to the attempt that followed."""
        attempt = service.attempt_of(_integration(), attempt_id)
        if attempt is None:
            abort(404, message=NOT_FOUND)
        return {"status": "success", "videos": [],
                "images": [_media(m) for m in service.attempt_media(attempt)]}


@blp.route("/sessions/<string:session_id>/watchlist-screening")
class WatchlistScreening(MethodView):
    @blp.auth(SIGNED_ID)
    @blp.response(200, ScreeningOutSchema, headers=SIGNED_HEADERS)
    @blp.errors(**{"404": "No such session for this integration, or no screening yet ("
                          "\"Watchlist screening is not enabled\": it runs at submission)"})
    def get(self, session_id):
        """The session's PEP and sanctions screening (a local stand-in), signed over the id

        Made when the session is submitted, from the person it was created with: last name
        ``Sanction``, ``Pep`` or ``Adverse`` gives one hit of that list (``possible_match``),
        any other name ``no_match``."""
        found = service.screening_of(_integration(), session_id)
        if found is None:
            abort(404, message=NOT_FOUND)
        session, current = found
        if current is None:
            abort(404, message=NOT_ENABLED)
        return {"status": "success", "data": screening.body(session, current)}

    @blp.auth(SIGNED_BODY)
    @blp.arguments(ScreeningChangeSchema())
    @blp.response(200, ScreeningChangeOutSchema, headers=SIGNED_HEADERS)
    @blp.errors(**{"400": "Validation failed (exactly one of monitorStatus and hit); monitoring "
                          "already disabled; a riskLevel for a hit that is no true_match",
                   "404": "No such session, no screening yet, or no such hit"})
    def patch(self, data, session_id):
        """Disable the ongoing monitoring, or review a hit, signed over the body

        Exactly one of ``monitorStatus`` (``disabled``) and ``hit`` ({id, matchStatus?,
        riskLevel?, isWhitelisted?})."""
        try:
            changed = service.change_screening(_integration(), session_id, data)
        except LookupError:
            abort(404, message=NOT_ENABLED)
        except screening.UnknownHit:
            abort(404, message=NOT_FOUND)
        except screening.ScreeningError as exc:
            abort(400, message=str(exc))
        if changed is None:
            abort(404, message=NOT_FOUND)
        session, current, hit = changed
        out = {"attemptId": current.attempt_id, "sessionId": session.id,
               "vendorData": session.vendor_data, "monitorStatus": current.monitor_status}
        if hit is not None:
            out["hit"] = hit
        return {"status": "success", "data": out}


@blp.route("/sessions/<string:session_id>/consents")
class Consents(MethodView):
    @blp.auth(SIGNED_BODY)
    @blp.arguments(ConsentUploadSchema())
    @blp.response(200, ConsentOutSchema, headers=SIGNED_HEADERS)
    @blp.errors(**{"404": "No such session for this integration"})
    def post(self, data, session_id):
        """Upload a consent (ine, bipa or aadhaar) for a session

        Several may be uploaded; the latest is binding. Refused (400) once the session is
        submitted. ``X-HMAC-SIGNATURE`` signs the raw body."""
        _session_or_404(session_id)
        try:
            row = service.record_consent(_integration(), session_id, data)
        except service.SessionStateError:
            abort(400, message=SUBMITTED_CONSENT)
        if row is None:
            abort(404, message=NOT_FOUND)
        return {"id": row.consent_id, "context": "consent", "sessionId": session_id}

    @blp.auth(SIGNED_ID)
    @blp.response(200, ConsentListOutSchema, headers=SIGNED_HEADERS)
    @blp.errors(**{"404": "No such session for this integration"})
    def get(self, session_id):
        """List a session's consents newest first; the first is binding. Signed over the id"""
        session = _session_or_404(session_id)
        items = [{"id": row.consent_id, "context": "consent", "sessionId": session.id,
                  "type": row.type, "approved": row.approved,
                  "text": (row.evidence or {}).get("text"), "binding": index == 0,
                  "createdAt": row.created_at}
                 for index, row in enumerate(service.session_consents(session))]
        return {"status": "success", "sessionId": session.id, "consents": items}


# -- the operator's API: webhook URLs and decisions without a browser ---------------------------

@admin_blp.route("/integrations/<string:integration_id>")
class Integration(MethodView):
    @admin_blp.auth(ADMIN_KEY)
    @admin_blp.response(200, VeriffIntegrationSchema)
    @admin_blp.errors(**{"404": "No active Veriff integration with this id here"})
    def get(self, integration_id):
        """An integration's webhook URLs"""
        return webhooks.settings_of(current_org(), integration_id)

    @admin_blp.auth(ADMIN_KEY)
    @admin_blp.arguments(VeriffIntegrationUpdateSchema())
    @admin_blp.response(200, VeriffIntegrationSchema)
    @admin_blp.errors(**{"404": "No active Veriff integration with this id here"})
    def patch(self, data, integration_id):
        """Set an integration's event and decision webhook URLs

        Fields left out are kept; null clears one."""
        urls = {name: data[field] for name, field in (("event_url", "event_webhook_url"),
                                                      ("decision_url", "decision_webhook_url"))
                if field in data}
        return webhooks.configure(current_org(), integration_id, api_key=data.get("api_key"),
                                  actor=current_actor(), **urls)


@admin_blp.route("/sessions/<string:session_id>/decision")
class SessionDecision(MethodView):
    @admin_blp.auth(ADMIN_KEY)
    @admin_blp.arguments(VeriffDecideSchema())
    @admin_blp.response(200, DecisionOutSchema)
    @admin_blp.errors(**{"404": "No such session in this organisation",
                         "409": "The session's decision is final"})
    def post(self, data, session_id):
        """Decide a session, as a tester would on its page

        Sends the decision webhook; answers what ``GET /v1/sessions/{id}/decision`` will."""
        session = service.decide(current_org(), session_id, data["status"],
                                 data.get("reason_code"), current_actor(), via="api")
        return service.decision(session)
