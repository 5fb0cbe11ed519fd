"""Avacy's error shapes (Laravel's).

* API errors: ``{"message": "..."}``: 401 ``Unauthenticated`` (no token, an unknown or revoked
  one, or one of another tenant), 403 ``This action is unauthorized.``, 404 for an unknown
  tenant, domains group or webspace, or a route that does not exist (Laravel's ``The route ...
  could not be found.``), 405 (``The GET method is not supported for route ... Supported
  methods: POST.``), 500 ``Server Error``.
* Validation: 422 ``{"message": "<first message> (and N more errors)", "errors": {"subject.email":
  ["The subject.email field must be a valid email address."], ...}}``, fields named by their
  dotted path. A body that is not JSON or a form this service reads (NaN, a 5,000-digit
  integer, a lone surrogate, nesting deeper than 64...) is a 422 on ``body``.
* The plugin's set-up checks (``/wp/validate/...``): ``{"message": {"error": "<code>"}}``
  (:data:`WP_ERRORS`).
"""
from __future__ import annotations

from flask import jsonify, request

from consent.core import errors as domain
from consent.web.dialect import ErrorShape
from schemas.avacy import AvacyErrorSchema, AvacyValidationErrorSchema, AvacyWpErrorSchema

UNAUTHENTICATED = "Unauthenticated"
UNAUTHORIZED = "This action is unauthorized."
TENANT_NOT_FOUND = "Tenant not found."
SERVER_ERROR = "Server Error"
BODY_PROBLEM = "The request body could not be read: {}."


def attribute(path: str) -> str:
    """Laravel's displayable attribute: the dotted path, underscores read as spaces."""
    return path.replace("_", " ")


def flatten(node, path: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as Laravel's ``{"a.0.b": ["The a.0.b field ..."]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(node, dict):
        for key, child in node.items():
            if key == "_schema":
                name = path or "body"
            else:
                name = f"{path}.{key}" if path else str(key)
            for k, v in flatten(child, name).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(node, (list, tuple)):
        for item in node:
            if isinstance(item, (dict, list, tuple)):
                for k, v in flatten(item, path).items():
                    out.setdefault(k, []).extend(v)
            else:
                out.setdefault(path or "body", []).append(
                    str(item).replace(":attribute", attribute(path or "body")))
    else:
        out.setdefault(path or "body", []).append(
            str(node).replace(":attribute", attribute(path or "body")))
    return out


def validation_body(errors: dict[str, list[str]]) -> dict:
    messages = [m for ms in errors.values() for m in ms]
    first = messages[0] if messages else "The given data was invalid."
    more = len(messages) - 1
    if more > 0:
        first += f" (and {more} more error{'s' if more > 1 else ''})"
    return {"message": first, "errors": errors}


def _explicit(exc) -> object:
    data = getattr(exc, "data", None) or {}
    return data.get("message") if isinstance(data, dict) else None


def _json(body: dict, status: int):
    response = jsonify(body)
    response.status_code = status
    return response


def render(status: int, message: str, exc: Exception | None = None):
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") if isinstance(data, dict) else None
    if status == 400 and messages and any(isinstance(v, list) for v in messages.values()):
        # the body is not (strict) JSON, or not a form this service reads
        reasons = [str(r) for v in messages.values() if isinstance(v, list) for r in v]
        body, status = validation_body({"body": [BODY_PROBLEM.format(r) for r in reasons]}), 422
    elif status == 422 and messages:
        errors: dict[str, list[str]] = {}
        for node in messages.values():  # one location: json_or_form, or query
            for k, v in flatten(node).items():
                errors.setdefault(k, []).extend(v)
        body = validation_body(errors)
    elif status == 422:
        body = {"message": message, "errors": {}}
    elif isinstance(exc, domain.Unavailable):
        body = {"message": message}
    elif status >= 500:
        body = {"message": SERVER_ERROR}
    elif isinstance(exc, domain.DomainError) or _explicit(exc):
        body = {"message": message}
    elif status == 404:
        body = {"message": f"The route {request.path.lstrip('/')} could not be found."}
    elif status == 405:
        allowed = ", ".join(m for m in sorted(getattr(exc, "valid_methods", None) or ())
                            if m not in ("HEAD", "OPTIONS"))
        body = {"message": f"The {request.method} method is not supported for route "
                           f"{request.path.lstrip('/')}. Supported methods: {allowed}."}
    elif status == 413:
        body = {"message": "The request body is too large."}
    else:
        body = {"message": message}
    return _json(body, status)


ERRORS = ErrorShape(
    render=render, schema=AvacyErrorSchema, validation_schema=AvacyValidationErrorSchema,
    auth_errors={
        "missing_key": (401, UNAUTHENTICATED),
        "invalid_key": (401, UNAUTHENTICATED),
        "missing_scope": (403, UNAUTHORIZED),
        "missing_org": (404, TENANT_NOT_FOUND),
        "unknown_org": (404, TENANT_NOT_FOUND),
    })


# -- the plugin's set-up checks -------------------------------------------------------------------

def render_wp(status: int, message: str, exc: Exception | None = None):
    explicit = _explicit(exc)
    if isinstance(explicit, dict) and status < 500:
        body = {"message": explicit}
    elif isinstance(exc, domain.Unavailable):
        body = {"message": {"error": "service_unavailable", "reason": message}}
    elif status >= 500:
        body = {"message": {"error": "server_error"}}
    else:
        body = {"message": {"error": "not_found"}}
    return _json(body, status)


WP_ERRORS = ErrorShape(render=render_wp, schema=AvacyWpErrorSchema, auth_errors={})
