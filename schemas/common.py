"""Shared schema pieces: the base schema, UTC datetimes, and cursors."""
from __future__ import annotations

import base64
import binascii
import datetime as dt

from marshmallow import RAISE, Schema, ValidationError, fields


class BaseSchema(Schema):
    """Unknown fields are an error, not silently dropped."""

    class Meta:
        unknown = RAISE
        ordered = True


class UTCDateTime(fields.DateTime):
    """ISO 8601 in, ISO 8601 with ``+00:00`` out. Stored values are naive UTC; naive input is UTC."""

    def _serialize(self, value, attr, obj, **kwargs):
        return iso(value)

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if result.tzinfo is not None:
            result = result.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return result


def iso(value: dt.datetime | None) -> str | None:
    """A datetime as :class:`UTCDateTime` writes it (for wire dicts built without a schema)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc).isoformat()
    return value.astimezone(dt.timezone.utc).isoformat()


def encode_cursor(seq: int | None) -> str | None:
    if seq is None:
        return None
    return base64.urlsafe_b64encode(f"c:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if raw.startswith("c:"):
            return int(raw[2:])
    except (ValueError, binascii.Error, UnicodeDecodeError):
        pass
    raise ValidationError("not a cursor this service issued", "cursor")


class Cursor(fields.String):
    def _deserialize(self, value, attr, data, **kwargs):
        return decode_cursor(super()._deserialize(value, attr, data, **kwargs))
