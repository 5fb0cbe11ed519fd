"""The control API (``/_control``, control mode only): requests and responses."""
from __future__ import annotations

from marshmallow import ValidationError, fields, validate, validates_schema

from .common import BaseSchema, Int64, StrictBoolean, UTCDateTime

# A clock may move by at most ~100 years either way (datetimes stay within years 1-9999).
MAX_SHIFT = 100 * 366 * 24 * 3600
GLOB = validate.Length(min=1, max=2048)


class ResetSchema(BaseSchema):
    event_id = fields.String(required=True, metadata={"description": "The reset audit event"})
    seq = fields.Integer(required=True)
    previous_head = fields.Dict(allow_none=True, required=True,
                                metadata={"description": "seq and hash of the head replaced"})
    removed = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class ClockSchema(BaseSchema):
    now = UTCDateTime(required=True)
    offset_seconds = fields.Float(required=True)
    moved = fields.Boolean(required=True)


class ClockSetSchema(BaseSchema):
    now = UTCDateTime(metadata={"description": "The organisation's new time (ISO 8601)"})
    advance_seconds = fields.Float(
        allow_nan=False, validate=validate.Range(-MAX_SHIFT, MAX_SHIFT),
        metadata={"description": "Move the organisation's clock by this many seconds"})

    @validates_schema
    def one_of(self, data, **kwargs):
        if ("now" in data) == ("advance_seconds" in data):
            raise ValidationError("Give exactly one of now, advance_seconds.")


class FaultInSchema(BaseSchema):
    target = fields.String(load_default="request",
                           validate=validate.OneOf(("request", "delivery")),
                           metadata={"description": "request: the service's answers; delivery: "
                                                    "its webhook deliveries (path globs the URL)"})
    method = fields.String(validate=validate.OneOf(
        ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*")), allow_none=True)
    path = fields.String(required=True, validate=GLOB)
    status = Int64(validate=validate.Range(400, 599))
    count = Int64(validate=validate.Range(1, 1_000_000))
    percent = fields.Float(allow_nan=False, validate=validate.Range(0, 100, min_inclusive=False))
    latency_ms = Int64(validate=validate.Range(0, 30_000))
    drop = StrictBoolean()

    @validates_schema
    def what(self, data, **kwargs):
        if "status" not in data and not data.get("drop") and not data.get("latency_ms"):
            raise ValidationError("Give a status, drop or latency_ms.")
        if "count" in data and "percent" in data:
            raise ValidationError("Give count or percent, not both.")
        if data.get("target") == "delivery" and ("status" not in data or data.get("drop")
                                                 or data.get("latency_ms")):
            raise ValidationError("A delivery fault takes a status only.")


class FaultSchema(BaseSchema):
    id = fields.Integer(required=True)
    target = fields.String(required=True)
    method = fields.String(allow_none=True, required=True)
    path = fields.String(required=True)
    status = fields.Integer(allow_none=True, required=True)
    count = fields.Integer(allow_none=True, required=True)
    remaining = fields.Integer(allow_none=True, required=True)
    percent = fields.Float(allow_none=True, required=True)
    latency_ms = fields.Integer(required=True)
    drop = fields.Boolean(required=True)
    fired = fields.Integer(required=True)
    created_at = UTCDateTime(required=True)


class FaultCreatedSchema(BaseSchema):
    id = fields.Integer(required=True)


class FaultListSchema(BaseSchema):
    items = fields.List(fields.Nested(FaultSchema), required=True)


class DeletedSchema(BaseSchema):
    deleted = fields.Integer(required=True)


class JournalQuerySchema(BaseSchema):
    method = fields.String(validate=validate.Length(min=1, max=16))
    path = fields.String(validate=GLOB, metadata={"description": "a glob: /v1/sessions*"})
    dialect = fields.String(validate=validate.Length(min=1, max=32))
    since = UTCDateTime()
    limit = Int64(load_default=100, validate=validate.Range(1, 1000))


class JournalEntrySchema(BaseSchema):
    id = fields.Integer(required=True)
    at = UTCDateTime(required=True)
    method = fields.String(required=True)
    path = fields.String(required=True)
    query = fields.String(required=True)
    dialect = fields.String(allow_none=True, required=True)
    headers = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    body = fields.String(required=True)
    body_encoding = fields.String(required=True, metadata={"description": "utf-8 or base64"})
    body_truncated = fields.Boolean(required=True)
    body_size = fields.Integer(required=True)
    status = fields.Integer(required=True)
    injected = fields.Boolean(required=True)


class JournalSchema(BaseSchema):
    items = fields.List(fields.Nested(JournalEntrySchema), required=True)


class StateSchema(BaseSchema):
    org_id = fields.String(required=True)
    audit_head = fields.Dict(allow_none=True, required=True)
    records = fields.Dict(required=True, metadata={
        "description": "{component: {table: [row, ...]}}: every record of the organisation"})
