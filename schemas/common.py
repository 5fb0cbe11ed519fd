"""Shared schema pieces: the base schema, UTC datetimes, 64-bit integers and cursors.

Every integer and datetime the service accepts goes through :class:`Int64` and
:class:`UTCDateTime`, which turn values the database cannot hold (an integer above 2^63, a year 1
timestamp at +14:00 that falls before year 1 in UTC) into ordinary validation errors.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt

from marshmallow import RAISE, Schema, ValidationError, fields, missing, validate

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


_NO_ATTRIBUTE = (fields.Function, fields.Method, fields.Constant)


def _getter(path: str):
    """marshmallow's way to read a value: by key from a mapping (or anything subscriptable by
    name), else by attribute; dotted paths step through; ``missing`` when absent."""
    parts = path.split(".")
    if len(parts) == 1:  # the usual case, without the loop; the same answers
        part = path

        def get_one(obj):
            if obj is None or obj is missing:
                return missing
            if type(obj) is dict:
                return obj[part] if part in obj else getattr(obj, part, missing)
            if isinstance(obj, tuple):  # a named row: obj["name"] is a TypeError, then getattr
                return getattr(obj, part, missing)
            return get(obj)
    else:
        get_one = None

    def get(obj):
        for part in parts:
            if obj is None or obj is missing:
                return missing
            if hasattr(obj, "__getitem__"):
                try:
                    obj = obj[part]
                    continue
                except (KeyError, IndexError, TypeError, AttributeError):
                    pass
            obj = getattr(obj, part, missing)
        return obj

    return get_one or get


DUMP_HOOKS = ("pre_dump", "post_dump")


def refuse_dump_hooks(schema: Schema, path: str = "") -> None:
    """A compiled dump runs no ``@pre_dump`` / ``@post_dump`` hook, so a schema that has one
    (itself or any schema nested in it) is refused, loudly, when its route is declared: the
    compiled dump would silently answer another body than marshmallow's. Such a schema is
    dumped by marshmallow (``blp.response(..., fast=False)``), or its hook becomes a field
    (``fields.Method``) or the view's work."""
    where = path or type(schema).__name__
    for tag in DUMP_HOOKS:
        if schema._hooks.get(tag):
            names = ", ".join(hook[0] for hook in schema._hooks[tag])
            raise TypeError(f"{where} has @{tag} ({names}): the compiled dump "
                            "(schemas.common.fast_dump) does not run dump hooks; dump it with "
                            "marshmallow (blp.response(..., fast=False)) or make the hook a field")
    for name, field in schema.dump_fields.items():
        nested = field.inner if isinstance(field, fields.List) else field
        if isinstance(nested, fields.Nested) and not isinstance(nested, fields.Pluck):
            refuse_dump_hooks(nested.schema, f"{where}.{name}")


def _compile_field(field):
    """How to serialize one field's value: nested schemas compiled too, any other field by its
    own ``_serialize`` (the documented place a field's formatting lives; a ``Pluck`` too, which
    dumps its nested schema and takes one field of it)."""
    if isinstance(field, fields.Pluck):
        return field._serialize
    if isinstance(field, fields.Nested):
        nested = compile_dump(field.schema)
        many = field.many or field.schema.many
        return lambda value, name, obj: None if value is None else nested(value, many=many)
    if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested) \
            and not isinstance(field.inner, fields.Pluck):
        inner = compile_dump(field.inner.schema)
        return lambda value, name, obj: None if value is None else [inner(v) for v in value]
    return field._serialize


def compile_dump(schema: Schema):
    """A function equal to ``schema.dump``, built once from the schema's own fields (their data
    keys, attributes, defaults and formatting), without marshmallow's per-field machinery, which
    is most of a response's serialising cost. The schema stays the one definition of the wire
    shape; the test suite runs every response through both and compares them
    (``CONSENT_CHECK_FAST_DUMP``). A schema with dump hooks is refused (:func:`refuse_dump_hooks`)."""
    refuse_dump_hooks(schema)
    steps = []
    for name, field in schema.dump_fields.items():
        path = field.attribute or name
        get = None if isinstance(field, _NO_ATTRIBUTE) else _getter(path)
        attr = path if get is not None and "." not in path else None
        default = field.dump_default
        steps.append((field.data_key or name, name, get, attr, default, _compile_field(field)))

    def dump_one(obj) -> dict:
        out = {}
        row = isinstance(obj, tuple)  # a named row: every value is an attribute
        for key, name, get, attr, default, serialize in steps:
            if get is None:
                value = None
            else:
                value = getattr(obj, attr, missing) if row and attr else get(obj)
                if value is missing:
                    value = default() if callable(default) else default
                    if value is missing:
                        continue
            out[key] = serialize(value, name, obj)
        return out

    def dump(obj, *, many: bool | None = None):
        if many if many is not None else schema.many:
            return [dump_one(o) for o in obj]
        return dump_one(obj)

    return dump


def fast_dump(schema: Schema) -> Schema:
    """Make ``schema.dump`` the compiled one (checked against marshmallow's when
    ``CONSENT_CHECK_FAST_DUMP`` is set, as the tests set it)."""
    import os

    compiled = compile_dump(schema)
    if os.environ.get("CONSENT_CHECK_FAST_DUMP"):
        original = schema.dump

        def checked(obj, *, many=None):
            fast, slow = compiled(obj, many=many), original(obj, many=many)
            if fast != slow or json_order(fast) != json_order(slow):
                raise AssertionError(f"compiled dump of {type(schema).__name__} differs:\n"
                                     f"{fast!r}\n{slow!r}")
            return fast

        schema.dump = checked
    else:
        schema.dump = compiled
    return schema


def json_order(value):
    """The keys of every object in a value, in order (a dump's order is part of its wire form)."""
    if isinstance(value, dict):
        return [(k, json_order(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [json_order(v) for v in value]
    return None


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
