"""The control API, ``/_control`` (control mode only): an organisation's admin API key acts on
that organisation only. See :mod:`consent.control` and the README's "Using it as a stub in your
tests"."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import abort

from consent.core import clock
from consent.web.auth import ADMIN_KEY, current_actor, current_org
from consent.web.blueprint import DialectBlueprint
from consent.web.dialect import SERVICE_ERRORS
from schemas.control import (
    MAX_SHIFT,
    ClockSchema,
    ClockSetSchema,
    DeletedSchema,
    FaultCreatedSchema,
    FaultInSchema,
    FaultListSchema,
    JournalQuerySchema,
    JournalSchema,
    ResetSchema,
    StateSchema,
)

from . import store

blp = DialectBlueprint("control", __name__, url_prefix="/_control", errors=SERVICE_ERRORS,
                       description="Control mode (CONSENT_CONTROL=1): reset the organisation, "
                                   "move its clock, inject faults, read the requests its "
                                   "credentials sent and its state. A test stub's controls.")

NO_FAULT = "No such fault rule of this organisation"
OUT_OF_RANGE = "The clock may move at most 100 years from real time"


def _clock_view(org_id: str) -> dict:
    offset = store.clock_offset(org_id)
    with clock.offset(offset):
        return {"now": clock.utcnow(), "offset_seconds": offset, "moved": offset != 0}


@blp.route("/reset")
class Reset(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.response(200, ResetSchema)
    def post(self):
        """Remove the organisation's records, restart its audit chain with a reset event

        Every dialect's records go (consents, logs, links, sessions, media, archive entries,
        Attestr consents and jobs, webhook deliveries, rate-limit windows, the journal, fault
        rules, the clock); credentials and configuration stay (collection points,
        integrations, webspaces, clients). The chain restarts at seq 1 with a `reset` event
        naming the head it replaced."""
        return store.reset(current_org().id, current_actor())


@blp.route("/clock")
class Clock(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.response(200, ClockSchema)
    def get(self):
        """The organisation's time"""
        return _clock_view(current_org().id)

    @blp.auth(ADMIN_KEY)
    @blp.arguments(ClockSetSchema)
    @blp.response(200, ClockSchema)
    @blp.errors(**{"422": OUT_OF_RANGE})
    def post(self, args):
        """Set (`now`) or move (`advance_seconds`) the organisation's clock

        Every expiry, validity window, rate-limit window, token max_age and timestamp of the
        organisation follows; its sweeps run at once (an Attestr consent past its validity
        expires and its webhook is sent) and webhook retries it waits for come closer by the
        time skipped."""
        org_id = current_org().id
        before = store.clock_offset(org_id)
        if "now" in args:
            offset = (args["now"] - clock.real_utcnow()).total_seconds()
        else:
            offset = before + args["advance_seconds"]
        if abs(offset) > MAX_SHIFT:
            abort(422, message=OUT_OF_RANGE)
        store.set_clock(org_id, offset)
        store.advance_deliveries(org_id, offset - before)
        store.run_clock_moved(org_id, offset)
        return _clock_view(org_id)

    @blp.auth(ADMIN_KEY)
    @blp.response(200, ClockSchema)
    def delete(self):
        """Back to real time"""
        org_id = current_org().id
        store.clear_clock(org_id)
        return _clock_view(org_id)


@blp.route("/faults")
class Faults(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.response(200, FaultListSchema)
    def get(self):
        """The organisation's fault rules, with how often each fired"""
        return {"items": store.faults(current_org().id)}

    @blp.auth(ADMIN_KEY)
    @blp.arguments(FaultInSchema)
    @blp.response(201, FaultCreatedSchema)
    def post(self, args):
        """Add a fault rule

        Requests of this organisation's credentials (`target` request) matching `method` and
        the `path` glob answer `status` in the owning dialect's own error shape (or wait
        `latency_ms`, or `drop` the connection), for the next `count` matches or `percent` of
        them; nothing is written. With `target` delivery, the next webhook deliveries whose URL
        matches `path` fail with `status` (the receiver sees the retry)."""
        if args.get("method") == "*":
            args["method"] = None
        return {"id": store.add_fault(current_org().id, args).id}

    @blp.auth(ADMIN_KEY)
    @blp.response(200, DeletedSchema)
    def delete(self):
        """Remove every fault rule"""
        return {"deleted": store.delete_faults(current_org().id)}


@blp.route("/faults/<int:fault_id>")
class FaultById(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.response(200, DeletedSchema)
    @blp.errors(**{"404": NO_FAULT})
    def delete(self, fault_id):
        """Remove one fault rule"""
        if fault_id > 2 ** 62 or not store.delete_faults(current_org().id, fault_id):
            abort(404, message=NO_FAULT)
        return {"deleted": 1}


@blp.route("/requests")
class Requests(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.arguments(JournalQuerySchema, location="query")
    @blp.response(200, JournalSchema)
    def get(self, args):
        """The requests this organisation's credentials sent, newest first

        Each with method, path, query, headers (credentials and signatures masked), the body as
        received (64 KiB at most, `body_truncated` when cut; base64 when not UTF-8), the status
        answered, the time (the organisation's clock) and `injected` for a fault's answer.
        Filters: `method`, `path` (a glob), `dialect`, `since`. The newest 10,000 are kept."""
        return {"items": store.journal(current_org().id, method=args.get("method"),
                                       path=args.get("path"), dialect=args.get("dialect"),
                                       since=args.get("since"), limit=args["limit"])}

    @blp.auth(ADMIN_KEY)
    @blp.response(200, DeletedSchema)
    def delete(self):
        """Clear the journal"""
        return {"deleted": store.clear_journal(current_org().id)}


@blp.route("/state")
class State(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.response(200, StateSchema)
    def get(self):
        """The organisation's records across dialects, as one document"""
        return store.state(current_org().id)

