"""Strict JSON, in and out, for every dialect.

Python's ``json`` accepts ``NaN`` and ``Infinity``, turns ``1e400`` into infinity, parses integers
of thousands of digits (and raises a bare ``ValueError`` past 4,300), keeps lone surrogates
(``"\\ud800"``) that no UTF-8 encoder will write back, and recurses until it overflows on deep
nesting. Request bodies are parsed here, once, and every one of those becomes a
:class:`JSONError` that the dialect renders as its own 4xx. Responses are written with
``allow_nan=False``: what goes out is JSON any strict parser reads.
"""
from __future__ import annotations

import json
import math
import re

from flask.json.provider import DefaultJSONProvider
from flask_smorest import abort
from webargs import core
from webargs.flaskparser import FlaskParser

MAX_DEPTH = 64
INT_MIN, INT_MAX = -(2 ** 63), 2 ** 63 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")


class JSONError(ValueError):
    """The body is not JSON this service accepts; ``str(error)`` says why, for the client."""


def _constant(name: str):
    raise JSONError(f"{name} is not valid JSON")


def loads(data: bytes | str):
    """Parse a request body strictly; raises :class:`JSONError`."""
    if isinstance(data, (bytes, bytearray)):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise JSONError("the body is not UTF-8") from None
    try:
        value = json.loads(data, parse_constant=_constant)
    except JSONError:
        raise
    except RecursionError:
        raise JSONError(f"nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # json.JSONDecodeError, and integers past Python's 4,300 digits
        raise JSONError(f"invalid JSON: {exc}") from None
    check(value)
    return value


def check(value) -> None:
    """Nesting depth, lone surrogates, integers beyond 64 bits and numbers beyond a double's
    range (``1e400`` parses as infinity), without recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind is str:
            if _SURROGATE.search(item):
                raise JSONError("a string holds a lone surrogate (not valid Unicode)")
        elif kind is int:
            if not INT_MIN <= item <= INT_MAX:
                raise JSONError("integer out of range (64-bit signed)")
        elif kind is float:
            if not math.isfinite(item):
                raise JSONError("number out of range")
        elif kind is dict:
            if depth > MAX_DEPTH:
                raise JSONError(f"nested deeper than {MAX_DEPTH} levels")
            for key, child in item.items():
                if _SURROGATE.search(key):
                    raise JSONError("a key holds a lone surrogate (not valid Unicode)")
                stack.append((child, depth + 1))
        elif kind is list:
            if depth > MAX_DEPTH:
                raise JSONError(f"nested deeper than {MAX_DEPTH} levels")
            stack.extend((child, depth + 1) for child in item)


class StrictJSONProvider(DefaultJSONProvider):
    """Flask's JSON, strict both ways (``request.get_json()`` and every JSON response)."""

    sort_keys = False

    def loads(self, s, **kwargs):
        return loads(s)

    def dumps(self, obj, **kwargs):
        kwargs.setdefault("allow_nan", False)
        return super().dumps(obj, **kwargs)


class StrictParser(FlaskParser):
    """webargs' Flask parser with request bodies parsed by :func:`loads`. A bad body is a 400
    whose ``messages`` carry ``{"json": [reason]}``; the dialect renders it."""

    def load_json(self, req, schema):
        if not core.is_json(req.mimetype):
            return core.missing
        data = req.get_data(cache=True)
        if not data:
            return core.missing
        try:
            return loads(data)
        except JSONError as exc:
            abort(400, messages={"json": [str(exc)]}, exc=exc)
