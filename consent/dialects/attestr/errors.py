"""Attestr's error shape: ``{"httpStatusCode": 400, "code": 4001, "message": "...",
"appError": true, "details": "..."}`` (``details`` only where there is more to say).

* Every documented case keeps its documented status, code and message (:mod:`.codes`).
* A body that is not JSON, or fails its schema, is 400 4001 with ``details`` naming the fields.
* A URL under ``/api/v{n}/public/`` with a version other than ``v3`` is 400 4001 whose
  ``details`` says to use v3 (after the client authenticates).
* 404, 405 and 413 (no Attestr code documented) are 4041, 4051 and 4131; a 429 carries
  ``Retry-After``; a 500 is 5001 and never a trace. ``appError`` is false only for 5001.
"""
from __future__ import annotations

import re

from flask import jsonify, request

from consent.core.errors import DomainError, Unavailable
from consent.web.dialect import ErrorShape
from schemas.attestr import AttestrErrorSchema

from . import codes
from .codes import AttestrError

VERSION = "v3"
_VERSIONED = re.compile(r"^/api/(?P<version>v\d+)/public/")


def other_version(path: str) -> str | None:
    """The version segment of an Attestr URL, when it is not v3."""
    match = _VERSIONED.match(path)
    return match.group("version") if match and match.group("version") != VERSION else None


def flatten(messages, prefix: str = "") -> list[str]:
    """marshmallow's nested messages as ``field.sub: message`` lines."""
    if isinstance(messages, dict):
        out = []
        for key, value in messages.items():
            name = str(key) if key not in ("json", "_schema", "query") else ""
            out += flatten(value, f"{prefix}.{name}" if prefix and name else prefix or name)
        return out
    if isinstance(messages, (list, tuple)):
        if all(isinstance(m, str) for m in messages):
            return [f"{prefix}: {m}" if prefix else m for m in messages]
        return [line for m in messages for line in flatten(m, prefix)]
    return [f"{prefix}: {messages}" if prefix else str(messages)]


def render(status: int, message: str, exc: Exception | None):
    details, retry_after = None, None
    data = getattr(exc, "data", None) or {}
    if isinstance(exc, AttestrError):
        code, details, retry_after = exc.error, exc.error_details, exc.retry_after
    elif status in (404, 405) and other_version(request.path):
        code = codes.MALFORMED
        details = (f"API version {other_version(request.path)} is not supported: use "
                   f"{VERSION}, the DPDPA-compliant version (/api/{VERSION}/public/...)")
    elif status in (400, 422) and data.get("messages"):
        code, details = codes.MALFORMED, "; ".join(flatten(data["messages"]))
    elif isinstance(exc, DomainError) and 400 <= status < 500:
        code, details = codes.MALFORMED, exc.message
    elif isinstance(exc, Unavailable):
        code, details = codes.UNAVAILABLE, exc.message
    else:
        code = codes.BY_MESSAGE.get(data.get("message") if isinstance(data, dict) else None) \
            or codes.BY_STATUS.get(status) or (codes.SERVER if status >= 500 else codes.MALFORMED)
    body = {"httpStatusCode": code.status, "code": code.code, "message": code.message,
            "appError": code.status < 500}
    if details:
        body["details"] = details
    response = jsonify(body)
    response.status_code = code.status
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


ERRORS = ErrorShape(render=render, schema=AttestrErrorSchema, validation_status=400,
                    auth_errors={
                        "missing_token": (401, codes.INVALID_CLIENT.message),
                        "invalid_token": (401, codes.INVALID_CLIENT.message),
                        "not_a_client": (403, codes.UNAUTHORIZED.message),
                        "ip_not_allowed": (403, codes.IP_NOT_ALLOWED.message),
                        "account_rate": (429, codes.ACCOUNT_RATE.message),
                        "api_rate": (429, codes.API_RATE.message),
                        "account_daily": (429, codes.ACCOUNT_DAILY.message),
                        "api_daily": (429, codes.API_DAILY.message),
                    })
