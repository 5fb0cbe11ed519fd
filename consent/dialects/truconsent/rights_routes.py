"""truConsent's rights center API at the paths truKIT's ``RightsCenterApi`` calls
(``/api/v1/internal/...``, truConsent's error shape, the SDK's credentials: ``X-Org-Id`` +
``X-API-Key``, or an operator's bearer token; with the key, ``Authorization: Bearer rca....`` is
the rights center access token of :mod:`.rights_center`), and its management under
``/ledger/v1/truconsent`` (admin key, this service's error shape). The grievance chat's WebSocket
(``/ws/grievance/{ticket}``) is not served: truKIT falls back to polling the messages route."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import abort

from consent.web.auth import ADMIN_KEY, current_actor, current_org
from consent.web.blueprint import DialectBlueprint
from consent.web.dialect import SERVICE_ERRORS
from schemas.truconsent_rights import (
    AccessRequestSchema,
    NomineeDeletedSchema,
    DeletionRequestSchema,
    DpoInSchema,
    DpoSchema,
    GrievanceCreatedSchema,
    GrievanceInSchema,
    GrievanceListQuerySchema,
    GrievanceSchema,
    GrievanceThreadSchema,
    MessageInSchema,
    MessageSchema,
    NomineeInSchema,
    NomineeSchema,
    OtpSentSchema,
    OtpVerifiedSchema,
    ReplyInSchema,
    RightsCenterSettingsFields,
    RightsCenterSettingsSchema,
    RightsRequestResultSchema,
    SendOtpSchema,
    SettingsAdminSchema,
    SettingsQuerySchema,
    VerifyOtpSchema,
)

from . import points
from . import rights_center as rc
from .errors import ERRORS, render
from .routes import SDK_429, SDK_AUTH, TOO_LONG, _allow_origin

rights_blp = DialectBlueprint("truconsent_rights", __name__, errors=ERRORS,
                              description="truConsent's rights center API (truKIT)")
rights_admin_blp = DialectBlueprint(
    "truconsent_rights_admin", __name__, url_prefix="/ledger/v1/truconsent",
    errors=SERVICE_ERRORS,
    description="Manage truConsent's rights center: its settings, the DPO, grievance tickets "
                "(admin key).")

RC = "/api/v1/internal"
FORBIDDEN = ("The page's Origin is not among the asset's allowed origins, or the rights center "
             "access token is another data principal's")
TOKEN_401 = "No credential, or the rights center access token is expired or forged"


def _origin(asset=None) -> None:
    _allow_origin(asset, current_org())


def _path_user(user_id: str) -> str:
    if len(user_id) > 255:
        abort(422, messages={"path": {"user_id": [TOO_LONG]}})
    return user_id


def _too_many(exc: rc.TooMany):
    response = render(429, exc.message, exc)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


# -- settings, DPO ----------------------------------------------------------------------------

@rights_blp.route(f"{RC}/rights-center/settings/global")
class RightsCenterSettings(MethodView):
    @rights_blp.auth(SDK_AUTH)
    @rights_blp.arguments(SettingsQuerySchema(), location="query")
    @rights_blp.response(200, RightsCenterSettingsSchema)
    @rights_blp.errors(**{"403": FORBIDDEN, "404": "Asset not found", "429": SDK_429})
    def get(self, args):
        """The rights center's settings for an asset (``?asset_id=``, UUID or display id) or
        the organisation: defaults, then the organisation's, then the asset's"""
        org = current_org()
        asset = rc.find_asset_or_404(org, args.get("asset_id"))
        _origin(asset)
        return rc.effective_settings(org, asset)


@rights_blp.route(f"{RC}/dpo")
class Dpo(MethodView):
    @rights_blp.auth(SDK_AUTH)
    @rights_blp.response(200, DpoSchema)
    @rights_blp.errors(**{"403": FORBIDDEN, "404": "DPO information not found",
                          "429": SDK_429})
    def get(self):
        """The organisation's data protection officer"""
        org = current_org()
        _origin()
        rc.token_lookup(org)
        return rc.dpo(org)


# -- rights requests --------------------------------------------------------------------------

@rights_blp.route(f"{RC}/rights-requests/deletion-request")
class DeletionRequest(MethodView):
    @rights_blp.auth(SDK_AUTH)
    @rights_blp.arguments(DeletionRequestSchema())
    @rights_blp.response(200, RightsRequestResultSchema)
    @rights_blp.errors(**{"401": TOKEN_401, "403": FORBIDDEN, "429": SDK_429})
    def post(self, data):
        """A data principal asks for their data to be erased: a rights request (kind
        erasure, due in a month) the operator answers (``/ledger/v1/rights-requests``)"""
        _origin()
        return rc.rights_request(current_org(), "erasure", data, current_actor())


@rights_blp.route(f"{RC}/rights-requests/access-request")
class AccessRequest(MethodView):
    @rights_blp.auth(SDK_AUTH)
    @rights_blp.arguments(AccessRequestSchema())
    @rights_blp.response(200, RightsRequestResultSchema)
    @rights_blp.errors(**{"401": TOKEN_401, "403": FORBIDDEN, "429": SDK_429})
    def post(self, data):
        """A data principal asks for access to their data: a rights request (kind access;
        ``description`` its reason, ``subject`` and ``metadata`` in its metadata)"""
        _origin()
        return rc.rights_request(current_org(), "access", data, current_actor())


# -- nominees ---------------------------------------------------------------------------------

@rights_blp.route(f"{RC}/nominee/user/<string:user_id>")
class UserNominees(MethodView):
    @rights_blp.auth(SDK_AUTH)
    @rights_blp.response(200, NomineeSchema(many=True))
    @rights_blp.errors(**{"401": TOKEN_401, "403": FORBIDDEN, "429": SDK_429,
                          "422": "The user id is longer than 255 characters"})
    def get(self, user_id):
        """A data principal's nominees, oldest first ([] for someone unknown)"""
        _origin()
        return rc.nominees(current_org(), _path_user(user_id))


@rights_blp.route(f"{RC}/nominee")
class Nominees(MethodView):
    @rights_blp.auth(SDK_AUTH)
    @rights_blp.arguments(NomineeInSchema())
    @rights_blp.response(200, NomineeSchema)
    @rights_blp.errors(**{"401": TOKEN_401, "403": FORBIDDEN, "429": SDK_429})
    def post(self, data):
        """Nominate someone (for ``client_user_id``, else ``user_id``, else ``X-User-Id``)"""
        _origin()
        return rc.create_nominee(current_org(), data, current_actor())


@rights_blp.route(f"{RC}/nominee/<string:nominee_id>")
class NomineeById(MethodView):
    @rights_blp.auth(SDK_AUTH)
    @rights_blp.arguments(NomineeInSchema())
    @rights_blp.response(200, NomineeSchema)
    @rights_blp.errors(**{"401": TOKEN_401, "403": FORBIDDEN, "429": SDK_429,
                          "404": "Nominee not found (or not the named data principal's)"})
    def put(self, data, nominee_id):
        """Change a nominee's details (the whole nominee, as the SDK sends it)"""
        _origin()
        return rc.update_nominee(current_org(), nominee_id, data, current_actor())

    @rights_blp.auth(SDK_AUTH)
    @rights_blp.response(200, NomineeDeletedSchema)
    @rights_blp.errors(**{"401": TOKEN_401, "403": FORBIDDEN, "429": SDK_429,
                          "404": "Nominee not found (or not the X-User-Id's)"})
    def delete(self, nominee_id):
        """Delete a nominee (their details are erased)"""
        _origin()
        return rc.delete_nominee(current_org(), nominee_id, current_actor())


# -- grievances -------------------------------------------------------------------------------

@rights_blp.route(f"{RC}/grievance/user/<string:user_id>")
class UserGrievances(MethodView):
    @rights_blp.auth(SDK_AUTH)
    @rights_blp.response(200, GrievanceSchema(many=True))
    @rights_blp.errors(**{"401": TOKEN_401, "403": FORBIDDEN, "429": SDK_429,
                          "422": "The user id is longer than 255 characters"})
    def get(self, user_id):
        """A data principal's grievance tickets, newest first ([] for someone unknown)"""
        _origin()
        return rc.grievances(current_org(), _path_user(user_id))


@rights_blp.route(f"{RC}/grievance")
class Grievances(MethodView):
    @rights_blp.auth(SDK_AUTH)
    @rights_blp.arguments(GrievanceInSchema())
    @rights_blp.response(200, GrievanceCreatedSchema)
    @rights_blp.errors(**{"401": TOKEN_401, "403": FORBIDDEN, "429": SDK_429})
    def post(self, data):
        """Raise a grievance ticket (status open, ticket_id GRV-000001...)"""
        _origin()
        return rc.create_grievance(current_org(), data, current_actor())


@rights_blp.route(f"{RC}/grievance/<string:ticket_id>/messages")
class GrievanceMessages(MethodView):
    @rights_blp.auth(SDK_AUTH)
    @rights_blp.response(200, MessageSchema(many=True))
    @rights_blp.errors(**{"401": TOKEN_401, "403": FORBIDDEN, "429": SDK_429,
                          "404": "Grievance ticket not found (or not the X-User-Id's)"})
    def get(self, ticket_id):
        """A ticket's messages, oldest first (by its id or ticket_id)"""
        _origin()
        return rc.messages(current_org(), ticket_id)

    @rights_blp.auth(SDK_AUTH)
    @rights_blp.arguments(MessageInSchema())
    @rights_blp.response(200, MessageSchema)
    @rights_blp.errors(**{"401": TOKEN_401, "403": FORBIDDEN, "429": SDK_429,
                          "404": "Grievance ticket not found (or not the X-User-Id's)",
                          "409": "Grievance ticket is closed"})
    def post(self, data, ticket_id):
        """The data principal writes on their ticket (a resolved ticket opens again)"""
        _origin()
        return rc.post_message(current_org(), ticket_id, data["message"], current_actor())


# -- phone + OTP ------------------------------------------------------------------------------

@rights_blp.route(f"{RC}/rights-center-access/send-otp")
class SendOtp(MethodView):
    @rights_blp.auth(SDK_AUTH)
    @rights_blp.arguments(SendOtpSchema())
    @rights_blp.response(200, OtpSentSchema)
    @rights_blp.errors(**{"403": FORBIDDEN, "404": "Asset not found",
                          "429": "Too many OTP requests for this phone number (Retry-After)"})
    def post(self, data):
        """Send a one-time password to a phone (kept in the local outbox for the operator to
        deliver: no SMS gateway)"""
        org = current_org()
        _origin(points.find_asset(org, data["assetId"]) if data.get("assetId") else None)
        try:
            return rc.send_otp(org, data, current_actor())
        except rc.TooMany as exc:
            return _too_many(exc)


@rights_blp.route(f"{RC}/rights-center-access/verify-otp")
class VerifyOtp(MethodView):
    @rights_blp.auth(SDK_AUTH)
    @rights_blp.arguments(VerifyOtpSchema())
    @rights_blp.response(200, OtpVerifiedSchema)
    @rights_blp.errors(**{"400": "Invalid OTP, or none pending (expired, used, not sent)",
                          "403": FORBIDDEN, "404": "Asset not found",
                          "429": "Too many incorrect attempts: the OTP is void"})
    def post(self, data):
        """Check the one-time password: the access token (``Authorization: Bearer``, with the
        API key) and the data principal (the phone, E.164)"""
        org = current_org()
        _origin(points.find_asset(org, data["assetId"]) if data.get("assetId") else None)
        try:
            return rc.verify_otp(org, data, current_actor())
        except rc.TooMany as exc:
            return _too_many(exc)


# -- management -------------------------------------------------------------------------------

def _admin_asset(asset_id):
    asset = points.find_asset(current_org(), asset_id)
    if asset is None:
        abort(404, message="Asset not found")
    return asset


@rights_admin_blp.route("/rights-center/settings")
class OrgSettings(MethodView):
    @rights_admin_blp.auth(ADMIN_KEY)
    @rights_admin_blp.response(200, SettingsAdminSchema)
    def get(self):
        """The organisation's rights center settings (those set, and the effective ones)"""
        return rc.settings_view(current_org(), None)

    @rights_admin_blp.auth(ADMIN_KEY)
    @rights_admin_blp.arguments(RightsCenterSettingsFields())
    @rights_admin_blp.response(200, SettingsAdminSchema)
    def put(self, data):
        """Replace the organisation's rights center settings (keys not given: the defaults)"""
        return rc.set_settings(current_org(), None, data, current_actor())


@rights_admin_blp.route("/assets/<string:asset_id>/rights-center/settings")
class AssetSettings(MethodView):
    @rights_admin_blp.auth(ADMIN_KEY)
    @rights_admin_blp.response(200, SettingsAdminSchema)
    @rights_admin_blp.errors(**{"404": "Asset not found"})
    def get(self, asset_id):
        """An asset's rights center settings (those set, and the effective ones)"""
        return rc.settings_view(current_org(), _admin_asset(asset_id))

    @rights_admin_blp.auth(ADMIN_KEY)
    @rights_admin_blp.arguments(RightsCenterSettingsFields())
    @rights_admin_blp.response(200, SettingsAdminSchema)
    @rights_admin_blp.errors(**{"404": "Asset not found"})
    def put(self, data, asset_id):
        """Replace an asset's rights center settings (keys not given: the organisation's)"""
        return rc.set_settings(current_org(), _admin_asset(asset_id), data, current_actor())


@rights_admin_blp.route("/dpo")
class AdminDpo(MethodView):
    @rights_admin_blp.auth(ADMIN_KEY)
    @rights_admin_blp.response(200, DpoSchema)
    @rights_admin_blp.errors(**{"404": "DPO information not found"})
    def get(self):
        """The organisation's data protection officer"""
        return rc.dpo(current_org())

    @rights_admin_blp.auth(ADMIN_KEY)
    @rights_admin_blp.arguments(DpoInSchema())
    @rights_admin_blp.response(200, DpoSchema)
    def put(self, data):
        """Set the organisation's data protection officer (replaced whole)"""
        return rc.set_dpo(current_org(), data, current_actor())


@rights_admin_blp.route("/grievances")
class AdminGrievances(MethodView):
    @rights_admin_blp.auth(ADMIN_KEY)
    @rights_admin_blp.arguments(GrievanceListQuerySchema(), location="query")
    @rights_admin_blp.response(200, GrievanceSchema(many=True))
    def get(self, args):
        """The organisation's grievance tickets, newest first (``?status=``)"""
        return rc.all_grievances(current_org(), args.get("status"))


@rights_admin_blp.route("/grievances/<string:ticket_id>")
class AdminGrievance(MethodView):
    @rights_admin_blp.auth(ADMIN_KEY)
    @rights_admin_blp.response(200, GrievanceThreadSchema)
    @rights_admin_blp.errors(**{"404": "Grievance ticket not found"})
    def get(self, ticket_id):
        """A ticket with its messages (by id or ticket_id)"""
        return rc.thread(current_org(), ticket_id)


@rights_admin_blp.route("/grievances/<string:ticket_id>/messages")
class AdminGrievanceReply(MethodView):
    @rights_admin_blp.auth(ADMIN_KEY)
    @rights_admin_blp.arguments(ReplyInSchema())
    @rights_admin_blp.response(200, GrievanceThreadSchema)
    @rights_admin_blp.errors(**{"404": "Grievance ticket not found"})
    def post(self, data, ticket_id):
        """Answer a ticket as the organisation (sender ``agent``) and/or set its status"""
        return rc.reply(current_org(), ticket_id, data.get("message"), data.get("status"),
                        current_actor())
