"""Veriff's error shape: ``{"status": "fail", "code": "1101", "message": "..."}``. Validation
failures (a body that is not JSON, or fails its schema) are 400 "Validation failed"."""
from __future__ import annotations

from flask import jsonify

from consent.core.errors import DomainError, Unavailable
from consent.web.dialect import ErrorShape
from schemas.veriff import VeriffFailSchema

MISSING_KEY = "Mandatory X-AUTH-CLIENT header containing the API key is missing from the request."
UNKNOWN_KEY = "Integration with the API key in X-AUTH-CLIENT was not found."
MISSING_SIGNATURE = ("Mandatory X-HMAC-SIGNATURE header containing the SHA256 hash of the "
                     "payload is missing from the request.")
BAD_BODY_SIGNATURE = "Signature does not match the SHA256 hash of request body and shared secret."
BAD_ID_SIGNATURE = "Signature does not match the SHA256 hash of {signed} and shared secret."

# Status -> message when the error carries no message of its own (unmatched URL, parse errors...).
DEFAULT_MESSAGES = {
    400: "Validation failed",
    401: MISSING_KEY,
    404: "Resource not found",
    405: "Method not allowed",
    413: "Request body too large",
    500: "Something went wrong",
}


def render(status: int, message: str, exc: Exception | None):
    if status == 422:
        status = 400
    data = getattr(exc, "data", None) or {}
    explicit = data.get("message") if isinstance(data, dict) else None
    if isinstance(exc, DomainError) and status != 400 and status < 500:
        explicit = exc.message
    if isinstance(exc, Unavailable):
        text = exc.message
    elif status >= 500:
        text = DEFAULT_MESSAGES[500]
    else:
        text = explicit or DEFAULT_MESSAGES.get(status) or message
    response = jsonify({"status": "fail", "code": "1101", "message": text})
    response.status_code = status
    return response


ERRORS = ErrorShape(render=render, schema=VeriffFailSchema, validation_status=400, auth_errors={
    "missing_key": (401, MISSING_KEY),
    "unknown_key": (401, UNKNOWN_KEY),
    "missing_signature": (401, MISSING_SIGNATURE),
    "bad_body_signature": (401, BAD_BODY_SIGNATURE),
    "bad_id_signature": (401, BAD_ID_SIGNATURE),
})
