"""Schemathesis over the service's own /openapi.json: every operation of every dialect, each with
its real credential from ``seed-demo --json``, checked for zero 5xx and for responses (status,
content type, body) that the document describes.

Used by tests/test_fuzz.py in two ways: in-process against the Flask app (WSGI; bounded examples
per operation, in ``make test``) and over HTTP against a live gunicorn (``make fuzz``; many
examples, ``FUZZ_EXAMPLES=N``). Generation is derandomized (the same inputs every run for a given
document and example count), so a failure found once is found again.

Credentials, as each dialect's clients send them (see bench/dialects.py):
ledger and operator APIs ``X-Org-Id`` + admin ``X-API-Key``; truConsent ``X-Org-Id`` + its API
key (or its operator's bearer token on the consent-link routes, every other example); Veriff
``X-AUTH-CLIENT`` + ``X-HMAC-SIGNATURE``, the lowercase hex HMAC-SHA256 with the integration's
shared secret of the exact body bytes sent (GET and DELETE: of the session id in the path);
Avacy ``Authorization: Bearer``; Attestr ``Authorization: Basic``.
"""
from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field

import hypothesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.veriff_helpers import sign

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@dataclass
class Credentials:
    """Headers and known path parameters per operation, from ``seed-demo --json`` plus the ids of
    a few records created before fuzzing (``known``)."""

    seed: dict
    known: dict = field(default_factory=dict)
    _turn: itertools.count = field(default_factory=itertools.count)

    def dialect(self, path: str) -> str:
        if path.startswith(("/ledger/", "/_control/")):   # the admin key (control mode)
            return "ledger"
        if path.startswith(("/api/consent/", "/api/v1/external/")):
            return "truconsent"
        if path.startswith("/api/v1/internal/"):
            return "truconsent"
        if path.startswith("/banners/"):
            return "truconsent"
        if path.startswith("/v1/"):
            return "veriff"
        if path.startswith("/api/v3/public/"):
            return "attestr"
        if path.startswith(("/{tenant}/", "/wp/")):
            return "avacy"
        return "service"

    def headers(self, case, body: bytes | None) -> dict:
        s, path = self.seed, case.operation.path
        dialect = self.dialect(path)
        if dialect == "ledger":
            return {"X-Org-Id": s["org"]["slug"], "X-API-Key": s["ledger"]["admin_api_key"]}
        if dialect == "truconsent":
            t = s["truconsent"]
            if path.startswith("/api/consent/") and next(self._turn) % 2:
                return {"X-Org-Id": t["org_id"], "Authorization": f"Bearer {t['bearer_token']}"}
            return {"X-Org-Id": t["org_id"], "X-API-Key": t["api_key"]}
        if dialect == "veriff":
            v = s["veriff"]
            if case.method.upper() in ("GET", "DELETE"):
                signed = str((case.path_parameters or {}).get("session_id", "")).encode()
                for name in ("media_id", "attempt_id"):   # GET /v1/media, /v1/attempts
                    if name in (case.path_parameters or {}):
                        signed = str(case.path_parameters[name]).encode()
            else:
                signed = body or b""
            return {"X-AUTH-CLIENT": v["api_key"], "X-HMAC-SIGNATURE": sign(v["shared_secret"],
                                                                           signed)}
        if dialect == "attestr":
            return {"Authorization": s["attestr"]["authorization"]}
        if dialect == "avacy" and path.startswith("/{tenant}/"):
            return {"Authorization": f"Bearer {s['avacy']['token']}", "Accept": "application/json"}
        return {}

    def path_parameters(self, operation) -> dict:
        """Known values of the operation's path parameters (a real session, tenant, ...)."""
        s, path = self.seed, operation.path
        dialect = self.dialect(path)
        values = {
            "session_id": s["veriff"]["session_id"],
            "integration_id": s["veriff"]["integration_id"],
            "tenant": s["avacy"]["tenant"],
            "group_id": s["avacy"]["domains_group_id"],
            "webspace_id": s["avacy"]["webspace_id"],
            "webspace_key": s["avacy"]["webspace_key"],
            "token": s["avacy"]["token"],
        }
        values.update(self.known.get(dialect, {}))
        names = [p.name for p in operation.path_parameters]
        return {n: values[n] for n in names if n in values}


def raw_body(case) -> bytes | None:
    """The exact bytes the transport would send for the case's body (None: no body)."""
    if isinstance(case.body, NotSet):
        return None
    kwargs = case.as_transport_kwargs()
    if "json" in kwargs:
        return json.dumps(kwargs["json"]).encode()
    data = kwargs.get("data")
    if isinstance(data, str):
        return data.encode()
    return data if isinstance(data, bytes) else None


def send(case, credentials: Credentials, **transport):
    """Send the case with its dialect's credential and run the checks (raises on a failure)."""
    body = raw_body(case)
    headers = credentials.headers(case, body)
    extra = {"data": body} if body is not None else {}
    return case.call_and_validate(headers=headers, checks=CHECKS, **extra, **transport)


@dataclass
class Outcome:
    operations: int = 0
    examples: int = 0
    statuses: dict = field(default_factory=dict)
    by_operation: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)
    seconds: float = 0.0


def run(schema, credentials: Credentials, *, examples: int, deadline_s: float | None = None,
        shrink: bool = False, **transport) -> Outcome:
    """Fuzz every operation of the schema (positive and negative inputs, with known and with
    generated path parameters); collect failures instead of stopping at the first."""
    outcome = Outcome()
    started = time.monotonic()
    phases = [Phase.explicit, Phase.generate] + ([Phase.shrink] if shrink else [])
    for result in schema.get_all_operations():
        operation = result.ok()
        outcome.operations += 1
        known = credentials.path_parameters(operation)
        strategies = []
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategies.append(operation.as_strategy(generation_mode=mode))
            if known:
                strategies.append(operation.as_strategy(generation_mode=mode,
                                                        path_parameters=known))

        @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                  phases=phases, suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
                  verbosity=hypothesis.Verbosity.quiet)
        @given(case=st.one_of(strategies))
        def fuzz(case):
            outcome.examples += 1
            response = None
            try:
                response = send(case, credentials, **transport)
            finally:
                if response is not None:
                    key = f"{response.status_code}"
                    outcome.statuses[key] = outcome.statuses.get(key, 0) + 1
                    per = outcome.by_operation.setdefault(operation.label, {})
                    per[key] = per.get(key, 0) + 1

        try:
            fuzz()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - every failing operation is reported
            outcome.failures.append(f"{operation.label}: {exc}")
        if deadline_s is not None and time.monotonic() - started > deadline_s:
            outcome.failures.append(f"time budget of {deadline_s}s spent after "
                                    f"{outcome.operations} operations")
            break
    outcome.seconds = time.monotonic() - started
    return outcome


def load_wsgi(app):
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


def load_url(base_url: str):
    return schemathesis.openapi.from_url(base_url + "/openapi.json")
