"""Shared schema pieces: the base schema, UTC datetimes, 64-bit integers and cursors.

Every integer and datetime the service accepts goes through :class:`Int64` and
:class:`UTCDateTime`, which turn values the database cannot hold (an integer above 2^63, a year 1
timestamp at +14:00 that falls before year 1 in UTC) into ordinary validation errors.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt

from marshmallow import RAISE, Schema, ValidationError, fields, validate

INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


class BaseSchema(Schema):
    """Unknown fields are an error, not silently dropped."""

    class Meta:
        unknown = RAISE
        ordered = True


class StrictBoolean(fields.Boolean):
    """Only JSON ``true`` / ``false``: no "yes", 1 or "true"."""

    def __init__(self, **kwargs):
        super().__init__(truthy={True}, falsy={False}, **kwargs)


class ServiceErrorSchema(Schema):
    """This service's own error body (flask-smorest's): ``{code, status, message[, errors]}``."""

    code = fields.Integer(required=True, metadata={"example": 404})
    status = fields.String(required=True, metadata={"example": "Not Found"})
    message = fields.String(required=True)
    errors = fields.Dict(metadata={"description": "Field errors, by location and field"})


class Int64(fields.Integer):
    """An integer the database can store (signed 64-bit)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.insert(0, validate.Range(
            INT64_MIN, INT64_MAX, error="Number out of range (64-bit signed)."))


class UTCDateTime(fields.DateTime):
    """ISO 8601 in, ISO 8601 with ``+00:00`` out. Stored values are naive UTC; naive input is UTC.
    A moment outside years 1-9999 once converted to UTC is invalid, not an overflow."""

    default_error_messages = {"range": "Datetime out of range (years 1-9999 in UTC)."}

    def _serialize(self, value, attr, obj, **kwargs):
        return iso(value)

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        return naive_utc(result, self.make_error)


def naive_utc(value: dt.datetime, make_error=None) -> dt.datetime:
    """A datetime as stored: naive UTC (aware values converted, naive ones taken as UTC)."""
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    except OverflowError:
        if make_error is None:
            raise ValidationError("Datetime out of range (years 1-9999 in UTC).") from None
        raise make_error("range") from None


def iso(value: dt.datetime | None) -> str | None:
    """A stored (naive UTC) datetime as the API writes it: ISO 8601 with ``+00:00``."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc).isoformat()
    return value.astimezone(dt.timezone.utc).isoformat()


def email_problem(value: str) -> str | None:
    """Why ``value`` is not a usable email address (email-validator's words), or None."""
    from email_validator import EmailNotValidError, validate_email

    try:
        # Addresses at *.test are allowed: a self-hosted service is tested with them.
        validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        return str(exc)
    return None


_PLAIN = (fields.String, fields.Integer, fields.Boolean, fields.Dict, fields.Raw)


def compile_dump(schema: Schema):
    """A function equal to ``schema.dump`` for a flat schema of plain fields (String, Integer,
    Boolean, Dict, Raw, UTCDateTime), built once from the schema's own fields (their data keys,
    attributes and types), so the schema stays the one definition of the wire shape. For bulk
    output (the export), where marshmallow's per-field machinery is most of the cost. Raises
    TypeError, when built, for a schema it cannot reproduce exactly."""
    from operator import attrgetter

    steps = []
    for name, field in schema.dump_fields.items():
        if isinstance(field, UTCDateTime):
            convert = iso
        elif type(field) in _PLAIN:
            convert = None
        else:
            raise TypeError(f"compile_dump: {type(field).__name__} field {name!r}")
        steps.append((field.data_key or name, attrgetter(field.attribute or name), convert))

    def dump(obj) -> dict:
        out = {}
        for key, get, convert in steps:
            value = get(obj)
            out[key] = convert(value) if convert is not None and value is not None else value
        return out

    return dump


def encode_cursor(seq: int | None) -> str | None:
    if seq is None:
        return None
    return base64.urlsafe_b64encode(f"c:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if raw.startswith("c:") and raw[2:].isdigit() and len(raw) <= 21:
            value = int(raw[2:])
            if 0 < value <= INT64_MAX:
                return value
    except (ValueError, binascii.Error, UnicodeDecodeError):
        pass
    raise ValidationError("not a cursor this service issued", "cursor")


class Cursor(fields.String):
    """An opaque page cursor (``next_cursor`` of the previous page)."""

    def _deserialize(self, value, attr, data, **kwargs):
        return decode_cursor(super()._deserialize(value, attr, data, **kwargs))


def Limit(default: int, maximum: int) -> Int64:
    """A page size parameter."""
    return Int64(load_default=default, validate=validate.Range(1, maximum))
