"""The service's own probes: ``/healthz`` (the process answers; no database) and ``/readyz``
(the database answers too)."""
from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields

from consent.core.storage import db

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
    @blp.errors(**{"503": "The database does not answer"})
    def get(self):
        """Readiness: the database answers a query"""
        db.execute_sql("SELECT 1").fetchone()
        return {"status": "ok"}
