"""Schemas of the Attestr dialect (/api/v3/public): request bodies as Attestr documents them, the
responses, and Attestr's error body.

Unknown fields and wrong types are errors (400 4001, ``details`` naming the field). Timestamps take
Attestr's form (``2026-05-22T00:00:00+0000``) and the usual ISO 8601 variants (``Z``,
``+05:30``, fractions of a second; no offset means UTC).
"""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from .common import BaseSchema, Int64, StrictBoolean, UTCDateTime

PURPOSES = ("kyc_verification", "background_verification")
TYPES = ("single_use", "multi_use")
MODES = ("checkbox", "email_otp", "mobile_otp", "digilocker", "ivr", "physical_form", "offline")
OPERATIONS = ("VERIFY", "FETCH", "EXPORT", "STORE", "SHARE", "REPORT")
CONSENT_STATUSES = ("pending", "active", "consumed", "expired", "revoked")
ASYNC_STATUSES = ("pending", "completed", "errored")


def _text(low: int, high: int, **kwargs):
    return fields.String(validate=[validate.Length(low, high), _not_blank], **kwargs)


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("must not be blank")


def _unique(values: list) -> None:
    if len(set(values)) != len(values):
        raise ValidationError("must not repeat a value")


class AttestrServiceSchema(BaseSchema):
    service = _text(1, 64, required=True, metadata={"example": "BANK_ACC"})
    options = fields.Dict(keys=fields.String(), allow_none=True,
                          metadata={"description": "Reserved for future use"})


def _services_field():
    return fields.List(fields.Nested(AttestrServiceSchema), required=True,
                       validate=validate.Length(1, 50))


def _unique_services(services: list) -> None:
    _unique([s.get("service") for s in services if s.get("service")])


class AttestrDataCategorySchema(BaseSchema):
    category = _text(1, 100, required=True, metadata={"example": "financial"})
    values = fields.List(_text(1, 100), required=True, validate=[validate.Length(1, 100), _unique],
                         metadata={"example": ["bank_account", "ifsc"]})


class AttestrRegisterSchema(BaseSchema):
    consentPurpose = fields.String(required=True, validate=validate.OneOf(PURPOSES))
    consentPurposeDesc = _text(1, 1000)
    services = _services_field()
    consentDataCategories = fields.List(fields.Nested(AttestrDataCategorySchema), required=True,
                                        validate=validate.Length(1, 100))
    consentType = fields.String(required=True, validate=validate.OneOf(TYPES))
    consentMode = fields.String(required=True, validate=validate.OneOf(MODES))
    consentModeDesc = _text(1, 1000)
    consentTimestamp = UTCDateTime(required=True, metadata={
        "example": "2026-05-22T00:00:00+0000"})
    consentValidFrom = UTCDateTime(required=True, metadata={
        "example": "2026-05-23T12:05:00+0000"})
    consentValidTill = UTCDateTime(required=True, metadata={
        "example": "2026-05-23T12:07:00+0000", "description": "After consentValidFrom"})
    consentReferenceId = _text(1, 128, required=True, metadata={
        "description": "Unique per client: a repeat with the same body returns the same consent"})
    consentPrincipalUserId = _text(1, 255)
    clientPrivacyPolicyUrl = fields.String(validate=validate.URL(
        require_tld=False, schemes={"http", "https"}))
    clientPrivacyPolicyVersion = _text(1, 64)
    clientDeclaration = StrictBoolean(required=True, metadata={"description": "Must be true"})
    clientObtainedBy = _text(1, 255)
    consentOperations = fields.List(
        fields.String(validate=validate.OneOf(OPERATIONS)), required=True,
        validate=[validate.Length(min=1), _unique])
    webhook = StrictBoolean(load_default=False, metadata={
        "description": "Send the consent's lifecycle events to the client's webhook"})

    @validates("services")
    def _services(self, value, **kwargs):
        _unique_services(value)

    @validates("clientDeclaration")
    def _declared(self, value, **kwargs):
        if value is not True:
            raise ValidationError("must be true")

    @validates_schema
    def _window(self, data, **kwargs):
        start, end = data.get("consentValidFrom"), data.get("consentValidTill")
        if start and end and end <= start:
            raise ValidationError("must be after consentValidFrom", "consentValidTill")


class AttestrDataCategoriesQuerySchema(BaseSchema):
    type = fields.String(required=True, validate=validate.OneOf(PURPOSES),
                         metadata={"description": "The consent purpose"})
    services = _services_field()

    @validates("services")
    def _services(self, value, **kwargs):
        _unique_services(value)


class AttestrNoBodySchema(BaseSchema):
    """No fields: the operation takes no body (an empty JSON object is accepted)."""


# -- responses -------------------------------------------------------------------------------------

class AttestrErrorSchema(Schema):
    httpStatusCode = fields.Integer(required=True, metadata={"example": 400})
    code = fields.Integer(required=True, metadata={"example": 4001})
    message = fields.String(required=True, metadata={
        "example": "Malformed data or missing required parameter values"})
    appError = fields.Boolean(required=True, metadata={"example": True})
    details = fields.String(metadata={"description": "Only for some errors"})


class AttestrRegisteredSchema(Schema):
    id = fields.String(data_key="_id", required=True, metadata={"example": "CX3S-m5YMohWXqt7b-"})
    number = fields.String(required=True, metadata={"example": "3991-752664-7914"})


class AttestrConsentOutSchema(AttestrRegisteredSchema):
    requestId = fields.String(required=True, metadata={
        "description": "Internal request id (for debugging and logs)"})
    status = fields.String(required=True, validate=validate.OneOf(CONSENT_STATUSES), metadata={
        "description": "pending (before consentValidFrom), active, consumed (a single_use consent "
                       "after its use), expired (from consentValidTill), revoked"})
    data = fields.Dict(required=True, metadata={
        "description": "The consent as provided at registration"})


class AttestrRevokedSchema(AttestrRegisteredSchema):
    status = fields.String(required=True, validate=validate.OneOf(CONSENT_STATUSES),
                           metadata={"example": "revoked"})


class AttestrCategoryOutSchema(Schema):
    category = fields.String(required=True)
    values = fields.List(fields.String(), required=True)


class AttestrServiceCategoriesSchema(Schema):
    service = fields.String(required=True)
    consentDataCategories = fields.List(fields.Nested(AttestrCategoryOutSchema), required=True)


class AttestrDataCategoriesSchema(Schema):
    type = fields.String(required=True)
    consentDataCategories = fields.List(fields.Nested(AttestrCategoryOutSchema), required=True,
                                        metadata={"description": "Every service's, merged: pass "
                                                                 "as consentDataCategories"})
    services = fields.List(fields.Nested(AttestrServiceCategoriesSchema), required=True)


class AttestrAsyncOutputSchema(Schema):
    mediaId = fields.String(required=True)
    fileName = fields.String(required=True)
    mimeType = fields.String(required=True)
    size = Int64(required=True)
    sha256 = fields.String(required=True)
    url = fields.String(required=True, metadata={
        "description": "GET it with the same Authorization to download the file"})


class AttestrAsyncOutSchema(AttestrRegisteredSchema):
    type = fields.String(required=True, metadata={"example": "consent_export"})
    status = fields.String(required=True, validate=validate.OneOf(ASYNC_STATUSES))
    consentId = fields.String(required=True)
    output = fields.Nested(AttestrAsyncOutputSchema, required=True, allow_none=True,
                           metadata={"description": "Set once completed"})
    error = fields.String(required=True, allow_none=True)
    created = Int64(required=True, metadata={"description": "Unix time in milliseconds"})
    updated = Int64(required=True, metadata={"description": "Unix time in milliseconds"})
