"""truConsent's error shape (FastAPI's): ``{"detail": "<message>"}``; field errors are 422
``{"detail": [{"loc": ["body"|"query", field, ...], "msg": "...", "type": "..."}]}`` with
pydantic's messages and types; a body that is not JSON is 422 ``json_invalid``."""
from __future__ import annotations

from flask import jsonify

from consent.core import errors as domain
from consent.web.dialect import ErrorShape
from schemas.truconsent import (
    TruconsentErrorSchema,
    TruconsentValidationErrorSchema,
    fastapi_errors,
)

TENANT = (400, "Tenant context not found")


def render(status: int, message: str, exc: Exception | None = None):
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    if status == 400 and messages and "json" in messages:  # the body is not (strict) JSON
        body, status = {"detail": [{"loc": ["body", 0], "msg": "JSON decode error",
                                    "type": "json_invalid"}]}, 422
    elif status == 422 and messages:
        detail = []
        for location, node in messages.items():
            detail += fastapi_errors(node, "body" if location == "json" else location)
        body = {"detail": detail}
    elif status == 422 and isinstance(exc, domain.Invalid) and getattr(exc, "messages", None):
        body = {"detail": fastapi_errors(exc.messages, "body")}  # found after parsing
    elif status == 422 and isinstance(exc, domain.Invalid):
        body = {"detail": [{"loc": ["body"], "msg": f"Value error, {message}",
                            "type": "value_error"}]}
    elif status >= 500 and not isinstance(exc, domain.Unavailable):
        body = {"detail": "Internal Server Error"}
    else:
        body = {"detail": message}
    response = jsonify(body)
    response.status_code = status
    return response


ERRORS = ErrorShape(
    render=render, schema=TruconsentErrorSchema,
    validation_schema=TruconsentValidationErrorSchema,
    auth_errors={
        "missing_org": TENANT,
        "unknown_org": TENANT,
        "missing_key": (401, "API key required"),
        "invalid_key": (401, "Invalid or inactive API key"),
        "missing_scope": (403, "API key does not have the '{scope}' scope"),
        "missing_token": (401, "Authorization token required"),
        "invalid_token": (401, "Invalid or expired auth token"),
        "not_member": (403, "User is not a member of this organization in PropelAuth"),
    })
