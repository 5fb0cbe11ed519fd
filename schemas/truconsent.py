"""Schemas of the truConsent dialect.

Request schemas ignore unknown fields (as FastAPI does) and carry pydantic-style messages, so that
:func:`fastapi_errors` can turn webargs' 422 messages into FastAPI's
``{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}``.
"""
from __future__ import annotations

from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from .common import Int64, UTCDateTime, email_problem

ACTIONS = ("approved", "declined", "partial_consent", "revoked", "no_action")
# What truConsent's SDKs send as an action: the documented ones, "notice_shown" (a notice-only
# banner acknowledged), and the Flutter SDK's spellings (banner.dart's ConsentAction.value).
SDK_ACTIONS = ACTIONS + ("notice_shown",)
SDK_ACTION_ALIASES = {"Approved": "approved", "Declined": "declined", "No Action": "no_action",
                      "Revoked": "revoked", "Partially Consented": "partial_consent"}
LOG_ACTIONS = SDK_ACTIONS
# A purpose's value in a banner and in what the SDKs send: accepted | declined | shown (a
# legitimate interest's notice) | pending (no decision yet).
CONSENTED = ("accepted", "declined", "shown", "pending")
TEMPLATES = ("tabbed_banner", "center_modal", "preferences_modal", "floating_card", "notice_only",
             "inline_single_row", "general_compact_list", "general_split_pane")
LINK_STATUSES = ("active", "complete", "expired")

MSG_REQUIRED = "Field required"
MSG_STRING = "Input should be a valid string"
MSG_INT = "Input should be a valid integer, unable to parse string as an integer"
MSG_DICT = "Input should be a valid dictionary"
MSG_LIST = "Input should be a valid list"
MSG_BOOL = "Input should be a valid boolean"
MSG_UUID = "Input should be a valid UUID"
MSG_DATETIME = "Input should be a valid datetime"
MSG_BODY = "Input should be a valid dictionary or object to extract fields from"
MSG_ACTION = ("Input should be 'approved', 'declined', 'partial_consent', 'revoked' or "
              "'no_action'")
MSG_SDK_ACTION = ("Input should be 'approved', 'declined', 'no_action', 'revoked', "
                  "'partial_consent' or 'notice_shown'")
MSG_LOG_ACTION = ("Input should be 'approved', 'declined', 'partial_consent', 'revoked', "
                  "'no_action' or 'notice_shown'")
MSG_CONSENTED = ("Input should be 'accepted', 'declined', 'shown', 'pending', true or false")

# Message (or message prefix) -> pydantic error type.
MSG_TYPES = (
    (MSG_REQUIRED, "missing"),
    (MSG_STRING, "string_type"),
    (MSG_INT, "int_parsing"),
    (MSG_DICT, "dict_type"),
    (MSG_LIST, "list_type"),
    (MSG_BOOL, "bool_parsing"),
    (MSG_UUID, "uuid_parsing"),
    (MSG_DATETIME, "datetime_parsing"),
    (MSG_BODY, "model_attributes_type"),
    (MSG_ACTION, "enum"),
    (MSG_SDK_ACTION, "enum"),
    (MSG_LOG_ACTION, "enum"),
    (MSG_CONSENTED, "enum"),
    ("Input should be greater than or equal to", "greater_than_equal"),
    ("Input should be less than or equal to", "less_than_equal"),
    ("String should have at least", "string_too_short"),
    ("String should have at most", "string_too_long"),
    ("List should have at least", "too_short"),
    ("JSON decode error", "json_invalid"),
)


def error_type(message: str) -> str:
    for text, kind in MSG_TYPES:
        if message == text:
            return kind
    for prefix, kind in MSG_TYPES:
        if message.startswith(prefix):
            return kind
    return "value_error"


def fastapi_errors(messages, location: str = "body") -> list[dict]:
    """Flatten marshmallow/webargs messages into FastAPI's list of errors."""
    out: list[dict] = []

    def walk(node, loc):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "_schema":
                    walk(value, loc)
                else:
                    walk(value, loc + [key])
        elif isinstance(node, (list, tuple)):
            for item in node:
                walk(item, loc)
        else:
            msg = str(node)
            if msg == "Invalid input type.":
                msg = MSG_BODY
            out.append({"loc": loc, "msg": msg, "type": error_type(msg)})

    walk(messages, [location])
    return out


def _msgs(invalid: str, **extra) -> dict:
    return {"required": MSG_REQUIRED, "null": invalid, "invalid": invalid, **extra}


def Str(minimum: int | None = 1, maximum: int | None = 255, **kwargs):
    validators = []
    if minimum:
        validators.append(validate.Length(
            min=minimum, error=f"String should have at least {minimum} character"
            + ("s" if minimum > 1 else "")))
    if maximum:
        validators.append(validate.Length(
            max=maximum, error=f"String should have at most {maximum} characters"))
    return fields.String(error_messages=_msgs(MSG_STRING), validate=validators, **kwargs)


def Int(minimum: int | None = None, maximum: int | None = None, **kwargs):
    validators = []
    if minimum is not None:
        validators.append(validate.Range(
            min=minimum, error=f"Input should be greater than or equal to {minimum}"))
    if maximum is not None:
        validators.append(validate.Range(
            max=maximum, error=f"Input should be less than or equal to {maximum}"))
    return Int64(error_messages=_msgs(MSG_INT), validate=validators, **kwargs)


class LaxSchema(Schema):
    """Unknown fields are ignored, as FastAPI's models do by default."""

    class Meta:
        unknown = EXCLUDE
        ordered = True


def _email(value: str) -> None:
    problem = email_problem(value)
    if problem:
        raise ValidationError(f"value is not a valid email address: {problem}")


# -- requests -------------------------------------------------------------------------------------

class ConsentLinkCreateSchema(LaxSchema):
    collection_point_id = fields.String(allow_none=True, error_messages=_msgs(MSG_STRING),
                                        metadata={"description": "UUID or display id (CP010)"})
    asset_id = fields.UUID(required=True, error_messages=_msgs(MSG_UUID, invalid_uuid=MSG_UUID))
    phone = fields.String(allow_none=True, error_messages=_msgs(MSG_STRING),
                          metadata={"description": "E.164, or 10 digits (prefixed +91)"})
    email = fields.String(allow_none=True, error_messages=_msgs(MSG_STRING),
                          validate=[validate.Length(max=254, error="String should have at most "
                                                                   "254 characters"), _email])
    expiry_hours = Int(1, 24, load_default=24)
    data_collection_timestamp = UTCDateTime(allow_none=True,
                                            error_messages=_msgs(MSG_DATETIME))


class HistoryQuerySchema(LaxSchema):
    limit = Int(1, 200, load_default=50)
    offset = Int(0, None, load_default=0)


class PurposeChoiceSchema(LaxSchema):
    id = Str(1, 100, required=True)
    name = Str(1, 200)
    version = Str(1, 32)
    consented = fields.Boolean(allow_none=True, error_messages=_msgs(MSG_BOOL))


class RecordSchema(LaxSchema):
    userId = Str(1, 255, required=True)
    action = fields.String(required=True, error_messages=_msgs(MSG_STRING),
                           validate=validate.OneOf(ACTIONS, error=MSG_ACTION))
    purposes = fields.List(fields.Nested(PurposeChoiceSchema), required=True,
                           error_messages=_msgs(MSG_LIST),
                           validate=validate.Length(
                               min=1, error="List should have at least 1 item after "
                                            "validation, not 0"))
    collectionPointId = Str(1, 64, allow_none=True)
    requestId = Str(1, 255, allow_none=True)
    metadata = fields.Dict(allow_none=True, error_messages=_msgs(MSG_DICT))


class ConsentHistoryQuerySchema(LaxSchema):
    dp_id = Str(1, 255)
    action = fields.String(validate=validate.OneOf(LOG_ACTIONS, error=MSG_LOG_ACTION))
    source = Str(1, 32)
    collection_point_id = Str(1, 64)
    # "from" is a Python keyword: data_key keeps the wire name.
    date_from = UTCDateTime(data_key="from", error_messages=_msgs(MSG_DATETIME))
    date_to = UTCDateTime(data_key="to", error_messages=_msgs(MSG_DATETIME))
    limit = Int(1, 200, load_default=50)
    offset = Int(0, None, load_default=0)


class UserStatusQuerySchema(LaxSchema):
    dp_id = Str(1, 255, required=True)
    collection_point_id = Str(1, 64)
    purpose_id = Str(1, 100)


class MapUserSchema(LaxSchema):
    anonymousId = Str(1, 255, required=True)
    authenticatedUserId = Str(1, 255, required=True)
    metadata = fields.Dict(allow_none=True, error_messages=_msgs(MSG_DICT))


# -- responses (dumped from the dialect's own objects: links.Issued, links.Summary, logs.Log...) ---

class TruconsentErrorSchema(Schema):
    detail = fields.String(required=True, metadata={"example": "Consent request not found"})


class FieldErrorSchema(Schema):
    loc = fields.List(fields.Raw(metadata={"description": "a field name or list index"}),
                      required=True)
    msg = fields.String(required=True)
    type = fields.String(required=True)


class TruconsentValidationErrorSchema(Schema):
    detail = fields.List(fields.Nested(FieldErrorSchema), required=True)


class LinkCreatedSchema(Schema):
    request_id = fields.String(required=True, attribute="request.id")
    event_id = fields.String(required=True, attribute="event.id")
    consent_link = fields.String(required=True, attribute="url")
    expires_at = UTCDateTime(required=True, attribute="event.expires_at")
    delivery_status = fields.Dict(
        required=True, attribute="delivery", keys=fields.String(),
        values=fields.String(validate=validate.OneOf(("sent", "failed"))),
        metadata={"description": '{} without an email; {"email": "sent" | "failed"} with one'})


class LinkSummarySchema(Schema):
    request_id = fields.String(required=True, attribute="row.id")
    event_id = fields.String(required=True, attribute="row.current_event_id")
    phone = fields.String(required=True, metadata={"example": "+*********210"})
    collection_point_id = fields.String(required=True, attribute="row.collection_point_id")
    collection_point_display_id = fields.String(required=True, attribute="row.cp_display_id")
    collection_point_title = fields.String(required=True, attribute="row.cp_title")
    asset_id = fields.String(required=True, attribute="row.asset_id")
    status = fields.String(required=True, validate=validate.OneOf(LINK_STATUSES))
    is_completed = fields.Boolean(required=True)
    expires_at = UTCDateTime(required=True, attribute="row.expires_at")
    created_at = UTCDateTime(required=True, attribute="row.created_at")
    regeneration_count = fields.Integer(required=True, attribute="row.regeneration_count")
    consent_link = fields.String(required=True, attribute="url")


class LinkHistorySchema(Schema):
    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)
    items = fields.List(fields.Nested(LinkSummarySchema), required=True)


class MappingSchema(Schema):
    from_ = fields.String(required=True, data_key="from", attribute="from")
    to = fields.String(required=True)
    metadata = fields.Dict(required=True, allow_none=True)
    mapped_at = fields.String(required=True)


class ConsentLogSchema(Schema):
    id = fields.String(required=True, attribute="row.id")
    dp_id = fields.String(required=True, attribute="row.subject",
                          metadata={"description": "The current holder"})
    recorded_dp_id = fields.String(required=True, attribute="row.recorded_subject",
                                   metadata={"description": "Who it was recorded under"})
    action = fields.String(required=True, allow_none=True)
    status = fields.String(required=True, attribute="row.status",
                           validate=validate.OneOf(("granted", "denied", "withdrawn")))
    purpose_id = fields.String(required=True, attribute="row.purpose")
    purpose_name = fields.String(required=True, attribute="row.purpose_name")
    purpose_version = fields.String(required=True, allow_none=True,
                                    attribute="row.purpose_version")
    notice_version = fields.String(required=True, allow_none=True,
                                   attribute="row.notice_version")
    collection_point_id = fields.String(required=True, allow_none=True, attribute="row.cp_id")
    collection_point_display_id = fields.String(required=True, allow_none=True,
                                                attribute="row.cp_display_id")
    source = fields.String(required=True, attribute="row.source")
    event_id = fields.String(required=True, allow_none=True, attribute="row.tc_event_id")
    request_id = fields.String(required=True, allow_none=True, attribute="row.tc_request_id")
    metadata = fields.Dict(required=True, allow_none=True, attribute="row.tc_metadata")
    mappings = fields.List(fields.Nested(MappingSchema), required=True)
    created_at = UTCDateTime(required=True, attribute="row.created_at")


class LinkStatusSchema(Schema):
    request_id = fields.String(required=True, attribute="req.id")
    event_id = fields.String(required=True, attribute="req.current_event_id")
    status = fields.String(required=True, validate=validate.OneOf(LINK_STATUSES))
    collection_point_id = fields.String(required=True, attribute="cp.id")
    collection_point_display_id = fields.String(required=True, attribute="cp.display_id")
    expires_at = UTCDateTime(required=True, attribute="req.expires_at")
    created_at = UTCDateTime(required=True, attribute="req.created_at")
    completed_at = UTCDateTime(required=True, allow_none=True, attribute="req.completed_at")
    consent_action = fields.String(required=True, allow_none=True,
                                   attribute="req.consent_action")
    reference = fields.String(required=True, allow_none=True, attribute="req.reference")
    regeneration_count = fields.Integer(required=True, attribute="req.regeneration_count")
    consent_logs = fields.List(fields.Nested(ConsentLogSchema), required=True, attribute="logs")


class LinkRegeneratedSchema(Schema):
    request_id = fields.String(required=True, attribute="request.id")
    event_id = fields.String(required=True, attribute="event.id")
    previous_event_id = fields.String(required=True)
    regeneration_count = fields.Integer(required=True, attribute="request.regeneration_count")
    consent_link = fields.String(required=True, attribute="url")
    expires_at = UTCDateTime(required=True, attribute="event.expires_at")


class RecordResultSchema(Schema):
    success = fields.Boolean(required=True)
    request_id = fields.String(required=True, allow_none=True)
    dp_id = fields.String(required=True)
    action = fields.String(required=True, validate=validate.OneOf(LOG_ACTIONS))
    consent_logs = fields.List(fields.Nested(ConsentLogSchema), required=True)
    message = fields.String(required=True)


class LogPageSchema(Schema):
    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)
    items = fields.List(fields.Nested(ConsentLogSchema), required=True)


class PurposeStatusSchema(Schema):
    purpose_id = fields.String(required=True, attribute="log.row.purpose")
    purpose_name = fields.String(required=True, attribute="log.row.purpose_name")
    purpose_version = fields.String(required=True, allow_none=True,
                                    attribute="log.row.purpose_version")
    notice_version = fields.String(required=True, allow_none=True,
                                   attribute="log.row.notice_version")
    status = fields.String(required=True, validate=validate.OneOf(
        ("granted", "denied", "withdrawn", "expired", "pending")))
    consented = fields.Boolean(required=True,
                               metadata={"description": "May the data be processed now"})
    action = fields.String(required=True, allow_none=True, attribute="log.action")
    source = fields.String(required=True, attribute="log.row.source")
    consent_log_id = fields.String(required=True, attribute="log.row.id")
    recorded_at = UTCDateTime(required=True, attribute="log.row.created_at")


class PointStatusSchema(Schema):
    collection_point_id = fields.String(required=True, allow_none=True, attribute="cp_id")
    collection_point_display_id = fields.String(required=True, allow_none=True,
                                                attribute="cp_display_id")
    purposes = fields.List(fields.Nested(PurposeStatusSchema), required=True)


class UserStatusSchema(Schema):
    dp_id = fields.String(required=True)
    as_of = UTCDateTime(required=True)
    collection_points = fields.List(fields.Nested(PointStatusSchema), required=True)


class MapUserResultSchema(Schema):
    success = fields.Boolean(required=True)
    mapped_count = fields.Integer(required=True)
    anonymous_id = fields.String(required=True)
    authenticated_user_id = fields.String(required=True)
    message = fields.String(required=True)


# -- management (/ledger/v1/truconsent, the ledger's error shape) ---------------------------------

ORIGINS = fields.List(fields.String(validate=validate.Length(1, 255)), allow_none=True,
                      validate=validate.Length(max=100), metadata={
                          "description": "Origin sources whose pages may call the SDK API for "
                                         "this asset (https://shop.example.com, "
                                         "http://localhost:*, https://*.example.com, *); null: "
                                         "the service's CONSENT_CORS_ORIGINS"})


class AssetCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    display_id = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$"))
    asset_type = fields.String(allow_none=True, validate=validate.Length(1, 32),
                               metadata={"example": "mobile_app"})
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))
    allowed_origins = ORIGINS


class AssetUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(1, 200))
    asset_type = fields.String(allow_none=True, validate=validate.Length(1, 32))
    description = fields.String(allow_none=True, validate=validate.Length(max=2000))
    allowed_origins = ORIGINS


class AssetSchema(Schema):
    id = fields.String()
    display_id = fields.String()
    name = fields.String()
    asset_type = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    allowed_origins = fields.List(fields.String(), allow_none=True)
    created_at = UTCDateTime()


def _items():
    return fields.List(fields.Nested(lambda: ItemDefSchema()), load_default=list,
                       validate=validate.Length(max=200))


class PurposeDefSchema(Schema):
    id = fields.String(validate=validate.Length(1, 100))
    name = fields.String(required=True, validate=validate.Length(1, 200))
    description = fields.String(load_default="", validate=validate.Length(max=20000))
    version = fields.String(load_default="1", validate=validate.Length(1, 32))
    is_mandatory = fields.Boolean(load_default=False, metadata={
        "description": "The banner shows it as required (accepted with any choice)"})
    is_legitimate = fields.Boolean(load_default=False, metadata={
        "description": "A legitimate interest: shown as a notice, never asked for"})
    expiry_period = fields.String(load_default="", validate=validate.Length(max=32), metadata={
        "description": "How long a grant lasts: days (\"365\") or \"N days|weeks|months|years\"; "
                       "\"\": no expiry"})
    data_elements = _items()
    processing_activities = _items()
    legal_entities = _items()
    tools = _items()


class CollectionPointCreateSchema(Schema):
    asset_id = fields.String(required=True, metadata={"description": "Asset UUID or display id"})
    title = fields.String(required=True, validate=validate.Length(1, 200))
    notice_text = fields.String(required=True, validate=validate.Length(1, 20000))
    notice_version = fields.String(load_default="1", validate=validate.Length(1, 32))
    display_id = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$"))
    purposes = fields.List(fields.Nested(PurposeDefSchema), required=True,
                           validate=validate.Length(min=1, max=200))
    consent_type = fields.String(load_default="standard_consent", validate=validate.OneOf(
        ("standard_consent", "cookie_consent", "general")))
    banner_settings = fields.Nested(lambda: BannerSettingsSchema(), allow_none=True)


class CollectionPointUpdateSchema(Schema):
    consent_type = fields.String(validate=validate.OneOf(
        ("standard_consent", "cookie_consent", "general")))
    banner_settings = fields.Nested(lambda: BannerSettingsSchema(), allow_none=True, metadata={
        "description": "Replaces the settings whole; null removes them"})


class CollectionPointSchema(Schema):
    id = fields.String()
    display_id = fields.String()
    asset_id = fields.String()
    title = fields.String()
    notice_text = fields.String()
    notice_version = fields.String()
    purposes = fields.List(fields.Dict())
    consent_type = fields.String()
    banner_settings = fields.Dict(allow_none=True, attribute="settings")
    created_at = UTCDateTime()


# -- truConsent's SDKs (/api/v1/internal/consent...): requests ------------------------------------
# What the SDKs send is in tests/truconsent_sdk_requests.py, from their source.

class ConsentedField(fields.Field):
    """A purpose's value as the SDKs send it: accepted | declined | shown | pending, or a JSON
    boolean (true: accepted, false: declined)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {"oneOf": [{"type": "string", "enum": list(CONSENTED)},
                                                 {"type": "boolean"}]})
        super().__init__(error_messages=_msgs(MSG_CONSENTED), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if value is True or value is False:
            return "accepted" if value else "declined"
        if isinstance(value, str) and value in CONSENTED:
            return value
        raise ValidationError(MSG_CONSENTED)

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class SdkActionField(fields.String):
    """An SDK's action, its Flutter spelling ("Approved", "Partially Consented") normalised."""

    def __init__(self, actions=SDK_ACTIONS, message=MSG_SDK_ACTION, **kwargs):
        self.actions, self.message = actions, message
        aliases = [k for k, v in SDK_ACTION_ALIASES.items() if v in actions]
        kwargs.setdefault("metadata", {"enum": list(actions) + aliases})
        super().__init__(error_messages=_msgs(MSG_STRING), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        value = SDK_ACTION_ALIASES.get(value, value)
        if value not in self.actions:
            raise ValidationError(self.message)
        return value


class _PurposeRefSchema(LaxSchema):
    """A purpose as an SDK names it: ``purposeId`` (banners) or ``id`` (rights center)."""

    purposeId = Str(1, 100)
    id = Str(1, 100)
    name = Str(1, 200, allow_none=True)

    @validates_schema
    def _one_id(self, data, **kwargs):
        if not data.get("purposeId") and not data.get("id"):
            raise ValidationError({"purposeId": [MSG_REQUIRED]})
        if data.get("purposeId") and data.get("id") and data["purposeId"] != data["id"]:
            raise ValidationError({"id": ["Value error, id and purposeId name different "
                                          "purposes"]})


class SdkPurposeSchema(_PurposeRefSchema):
    version = Str(1, 32, allow_none=True)
    consented = ConsentedField(allow_none=True)
    purpose_type = fields.String(allow_none=True, error_messages=_msgs(MSG_STRING),
                                 validate=validate.OneOf(
                                     ("consent", "legitimate_interest"),
                                     error="Input should be 'consent' or 'legitimate_interest'"))
    is_mandatory = fields.Boolean(allow_none=True, error_messages=_msgs(MSG_BOOL))


class SdkConsentSchema(LaxSchema):
    """``POST /api/v1/internal/consent/{collectionPointId}``: BannerService.submitConsent."""

    userId = Str(1, 255, required=True)
    requestId = Str(1, 255, allow_none=True)
    assetId = Str(0, 64, allow_none=True, metadata={
        "description": "The asset's UUID or display id; the Flutter SDK sends \"\" for none"})
    consentLanguage = Str(1, 35, allow_none=True)
    collectionPointId = Str(1, 64, allow_none=True)
    collectionPointVersion = Str(1, 32, allow_none=True)
    consentTimestamp = Int(0, 253402300799, allow_none=True,
                           metadata={"description": "Epoch seconds, as the device saw them"})
    source = Str(1, 64, allow_none=True)
    purposes = fields.List(fields.Nested(SdkPurposeSchema), required=True,
                           error_messages=_msgs(MSG_LIST),
                           validate=validate.Length(
                               min=1, error="List should have at least 1 item after "
                                            "validation, not 0"))
    action = SdkActionField(required=True)
    metadata = fields.Dict(allow_none=True, error_messages=_msgs(MSG_DICT))
    changedPurposes = fields.List(Str(1, 100), allow_none=True, error_messages=_msgs(MSG_LIST),
                                  metadata={"description": "rightsCenterApi.saveConsent's ids "
                                                           "of the purposes changed"})


class SuppressionSchema(LaxSchema):
    """``POST /api/v1/internal/consent/suppression``: BannerService.submitSuppression."""

    userId = Str(1, 255, required=True)
    declinedPurposeIds = fields.List(Str(1, 100), required=True, error_messages=_msgs(MSG_LIST),
                                     validate=validate.Length(
                                         min=1, max=500,
                                         error="List should have 1 to 500 items"))


class RightsPurposeSchema(_PurposeRefSchema):
    consented = ConsentedField(required=True)


class RightsCenterSchema(LaxSchema):
    """``POST /api/v1/internal/consent/rights-center``: rightsCenterApi.saveConsentFromRightsCenter
    (and the Flutter SDK's saveConsentToRightsCenter)."""

    userId = Str(1, 255, required=True)
    purposes = fields.List(fields.Nested(RightsPurposeSchema), required=True,
                           error_messages=_msgs(MSG_LIST),
                           validate=validate.Length(
                               min=1, error="List should have at least 1 item after "
                                            "validation, not 0"))
    action = SdkActionField(actions=("approved", "revoked", "declined"), required=True,
                            message="Input should be 'approved', 'revoked' or 'declined'")
    assetId = Str(0, 64, allow_none=True)
    source = Str(1, 64, allow_none=True)
    metadata = fields.Dict(allow_none=True, error_messages=_msgs(MSG_DICT))


class BannerQuerySchema(LaxSchema):
    userId = Str(1, 255)


class BannerListQuerySchema(LaxSchema):
    asset_id = Str(1, 64)
    userId = Str(1, 255)


class SdkUserQuerySchema(LaxSchema):
    userId = Str(1, 255, required=True)


class TimelineQuerySchema(LaxSchema):
    user_id = Str(1, 255, required=True)
    limit = Int(1, 500, load_default=100)
    offset = Int(0, None, load_default=0)


class PageQuerySchema(LaxSchema):
    limit = Int(1, 200, load_default=50)
    offset = Int(0, None, load_default=0)


class PointPageQuerySchema(PageQuerySchema):
    asset_id = Str(1, 64)


# -- banners: what a collection point shows (admin input, SDK output) --------------------------------

HEX_COLOUR = validate.Regexp(r"^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$",
                             error="Not a hex colour (#rgb, #rrggbb or #rrggbbaa).")


def _text(maximum=2000):
    return fields.String(validate=validate.Length(max=maximum))


def _colour():
    return fields.String(validate=HEX_COLOUR)


class BannerSettingsSchema(Schema):
    """A banner's settings, the keys truConsent's SDKs read (types.ts BannerSettings, banner.dart
    BannerSettings). Unknown keys are refused. Out, ``defaultSelection`` repeats
    ``default_selection`` (the React Native SDK reads that spelling)."""

    class Meta:
        unknown = RAISE
        ordered = True

    font_type = _text(100)
    font_size = _text(16)
    primary_color = _colour()
    secondary_color = _colour()
    background_color = _colour()
    primary_text_color = _colour()
    secondary_text_color = _colour()
    button_color = _colour()
    button_text_color = _colour()
    action_button_text = _text()
    reject_all_color = _colour()
    reject_all_text = _text()
    only_necessary_color = _colour()
    only_necessary_text = _text()
    accept_all_text = _text()
    warning_text = _text()
    logo_url = fields.Url(schemes={"http", "https"}, validate=validate.Length(max=2000))
    banner_title = _text()
    disclaimer_text = _text(20000)
    footer_text = _text()
    show_purposes = fields.Boolean()
    h_case_logging_strategy = fields.String(validate=validate.OneOf(("soft_first",
                                                                      "hard_immediate")))
    h_case_warning_message = _text()
    h_case_proceed_button_text = _text()
    h_case_back_button_text = _text()
    h_case_proceed_button_color = _colour()
    h_case_back_button_color = _colour()
    default_selection = fields.String(validate=validate.OneOf(("all", "mandatory_only", "none")))
    general_notice_template = fields.String(validate=validate.OneOf(TEMPLATES))
    defaultSelection = fields.String(dump_only=True, attribute="default_selection")


class ItemDefSchema(Schema):
    """A data element, processing activity, legal entity or tool of a purpose."""

    id = fields.String(validate=validate.Length(1, 100))
    name = fields.String(required=True, validate=validate.Length(1, 200))
    description = fields.String(validate=validate.Length(max=2000))
    display_id = fields.String(validate=validate.Length(1, 32))


class SdkItemSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String()
    display_id = fields.String()


class BannerPurposeSchema(Schema):
    """A purpose as a banner shows it, with this data principal's value (``consented``)."""

    id = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    version = fields.String(required=True)
    is_mandatory = fields.Boolean(required=True)
    is_legitimate = fields.Boolean(required=True)
    purpose_type = fields.String(required=True, validate=validate.OneOf(
        ("consent", "legitimate_interest")))
    expiry_period = fields.String(required=True, metadata={
        "description": "Days (\"365\") or \"N days|weeks|months|years\"; \"\": no expiry"})
    consented = fields.String(required=True, validate=validate.OneOf(CONSENTED))
    data_elements = fields.List(fields.Nested(SdkItemSchema), required=True)
    processing_activities = fields.List(fields.Nested(SdkItemSchema), required=True)
    legal_entities = fields.List(fields.Nested(SdkItemSchema), required=True)
    tools = fields.List(fields.Nested(SdkItemSchema), required=True)


class BannerAssetSchema(Schema):
    id = fields.String(required=True)
    display_id = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True, allow_none=True)
    asset_type = fields.String(required=True, allow_none=True)


class BannerOrganizationSchema(Schema):
    name = fields.String(required=True)


class BannerSchema(Schema):
    """A collection point as truConsent's SDKs read a banner (snake_case, as their types
    declare; the SDKs also accept camelCase)."""

    id = fields.String(required=True, metadata={"description": "The collection point's UUID"})
    banner_id = fields.String(required=True, metadata={"description": "Its display id (CP001)"})
    collection_point = fields.String(required=True, metadata={
        "description": "Where the SDK posts the decision: POST .../consent/{collection_point}"})
    version = fields.String(required=True, metadata={"description": "The notice's version"})
    title = fields.String(required=True)
    description = fields.String(required=True, metadata={"description": "The notice's text"})
    consent_type = fields.String(required=True)
    asset = fields.Nested(BannerAssetSchema, required=True)
    organization = fields.Nested(BannerOrganizationSchema, required=True)
    organization_name = fields.String(required=True)
    purposes = fields.List(fields.Nested(BannerPurposeSchema), required=True)
    banner_settings = fields.Nested(BannerSettingsSchema, required=True)
    user_id = fields.String(required=True, allow_none=True)
    shown_to_principal = fields.Boolean(required=True, metadata={
        "description": "This data principal has a consent log at this collection point"})


class PurposeConsentSchema(Schema):
    purpose_id = fields.String(required=True)
    purpose_name = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(CONSENTED + ("expired",)),
                           metadata={"description": "accepted, declined, shown (a legitimate "
                                                    "interest's notice), expired or pending"})
    ledger_status = fields.String(required=True, validate=validate.OneOf(
        ("granted", "denied", "withdrawn", "expired", "pending")))
    consented = fields.Boolean(required=True, metadata={
        "description": "May the data be processed for this purpose now"})
    consent_log_id = fields.String(required=True)
    recorded_at = UTCDateTime(required=True)


class LatestConsentSchema(Schema):
    timestamp = UTCDateTime(required=True, metadata={
        "description": "The newest of the binding decisions below"})
    purpose_consents = fields.List(fields.Nested(PurposeConsentSchema), required=True)


class PointConsentSchema(Schema):
    id = fields.String(required=True)
    collection_point = fields.String(required=True)
    banner_id = fields.String(required=True)
    title = fields.String(required=True)
    latest_consent = fields.Nested(LatestConsentSchema, required=True)


class UserConsentStatusSchema(Schema):
    userId = fields.String(required=True)
    collectionPoints = fields.List(fields.Nested(PointConsentSchema), required=True)


class SuppressionResultSchema(Schema):
    success = fields.Boolean(required=True)
    user_id = fields.String(required=True)
    declined_purpose_ids = fields.List(fields.String(), required=True)
    message = fields.String(required=True)


class TimelineEntrySchema(Schema):
    at = UTCDateTime(required=True)
    event = fields.String(required=True, metadata={
        "description": "recorded, withdrawn, mapped, used, expired (a consent log's events) or "
                       "suppressed"})
    consent_log_id = fields.String(required=True, allow_none=True)
    purpose_id = fields.String(required=True)
    purpose_name = fields.String(required=True, allow_none=True)
    status = fields.String(required=True, allow_none=True)
    action = fields.String(required=True, allow_none=True)
    collection_point_id = fields.String(required=True, allow_none=True)
    collection_point_display_id = fields.String(required=True, allow_none=True)
    source = fields.String(required=True, allow_none=True)
    request_id = fields.String(required=True, allow_none=True)
    data = fields.Dict(required=True, allow_none=True)


class TimelineSchema(Schema):
    dp_id = fields.String(required=True)
    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)
    items = fields.List(fields.Nested(TimelineEntrySchema), required=True)


class PublicAssetSchema(Schema):
    id = fields.String(required=True)
    display_id = fields.String(required=True)
    name = fields.String(required=True)
    asset_type = fields.String(required=True, allow_none=True)
    description = fields.String(required=True, allow_none=True)
    allowed_origins = fields.List(fields.String(), required=True, allow_none=True, metadata={
        "description": "Origins whose pages may call the SDK API; null: the service's "
                       "CONSENT_CORS_ORIGINS"})
    created_at = UTCDateTime(required=True)


class AssetPageSchema(Schema):
    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)
    items = fields.List(fields.Nested(PublicAssetSchema), required=True)


class PurposeDefOutSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    version = fields.String(required=True)
    is_mandatory = fields.Boolean(required=True)
    is_legitimate = fields.Boolean(required=True)
    expiry_period = fields.String(required=True)
    data_elements = fields.List(fields.Nested(SdkItemSchema), required=True)
    processing_activities = fields.List(fields.Nested(SdkItemSchema), required=True)
    legal_entities = fields.List(fields.Nested(SdkItemSchema), required=True)
    tools = fields.List(fields.Nested(SdkItemSchema), required=True)


class PublicCollectionPointSchema(Schema):
    id = fields.String(required=True)
    display_id = fields.String(required=True)
    asset_id = fields.String(required=True)
    title = fields.String(required=True)
    notice_text = fields.String(required=True)
    notice_version = fields.String(required=True)
    consent_type = fields.String(required=True)
    purposes = fields.List(fields.Nested(PurposeDefOutSchema), required=True)
    banner_settings = fields.Nested(BannerSettingsSchema, required=True)
    created_at = UTCDateTime(required=True)


class PointPageSchema(Schema):
    total = fields.Integer(required=True)
    limit = fields.Integer(required=True)
    offset = fields.Integer(required=True)
    items = fields.List(fields.Nested(PublicCollectionPointSchema), required=True)
