"""The service's own probes: ``/healthz`` (the process answers; no database) and ``/readyz``
(the database answers, and its schema is the one this code was written for), and the gate that
keeps every other route from running on a schema that is not."""
from __future__ import annotations

import threading
import time

from flask import current_app, request
from flask.views import MethodView
from marshmallow import Schema, fields

from consent.core import migrate, queries
from consent.core.errors import Unavailable

from .blueprint import DialectBlueprint
from .dialect import SERVICE_ERRORS

blp = DialectBlueprint("service", __name__, errors=SERVICE_ERRORS,
                       description="Liveness and readiness probes.")


class ProbeSchema(Schema):
    status = fields.String(required=True, metadata={"example": "ok"})


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200, ProbeSchema)
    def get(self):
        """Liveness: answers without touching the database"""
        return {"status": "ok"}


@blp.route("/readyz")
class Ready(MethodView):
    @blp.response(200, ProbeSchema)
    @blp.errors(**{"503": "The database does not answer, or its schema is not this code's "
                          "(the message names the command to run)"})
    def get(self):
        """Readiness: the database answers a query and its schema is current"""
        queries.PING.execute().fetchone()
        current_app.extensions["consent.schema_gate"].require()
        return {"status": "ok"}


class SchemaGate:
    """Lets requests through only once the database's schema is the one this code was written
    for (``consent.core.migrate.problem``); until then every route but ``/healthz`` and the API
    documents answers 503 in its dialect's shape, naming the command to run, and the background
    loops do not start. Checked again at most every :data:`RECHECK` seconds while it is not, so
    a migration run beside a running service is picked up; once current, never again (no query
    per request). With ``CONSENT_AUTO_MIGRATE`` the first request migrates (under the migration
    lock, so several instances migrate once)."""

    RECHECK = 2.0
    OPEN = ("/healthz", "/readyz", "/openapi.json", "/docs")
    NO_DATABASE = ("/healthz", "/openapi.json", "/docs")   # answered without the database

    def __init__(self, auto_migrate: bool = False):
        self.auto_migrate = auto_migrate
        self.current = False
        self._problem: str | None = None
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def problem(self) -> str | None:
        if self.current:
            return None
        with self._lock:
            if self.current or time.monotonic() - self._checked_at < self.RECHECK:
                return self._problem
            problem = migrate.problem()
            if problem is not None and self.auto_migrate and "newer" not in problem:
                migrate.upgrade()
                problem = migrate.problem()
            self._problem, self.current = problem, problem is None
            self._checked_at = time.monotonic()
            return problem

    def ready(self) -> bool:
        """Whether the schema is current (False, never an error, while the database is away)."""
        if self.current:
            return True
        try:
            return self.problem() is None
        except Exception:  # noqa: BLE001 - the probes and documents answer without a database
            return False

    def require(self) -> None:
        problem = self.problem()
        if problem is not None:
            raise Unavailable(f"Service unavailable: {problem}", retry_after=int(self.RECHECK) + 3)

    def before_request(self) -> None:
        if not self.current and not request.path.startswith(self.OPEN):
            self.require()


def init_app(app) -> SchemaGate:
    gate = app.extensions["consent.schema_gate"] = SchemaGate(
        bool(app.config["CONSENT_AUTO_MIGRATE"]))
    app.before_request(gate.before_request)
    return gate
