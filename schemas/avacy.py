"""Schemas of the Avacy dialect: Avacy's Consent Solution API (a Laravel application) as the
documentation and the WordPress plugin use it, and the operator's archive API under
/ledger/v1/avacy (this service's own shapes).

Requests are validated the way Laravel validates them (the field library is
:mod:`schemas.laravel`), so that a client sees the errors it would see from Avacy, the proofs kept
byte for byte; every message is Laravel's English one, with ``:attribute`` standing for the
field's dotted path (``subject.email``, ``preferences.0.accepted``).
``consent.dialects.avacy.errors`` puts the path in.
"""
from __future__ import annotations

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    validate,
    validates_schema,
)

from .common import (
    BaseSchema,
    Cursor,
    Int64,
    Limit,
    UTCDateTime,
)
from .laravel import (
    REQUIRED,
    IP,
    SELECTED,
    NUL,
    max_chars,
    LString,
    Scalar,
    LInteger,
    LBoolean,
    LList,
    LNested,
    LDict,
    LIp,
    LIn,
    email,
    LaravelSchema,
    LaravelRequestSchema,
)

CONSENT_TYPES = ("banner", "form", "explicit")
OPTINS = ("accepted", "rejected", "partial")
CHANNELS = ("domains_groups", "v2", "v4")

# -- POST /{tenant}/domains_groups/{id}/consents and /{tenant}/v2/webspaces/{id}/consents --------

IDENTIFIER_HELP = ("The name of the subject field that identifies the person (e.g. \"email\"); "
                   "it must name a field the subject carries")
PROOFS_HELP = "The evidence of consent: an HTML string, stored byte for byte, never rendered"


class DocumentedSubjectSchema(LaravelSchema):
    email = LString(required=True, max=255, validate=email)
    first_name = LString(required=True, max=255)
    last_name = LString(required=True, max=255)
    age = LInteger(required=True, min=0, metadata={"type": "integer", "minimum": 0})
    address = LString(max=1000, allow_none=True, metadata={"description": "optional"})


class LegalNoticeSchema(LaravelSchema):
    name = LString(required=True, max=100, metadata={"example": "privacy_policy"})


class PreferenceSchema(LaravelSchema):
    name = LString(required=True, max=100, metadata={"example": "newsletter"})
    accepted = LBoolean(required=True, metadata={
        "type": "boolean", "description": 'JSON true/false; a form body sends "1" or "0"'})


class _ArchiveRequest(LaravelRequestSchema):
    # each request's own; declared first, so that its errors come first
    subject = fields.Raw(required=True)
    identifier = LString(required=True, max=100, metadata={"description": IDENTIFIER_HELP})
    ip_address = LIp(required=True, metadata={"example": "12.64.193.89"})
    proofs = LString(required=True, verbatim=True, metadata={"description": PROOFS_HELP})
    legal_notices = LList(LNested(LegalNoticeSchema), distinct="name", load_default=list,
                          metadata={"description": "The legal notices accepted (optional)"})
    preferences = LList(LNested(PreferenceSchema), required=True, distinct="name",
                        validate=validate.Length(min=1, error=REQUIRED),
                        metadata={"description": "Each one becomes a decision in the ledger"})

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _identifier_names_a_field(self, data, original_data, **kwargs):
        """Laravel's ``in``: the identifier must name a field the subject carries (one this
        request's subject may carry)."""
        raw = original_data.get("subject") if isinstance(original_data, dict) else None
        field = data.get("identifier")
        if not isinstance(raw, dict) or field is None:
            return
        declared = getattr(self.fields["subject"], "schema", None)
        if field not in raw or (declared is not None and field not in declared.fields):
            raise ValidationError(SELECTED, "identifier")
        subject = data.get("subject")
        if not isinstance(subject, dict) or field not in subject:
            return  # the field's own error is reported
        value = subject[field]
        if value is None or str(value).strip() == "":
            raise ValidationError({"subject": {field: [REQUIRED]}})
        if len(str(value).strip()) > 255:
            raise ValidationError({"subject": {field: [max_chars(255)]}})


class DomainsGroupConsentSchema(_ArchiveRequest):
    """The documented request of ``POST /{tenant}/domains_groups/{id}/consents``."""

    subject = LNested(DocumentedSubjectSchema, required=True)


class WebspaceV2ConsentSchema(_ArchiveRequest):
    """``POST /{tenant}/v2/webspaces/{id}/consents``: the same request, whose ``subject`` holds
    whatever form fields the site chose, keyed by field name (the WordPress plugin's)."""

    subject = LDict(keys=fields.String(), values=Scalar(allow_none=True), required=True,
                    metadata={"description": "The form's fields chosen by the site, by field "
                                             "name",
                              "example": {"your-name": "Mario Rossi",
                                          "your-email": "test@email.it"}})


# -- POST /{tenant}/v4/webspaces/{id}/consents ----------------------------------------------------

class ConsentDataSchema(LaravelSchema):
    label = LString(required=True, max=255, metadata={"example": "your-email"})
    value = Scalar(allow_none=True, load_default=None, max=10000,
                   metadata={"example": "test@email.it"})


class PolicyVersionSchema(LaravelSchema):
    """One entry of ``versions``: which version of a policy the person accepted. Kept as sent
    (not trimmed) in the archive entry; its slug and date name the ledger notice and version."""

    slug = LString(required=True, max=100, verbatim=True, metadata={
        "example": "privacy_policy", "description": "The policy (a ledger notice of this name)"})
    link = LString(max=2000, verbatim=True, allow_none=True, load_default=None, metadata={
        "example": "https://shop.example.it/privacy-policy/",
        "description": "Where that version of the policy is published"})
    date = LString(required=True, max=32, verbatim=True, metadata={
        "example": "2024-05-01 10:00:00",
        "description": "The version accepted (its date): the ledger notice's version"})


class WebspaceV4ConsentSchema(LaravelRequestSchema):
    """What the WordPress plugin (FormSubmission::getPayload) sends."""

    ip_address = LIp(required=True, metadata={"example": "12.64.193.89"})
    consent_type = LIn(CONSENT_TYPES, required=True)
    optin = LIn(OPTINS, required=True, metadata={
        "description": "accepted: each consent feature is granted; rejected: each is denied; "
                       "partial: the features listed are the ones accepted (granted)"})
    consent_data = LList(LNested(ConsentDataSchema), load_default=list, metadata={
        "description": "The form's fields the site chose to keep, [{label, value}]"})
    identifier = LString(required=True, max=255, metadata={
        "description": "The value that identifies the person (e.g. their email address)"})
    source = LString(max=100, load_default=None, metadata={"example": "plugin"})
    consent_features = LList(LString(max=100), distinct=True, load_default=list, metadata={
        "description": "What was consented to; each becomes a decision in the ledger",
        "example": ["privacy_policy", "cookie_policy"]})
    html_form = LString(verbatim=True, load_default=None, metadata={
        "description": "The form's HTML, kept byte for byte as proof, never rendered"})
    proofs = LString(verbatim=True, load_default=None, load_only=True, metadata={
        "description": "Sent instead of html_form by some releases of the plugin"})
    versions = LList(LNested(PolicyVersionSchema), distinct="slug", load_default=list,
                     metadata={"description": "The versions of the policies accepted, "
                                              "[{slug, link, date}]: each decision names them "
                                              "(ledger notice slug, version date); kept as sent"})


# -- responses ------------------------------------------------------------------------------------

class AvacyDateTime(fields.DateTime):
    """Laravel's JSON timestamps: ``2023-11-08T09:39:52.000000Z`` (UTC)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class NameSchema(Schema):
    name = fields.String(required=True)


class DecisionSchema(Schema):
    name = fields.String(required=True)
    accepted = fields.Boolean(required=True)


class _ResourceSchema(Schema):
    id = Int64(required=True, metadata={"example": 6})
    subject_id = Int64(required=True, allow_none=True, metadata={
        "description": "The person's subject in the ledger"})


class ArchiveResourceSchema(_ResourceSchema):
    ip_address = fields.String(required=True)
    proofs = fields.String(required=True)
    legal_notices = fields.List(fields.Nested(NameSchema), required=True)
    created_at = AvacyDateTime(required=True, metadata={"example": "2023-11-08T09:39:52.000000Z"})
    updated_at = AvacyDateTime(required=True, metadata={"example": "2023-11-08T09:39:52.000000Z"})
    consent_data = fields.List(fields.Nested(DecisionSchema), required=True,
                               metadata={"description": "The preferences, as recorded"})
    subject_data = fields.Dict(required=True, metadata={
        "description": "The subject as sent, with \"identifier\" (the identifying field's name)"})


class DomainsGroupResourceSchema(ArchiveResourceSchema):
    domains_group_id = Int64(required=True, metadata={"example": 1})

    class Meta:
        fields = ("id", "subject_id", "domains_group_id", "ip_address", "proofs",
                  "legal_notices", "created_at", "updated_at", "consent_data", "subject_data")


class WebspaceV2ResourceSchema(ArchiveResourceSchema):
    webspace_id = Int64(required=True, metadata={"example": 1})

    class Meta:
        fields = ("id", "subject_id", "webspace_id", "ip_address", "proofs", "legal_notices",
                  "created_at", "updated_at", "consent_data", "subject_data")


class LabelValueSchema(Schema):
    label = fields.String(required=True)
    value = fields.Raw(required=True, allow_none=True, metadata={
        "description": "As sent: a string (form bodies), or a JSON scalar"})


class PolicyVersionOutSchema(Schema):
    slug = fields.String(required=True)
    link = fields.String(required=True, allow_none=True)
    date = fields.String(required=True)


class WebspaceV4ResourceSchema(_ResourceSchema):
    webspace_id = Int64(required=True, metadata={"example": 1})
    ip_address = fields.String(required=True)
    consent_type = fields.String(required=True, validate=validate.OneOf(CONSENT_TYPES))
    optin = fields.String(required=True, validate=validate.OneOf(OPTINS))
    consent_data = fields.List(fields.Nested(LabelValueSchema), required=True)
    identifier = fields.String(required=True)
    source = fields.String(required=True, allow_none=True)
    consent_features = fields.List(fields.String(), required=True)
    html_form = fields.String(required=True, allow_none=True)
    versions = fields.List(fields.Nested(PolicyVersionOutSchema), required=True,
                           metadata={"description": "As sent"})
    created_at = AvacyDateTime(required=True)
    updated_at = AvacyDateTime(required=True)


class DomainsGroupConsentOutSchema(Schema):
    data = fields.Nested(DomainsGroupResourceSchema, required=True)


class WebspaceV2ConsentOutSchema(Schema):
    data = fields.Nested(WebspaceV2ResourceSchema, required=True)


class WebspaceV4ConsentOutSchema(Schema):
    data = fields.Nested(WebspaceV4ResourceSchema, required=True)


class WebspaceFoundSchema(Schema):
    """``GET /wp/validate/{tenant}/{webspace_key}``: the plugin keeps ``id`` as its webspace id."""

    id = Int64(required=True, metadata={"example": 1})


class TokenValidSchema(Schema):
    valid = fields.Boolean(required=True, metadata={"example": True})
    webspace_id = Int64(required=True, metadata={"example": 1})


# -- errors ---------------------------------------------------------------------------------------

class AvacyErrorSchema(Schema):
    """Avacy's (Laravel's) error body: ``{"message": "Unauthenticated"}``."""

    message = fields.String(required=True, metadata={"example": "Unauthenticated"})


class AvacyValidationErrorSchema(Schema):
    """Laravel's 422: the first message (``(and N more errors)``), and every message by field,
    the field named by its dotted path."""

    message = fields.String(required=True, metadata={
        "example": "The subject.email field must be a valid email address."})
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         required=True, metadata={"example": {"subject.email": [
                             "The subject.email field must be a valid email address."]}})


class WpErrorCodeSchema(Schema):
    error = fields.String(required=True, metadata={"enum": [
        "team_not_found", "webspace_not_found", "invalid_token", "token_not_found_or_expired",
        "not_found", "server_error", "service_unavailable"]})
    reason = fields.String(metadata={"description": "With service_unavailable (503): why, and "
                                                    "what the operator should do"})


class AvacyWpErrorSchema(Schema):
    """The plugin's set-up checks read ``message.error`` of a non-200 answer."""

    message = fields.Nested(WpErrorCodeSchema, required=True)


# -- the operator's archive (/ledger/v1/avacy, this service's own shapes) -------------------------

def _no_nul(value: str) -> None:
    if "\x00" in value:
        raise ValidationError("must not contain NUL characters")


class ArchiveQuerySchema(BaseSchema):
    identifier = fields.String(validate=[validate.Length(1, 255), _no_nul], metadata={
        "description": "The person's identifying value (its ledger subject's entries; an "
                       "erased person's finds none)"})
    webspace_id = Int64(validate=validate.Range(min=1))
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    date_from = UTCDateTime(data_key="from")
    date_to = UTCDateTime(data_key="to")
    limit = Limit(50, 200)
    cursor = Cursor()


class ArchivePreferenceSchema(Schema):
    name = fields.String(required=True)
    accepted = fields.Boolean(required=True)
    consent_id = fields.String(required=True, metadata={"description": "The ledger's consent"})
    status = fields.String(required=True, validate=validate.OneOf(("granted", "denied")))
    binding = fields.Boolean(required=True, metadata={
        "description": "Still the newest decision of this person on this purpose"})


class ArchiveNoticeSchema(Schema):
    name = fields.String(required=True)
    version = fields.String(required=True)
    link = fields.String(allow_none=True, metadata={
        "description": "v4: where that version is published"})


class ArchiveEntrySchema(Schema):
    id = Int64(required=True)
    webspace_id = Int64(required=True)
    channel = fields.String(required=True, validate=validate.OneOf(CHANNELS))
    identifier = fields.String(required=True, allow_none=True, metadata={
        "description": "null once the person is erased"})
    subject_id = Int64(required=True, allow_none=True)
    ip_address = fields.String(required=True, allow_none=True, metadata={
        "description": "null once the person is erased"})
    proofs = fields.String(required=True, allow_none=True, metadata={
        "description": "Byte for byte as received; HTML, never to be rendered unescaped. null "
                       "once the person is erased, or the proofs' retention ended"})
    proofs_sha256 = fields.String(required=True, allow_none=True, metadata={
        "description": "Covered by the entry's hash, which its audit event records (salted); "
                       "null once the person is erased"})
    request = fields.Dict(required=True, metadata={
        "description": "The rest of the request as received (subject, consent data, ...); "
                       "once the person is erased, only what is no one's data (preferences, "
                       "legal notices, a v4 form's type, opt-in and features)"})
    preferences = fields.List(fields.Nested(ArchivePreferenceSchema), required=True)
    legal_notices = fields.List(fields.Nested(ArchiveNoticeSchema), required=True, metadata={
        "description": "The notices and versions accepted (v4: from versions)"})
    versions = fields.List(fields.Nested(PolicyVersionOutSchema), required=True,
                           allow_none=True, metadata={"description": "v4: as sent"})
    audit_event_id = fields.String(required=True)
    intact = fields.Boolean(required=True, metadata={
        "description": "The entry still holds what the audit chain recorded of it: its hash "
                       "(the proofs, the IP address, the identifier, the versions)"})
    created_at = UTCDateTime(required=True)


class ArchivePageSchema(Schema):
    items = fields.List(fields.Nested(ArchiveEntrySchema), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class WebspaceCreateSchema(BaseSchema):
    name = fields.String(required=True, validate=validate.Length(1, 200))


class WebspaceSchema(Schema):
    id = Int64(required=True, metadata={"description": "The webspace id in Avacy's URLs"})
    key = fields.String(required=True, metadata={
        "description": "The webspace key the WordPress plugin is configured with"})
    name = fields.String(required=True)
    created_at = UTCDateTime(required=True)


class TokenCreateSchema(BaseSchema):
    name = fields.String(load_default="avacy token", validate=validate.Length(1, 200))


class TokenSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    token = fields.String(required=True, metadata={
        "description": "Shown once: send it as Authorization: Bearer <token>"})
