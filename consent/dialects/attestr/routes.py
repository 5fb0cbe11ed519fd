"""Routes of the Attestr dialect, under /api/v3/public as Attestr serves them.

Every operation authenticates as :mod:`.access` describes (Basic auth token, Attestr client, IP
allow-list, rate limits per API) before its body is read; errors leave in Attestr's shape
(:mod:`.errors`). Views call :mod:`.consents` and :mod:`.exports`.
"""
from __future__ import annotations


from flask import Response, request
from flask.views import MethodView

from consent.core import ids
from consent.web import public_url
from consent.web.blueprint import DialectBlueprint
from schemas.attestr import (
    AttestrAsyncOutSchema,
    AttestrConsentOutSchema,
    AttestrDataCategoriesQuerySchema,
    AttestrDataCategoriesSchema,
    AttestrNoBodySchema,
    AttestrRegisteredSchema,
    AttestrRegisterSchema,
    AttestrRevokedSchema,
)

from . import codes, consents, exports
from .access import AttestrClientAuth, current_client
from .codes import AttestrError
from .errors import ERRORS

blp = DialectBlueprint("attestr", __name__, url_prefix="/api/v3/public", errors=ERRORS,
                       description="Attestr-compatible DPDP consent API, v3 "
                                   "(Authorization: Basic <authToken>).")

NO_CONSENT = "400 4001 when no consent of this account has this _id"


def _consent_out(row) -> dict:
    return {"id": row.id, "number": row.number, "status": consents.status(row)}


@blp.route("/consent/register")
class Register(MethodView):
    @blp.auth(AttestrClientAuth("consent.register"))
    @blp.arguments(AttestrRegisterSchema())
    @blp.response(200, AttestrRegisteredSchema)
    @blp.errors(**{"400": "4001 malformed or missing values (details say which), a "
                          "consentReferenceId repeated with another body; 4005 no credits left",
                   "403": "4031 not an Attestr client; 4035 a service is not provisioned; "
                          "4039 IP address not allowed"})
    def post(self, data):
        """Register a consent

        A repeat with the same ``consentReferenceId`` and body returns the same consent; with
        another body it is 400 4001. Each new consent uses one credit when the client has a
        credits balance."""
        return consents.register(current_client(), data, request.get_json())


@blp.route("/consent/data-categories")
class DataCategories(MethodView):
    @blp.auth(AttestrClientAuth("consent.data-categories"))
    @blp.arguments(AttestrDataCategoriesQuerySchema())
    @blp.response(200, AttestrDataCategoriesSchema)
    @blp.errors(**{"403": "4035 a service is not provisioned"})
    def post(self, data):
        """The data categories and types the given services need"""
        return consents.data_categories(current_client(), data)


@blp.route("/consent/<string:consent_id>")
class ConsentDetails(MethodView):
    @blp.auth(AttestrClientAuth("consent.get"))
    @blp.response(200, AttestrConsentOutSchema)
    @blp.errors(**{"400": NO_CONSENT})
    def get(self, consent_id):
        """Track a consent's lifecycle: its status and the data it was registered with"""
        row = consents.find(current_client(), consent_id)
        return {**_consent_out(row), "requestId": ids.uuid4_hex(), "data": row.data}


@blp.route("/consent/<string:consent_id>/revoke")
class Revoke(MethodView):
    @blp.auth(AttestrClientAuth("consent.revoke"))
    @blp.arguments(AttestrNoBodySchema(), required=False)
    @blp.response(200, AttestrRevokedSchema)
    @blp.errors(**{"400": NO_CONSENT})
    def post(self, _body, consent_id):
        """Revoke a consent

        200: the revocation is done (the ledger records a withdrawal with its audit event); it
        can no longer be used. Revoking it again changes nothing."""
        return _consent_out(consents.revoke(current_client(), consent_id))


@blp.route("/consent/<string:consent_id>/export")
class Export(MethodView):
    @blp.auth(AttestrClientAuth("consent.export"))
    @blp.arguments(AttestrNoBodySchema(), required=False)
    @blp.response(200, AttestrRegisteredSchema)
    @blp.errors(**{"400": NO_CONSENT})
    def post(self, _body, consent_id):
        """Export a consent's audit trail (asynchronous)

        Answers the async request's ``_id`` and ``number``; poll
        ``GET /common/async/{asyncId}`` until its status is ``completed``, then download the
        spreadsheet from ``output.url``."""
        return exports.request_export(current_client(), consent_id, public_url())


@blp.route("/common/async/<string:async_id>")
class AsyncResult(MethodView):
    @blp.auth(AttestrClientAuth("common.async"))
    @blp.response(200, AttestrAsyncOutSchema)
    @blp.errors(**{"400": "4001 when no async request of this account has this _id"})
    def get(self, async_id):
        """An asynchronous request: pending, completed (with its output) or errored"""
        job = exports.find_job(current_client(), async_id)
        if job is None:
            raise AttestrError(codes.MALFORMED, details=f"No async request {async_id!r}")
        return exports.job_payload(job)


@blp.route("/common/media/<string:media_id>")
class Media(MethodView):
    @blp.auth(AttestrClientAuth("common.media"))
    @blp.response(200, description="The file (the export's spreadsheet)")
    @blp.doc(responses={200: {"content": {exports.XLSX: {
        "schema": {"type": "string", "format": "binary"}}}}})
    @blp.errors(**{"400": "4001 when no file of this account has this id"})
    def get(self, media_id):
        """Download a file an asynchronous request produced"""
        media = exports.find_media(current_client(), media_id)
        if media is None:
            raise AttestrError(codes.MALFORMED, details=f"No media {media_id!r}")
        return Response(bytes(media.content), mimetype=media.mimetype, headers={
            "Content-Disposition": f'attachment; filename="{media.file_name}"',
            "Cache-Control": "no-store"})
