"""Schemas of the ledger's own API (/ledger/v1): requests, and responses dumped from the ledger's
rows (``ConsentRecord``, ``PurposeState``, audit events)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .common import BaseSchema, Cursor, Int64, Limit, StrictBoolean, UTCDateTime

DECISIONS = ("granted", "denied")
# Why "may I process?" says no (consent.core.usage.REASONS).
CHECK_REASONS = ("no_consent", "denied", "withdrawn", "superseded", "not_yet_valid", "expired",
                 "operation_not_granted", "already_used")

STATUSES = ("granted", "denied", "withdrawn")
EFFECTIVE = ("granted", "denied", "withdrawn", "expired", "pending")


# -- requests ---------------------------------------------------------------------------------------

class ConsentCreateSchema(BaseSchema):
    subject = fields.String(required=True, validate=validate.Length(1, 255),
                            metadata={"description": "The data principal's identifier"})
    purpose = fields.String(required=True, validate=validate.Length(1, 100),
                            metadata={"description": "Purpose code; created on first use"})
    purpose_name = fields.String(validate=validate.Length(1, 200))
    status = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    purpose_version = fields.String(validate=validate.Length(1, 32))
    notice_version = fields.String(validate=validate.Length(1, 64))
    valid_from = UTCDateTime()
    valid_until = UTCDateTime()
    evidence = fields.Dict(keys=fields.String(),
                           metadata={"description": "How the decision was collected"})
    operations = fields.List(fields.String(validate=validate.Length(1, 64)),
                             validate=validate.Length(min=1), metadata={
                                 "description": "The operations a grant allows (default: any); "
                                                "see POST /checks"})
    single_use = StrictBoolean(metadata={"description": "The first use consumes the grant"})

    @validates_schema
    def _window(self, data, **kwargs):
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end and end <= start:
            raise ValidationError("must be after valid_from", "valid_until")


class ProcessingCheckSchema(BaseSchema):
    consent_id = fields.String(validate=validate.Length(1, 36), metadata={
        "description": "The consent to check: the ledger's consent id, or the id a dialect "
                       "handed out for it: Attestr's `_id` (`CX...`), the `id` of a Veriff "
                       "consent upload and truConsent's consent log id (both the ledger's own "
                       "id). The answer's `consent_id` is the ledger's."})
    subject = fields.String(validate=validate.Length(1, 255),
                            metadata={"description": "Or: a subject, with ``purpose``; their "
                                                     "binding (newest) decision answers"})
    purpose = fields.String(validate=validate.Length(1, 100))
    operation = fields.String(required=True, validate=validate.Length(1, 64), metadata={
        "description": "What is about to be done with the data (e.g. VERIFY)"})
    use = StrictBoolean(load_default=False, metadata={
        "description": "Record the use when allowed (consumes a single-use consent)"})

    @validates_schema
    def _one_target(self, data, **kwargs):
        by_subject = "subject" in data or "purpose" in data
        if "consent_id" in data and by_subject:
            raise ValidationError("give consent_id, or subject and purpose, not both")
        if "consent_id" not in data and not ("subject" in data and "purpose" in data):
            raise ValidationError("give consent_id, or subject and purpose")


class WithdrawSchema(BaseSchema):
    evidence = fields.Dict(keys=fields.String())


class ConsentQuerySchema(BaseSchema):
    subject = fields.String(validate=validate.Length(1, 255))
    purpose = fields.String(validate=validate.Length(1, 100))
    status = fields.String(validate=validate.OneOf(STATUSES))
    source = fields.String(validate=validate.Length(1, 32))
    date_from = UTCDateTime(data_key="from")
    date_to = UTCDateTime(data_key="to")
    limit = Limit(50, 500)
    cursor = Cursor()


class AuditQuerySchema(BaseSchema):
    event_id = fields.String(validate=validate.Length(1, 36))
    from_seq = Int64(validate=validate.Range(min=1))
    to_seq = Int64(validate=validate.Range(min=1))
    since = UTCDateTime()
    until = UTCDateTime()
    limit = Limit(100, 1000)


class ExportQuerySchema(BaseSchema):
    format = fields.String(load_default="jsonl", validate=validate.OneOf(("jsonl", "csv")))


# -- responses ----------------------------------------------------------------------------------------

class ConsentSchema(Schema):
    """One consent record. ``subject`` is its current holder (it moves when an identity mapping
    moves it); ``recorded_subject`` is who it was recorded under."""

    id = fields.String(required=True)
    subject = fields.String(required=True)
    recorded_subject = fields.String(required=True)
    purpose = fields.String(required=True)
    purpose_version = fields.String(required=True, allow_none=True)
    notice_version = fields.String(required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    source = fields.String(required=True)
    supersedes = fields.String(required=True, allow_none=True)
    valid_from = UTCDateTime(required=True)
    valid_until = UTCDateTime(required=True, allow_none=True)
    evidence = fields.Dict(required=True, allow_none=True)
    created_at = UTCDateTime(required=True)
    record_hash = fields.String(required=True)


class ConsentEventSchema(Schema):
    """One event of a consent's trail (its recording first), with the audit event behind it."""

    type = fields.String(required=True, metadata={
        "description": "recorded, withdrawn, mapped, used, expired"})
    at = UTCDateTime(required=True)
    audit_event_id = fields.String(required=True, attribute="event_id")
    data = fields.Dict(required=True, allow_none=True)


class ConsentDetailSchema(ConsentSchema):
    events = fields.List(fields.Nested(ConsentEventSchema), required=True)


class ConsentPageSchema(Schema):
    items = fields.List(fields.Nested(ConsentSchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True,
                                metadata={"description": "Pass as ``cursor`` for the next page"})


class ConsentUseSchema(Schema):
    id = fields.Integer(required=True)
    operation = fields.String(required=True)
    used_at = UTCDateTime(required=True)
    actor = fields.String(required=True)


class ProcessingAnswerSchema(Schema):
    """The answer of "may I process?"; a refusal is an answer too (200), with its reason."""

    allowed = fields.Boolean(required=True)
    reason = fields.String(required=True, allow_none=True,
                           validate=validate.OneOf(CHECK_REASONS), metadata={
                               "description": "Why not (null when allowed)"})
    operation = fields.String(required=True)
    checked_at = UTCDateTime(required=True)
    consent_id = fields.String(required=True, allow_none=True)
    subject = fields.String(required=True, allow_none=True)
    purpose = fields.String(required=True, allow_none=True)
    operations = fields.List(fields.String(), required=True, allow_none=True,
                             attribute="terms.operations",
                             metadata={"description": "Operations granted (null: any)"})
    single_use = fields.Boolean(required=True, attribute="terms.single_use")
    use = fields.Nested(ConsentUseSchema, required=True, allow_none=True, metadata={
        "description": "The use this check recorded (``use: true`` and allowed)"})


class PurposeStateSchema(Schema):
    purpose = fields.String(required=True)
    purpose_name = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(EFFECTIVE))
    active = fields.Boolean(required=True,
                            metadata={"description": "May the data be processed now"})
    consent_id = fields.String(required=True, attribute="consent.id")
    decided_at = UTCDateTime(required=True, attribute="consent.created_at")
    valid_from = UTCDateTime(required=True, attribute="consent.valid_from")
    valid_until = UTCDateTime(required=True, allow_none=True, attribute="consent.valid_until")
    purpose_version = fields.String(required=True, allow_none=True,
                                    attribute="consent.purpose_version")
    notice_version = fields.String(required=True, allow_none=True,
                                   attribute="consent.notice_version")
    source = fields.String(required=True, attribute="consent.source")


class SubjectStateSchema(Schema):
    subject = fields.String(required=True)
    as_of = UTCDateTime(required=True)
    purposes = fields.List(fields.Nested(PurposeStateSchema), required=True)


class AuditEventSchema(Schema):
    event_id = fields.String(required=True)
    seq = fields.Integer(required=True)
    at = UTCDateTime(required=True)
    actor = fields.String(required=True)
    action = fields.String(required=True)
    entity_type = fields.String(required=True)
    entity_id = fields.String(required=True)
    payload = fields.Dict(required=True)
    prev_hash = fields.String(required=True)
    hash = fields.String(required=True)


class AuditPageSchema(Schema):
    items = fields.List(fields.Nested(AuditEventSchema), required=True)


class VerdictSchema(Schema):
    """What a verification found: the same fields from ``GET /audit/verify``, the
    verifications API and ``flask --app app audit verify``."""

    ok = fields.Boolean(required=True, metadata={
        "description": "False as soon as something fails; once ``complete``, true means "
                       "everything was checked and matched"})
    checked = fields.Integer(required=True, metadata={"description": "Audit events verified"})
    consents_checked = fields.Integer(required=True, metadata={
        "description": "Consents verified against the hashes their events recorded"})
    rows_checked = fields.Integer(required=True, metadata={
        "description": "Rows of covered tables (terms, uses, consent events, each dialect's "
                       "records) verified against the hashes their events recorded"})
    first_bad_event = fields.String(required=True, allow_none=True, metadata={
        "description": "The audit event whose content, or whose record of a consent or row, "
                       "fails"})
    first_bad_seq = fields.Integer(required=True, allow_none=True, metadata={
        "description": "That event's sequence number, when known"})
    first_bad_consent = fields.String(required=True, allow_none=True, metadata={
        "description": "The consent that fails, if a consent does"})
    first_bad_table = fields.String(required=True, allow_none=True, metadata={
        "description": "The covered table of the row that fails, if a row does"})
    first_bad_row = fields.String(required=True, allow_none=True, metadata={
        "description": "That row's key (its primary key, as text)"})
    reason = fields.String(required=True, allow_none=True, metadata={
        "description": "What failed"})
    head_hash = fields.String(required=True, allow_none=True, metadata={
        "description": "Hash of the last event, once a pass verified everything: keep it "
                       "elsewhere to notice the newest events being removed"})


class VerifySchema(VerdictSchema):
    """A verification pass: its verdict so far (``ok``), and once ``complete``, on everything."""

    id = fields.Integer(required=True, metadata={"description": "The verification pass"})
    kind = fields.String(required=True, validate=validate.OneOf(("pass", "background")))
    status = fields.String(required=True, validate=validate.OneOf(("running", "done", "broken")))
    complete = fields.Boolean(required=True, metadata={
        "description": "False while the pass is still going: call again (or poll) to go on"})
    phase = fields.String(required=True, metadata={
        "description": "events, rows, consents, missing, done"})
    verified_through_seq = fields.Integer(required=True,
                                          metadata={"description": "Last audit event verified"})
    created_at = UTCDateTime()
    updated_at = UTCDateTime()


class CheckpointSchema(Schema):
    """A signed checkpoint of the organisation's audit chain (see ``auditchain.checkpoint``)."""

    org = fields.String(required=True, metadata={"description": "The organisation's id"})
    seq = fields.Integer(required=True, metadata={
        "description": "Events in the chain when signed (0: none)"})
    head_hash = fields.String(required=True, metadata={
        "description": "The hash of event ``seq`` (64 zeros when there is none)"})
    at = fields.String(required=True, metadata={
        "description": "When it was signed: UTC, YYYY-MM-DDTHH:MM:SS.ffffffZ, signed as written"})
    key_id = fields.String(required=True, metadata={
        "description": "The signing key: first 16 hex digits of SHA-256 of its raw public key"})
    signature = fields.String(required=True, metadata={
        "description": "Base64 Ed25519 signature over \"consent-ledger checkpoint v1\\n<org>\\n"
                       "<seq>\\n<head_hash>\\n<at>\\n\""})


# -- webhooks (the durable outbox) ---------------------------------------------------------------

DELIVERY_STATUSES = ("pending", "delivered", "failed")


class WebhookQuerySchema(BaseSchema):
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))
    topic = fields.String(validate=validate.Length(1, 64))
    reference = fields.String(validate=validate.Length(1, 64))
    limit = Limit(50, 500)
    before_id = Int64(validate=validate.Range(min=1),
                      metadata={"description": "Only deliveries older than this id"})


class WebhookAttemptSchema(Schema):
    at = UTCDateTime(required=True)
    duration_ms = fields.Integer(required=True)
    status_code = fields.Integer(required=True, allow_none=True)
    error = fields.String(required=True, allow_none=True)
    response_excerpt = fields.String(required=True, allow_none=True)


class WebhookDeliverySchema(Schema):
    id = fields.Integer(required=True)
    topic = fields.String(required=True)
    reference = fields.String(required=True, allow_none=True)
    url = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(DELIVERY_STATUSES))
    attempts = fields.Integer(required=True)
    next_attempt_at = UTCDateTime(required=True)
    last_status_code = fields.Integer(required=True, allow_none=True)
    last_error = fields.String(required=True, allow_none=True)
    created_at = UTCDateTime(required=True)
    delivered_at = UTCDateTime(required=True, allow_none=True)


class WebhookDeliveryDetailSchema(WebhookDeliverySchema):
    headers = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    body = fields.String(required=True)
    attempt_log = fields.List(fields.Nested(WebhookAttemptSchema), required=True)


class WebhookPageSchema(Schema):
    items = fields.List(fields.Nested(WebhookDeliverySchema), required=True)


# -- people's rights (consent.core.rights) ---------------------------------------------------------

RIGHTS_KINDS = ("access", "erasure")
RIGHTS_STATUSES = ("received", "in_progress", "completed", "refused")


class ErasureSchema(Schema):
    """What an erasure did: ``erased`` false when the identifier names no one (never known, or
    erased already: erasure is idempotent)."""

    erased = fields.Boolean(required=True)
    subject_ref = Int64(required=True, allow_none=True, metadata={
        "description": "The subject's pseudonym: its decisions stay, under this number"})
    consents = fields.Integer(required=True, metadata={
        "description": "Decisions kept, their personal data erased"})
    tables = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True,
                         metadata={"description": "Rows erased, per table"})
    audit_seq = Int64(required=True, allow_none=True)
    audit_event_id = fields.String(required=True, allow_none=True)
    request_id = fields.String(required=True, metadata={
        "description": "The rights request this erasure completed"})


class ErasureRequestSchema(BaseSchema):
    reason = fields.String(validate=validate.Length(max=2000))


class SubjectReportSchema(Schema):
    """Everything held about a subject, across the ledger and every provider's API, each
    decision with its proof (``proof``: its record hash, the audit event that recorded it and
    its hash, and the first signed checkpoint covering it, if any)."""

    subject = fields.String(required=True)
    subject_ref = Int64(required=True)
    identifiers = fields.List(fields.String(), required=True)
    generated_at = fields.String(required=True)
    first_seen = fields.String(required=True)
    consents = fields.List(fields.Dict(), required=True)
    identity_links = fields.List(fields.Dict(), required=True)
    uses = fields.List(fields.Dict(), required=True)
    rights_requests = fields.List(fields.Dict(), required=True)
    providers = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True)


class ReportQuerySchema(BaseSchema):
    format = fields.String(validate=validate.OneOf(("json", "html")), load_default="json",
                           metadata={"description": "html: a page to give the person"})


class RightsRequestCreateSchema(BaseSchema):
    kind = fields.String(required=True, validate=validate.OneOf(RIGHTS_KINDS))
    subject = fields.String(required=True, validate=validate.Length(1, 255))
    reason = fields.String(validate=validate.Length(max=2000))
    metadata = fields.Dict(keys=fields.String())


class RightsRequestQuerySchema(BaseSchema):
    status = fields.String(validate=validate.OneOf(RIGHTS_STATUSES))
    kind = fields.String(validate=validate.OneOf(RIGHTS_KINDS))
    source = fields.String(validate=validate.Length(1, 32))
    overdue = StrictBoolean(load_default=False)
    limit = Limit(50, 200)
    cursor = fields.String(validate=validate.Length(1, 64))


class RefusalSchema(BaseSchema):
    reason = fields.String(required=True, validate=validate.Length(1, 2000))


class RightsRequestSchema(Schema):
    """A data principal's request (access or erasure): received → in_progress → completed |
    refused (``refusal``: why). ``subject``, ``reason`` and ``metadata`` are the requester's
    words, erased once the request is completed or its subject erased."""

    id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(RIGHTS_KINDS))
    status = fields.String(required=True, validate=validate.OneOf(RIGHTS_STATUSES))
    source = fields.String(required=True)
    subject = fields.String(required=True, allow_none=True)
    subject_ref = Int64(required=True, allow_none=True)
    reason = fields.String(required=True, allow_none=True)
    refusal = fields.String(required=True, allow_none=True)
    metadata = fields.Dict(required=True, allow_none=True)
    result = fields.Dict(required=True, allow_none=True)
    due_at = fields.String(required=True)
    created_at = fields.String(required=True)
    updated_at = fields.String(required=True)
    completed_at = fields.String(required=True, allow_none=True)


class RightsRequestPageSchema(Schema):
    items = fields.List(fields.Nested(RightsRequestSchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class RetentionSchema(BaseSchema):
    """An organisation's retention policy (off when both are null): a subject with no binding
    grant is erased ``subject_days`` after their last consent ended or was withdrawn; evidence
    files (Avacy proofs, Veriff media) ``evidence_days`` after they were received."""

    subject_days = fields.Integer(required=True, allow_none=True,
                                  validate=validate.Range(1, 36500))
    evidence_days = fields.Integer(required=True, allow_none=True,
                                   validate=validate.Range(1, 36500))
