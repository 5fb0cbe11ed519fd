"""Schemas of the truConsent dialect.

Request schemas ignore unknown fields (as FastAPI does) and carry pydantic-style messages, so that
:func:`fastapi_errors` can turn webargs' 422 messages into FastAPI's
``{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}``.
"""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from .common import Int64, UTCDateTime, email_problem

ACTIONS = ("approved", "declined", "partial_consent", "revoked", "no_action")
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
    action = fields.String(validate=validate.OneOf(ACTIONS, error=MSG_ACTION))
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
    action = fields.String(required=True, validate=validate.OneOf(ACTIONS))
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

class AssetCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    display_id = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$"))


class AssetSchema(Schema):
    id = fields.String()
    display_id = fields.String()
    name = fields.String()
    created_at = UTCDateTime()


class PurposeDefSchema(Schema):
    id = fields.String(validate=validate.Length(1, 100))
    name = fields.String(required=True, validate=validate.Length(1, 200))
    description = fields.String(load_default="")
    version = fields.String(load_default="1", validate=validate.Length(1, 32))


class CollectionPointCreateSchema(Schema):
    asset_id = fields.String(required=True, metadata={"description": "Asset UUID or display id"})
    title = fields.String(required=True, validate=validate.Length(1, 200))
    notice_text = fields.String(required=True, validate=validate.Length(1, 20000))
    notice_version = fields.String(load_default="1", validate=validate.Length(1, 32))
    display_id = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$"))
    purposes = fields.List(fields.Nested(PurposeDefSchema), required=True,
                           validate=validate.Length(min=1))


class CollectionPointSchema(Schema):
    id = fields.String()
    display_id = fields.String()
    asset_id = fields.String()
    title = fields.String()
    notice_text = fields.String()
    notice_version = fields.String()
    purposes = fields.List(fields.Dict())
    created_at = UTCDateTime()
