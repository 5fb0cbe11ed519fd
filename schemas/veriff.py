"""Schemas of the Veriff dialect (/v1): request bodies as Veriff documents them, and responses.

Unknown top-level fields and wrong types are errors (the view answers 400 "Validation failed").
``person``, ``document`` and ``address`` accept extra keys, as Veriff adds fields to them over time,
but the documented ones must have the documented types.
"""
from __future__ import annotations

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from .common import BaseSchema, UTCDateTime

CONSENT_TYPES = ("ine", "bipa", "aadhaar")


class StrictBoolean(fields.Boolean):
    """Only JSON ``true`` / ``false``: no "yes", 1 or "true"."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("must not be blank")


class _Open(Schema):
    class Meta:
        unknown = INCLUDE


class PersonSchema(_Open):
    firstName = fields.String(allow_none=True)
    lastName = fields.String(allow_none=True)
    fullName = fields.String(allow_none=True)
    idNumber = fields.String(allow_none=True)
    gender = fields.String(allow_none=True)
    dateOfBirth = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    phoneNumber = fields.String(allow_none=True)


class DocumentSchema(_Open):
    country = fields.String(allow_none=True)
    type = fields.String(allow_none=True)
    number = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    firstIssue = fields.String(allow_none=True)
    validFrom = fields.String(allow_none=True)
    validUntil = fields.String(allow_none=True)


class AddressSchema(_Open):
    fullAddress = fields.String(allow_none=True)


class SessionVerificationSchema(BaseSchema):
    callback = fields.String(allow_none=True, validate=validate.URL(
        require_tld=False, schemes={"http", "https"}))
    person = fields.Nested(PersonSchema, allow_none=True)
    document = fields.Nested(DocumentSchema, allow_none=True)
    address = fields.Nested(AddressSchema, allow_none=True)
    vendorData = fields.String(allow_none=True, validate=validate.Length(max=1000))
    endUserId = fields.String(allow_none=True, validate=validate.Length(max=255))
    consents = fields.List(fields.Dict(keys=fields.String()), allow_none=True)
    timestamp = fields.String(allow_none=True)


class SessionCreateSchema(BaseSchema):
    verification = fields.Nested(SessionVerificationSchema, required=True)


class SessionSubmitVerificationSchema(BaseSchema):
    status = fields.String(required=True, validate=validate.OneOf(("submitted",)))
    frontState = fields.String(allow_none=True)
    timestamp = fields.String(allow_none=True)


class SessionSubmitSchema(BaseSchema):
    verification = fields.Nested(SessionSubmitVerificationSchema, required=True)


class ImageSchema(BaseSchema):
    context = fields.String(required=True, validate=[validate.Length(1, 100), _not_blank])
    content = fields.String(required=True, validate=validate.Length(min=1),
                            metadata={"description": "Base64 image, optionally a data: URI"})
    timestamp = UTCDateTime(allow_none=True)


class MediaUploadSchema(BaseSchema):
    image = fields.Nested(ImageSchema, required=True)


class ConsentUploadSchema(BaseSchema):
    type = fields.String(required=True, validate=validate.OneOf(CONSENT_TYPES))
    approved = StrictBoolean(required=True, metadata={
        "description": "Whether the end-user approved; must be true for ine"})
    text = fields.String(required=True, validate=[validate.Length(min=1), _not_blank],
                         metadata={"description": "The exact text shown to the end-user"})

    @validates_schema
    def _ine_needs_approval(self, data, **kwargs):
        if data.get("type") == "ine" and data.get("approved") is not True:
            raise ValidationError("an ine consent must be approved", "approved")


# -- responses -------------------------------------------------------------------------------------

class VeriffFailSchema(Schema):
    status = fields.String(required=True, metadata={"example": "fail"})
    code = fields.String(required=True, metadata={"example": "1101"})
    message = fields.String(required=True, metadata={"example": "Validation failed"})


class SessionVerificationOutSchema(Schema):
    id = fields.String(required=True)
    url = fields.String(required=True)
    vendorData = fields.String(required=True, allow_none=True)
    host = fields.String(required=True)
    status = fields.String(required=True)
    sessionToken = fields.String(required=True)


class SessionOutSchema(Schema):
    status = fields.String(required=True, metadata={"example": "success"})
    verification = fields.Nested(SessionVerificationOutSchema, required=True)


class SubmittedVerificationOutSchema(Schema):
    id = fields.String(required=True)
    vendorData = fields.String(required=True, allow_none=True)
    host = fields.String(required=True)
    status = fields.String(required=True)


class SubmittedOutSchema(Schema):
    status = fields.String(required=True, metadata={"example": "success"})
    verification = fields.Nested(SubmittedVerificationOutSchema, required=True)


class MediaOutSchema(Schema):
    id = fields.String(required=True)
    sessionId = fields.String(required=True)
    context = fields.String(required=True)
    name = fields.String(required=True)
    timestamp = UTCDateTime(required=True, allow_none=True)
    size = fields.Integer(required=True)
    mimetype = fields.String(required=True, allow_none=True)
    sha256 = fields.String(required=True)


class MediaUploadOutSchema(Schema):
    status = fields.String(required=True)
    image = fields.Nested(MediaOutSchema, required=True)


class MediaListOutSchema(Schema):
    status = fields.String(required=True)
    images = fields.List(fields.Nested(MediaOutSchema), required=True)
    videos = fields.List(fields.Dict(), required=True)


class ConsentOutSchema(Schema):
    id = fields.String(required=True, metadata={"description": "UUID v4 of the consent"})
    context = fields.String(required=True, metadata={"example": "consent"})
    sessionId = fields.String(required=True)


class ConsentItemSchema(ConsentOutSchema):
    type = fields.String(required=True)
    approved = fields.Boolean(required=True)
    text = fields.String(required=True)
    binding = fields.Boolean(required=True,
                             metadata={"description": "True for the newest upload only"})
    createdAt = UTCDateTime(required=True)


class ConsentListOutSchema(Schema):
    status = fields.String(required=True)
    sessionId = fields.String(required=True)
    consents = fields.List(fields.Nested(ConsentItemSchema), required=True)
