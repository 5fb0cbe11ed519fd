"""Schemathesis over the service's own /openapi.json: every operation of every dialect, each with
its real credential from ``seed-demo --json``, checked for zero 5xx and for responses (status,
content type, body) that the document describes.

Used by tests/test_fuzz.py in two ways: in-process against the Flask app (WSGI; bounded examples
per operation, in ``make test``) and over HTTP against a live gunicorn (``make fuzz``; many
examples, ``FUZZ_EXAMPLES=N``). Generation is derandomized (the same inputs every run for a given
document and example count), so a failure found once is found again.

Credentials, as each dialect's clients send them: each dialect declares, in its package's
``testing.py`` (``consent.testing.Fuzz``), how to authenticate (sign) the operations of its
blueprints from ``seed-demo --json``, and the ids of a few records it makes first (path
parameters that reach real data). Operations are told apart by their blueprint (the OpenAPI tag
flask-smorest gives each); the service's own (``/healthz``...) take no credential.
"""
from __future__ import annotations

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

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@dataclass
class Credentials:
    """Headers and known path parameters per operation, from ``seed-demo --json`` and each
    dialect's declaration (``known``: per dialect, the values of its records made first)."""

    seed: dict
    known: dict = field(default_factory=dict)

    def __post_init__(self):
        from consent import dialects
        from consent.testing import declarations

        self.declared = {d.name: d for d in declarations()}
        self.owner = {blp.name: entry.name for entry in dialects.entries()
                      for blp in entry.blueprints}
        self.owner["control"] = "ledger"   # control mode's API takes the admin key

    def blueprint(self, operation) -> str:
        tags = operation.definition.raw.get("tags") or ["service"]
        return tags[0]

    def dialect(self, operation) -> str | None:
        return self.owner.get(self.blueprint(operation))

    def headers(self, case, body: bytes | None) -> dict:
        name = self.dialect(case.operation)
        fuzz = self.declared[name].fuzz if name else None
        if fuzz is None or fuzz.headers is None:
            return {}
        return fuzz.headers(self.seed, case, body, self.blueprint(case.operation))

    def learn(self, requests) -> None:
        """Each dialect's records, made through ``requests`` before fuzzing."""
        for name, declared in self.declared.items():
            if declared.fuzz.known is not None:
                self.known[name] = declared.fuzz.known(requests, self.seed)

    def path_parameters(self, operation) -> dict:
        """Known values of the operation's path parameters (a real session, tenant, ...)."""
        values = self.known.get(self.dialect(operation), {})
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
