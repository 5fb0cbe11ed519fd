"""Routes of /ledger/v1. Authenticated with an admin API key: ``X-API-Key`` + ``X-Org-Id``."""
from __future__ import annotations

from flask import Response, current_app, request, stream_with_context
from flask.views import MethodView
from werkzeug.routing import PathConverter

from consent.core import checkpoints, ledger, outbox, verify
from consent.core.storage import utcnow
from consent.core.usage import check as processing_check, set_terms
from consent.web import idempotent_response
from consent.web.auth import ADMIN_KEY, current_actor, current_org
from consent.web.blueprint import DialectBlueprint
from schemas.common import INT64_MAX, encode_cursor
from schemas.ledger import (
    AuditPageSchema,
    AuditQuerySchema,
    CheckpointSchema,
    ConsentCreateSchema,
    ConsentDetailSchema,
    ConsentPageSchema,
    ConsentQuerySchema,
    ConsentSchema,
    ExportQuerySchema,
    ProcessingAnswerSchema,
    ProcessingCheckSchema,
    SubjectStateSchema,
    VerifySchema,
    WebhookDeliveryDetailSchema,
    WebhookDeliverySchema,
    WebhookPageSchema,
    WebhookQuerySchema,
    WithdrawSchema,
)

from . import export as exports
from .errors import ERRORS

blp = DialectBlueprint("ledger", __name__, url_prefix="/ledger/v1", errors=ERRORS,
                       description="The ledger's own API. Every call needs an admin API key "
                                   "(X-API-Key) and its organisation (X-Org-Id).")


class SubjectConverter(PathConverter):
    """A subject identifier in the path: any characters, slashes, a leading slash and line
    breaks included (Werkzeug's ``path`` stops at a line break and needs a first character other
    than ``/``, so such a recorded subject had no reachable state)."""

    regex = "(?s:.+?)"
    part_isolating = False


blp.record_once(lambda state: state.app.url_map.converters.setdefault(
    "subject", SubjectConverter))

# Ids in the path are 64-bit (the database's integers): a larger one matches no route (404).
ID = f"int(max={INT64_MAX})"

# Built once: marshmallow deep-copies its fields on every instantiation.
CONSENT_IN = ConsentCreateSchema()
CONSENT_OUT = ConsentSchema()


@blp.route("/consents")
class Consents(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.arguments(CONSENT_IN)
    @blp.response(201, CONSENT_OUT, headers={"Idempotent-Replayed": {
        "description": "true when this is the stored answer to an earlier request with the same "
                       "Idempotency-Key", "schema": {"type": "string"}}})
    @blp.errors(**{"409": "Idempotency-Key reused with a different request"})
    @blp.doc(parameters=[{"in": "header", "name": "Idempotency-Key", "required": False,
                          "schema": {"type": "string", "maxLength": 255},
                          "description": "Makes retries safe"}])
    def post(self, data):
        """Record a consent decision

        Send an ``Idempotency-Key`` header to make retries safe: a repeat with the same key and
        body returns the first result and writes nothing."""
        key = request.headers.get("Idempotency-Key")
        request_data = CONSENT_IN.dump(data) if key else {}
        terms = {name: data.pop(name) for name in ("operations", "single_use") if name in data}
        decision = ledger.Decision(source="ledger", **data)

        def produce():
            org, actor = current_org(), current_actor()
            consent = ledger.in_transaction_record(org.id, [decision], actor=actor)[0].consent
            if terms:
                set_terms(org.id, consent.id, actor=actor, **terms)
            return consent

        return idempotent_response(current_org(), "ledger.consents", key, request_data, 201,
                                   CONSENT_OUT, produce)

    @blp.auth(ADMIN_KEY)
    @blp.arguments(ConsentQuerySchema(), location="query")
    @blp.response(200, ConsentPageSchema)
    def get(self, args):
        """List consents, newest first

        Filters combine with AND. Pass ``next_cursor`` back as ``cursor`` for the next page."""
        flt = ledger.ConsentFilter(subject=args.get("subject"), purpose=args.get("purpose"),
                                   status=args.get("status"), source=args.get("source"),
                                   date_from=args.get("date_from"), date_to=args.get("date_to"))
        rows, next_seq = ledger.list_consents(current_org().id, flt, limit=args["limit"],
                                              before_seq=args.get("cursor"))
        return {"items": rows, "next_cursor": encode_cursor(next_seq)}


@blp.route("/consents/<string:consent_id>")
class ConsentById(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.response(200, ConsentDetailSchema)
    @blp.errors(**{"404": "No such consent in this organisation"})
    def get(self, consent_id):
        """One consent with its events"""
        consent = ledger.get_consent(current_org().id, consent_id)
        return {**consent._asdict(), "events": ledger.consent_events(consent)}


@blp.route("/consents/<string:consent_id>/withdraw")
class Withdraw(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.arguments(WithdrawSchema(), required=False)
    @blp.response(201, ConsentSchema)
    @blp.errors(**{"404": "No such consent in this organisation",
                   "409": "Not a binding grant (denied, withdrawn or superseded)"})
    def post(self, data, consent_id):
        """Withdraw a consent

        Records a new ``withdrawn`` decision that supersedes the grant; the grant itself is
        never changed."""
        return ledger.withdraw(current_org().id, consent_id, actor=current_actor(),
                               evidence=(data or {}).get("evidence"))


@blp.route("/checks")
class ProcessingCheck(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.arguments(ProcessingCheckSchema())
    @blp.response(200, ProcessingAnswerSchema)
    @blp.errors(**{"404": "No such consent in this organisation"})
    def post(self, data):
        """May I process? For a consent of any dialect (or a subject's binding decision on a
        purpose) and an operation: allowed or not, and why not

        ``consent_id`` is the ledger's id or the id the app holds from a dialect (Attestr's
        ``_id``; a Veriff upload's ``id`` and a truConsent log's ``id`` are the ledger's own).

        Reasons: ``no_consent``, ``denied``, ``withdrawn``, ``superseded``, ``not_yet_valid``,
        ``expired``, ``operation_not_granted``, ``already_used``. With ``use: true`` an allowed
        answer also records the use (a ``used`` event and an audit event); a single-use consent
        is consumed atomically: of concurrent uses exactly one is allowed."""
        return processing_check(current_org().id, data["operation"],
                                consent_id=data.get("consent_id"), subject=data.get("subject"),
                                purpose=data.get("purpose"), use=data["use"],
                                actor=current_actor())


@blp.route("/subjects/<subject:subject>/state", merge_slashes=False)
class SubjectState(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.response(200, SubjectStateSchema)
    @blp.errors(**{"422": "The subject is blank or longer than 255 characters"})
    def get(self, subject):
        """Current state of a subject: the binding decision per purpose, with its validity"""
        now = utcnow()
        return {"subject": subject, "as_of": now,
                "purposes": ledger.subject_state(current_org().id, subject, now)}


@blp.route("/audit")
class Audit(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.arguments(AuditQuerySchema(), location="query")
    @blp.response(200, AuditPageSchema)
    def get(self, args):
        """Audit events: one by ``event_id``, or a range by sequence number or time"""
        return {"items": ledger.audit_events(current_org().id, **args)}


@blp.route("/audit/verify")
class AuditVerify(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.response(200, VerifySchema)
    def get(self):
        """Verify the audit chain, every consent and every covered row, a slice at a time

        Each call works on the organisation's current verification pass for at most
        ``CONSENT_VERIFY_BUDGET`` seconds. ``complete`` is false while the pass goes on (call
        again); once true, ``ok`` is the verdict on every event, consent and row whose content
        decides an answer (terms, uses, consent events, each dialect's records), and the next
        call starts a new pass. As soon as something fails, ``ok`` is false and the first
        failure is named: ``first_bad_event`` / ``first_bad_seq`` (the event), and
        ``first_bad_consent`` or ``first_bad_table`` / ``first_bad_row`` (the consent or row),
        with the ``reason``. ``flask --app app audit verify`` prints the same fields."""
        return verify.step(current_org().id, current_app.config["CONSENT_VERIFY_BUDGET"])


@blp.route("/audit/checkpoint")
class AuditCheckpoint(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.response(200, CheckpointSchema)
    def get(self):
        """A signed checkpoint of the organisation's audit chain at its current head

        ``{org, seq, head_hash, at, key_id, signature}``: the Ed25519 signature (base64) covers
        the UTF-8 text ``consent-ledger checkpoint v1\\n<org>\\n<seq>\\n<head_hash>\\n<at>\\n``
        and ``key_id`` names the installation's key (``flask --app app audit key show`` prints
        it). Keep it somewhere the database's writers cannot reach: ``flask --app app audit
        verify --checkpoint FILE`` and ``python -m auditchain`` fail, naming it, if the chain is
        ever rewritten before its ``seq``. Asked again while the head has not moved, the same
        checkpoint answers."""
        return checkpoints.issue(current_org().id, origin="request").as_dict()


@blp.route("/audit/verifications")
class AuditVerifications(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.response(202, VerifySchema)
    def post(self):
        """Start a whole verification pass in the background; poll it by id"""
        row = verify.start_full(current_org().id)
        return verify.get(current_org().id, row.id)


@blp.route(f"/audit/verifications/<{ID}:verification_id>")
class AuditVerification(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.response(200, VerifySchema)
    @blp.errors(**{"404": "No such verification in this organisation"})
    def get(self, verification_id):
        """A verification pass: its progress, and once complete, its verdict"""
        return verify.get(current_org().id, verification_id)


@blp.route("/export")
class Export(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.arguments(ExportQuerySchema(), location="query")
    @blp.response(200, description=(
        "JSON Lines (``format=jsonl``, one consent object per line, as the consent list returns "
        "it) or CSV (``format=csv``), oldest first, streamed"))
    @blp.doc(responses={200: {"content": {
        "application/x-ndjson": {"schema": {"type": "string", "description": "One JSON "
                                            "object per line (the Consent schema)"}},
        "text/csv": {"schema": {"type": "string", "description": "A header line, then one "
                                                                 "consent per line"}}}}})
    def get(self, args):
        """Export every consent, streamed"""
        fmt = args["format"]
        org = current_org()
        return Response(stream_with_context(exports.lines(org, fmt)),
                        mimetype=exports.MIMETYPES[fmt], headers={
                            "Content-Disposition":
                                f'attachment; filename="consents-{org.slug}.{fmt}"'})


# -- webhooks (the durable outbox of every dialect) ---------------------------------------------

@blp.route("/webhooks")
class Webhooks(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.arguments(WebhookQuerySchema(), location="query")
    @blp.response(200, WebhookPageSchema)
    def get(self, args):
        """Webhook deliveries, newest first (every dialect's)

        Filter by ``status`` (pending, delivered, failed), ``topic`` or ``reference``; page
        with ``before_id``."""
        return {"items": outbox.deliveries(current_org().id, **args)}


@blp.route(f"/webhooks/<{ID}:delivery_id>")
class WebhookById(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.response(200, WebhookDeliveryDetailSchema)
    @blp.errors(**{"404": "No such delivery in this organisation"})
    def get(self, delivery_id):
        """One delivery: the exact request sent, and every attempt"""
        delivery = outbox.get(current_org().id, delivery_id)
        return {**delivery._asdict(), "attempt_log": outbox.attempts(delivery)}


@blp.route(f"/webhooks/<{ID}:delivery_id>/replay")
class WebhookReplay(MethodView):
    @blp.auth(ADMIN_KEY)
    @blp.response(202, WebhookDeliverySchema)
    @blp.errors(**{"404": "No such delivery in this organisation"})
    def post(self, delivery_id):
        """Send a delivery again (the same request), with a fresh set of attempts"""
        return outbox.replay(current_org().id, delivery_id, actor=current_actor())
