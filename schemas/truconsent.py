"""Schemas of the truConsent dialect.

Request schemas ignore unknown fields (as FastAPI does) and carry pydantic-style messages, so that
:func:`fastapi_errors` can turn webargs' 422 messages into FastAPI's
``{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}``.
"""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from .common import UTCDateTime

ACTIONS = ("approved", "declined", "partial_consent", "revoked", "no_action")

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
    return fields.Integer(error_messages=_msgs(MSG_INT), validate=validators, **kwargs)


class LaxSchema(Schema):
    """Unknown fields are ignored, as FastAPI's models do by default."""

    class Meta:
        unknown = EXCLUDE
        ordered = True


# -- requests -------------------------------------------------------------------------------------

class ConsentLinkCreateSchema(LaxSchema):
    collection_point_id = fields.String(allow_none=True, error_messages=_msgs(MSG_STRING),
                                        metadata={"description": "UUID or display id (CP010)"})
    asset_id = fields.UUID(required=True, error_messages=_msgs(MSG_UUID, invalid_uuid=MSG_UUID))
    phone = fields.String(allow_none=True, error_messages=_msgs(MSG_STRING),
                          metadata={"description": "E.164, or 10 digits (prefixed +91)"})
    email = fields.String(allow_none=True, error_messages=_msgs(MSG_STRING),
                          validate=validate.Length(max=254, error="String should have at most "
                                                                  "254 characters"))
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
