"""Schemas of the Veriff dialect (/v1): request bodies as Veriff documents them, and responses.

Unknown top-level fields and wrong types are errors (the view answers 400 "Validation failed").
``person``, ``document`` and ``address`` accept extra keys, as Veriff adds fields to them over time,
but the documented ones must have the documented types.
"""
from __future__ import annotations

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate, validates_schema

from .common import BaseSchema, Int64, UTCDateTime

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
        "description": "Whether the end-user approved (false for every type: the ledger "
                       "records a refusal)"})
    text = fields.String(required=True, validate=[validate.Length(min=1), _not_blank],
                         metadata={"description": "The exact text shown to the end-user"})


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
    attemptId = fields.String(required=True, allow_none=True, metadata={
        "description": "The attempt it belongs to (null until one begins)"})
    context = fields.String(required=True)
    name = fields.String(required=True)
    timestamp = UTCDateTime(required=True, allow_none=True)
    size = fields.Integer(required=True)
    mimetype = fields.String(required=True, allow_none=True)
    sha256 = fields.String(required=True)
    url = fields.String(required=True, metadata={
        "description": "GET it, signed over the media id, to download the file"})


class MediaUploadOutSchema(Schema):
    status = fields.String(required=True)
    image = fields.Nested(MediaOutSchema, required=True)


class MediaListOutSchema(Schema):
    status = fields.String(required=True)
    images = fields.List(fields.Nested(MediaOutSchema), required=True)
    videos = fields.List(fields.Dict(), required=True)


class AttemptMediaOutSchema(MediaListOutSchema):
    """``GET /v1/attempts/{id}/media``."""


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


# -- decisions, person, attempts (GET /v1/sessions/{id}/decision|person|attempts) ---------------

def _nullable_strings(*names: str) -> dict:
    return {name: fields.String(required=True, allow_none=True) for name in names}


VeriffDecisionPersonSchema = Schema.from_dict({
    **_nullable_strings("firstName", "lastName", "dateOfBirth", "gender", "idNumber",
                        "nationality", "citizenship", "placeOfBirth", "yearOfBirth"),
    "pepSanctionMatch": fields.String(required=True, allow_none=True),
}, name="VeriffDecisionPersonSchema")

VeriffDecisionDocumentSchema = Schema.from_dict(
    _nullable_strings("number", "type", "country", "validFrom", "validUntil"),
    name="VeriffDecisionDocumentSchema")

VERIFF_TIME = {"description": "UTC, milliseconds, Z: 2019-11-06T07:18:36.916Z",
               "example": "2019-11-06T07:18:36.916Z"}


class VeriffVerificationDecisionSchema(Schema):
    id = fields.String(required=True, metadata={"description": "The session id"})
    attemptId = fields.String(required=True)
    vendorData = fields.String(required=True, allow_none=True)
    endUserId = fields.String(required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(
        ("approved", "declined", "resubmission_requested", "expired", "abandoned", "review")))
    code = fields.Integer(required=True, metadata={
        "description": "9001 approved, 9102 declined, 9103 resubmission_requested, 9104 expired "
                       "or abandoned, 9121 review"})
    reason = fields.String(required=True, allow_none=True)
    reasonCode = fields.Integer(required=True, allow_none=True)
    decisionTime = fields.String(required=True, metadata=VERIFF_TIME)
    acceptanceTime = fields.String(required=True, metadata=VERIFF_TIME)
    submissionTime = fields.String(required=True, allow_none=True, metadata=VERIFF_TIME)
    person = fields.Nested(VeriffDecisionPersonSchema, required=True)
    document = fields.Nested(VeriffDecisionDocumentSchema, required=True)
    additionalVerifiedData = fields.Dict(required=True)
    riskLabels = fields.List(fields.Dict(), required=True)
    comments = fields.List(fields.Dict(), required=True)


class VeriffTechnicalDataSchema(Schema):
    ip = fields.String(required=True, allow_none=True)


class DecisionOutSchema(Schema):
    """``GET /decision`` and the decision webhook's body."""

    status = fields.String(required=True, metadata={"example": "success"})
    verification = fields.Nested(VeriffVerificationDecisionSchema, required=True, allow_none=True,
                                 metadata={"description": "null until the session is decided"})
    technicalData = fields.Nested(VeriffTechnicalDataSchema, required=True)


class EventWebhookSchema(Schema):
    """The event webhook's body (started 7001, submitted 7002)."""

    id = fields.String(required=True)
    attemptId = fields.String(required=True)
    feature = fields.String(required=True)
    code = fields.Integer(required=True)
    action = fields.String(required=True)
    vendorData = fields.String(required=True, allow_none=True)
    endUserId = fields.String(required=True, allow_none=True)


class VeriffPersonDataSchema(Schema):
    firstName = fields.String(required=True, allow_none=True)
    lastName = fields.String(required=True, allow_none=True)
    idNumber = fields.String(required=True, allow_none=True)
    dateOfBirth = fields.String(required=True, allow_none=True)
    gender = fields.String(required=True, allow_none=True)
    nationality = fields.String(required=True, allow_none=True)
    placeOfBirth = fields.String(required=True, allow_none=True)
    citizenships = fields.List(fields.String(), required=True)
    pepSanctionMatches = fields.List(fields.Dict(), required=True)


class PersonOutSchema(Schema):
    status = fields.String(required=True, metadata={"example": "success"})
    person = fields.Nested(VeriffPersonDataSchema, required=True)


class VeriffAttemptSchema(Schema):
    id = fields.String(required=True, metadata={"description": "The attempt's id (attemptId)"})
    status = fields.String(required=True)
    createdTime = fields.String(required=True, metadata=VERIFF_TIME)


class AttemptsOutSchema(Schema):
    status = fields.String(required=True, metadata={"example": "success"})
    verifications = fields.List(fields.Nested(VeriffAttemptSchema), required=True)


# -- the operator's API (/ledger/v1/veriff, this service's own error shape) --------------------

WEBHOOK_URL = ("{}; null: none. An http(s) URL whose host resolves only to public addresses (or "
               "to networks the operator allows): never loopback, private, link-local or a "
               "cloud metadata service; no user name or password in it. Redirects are not "
               "followed")


class VeriffIntegrationUpdateSchema(BaseSchema):
    # The URLs are judged by consent.core.outbound.check_url (one check for every dialect: an
    # http(s) URL whose host resolves only to addresses webhooks may reach), 422 with its message.
    event_webhook_url = fields.String(allow_none=True, validate=validate.Length(max=2048),
                                      metadata={"description": WEBHOOK_URL.format(
                                          "Where event webhooks (started, submitted) go")})
    decision_webhook_url = fields.String(allow_none=True, validate=validate.Length(max=2048),
                                         metadata={"description": WEBHOOK_URL.format(
                                             "Where decision webhooks go")})
    api_key = fields.String(validate=validate.Length(1, 100), metadata={
        "description": "The integration's API key, needed once for an integration created "
                       "outside `veriff integration-create` (its webhooks carry it in "
                       "X-AUTH-CLIENT; the core keeps only its hash)"})


class VeriffIntegrationSchema(Schema):
    id = fields.String(required=True, metadata={"description": "The integration's credential id"})
    name = fields.String(required=True)
    key_prefix = fields.String(required=True)
    event_webhook_url = fields.String(required=True, allow_none=True)
    decision_webhook_url = fields.String(required=True, allow_none=True)
    api_key_known = fields.Boolean(required=True)


class VeriffDecideSchema(BaseSchema):
    status = fields.String(required=True, validate=validate.OneOf(
        ("approved", "declined", "resubmission_requested", "expired", "abandoned", "review")))
    reason_code = Int64(allow_none=True, metadata={
        "description": "declined: 101-129, resubmission_requested: 201-207 (Veriff's tables); "
                       "default 102 and 201"})


# -- watchlist screening (GET|PATCH /v1/sessions/{id}/watchlist-screening) ----------------------

SCREENING_HIT_STATUSES = ("false_positive", "potential_match", "true_match", "inconclusive")


class ScreeningHitChangeSchema(BaseSchema):
    id = fields.String(required=True, validate=validate.Length(1, 36))
    matchStatus = fields.String(validate=validate.OneOf(SCREENING_HIT_STATUSES))
    riskLevel = fields.String(validate=validate.OneOf(("low", "high")), metadata={
        "description": "Only for a hit that is (or becomes) a true_match"})
    isWhitelisted = StrictBoolean()


class ScreeningChangeSchema(BaseSchema):
    """Exactly one of ``monitorStatus`` and ``hit``."""

    monitorStatus = fields.String(validate=validate.OneOf(("disabled",)))
    hit = fields.Nested(ScreeningHitChangeSchema)

    @validates_schema
    def _exactly_one(self, data, **kwargs):
        if ("monitorStatus" in data) == ("hit" in data):
            raise ValidationError("exactly one of monitorStatus and hit")


class ScreeningListingSchema(Schema):
    sourceName = fields.String(required=True)
    sourceUrl = fields.String(required=True, allow_none=True)
    date = fields.String(required=True, allow_none=True)


class ScreeningListingsSchema(Schema):
    warnings = fields.List(fields.Nested(ScreeningListingSchema), required=True)
    sanctions = fields.List(fields.Nested(ScreeningListingSchema), required=True)
    fitnessProbity = fields.List(fields.Nested(ScreeningListingSchema), required=True)
    pep = fields.List(fields.Nested(ScreeningListingSchema), required=True)
    adverseMedia = fields.List(fields.Nested(ScreeningListingSchema), required=True)


class ScreeningHitSchema(Schema):
    id = fields.String(required=True)
    matchedName = fields.String(required=True)
    countries = fields.List(fields.String(), required=True)
    dateOfBirth = fields.String(required=True, allow_none=True)
    dateOfDeath = fields.String(required=True, allow_none=True)
    matchTypes = fields.List(fields.String(), required=True)
    aka = fields.List(fields.String(), required=True)
    associates = fields.List(fields.String(), required=True)
    listingsRelatedToMatch = fields.Nested(ScreeningListingsSchema, required=True)
    matchStatus = fields.String(required=True, validate=validate.OneOf(SCREENING_HIT_STATUSES))
    riskLevel = fields.String(required=True, allow_none=True)
    isWhitelisted = fields.Boolean(required=True)


class ScreeningSearchTermSchema(Schema):
    name = fields.String(required=True, allow_none=True)
    year = fields.String(required=True, allow_none=True)


class ScreeningDataSchema(Schema):
    attemptId = fields.String(required=True)
    sessionId = fields.String(required=True)
    vendorData = fields.String(required=True, allow_none=True)
    endUserId = fields.String(required=True, allow_none=True)
    checkType = fields.String(required=True, validate=validate.OneOf(
        ("initial_result", "updated_result")))
    matchStatus = fields.String(required=True, validate=validate.OneOf(
        ("possible_match", "no_match")))
    monitorStatus = fields.String(required=True, validate=validate.OneOf(("enabled", "disabled")))
    searchTerm = fields.Nested(ScreeningSearchTermSchema, required=True)
    totalHits = fields.Integer(required=True)
    createdAt = fields.String(required=True, metadata=VERIFF_TIME)
    hits = fields.List(fields.Nested(ScreeningHitSchema), required=True)


class ScreeningOutSchema(Schema):
    status = fields.String(required=True, metadata={"example": "success"})
    data = fields.Nested(ScreeningDataSchema, required=True)


class ScreeningChangeDataSchema(Schema):
    attemptId = fields.String(required=True)
    sessionId = fields.String(required=True)
    vendorData = fields.String(required=True, allow_none=True)
    monitorStatus = fields.String(required=True, validate=validate.OneOf(("enabled", "disabled")))
    hit = fields.Nested(ScreeningHitSchema, metadata={"description": "The hit reviewed"})


class ScreeningChangeOutSchema(Schema):
    status = fields.String(required=True, metadata={"example": "success"})
    data = fields.Nested(ScreeningChangeDataSchema, required=True)
