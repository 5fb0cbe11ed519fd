"""Schemas of truConsent's rights center API (``consent.dialects.truconsent.rights_center``):
what truKIT's rights center sends and reads (requests ignore unknown fields and carry
pydantic-style messages, as in :mod:`schemas.truconsent`), and the management API's (this
service's error shape: unknown fields refused)."""
from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from .common import UTCDateTime, email_problem
from .truconsent import MSG_DICT, MSG_STRING, LaxSchema, Str, _msgs

ACCESS_MODES = ("sso", "non_sso")
GRIEVANCE_MODES = ("truconsent", "external")
TICKET_STATUSES = ("open", "in_progress", "resolved", "closed")
PHONE_CHARS = validate.Regexp(r"^[0-9+()\- ]*$",
                              error="String should match pattern '^[0-9+()\\- ]*$'")
OTP_CHARS = validate.Regexp(r"^[0-9]+$", error="String should match pattern '^[0-9]+$'")


def _email_or_empty(value: str) -> None:
    if value and email_problem(value):
        raise ValidationError(f"value is not a valid email address: {email_problem(value)}")


def _str(minimum, maximum, check, **kwargs):
    """:func:`schemas.truconsent.Str` with one more validator."""
    field = Str(minimum, maximum, **kwargs)
    field.validators.append(check)
    return field


def _meta():
    return fields.Dict(allow_none=True, error_messages=_msgs(MSG_DICT))


# -- settings --------------------------------------------------------------------------------------

HEX = validate.Regexp(r"^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$",
                      error="Not a hex colour (#rgb, #rrggbb or #rrggbbaa).")


def _colour():
    return fields.String(validate=HEX)


def _text(maximum=200):
    return fields.String(validate=validate.Length(max=maximum))


class RightsCenterSettingsFields(Schema):
    """The keys truKIT's rights center reads (rightsCenterApi.ts RightsCenterSettings)."""

    class Meta:
        unknown = RAISE
        ordered = True

    access_mode = fields.String(validate=validate.OneOf(ACCESS_MODES), metadata={
        "description": "sso: the app names the user; non_sso: phone + OTP first"})
    background_color = _colour()
    primary_text_color = _colour()
    secondary_text_color = _colour()
    button_color = _colour()
    button_text_color = _colour()
    font_family = _text(100)
    show_consents_section = fields.Boolean()
    show_rights_section = fields.Boolean()
    show_nominees_section = fields.Boolean()
    show_transparency_section = fields.Boolean()
    show_dpo_section = fields.Boolean()
    show_grievance_section = fields.Boolean()
    grievance_mode = fields.String(validate=validate.OneOf(GRIEVANCE_MODES))
    grievance_external_url = fields.String(validate=validate.Length(max=2000), metadata={
        "description": "http(s) URL (grievance_mode external), or empty"})
    consents_section_title = _text()
    rights_section_title = _text()
    nominees_section_title = _text()
    transparency_description = _text(20000)
    dpo_qualifications_enabled = fields.Boolean()
    dpo_responsibilities_enabled = fields.Boolean()
    dpo_working_hours_enabled = fields.Boolean()
    dpo_response_time_enabled = fields.Boolean()

    @validates_schema
    def _url(self, data, **kwargs):
        url = data.get("grievance_external_url")
        if url and not (url.startswith("https://") or url.startswith("http://")):
            raise ValidationError("Not a valid URL (http or https).", "grievance_external_url")


class RightsCenterSettingsSchema(RightsCenterSettingsFields):
    """What ``GET .../rights-center/settings/global`` answers: every key, effective."""

    asset_id = fields.String(allow_none=True, metadata={
        "description": "The asset the settings are for (null: the organisation's)"})


class SettingsQuerySchema(LaxSchema):
    asset_id = Str(1, 64, metadata={"description": "UUID or display id"})


class SettingsAdminSchema(Schema):
    """One scope's stored settings (the organisation's, or an asset's) and the effective ones."""

    asset_id = fields.String(allow_none=True, required=True)
    settings = fields.Nested(RightsCenterSettingsFields, required=True,
                             metadata={"description": "The keys set for this scope"})
    effective = fields.Nested(RightsCenterSettingsSchema, required=True)
    updated_at = UTCDateTime(allow_none=True, required=True)


# -- rights requests -------------------------------------------------------------------------------

class DeletionRequestSchema(LaxSchema):
    """rightsCenterApi.createDeletionRequest."""

    user_id = Str(1, 255, required=True)
    reason = Str(0, 2000, allow_none=True)
    metadata = _meta()


class AccessRequestSchema(LaxSchema):
    """rightsCenterApi.createAccessRequest."""

    user_id = Str(1, 255, required=True)
    subject = Str(0, 200, allow_none=True)
    description = Str(0, 5000, allow_none=True)
    metadata = _meta()


class RightsRequestResultSchema(Schema):
    success = fields.Boolean(required=True)
    id = fields.String(required=True)
    request_id = fields.String(required=True)
    request_type = fields.String(required=True, validate=validate.OneOf(("access", "deletion")))
    user_id = fields.String(required=True)
    status = fields.String(required=True)
    due_at = UTCDateTime(required=True)
    created_at = UTCDateTime(required=True)
    message = fields.String(required=True)


# -- DPO -------------------------------------------------------------------------------------------

class DpoSchema(Schema):
    """rightsCenterApi.ts DPOInfo."""

    full_name = fields.String(required=True)
    email = fields.String(required=True)
    appointment_date = fields.String(allow_none=True)
    qualifications = fields.String(allow_none=True)
    responsibilities = fields.String(allow_none=True)
    working_hours = fields.String(allow_none=True)
    response_time = fields.String(allow_none=True)


class DpoInSchema(Schema):
    class Meta:
        unknown = RAISE
        ordered = True

    full_name = fields.String(required=True, validate=validate.Length(1, 200))
    email = fields.String(required=True, validate=[validate.Length(1, 254), _email_or_empty])
    appointment_date = fields.Date(allow_none=True)
    qualifications = fields.String(allow_none=True, validate=validate.Length(max=5000))
    responsibilities = fields.String(allow_none=True, validate=validate.Length(max=5000))
    working_hours = fields.String(allow_none=True, validate=validate.Length(max=200))
    response_time = fields.String(allow_none=True, validate=validate.Length(max=200))


# -- nominees --------------------------------------------------------------------------------------

class NomineeInSchema(LaxSchema):
    """rightsCenterApi.createNominee / updateNominee (the whole Nominee)."""

    nominee_name = Str(1, 200, required=True)
    relationship = Str(1, 100, required=True)
    nominee_email = _str(0, 254, _email_or_empty, allow_none=True)
    nominee_mobile = _str(0, 32, PHONE_CHARS, allow_none=True)
    purpose_of_appointment = Str(0, 2000, allow_none=True)
    client_user_id = Str(1, 255, allow_none=True)
    user_id = Str(1, 255, allow_none=True)


class NomineeSchema(Schema):
    id = fields.String(required=True)
    nominee_name = fields.String(required=True)
    relationship = fields.String(required=True)
    nominee_email = fields.String(required=True)
    nominee_mobile = fields.String(required=True)
    purpose_of_appointment = fields.String(required=True)
    user_id = fields.String(required=True)
    client_user_id = fields.String(required=True)
    created_at = UTCDateTime(required=True)
    updated_at = UTCDateTime(required=True)


class NomineeDeletedSchema(Schema):
    success = fields.Boolean(required=True)
    id = fields.String(required=True)
    message = fields.String(required=True)


# -- grievances ------------------------------------------------------------------------------------

class GrievanceInSchema(LaxSchema):
    """rightsCenterApi.createGrievanceTicket (a GrievanceTicket)."""

    subject = Str(1, 200, required=True)
    category = Str(0, 100, allow_none=True)
    description = Str(1, 5000, required=True)
    client_user_id = Str(1, 255, allow_none=True)
    user_id = Str(1, 255, allow_none=True)


class GrievanceSchema(Schema):
    id = fields.String(required=True)
    ticket_id = fields.String(required=True)
    subject = fields.String(required=True)
    category = fields.String(required=True)
    description = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(TICKET_STATUSES))
    user_id = fields.String(required=True)
    client_user_id = fields.String(required=True)
    created_at = UTCDateTime(required=True)
    updated_at = UTCDateTime(required=True)


class GrievanceCreatedSchema(GrievanceSchema):
    message = fields.String(required=True)


class MessageInSchema(LaxSchema):
    """rightsCenterApi.sendGrievanceMessage: ``{sender: 'user', message}``."""

    sender = fields.String(allow_none=True, error_messages=_msgs(MSG_STRING),
                           validate=validate.OneOf(("user",), error="Input should be 'user'"))
    message = Str(1, 5000, required=True)


class MessageSchema(Schema):
    id = fields.String(required=True)
    ticket_id = fields.String(required=True)
    sender = fields.String(required=True, validate=validate.OneOf(("user", "agent", "system")))
    message = fields.String(required=True)
    created_at = UTCDateTime(required=True)


class GrievanceThreadSchema(GrievanceSchema):
    messages = fields.List(fields.Nested(MessageSchema), required=True)


class GrievanceListQuerySchema(Schema):
    class Meta:
        unknown = RAISE

    status = fields.String(validate=validate.OneOf(TICKET_STATUSES))


class ReplyInSchema(Schema):
    """An agent's answer on a ticket, and/or its new status."""

    class Meta:
        unknown = RAISE
        ordered = True

    message = fields.String(validate=validate.Length(1, 5000))
    status = fields.String(validate=validate.OneOf(TICKET_STATUSES))

    @validates_schema
    def _something(self, data, **kwargs):
        if not data.get("message") and not data.get("status"):
            raise ValidationError("Give a message, a status, or both.")


# -- phone + OTP -----------------------------------------------------------------------------------

class SendOtpSchema(LaxSchema):
    """rightsCenterApi.sendOtp: ``{assetId, phone, countryCode}``."""

    phone = _str(1, 20, PHONE_CHARS, required=True)
    countryCode = _str(0, 6, PHONE_CHARS, allow_none=True)
    assetId = Str(0, 64, allow_none=True)


class VerifyOtpSchema(SendOtpSchema):
    """rightsCenterApi.verifyOtp: ``{assetId, phone, countryCode, otp}``."""

    otp = _str(4, 8, OTP_CHARS, required=True)


class OtpSentSchema(Schema):
    success = fields.Boolean(required=True)
    message = fields.String(required=True)
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})


class OtpVerifiedSchema(Schema):
    accessToken = fields.String(required=True, metadata={
        "description": "Send as Authorization: Bearer, with the API key"})
    dataPrincipalId = fields.String(required=True, metadata={"description": "The phone, E.164"})
    tokenType = fields.String(required=True)
    expiresIn = fields.Integer(required=True, metadata={"description": "seconds"})
