"""Schemas of the ledger's own API (/ledger/v1)."""
from __future__ import annotations

from marshmallow import fields, validate, validates_schema, ValidationError

from .common import BaseSchema, Cursor, UTCDateTime, iso

DECISIONS = ("granted", "denied")
STATUSES = ("granted", "denied", "withdrawn")


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

    @validates_schema
    def _window(self, data, **kwargs):
        start, end = data.get("valid_from"), data.get("valid_until")
        if start and end and end <= start:
            raise ValidationError("must be after valid_from", "valid_until")


class WithdrawSchema(BaseSchema):
    evidence = fields.Dict(keys=fields.String())


class ConsentEventSchema(BaseSchema):
    type = fields.String()
    at = UTCDateTime()
    audit_event_id = fields.String()
    data = fields.Dict()


class ConsentSchema(BaseSchema):
    id = fields.String()
    subject = fields.Function(lambda c: c.subject.identifier)
    recorded_subject = fields.Function(lambda c: c.recorded_subject.identifier)
    purpose = fields.Function(lambda c: c.purpose.code)
    purpose_version = fields.String()
    notice_version = fields.String()
    status = fields.String()
    source = fields.String()
    supersedes = fields.String()
    valid_from = UTCDateTime()
    valid_until = UTCDateTime()
    evidence = fields.Dict()
    created_at = UTCDateTime()
    record_hash = fields.String()


def consent_wire(c) -> dict:
    """``ConsentSchema().dump(c)`` without marshmallow's per-field machinery, for the write paths.

    The schema stays the documented contract (OpenAPI); a test keeps the two identical."""
    return {
        "id": c.id, "subject": c.subject.identifier,
        "recorded_subject": c.recorded_subject.identifier, "purpose": c.purpose.code,
        "purpose_version": c.purpose_version, "notice_version": c.notice_version,
        "status": c.status, "source": c.source, "supersedes": c.supersedes,
        "valid_from": iso(c.valid_from), "valid_until": iso(c.valid_until),
        "evidence": c.evidence, "created_at": iso(c.created_at), "record_hash": c.record_hash,
    }


class ConsentDetailSchema(ConsentSchema):
    events = fields.List(fields.Nested(ConsentEventSchema))


class ConsentQuerySchema(BaseSchema):
    subject = fields.String()
    purpose = fields.String()
    status = fields.String(validate=validate.OneOf(STATUSES))
    source = fields.String()
    date_from = UTCDateTime(data_key="from")
    date_to = UTCDateTime(data_key="to")
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 500))
    cursor = Cursor()


class ConsentPageSchema(BaseSchema):
    items = fields.List(fields.Nested(ConsentSchema))
    next_cursor = fields.String(allow_none=True)


class PurposeStateSchema(BaseSchema):
    purpose = fields.String()
    purpose_name = fields.String()
    status = fields.String(metadata={"description": "granted, denied, withdrawn, expired, pending"})
    active = fields.Boolean(metadata={"description": "May the data be processed now"})
    consent_id = fields.Function(lambda s: s.consent.id)
    decided_at = fields.Function(lambda s: UTCDateTime()._serialize(s.consent.created_at, None, s))
    valid_from = fields.Function(lambda s: UTCDateTime()._serialize(s.consent.valid_from, None, s))
    valid_until = fields.Function(
        lambda s: UTCDateTime()._serialize(s.consent.valid_until, None, s))
    purpose_version = fields.Function(lambda s: s.consent.purpose_version)
    notice_version = fields.Function(lambda s: s.consent.notice_version)
    source = fields.Function(lambda s: s.consent.source)


class SubjectStateSchema(BaseSchema):
    subject = fields.String()
    as_of = UTCDateTime()
    purposes = fields.List(fields.Nested(PurposeStateSchema))


class AuditQuerySchema(BaseSchema):
    event_id = fields.String()
    from_seq = fields.Integer(validate=validate.Range(min=1))
    to_seq = fields.Integer(validate=validate.Range(min=1))
    since = UTCDateTime()
    until = UTCDateTime()
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


class AuditEventSchema(BaseSchema):
    event_id = fields.String()
    seq = fields.Integer()
    at = UTCDateTime()
    actor = fields.String()
    action = fields.String()
    entity_type = fields.String()
    entity_id = fields.String()
    payload = fields.Dict()
    prev_hash = fields.String()
    hash = fields.String()


class AuditPageSchema(BaseSchema):
    items = fields.List(fields.Nested(AuditEventSchema))


class VerifySchema(BaseSchema):
    ok = fields.Boolean()
    checked = fields.Integer()
    consents_checked = fields.Integer()
    first_bad_event = fields.String(allow_none=True)
    first_bad_seq = fields.Integer(allow_none=True)
    first_bad_consent = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    head_hash = fields.String(allow_none=True)


class ExportQuerySchema(BaseSchema):
    format = fields.String(load_default="jsonl", validate=validate.OneOf(("jsonl", "csv")))
