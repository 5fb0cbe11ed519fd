"""The Blueprint every dialect's API is built on: flask-smorest's, plus authentication and error
documentation in the dialect's own shape.

* ``@blp.auth(scheme)`` (outermost, above ``@blp.arguments``): checks the credential before
  anything parses the body, renders a failure through the dialect's :class:`ErrorShape`, and
  documents the operation's ``security`` and each error status the scheme can produce.
* ``@blp.errors(404, 409, ...)``: documents the other errors an operation answers, each with the
  dialect's error schema (``{404: "why"}`` gives a description).
* Operations that parse a body or query document the dialect's validation error (status and
  shape) instead of flask-smorest's generic 422, and no catch-all "default" error is added.
* Every operation documents 413 (a body over the limit, read or not), 500 and 503, in the
  dialect's shape: what the service can answer, it declares.
"""
from __future__ import annotations

import http
from copy import deepcopy
from functools import wraps

import flask_smorest
from flask_smorest import abort

from schemas.common import fast_dump

from .auth import AuthFailed, Scheme
from .dialect import ErrorShape
from .jsonio import StrictParser


class DialectBlueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictParser()

    def __init__(self, *args, errors: ErrorShape, **kwargs):
        super().__init__(*args, **kwargs)
        self.error_shape = errors
        self.security_schemes: dict = {}
        self._prepare_doc_cbks.append(self._prepare_dialect_doc)

    def response(self, status_code, schema=None, *, fast: bool = True, **kwargs):
        """flask-smorest's, with the response schema's dump compiled once
        (``schemas.common.fast_dump``): the same output without marshmallow's per-field
        machinery on every response. A schema with ``@pre_dump``/``@post_dump`` hooks is refused
        here, when the route is declared (the compiled dump runs no hook); ``fast=False`` dumps
        it with marshmallow instead."""
        if fast and schema is not None and not isinstance(schema, (str, dict)):
            schema = fast_dump(schema() if isinstance(schema, type) else schema)
        return super().response(status_code, schema, **kwargs)

    def auth(self, scheme: Scheme):
        """Require ``scheme``'s credential for this view (put it above ``arguments``)."""
        shape = self.error_shape
        self.security_schemes.update(scheme.security_schemes())
        statuses = sorted({shape.auth_error(r, scheme)[0] for r in scheme.reasons})

        def decorator(func):
            @wraps(func)
            def wrapper(*args, **kwargs):
                try:
                    scheme.authenticate()
                except AuthFailed as failure:
                    status, message = shape.auth_error(failure.reason, scheme)
                    abort(status, message=message)
                return func(*args, **kwargs)

            wrapper.auth_scheme = scheme   # control mode identifies the caller before the view
            wrapper._apidoc = deepcopy(getattr(func, "_apidoc", {}))
            wrapper._apidoc["security"] = scheme.security()
            wrapper._apidoc.setdefault("dialect_errors", {}).update(
                {s: "Authentication failed" if s == 401 else http.HTTPStatus(s).phrase
                 for s in statuses})
            max_body = getattr(scheme, "max_body", None)
            if max_body is not None:  # the operation's own body limit (consent.web.limits)
                wrapper.max_body = max_body
                wrapper._apidoc["dialect_errors"][413] = (
                    f"The request body is larger than {max_body} bytes")
            return wrapper
        return decorator

    def errors(self, *statuses, **described):
        """Document error responses: ``errors(404, 409)`` or ``errors(**{"404": "why"})``."""
        docs = {int(s): http.HTTPStatus(int(s)).phrase for s in statuses}
        docs.update({int(s): text for s, text in described.items()})

        def decorator(func):
            func._apidoc = deepcopy(getattr(func, "_apidoc", {}))
            func._apidoc.setdefault("dialect_errors", {}).update(docs)
            return func
        return decorator

    def _prepare_dialect_doc(self, doc, doc_info, *, api, spec, **kwargs):
        shape = self.error_shape
        responses = doc.setdefault("responses", {})
        responses.pop("default", None)
        errors = dict(doc_info.get("dialect_errors", {}))
        if "422" in responses or 422 in responses:  # added by flask-smorest for arguments
            responses.pop("422", None)
            responses.pop(422, None)
            errors.setdefault(shape.validation_status, "The request failed validation")
        locations = {p.get("in") for p in doc_info.get("arguments", {}).get("parameters", [])
                     if isinstance(p, dict)}
        if locations:
            errors.setdefault(shape.validation_status, "The request failed validation")
        # Every operation: a body over the limit is refused whether or not the operation reads
        # one (consent.web.limits).
        errors.setdefault(413, "The request body is larger than the limit "
                               "(CONSENT_MAX_CONTENT_LENGTH, 1 MiB by default)")
        errors.setdefault(500, "Something went wrong on the server (never a trace)")
        errors.setdefault(503, "The service cannot answer now: its database does not answer, or "
                               "its schema is not this code's (the message says which command "
                               "to run). Retry after `Retry-After` seconds.")
        for status, description in sorted(errors.items()):
            responses[str(status)] = {
                "description": description,
                "content": {"application/json": {"schema": self._schema_ref(
                    spec, shape.schema_for(status))}}}
        if doc_info.get("security"):
            doc["security"] = doc_info["security"]
        return doc

    @staticmethod
    def _schema_ref(spec, schema_cls):
        """A $ref to the error schema's component (registered on first use)."""
        plugin = next(p for p in spec.plugins if hasattr(p, "converter"))
        return plugin.converter.resolve_nested_schema(schema_cls)
