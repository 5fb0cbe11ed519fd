"""Routes of /ledger/v1. Authenticated with an admin API key: ``X-API-Key`` + ``X-Org-Id``."""
from __future__ import annotations

import csv
import functools
import io
import json

from flask import Response, request, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from consent.core import ledger
from consent.core.storage import utcnow
from consent.dialects.credentials import AuthFailure, api_key_principal
from consent.dialects.credentials import current_actor as _actor
from consent.dialects.credentials import current_org as _org
from schemas.common import encode_cursor
from schemas.ledger import (
    AuditPageSchema,
    AuditQuerySchema,
    ConsentCreateSchema,
    ConsentDetailSchema,
    ConsentPageSchema,
    ConsentQuerySchema,
    ConsentSchema,
    ExportQuerySchema,
    SubjectStateSchema,
    VerifySchema,
    WithdrawSchema,
    consent_wire,
)

blp = Blueprint("ledger", __name__, url_prefix="/ledger/v1",
                description="The ledger's own API. Every call needs an admin API key "
                            "(X-API-Key) and its organisation (X-Org-Id).")

# Built once: marshmallow deep-copies its fields on every instantiation.
CONSENT_IN = ConsentCreateSchema()

AUTH_ERRORS = {
    "missing_org": (400, "X-Org-Id header is required"),
    "unknown_org": (401, "Invalid API key for this organisation"),
    "missing_key": (401, "X-API-Key header is required"),
    "invalid_key": (401, "Invalid API key for this organisation"),
    "missing_scope": (403, "This API key does not have the 'admin' scope"),
}


def admin_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        try:
            api_key_principal(request.headers.get("X-Org-Id"), request.headers.get("X-API-Key"),
                              {"admin"})
        except AuthFailure as failure:
            status, message = AUTH_ERRORS[failure.reason]
            abort(status, message=message)
        return view(*args, **kwargs)
    return wrapper


@blp.route("/consents")
class Consents(MethodView):
    decorators = [admin_required]

    @blp.arguments(ConsentCreateSchema())
    @blp.response(201, ConsentSchema)
    @blp.alt_response(409, description="Idempotency-Key reused with a different request")
    def post(self, data):
        """Record a consent decision

        Send an ``Idempotency-Key`` header to make retries safe: a repeat with the same key and
        body returns the first result and writes nothing."""
        def produce():
            consent = ledger.in_transaction_record(_org(), [ledger.Decision(
                subject=data["subject"], purpose=data["purpose"], status=data["status"],
                source="ledger", purpose_name=data.get("purpose_name"),
                purpose_version=data.get("purpose_version"),
                notice_version=data.get("notice_version"), valid_from=data.get("valid_from"),
                valid_until=data.get("valid_until"), evidence=data.get("evidence"),
            )], actor=_actor())[0]
            return 201, consent_wire(consent)

        key = request.headers.get("Idempotency-Key")
        status, body, replayed = ledger.idempotent(
            _org(), "ledger.consents", key, CONSENT_IN.dump(data) if key else {}, produce)
        return Response(json.dumps(body), status=status, mimetype="application/json",
                        headers={"Idempotent-Replayed": "true"} if replayed else None)

    @blp.arguments(ConsentQuerySchema(), location="query")
    @blp.response(200, ConsentPageSchema)
    def get(self, args):
        """List consents, newest first

        Filters combine with AND. Pass ``next_cursor`` back as ``cursor`` for the next page."""
        flt = ledger.ConsentFilter(subject=args.get("subject"), purpose=args.get("purpose"),
                                   status=args.get("status"), source=args.get("source"),
                                   date_from=args.get("date_from"), date_to=args.get("date_to"))
        rows, next_seq = ledger.list_consents(_org(), flt, limit=args["limit"],
                                              before_seq=args.get("cursor"))
        return {"items": rows, "next_cursor": encode_cursor(next_seq)}


@blp.route("/consents/<string:consent_id>")
class ConsentById(MethodView):
    decorators = [admin_required]

    @blp.response(200, ConsentDetailSchema)
    @blp.alt_response(404, description="No such consent in this organisation")
    def get(self, consent_id):
        """One consent with its events"""
        consent = ledger.get_consent(_org(), consent_id)
        consent.events = ledger.consent_events(consent)
        return consent


@blp.route("/consents/<string:consent_id>/withdraw")
class Withdraw(MethodView):
    decorators = [admin_required]

    @blp.arguments(WithdrawSchema(), required=False)
    @blp.response(201, ConsentSchema)
    @blp.alt_response(404, description="No such consent in this organisation")
    @blp.alt_response(409, description="Not a binding grant (denied, withdrawn or superseded)")
    def post(self, data, consent_id):
        """Withdraw a consent

        Records a new ``withdrawn`` decision that supersedes the grant; the grant itself is
        never changed."""
        return ledger.withdraw(_org(), consent_id, actor=_actor(),
                               evidence=(data or {}).get("evidence"))


@blp.route("/subjects/<path:subject>/state")
class SubjectState(MethodView):
    decorators = [admin_required]

    @blp.response(200, SubjectStateSchema)
    def get(self, subject):
        """Current state of a subject: the binding decision per purpose, with its validity"""
        now = utcnow()
        return {"subject": subject, "as_of": now,
                "purposes": ledger.subject_state(_org(), subject, now)}


@blp.route("/audit")
class Audit(MethodView):
    decorators = [admin_required]

    @blp.arguments(AuditQuerySchema(), location="query")
    @blp.response(200, AuditPageSchema)
    def get(self, args):
        """Audit events: one by ``event_id``, or a range by sequence number or time"""
        return {"items": ledger.audit_events(_org(), **args)}


@blp.route("/audit/verify")
class AuditVerify(MethodView):
    decorators = [admin_required]

    @blp.response(200, VerifySchema)
    def get(self):
        """Verify the audit chain and every consent against it

        ``ok`` is false and ``first_bad_event`` names the first event that fails."""
        return ledger.verify(_org())


# CSV column order; each line (CSV row or JSON object) is the consent as the API returns it.
EXPORT_FIELDS = ("id", "subject", "recorded_subject", "purpose", "purpose_version",
                 "notice_version", "status", "source", "supersedes", "valid_from", "valid_until",
                 "created_at", "record_hash", "evidence")


def export_lines(org, fmt: str):
    """Yield the export as text chunks, oldest consent first, in constant memory."""
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS)
        writer.writeheader()
        for c in ledger.export_rows(org):
            row = consent_wire(c)
            row["evidence"] = json.dumps(row["evidence"]) if row["evidence"] is not None else ""
            writer.writerow(row)
            if buffer.tell() > 16384:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()
    else:
        for c in ledger.export_rows(org):
            yield json.dumps(consent_wire(c), ensure_ascii=False) + "\n"


@blp.route("/export")
class Export(MethodView):
    decorators = [admin_required]

    @blp.arguments(ExportQuerySchema(), location="query")
    @blp.response(200, description="JSON Lines or CSV, one consent per line, streamed")
    def get(self, args):
        """Export every consent, streamed"""
        fmt = args["format"]
        mimetype = "text/csv" if fmt == "csv" else "application/x-ndjson"
        org = _org()
        return Response(stream_with_context(export_lines(org, fmt)), mimetype=mimetype,
                        headers={"Content-Disposition":
                                 f'attachment; filename="consents-{org.slug}.{fmt}"'})
