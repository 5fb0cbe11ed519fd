"""The HTTP side every dialect shares: the dialect registry and error dispatch (:mod:`.dialect`),
credential kinds (:mod:`.auth`), the Blueprint with auth and error docs (:mod:`.blueprint`),
strict JSON (:mod:`.jsonio`), the API docs page (:mod:`.docs`) and a few response helpers here.
Nothing in it names a dialect."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, has_request_context, jsonify, request

from consent.core import ledger

DEFAULT_PUBLIC_URL = "http://127.0.0.1:5000"


def public_url() -> str:
    """The base of links handed out: ``CONSENT_PUBLIC_URL`` if set, else the host and port this
    request reached (so ``make run PORT=8080`` hands out :8080 links), else the default."""
    configured = current_app.config.get("CONSENT_PUBLIC_URL")
    if configured:
        return configured
    if has_request_context():
        return request.host_url.rstrip("/")
    return DEFAULT_PUBLIC_URL


class LookupFailed:
    """What a URL converter that looks its value up in the database returns when the lookup
    fails (the database does not answer): the rule matches, and the error is raised again
    before the view runs (``consent.web.dialect``), where the error handlers answer it (503 in
    the matched blueprint's shape for an outage, 500 for a bug). Raised in the converter, it
    would escape them: URL matching runs before Flask's error handling."""

    def __init__(self, error: Exception):
        self.error = error


def looked_up(lookup, value):
    """``lookup(value)`` for a URL converter, or a :class:`LookupFailed`."""
    try:
        return lookup(value)
    except Exception as exc:  # noqa: BLE001 - raised again before the view (see LookupFailed)
        return LookupFailed(exc)


def cross_site_request() -> bool:
    """Did a form post come from another site? ``Sec-Fetch-Site: cross-site``, or an ``Origin``
    other than this host. ``Origin: null`` (privacy-preserving browsers) is not taken as one:
    the form's own signed token decides then."""
    if request.headers.get("Sec-Fetch-Site", "").lower() == "cross-site":
        return True
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        return urlsplit(origin).netloc.lower() != request.host.lower()
    return False


def idempotent_response(org, scope: str, key: str | None, request_data: dict, status: int,
                        schema, produce):
    """An operation that may be retried with the same idempotency ``key``.

    ``produce()`` runs in a transaction and returns the object the operation answers with;
    ``schema`` (the operation's declared response schema) dumps it, and the dump is stored with
    the key in that same transaction. A repeat with the same key and request returns the stored
    body (header ``Idempotent-Replayed: true``) and writes nothing; with another request it is a
    Conflict. Both answers are the schema's output, so the response is what the operation
    declares."""
    def run():
        return status, schema.dump(produce())

    code, body, replayed = ledger.idempotent(org.id, scope, key, request_data, run)
    response = jsonify(body)
    response.status_code = code
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response
