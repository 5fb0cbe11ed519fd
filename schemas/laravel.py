"""Laravel's validation rules as marshmallow fields: what a Laravel application (Avacy's
Consent Solution API) accepts and the English messages it answers, so a dialect that speaks to
Laravel clients validates as they expect.

Unknown fields are ignored; strings are trimmed and an empty one counts as missing (Laravel's
TrimStrings and ConvertEmptyStringsToNull middleware) unless the field is ``verbatim``;
``integer`` and ``boolean`` take what Laravel's rules take (``"33"``; ``true``, ``false``, ``1``,
``0``, ``"1"``, ``"0"``), which is also what a PHP form body carries; a list may arrive as a PHP
array with keys of its own (``a[x][name]=...``); ``:attribute`` in a message stands for the
field's dotted path (the dialect's error shape puts it in). The wire schemas built from these
fields are in ``schemas.avacy``.
"""
from __future__ import annotations

import ipaddress

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load

from .common import INT64_MAX, INT64_MIN, email_problem

REQUIRED = "The :attribute field is required."
ARRAY = "The :attribute field must be an array."
STRING = "The :attribute field must be a string."
INTEGER = "The :attribute field must be an integer."
BOOLEAN = "The :attribute field must be true or false."
EMAIL = "The :attribute field must be a valid email address."
IP = "The :attribute field must be a valid IP address."
SELECTED = "The selected :attribute is invalid."
DISTINCT = "The :attribute field has a duplicate value."
NUL = "The :attribute field must not contain NUL characters."


def max_chars(n: int) -> str:
    return f"The :attribute field must not be greater than {n} characters."


# -- Laravel's rules as marshmallow fields --------------------------------------------------------

class LString(fields.String):
    """Laravel's ``string``: trimmed; empty counts as missing. ``max``: Laravel's ``max:n``.
    ``verbatim``: neither trimmed nor emptied (the proofs)."""

    default_error_messages = {"required": REQUIRED, "null": REQUIRED, "invalid": STRING,
                              "invalid_utf8": STRING}

    def __init__(self, *, max: int | None = None, verbatim: bool = False, **kwargs):
        self.max, self.verbatim = max, verbatim
        super().__init__(**kwargs)
        if max is not None:
            self.metadata.setdefault("maxLength", max)

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if isinstance(value, str) and not self.verbatim:
            value = value.strip()
        if value == "":
            value = None
        return super().deserialize(value, attr, data, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if "\x00" in value:  # no database text column holds one (PostgreSQL refuses it)
            raise ValidationError(NUL)
        if self.max is not None and len(value) > self.max:
            raise ValidationError(max_chars(self.max))
        return value


class Scalar(LString):
    """A form field's value: a string, or a number or boolean that JSON carried (kept as sent)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, (bool, int, float)):
            return value
        return super()._deserialize(value, attr, data, **kwargs)


class LInteger(fields.Field):
    """Laravel's ``integer`` (a JSON integer or a string of digits), within 64 bits."""

    default_error_messages = {"required": REQUIRED, "null": REQUIRED, "invalid": INTEGER}

    def __init__(self, *, min: int | None = None, **kwargs):
        self.min = min
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            text = value.strip()
            digits = text[1:] if text[:1] in "+-" else text
            if not digits.isascii() or not digits.isdigit() or len(digits) > 19:
                raise self.make_error("invalid")
            value = int(text)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        if not INT64_MIN <= value <= INT64_MAX:
            raise self.make_error("invalid")
        if self.min is not None and value < self.min:
            raise ValidationError(f"The :attribute field must be at least {self.min}.")
        return value

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class LBoolean(fields.Field):
    """Laravel's ``boolean``: true, false, 1, 0, "1" or "0" (PHP's http_build_query sends a
    boolean as "1" or "0")."""

    default_error_messages = {"required": REQUIRED, "null": REQUIRED, "invalid": BOOLEAN}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return value == 1
        if isinstance(value, str) and value.strip() in ("0", "1"):
            return value.strip() == "1"
        raise self.make_error("invalid")

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class LList(fields.List):
    """Laravel's ``array`` of items; a PHP array with keys of its own (``a[x]=..``, or indexes
    PHP's parser keeps) counts as the list of its values, in order."""

    default_error_messages = {"required": REQUIRED, "null": REQUIRED, "invalid": ARRAY}

    def __init__(self, inner, *, distinct: str | bool = False, **kwargs):
        self.distinct = distinct
        super().__init__(inner, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, dict):
            value = list(value.values())
        items = super()._deserialize(value, attr, data, **kwargs)
        if self.distinct:
            seen: dict = {}
            errors = {}
            for index, item in enumerate(items):
                key = item[self.distinct] if isinstance(item, dict) else item  # "name", or True
                key = key.strip() if isinstance(key, str) else key  # verbatim values too
                if key in seen:
                    errors[index] = ({self.distinct: [DISTINCT]} if isinstance(item, dict)
                                     else [DISTINCT])
                seen.setdefault(key, index)
            if errors:
                raise ValidationError(errors)
        return items


class LNested(fields.Nested):
    default_error_messages = {"required": REQUIRED, "null": REQUIRED, "type": ARRAY}

    def _deserialize(self, value, attr, data, partial=None, **kwargs):
        if not isinstance(value, dict):
            raise self.make_error("type")
        return super()._deserialize(value, attr, data, partial=partial, **kwargs)


class LDict(fields.Dict):
    """An object of scalars by name (``subject.<name>``); each value's error under its name."""

    default_error_messages = {"required": REQUIRED, "null": REQUIRED, "invalid": ARRAY}

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return super()._deserialize(value, attr, data, **kwargs)
        except ValidationError as error:
            messages = error.messages
            if isinstance(messages, dict):
                messages = {k: v.get("value", v.get("key", v)) if isinstance(v, dict) else v
                            for k, v in messages.items()}
            raise ValidationError(messages) from None


class LIp(LString):
    """Laravel's ``ip``: an IPv4 or IPv6 address."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValidationError(IP) from None
        return value


class LIn(LString):
    """Laravel's ``in:a,b,c``."""

    def __init__(self, choices, **kwargs):
        self.choices = tuple(choices)
        super().__init__(**kwargs)
        self.metadata.setdefault("enum", list(self.choices))

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        if value not in self.choices:
            raise ValidationError(SELECTED)
        return value


def email(value: str) -> None:
    if email_problem(value):
        raise ValidationError(EMAIL)


class LaravelSchema(Schema):
    """Laravel's validator: fields it does not name are ignored."""

    class Meta:
        unknown = EXCLUDE
        ordered = True


class LaravelRequestSchema(LaravelSchema):
    """A request body: one that is no object is an empty one (every required field is then
    missing), as Laravel reads it."""

    @pre_load
    def _object(self, data, **kwargs):
        return data if isinstance(data, dict) else {}
