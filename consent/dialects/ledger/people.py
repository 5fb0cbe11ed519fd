"""Routes of /ledger/v1 for people's rights (``consent.core.rights``): erasure, the access report
(JSON, or a page to give the person), rights requests and their lifecycle, the retention
policy. Admin API key, as the rest of /ledger/v1."""
from __future__ import annotations

from flask.views import MethodView

from consent.core import retention, rights
from consent.core.errors import NotFound
from consent.web.auth import ADMIN_KEY, current_actor, current_org
from consent.web.pages import page
from schemas.ledger import (
    ErasureRequestSchema,
    ErasureSchema,
    RefusalSchema,
    ReportQuerySchema,
    RetentionSchema,
    RightsRequestCreateSchema,
    RightsRequestPageSchema,
    RightsRequestQuerySchema,
    RightsRequestSchema,
    SubjectReportSchema,
)

from .routes import blp

UNKNOWN = "The subject is blank or longer than 255 characters"


@blp.route("/subjects/<subject:subject>/erasure", merge_slashes=False)
class SubjectErasure(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.arguments(ErasureRequestSchema(), required=False)
    @blp.response(200, ErasureSchema)
    @blp.errors(**{"422": UNKNOWN})
    def post(self, data, subject):
        """Erase a subject's personal data

        Everything that identifies or describes the person, in every provider's tables, media,
        webhook bodies, mails and stored responses, is destroyed in one transaction with a
        ``subject.erased`` audit event; the pseudonymous decision history (purposes, statuses,
        times, versions, hashes) stays, and ``audit verify`` still passes. A rights request
        (kind erasure, completed) records it. Idempotent: an identifier that names no one
        (never known, or erased already) answers ``erased: false``."""
        r, result = rights.erase_now(current_org().id, subject, actor=current_actor(),
                                     reason=(data or {}).get("reason"))
        if result is None:
            return {"erased": False, "subject_ref": None, "consents": 0, "tables": {},
                    "audit_seq": None, "audit_event_id": None, "request_id": r.id}
        return {"erased": True, **result, "request_id": r.id}


@blp.route("/subjects/<subject:subject>/report", merge_slashes=False)
class SubjectReport(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.arguments(ReportQuerySchema(), location="query")
    @blp.response(200, SubjectReportSchema, content_type="application/json")
    @blp.alt_response(200, description="format=html: the report as a page to give the person",
                      content_type="text/html", success=True)
    @blp.errors(**{"404": "No subject has this identifier (never known, or erased)",
                   "422": UNKNOWN})
    def get(self, args, subject):
        """Everything held about a subject (access: GDPR art. 15, DPDP s.11)

        Every decision across the ledger and each provider's API with its proof (record hash,
        the audit event that recorded it and its hash, the first signed checkpoint covering
        it), identity links, uses, rights requests, and each provider's own records."""
        found = rights.report(current_org().id, subject)
        if found is None:
            raise NotFound("no subject has this identifier")
        if args["format"] == "html":
            return page("ledger/report.html", report=found, org=current_org())
        return found


def _page(items: list, limit: int) -> dict:
    nxt = items[-1].id if len(items) == limit else None
    return {"items": [rights.request_view(r) for r in items], "next_cursor": nxt}


@blp.route("/rights-requests")
class RightsRequests(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.arguments(RightsRequestQuerySchema(), location="query")
    @blp.response(200, RightsRequestPageSchema)
    def get(self, args):
        """Rights requests, by id; filter by status, kind, source, or overdue (open past due)"""
        limit = args.get("limit", 50)
        items = rights.list_requests(current_org().id, status=args.get("status"),
                                     kind=args.get("kind"), source=args.get("source"),
                                     overdue=args["overdue"], after=args.get("cursor"),
                                     limit=limit)
        return _page(items, limit)

    @blp.auth(ADMIN_KEY)
    @blp.arguments(RightsRequestCreateSchema())
    @blp.response(201, RightsRequestSchema)
    def post(self, data):
        """Record a rights request received (due in 30 days)"""
        r = rights.create_request(current_org().id, data["kind"], data["subject"],
                                  actor=current_actor(), source="ledger",
                                  reason=data.get("reason"), metadata=data.get("metadata"))
        return rights.request_view(r)


@blp.route("/rights-requests/<string:request_id>")
class RightsRequestOne(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.response(200, RightsRequestSchema)
    @blp.errors(**{"404": "No such rights request in this organisation"})
    def get(self, request_id):
        """One rights request"""
        return rights.request_view(rights.get_request(current_org().id, request_id))


STEP_ERRORS = {"404": "No such rights request in this organisation",
               "409": "The request is not in a state this step can follow"}


@blp.route("/rights-requests/<string:request_id>/start")
class RightsRequestStart(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.response(200, RightsRequestSchema)
    @blp.errors(**STEP_ERRORS)
    def post(self, request_id):
        """Start working on a request (received → in_progress)"""
        return rights.request_view(rights.start_request(current_org().id, request_id,
                                                        actor=current_actor()))


@blp.route("/rights-requests/<string:request_id>/complete")
class RightsRequestComplete(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.response(200, RightsRequestSchema)
    @blp.errors(**STEP_ERRORS)
    def post(self, request_id):
        """Complete a request: an erasure request erases its subject now, in the same
        transaction; an access request's report is ``GET /subjects/{subject}/report``"""
        return rights.request_view(rights.complete_request(current_org().id, request_id,
                                                           actor=current_actor()))


@blp.route("/rights-requests/<string:request_id>/refuse")
class RightsRequestRefuse(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.arguments(RefusalSchema())
    @blp.response(200, RightsRequestSchema)
    @blp.errors(**STEP_ERRORS)
    def post(self, data, request_id):
        """Refuse a request, with the reason the requester is given"""
        return rights.request_view(rights.refuse_request(
            current_org().id, request_id, actor=current_actor(), reason=data["reason"]))


@blp.route("/retention")
class Retention(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.response(200, RetentionSchema)
    def get(self):
        """The organisation's retention policy (off by default: both null)"""
        return retention.policy(current_org().id)

    @blp.auth(ADMIN_KEY)
    @blp.arguments(RetentionSchema())
    @blp.response(200, RetentionSchema)
    def put(self, data):
        """Set the retention policy (null: keep; the background loop applies it)"""
        return retention.set_policy(current_org().id, actor=current_actor(), **data)
