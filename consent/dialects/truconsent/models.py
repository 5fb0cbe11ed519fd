"""The truConsent dialect's own tables. They point at the ledger's rows; consent decisions themselves
live in the ledger's ``Consent`` table (one row per purpose: a truConsent "consent log").

Migrations of the ``truconsent`` component: 1, the baseline; 2, what a banner shows and the SDK
sends (an asset's type, description and allowed origins; a collection point's consent type and
banner settings; the per-purpose value an SDK sent on each log; suppressions); 3, every table
covered by the audit chain; 4, ``truconsent_log.consent_id`` renamed ``consent_seq`` (it holds
the consent's ``seq``); 6, the rights center (:mod:`.rights_center`): its settings per asset, the
DPO's contact, nominees, grievance tickets and their messages, and phone OTPs."""
from __future__ import annotations

import datetime as dt

from peewee import AutoField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from consent.core import covered
from consent.core.components import Component
from consent.core.schema import Migration, Schema, baseline, cover_rows, rename_columns
from consent.core.storage import (
    BaseModel,
    Consent,
    JSONField,
    Organisation,
    new_uuid,
    utcnow,
)

# Tests move this to test expiry without sleeping (itsdangerous' clock is moved alongside).
CLOCK_OFFSET = dt.timedelta(0)


def now() -> dt.datetime:
    return utcnow() + CLOCK_OFFSET


class TcAsset(BaseModel):
    id = CharField(primary_key=True, max_length=36, default=new_uuid)
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    display_id = CharField(max_length=32)
    name = CharField(max_length=200)
    created_at = DateTimeField(default=utcnow)
    asset_type = CharField(max_length=32, null=True)   # web, mobile_app, ... (free text)
    description = TextField(null=True)
    # Origin sources (CSP style, as CONSENT_CORS_ORIGINS) whose pages may call the SDK API for
    # this asset; None: the service's CONSENT_CORS_ORIGINS.
    allowed_origins = JSONField(null=True)
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)

    class Meta:
        table_name = "truconsent_asset"
        indexes = ((("org", "display_id"), True),)


class TcCollectionPoint(BaseModel):
    id = CharField(primary_key=True, max_length=36, default=new_uuid)
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    asset = ForeignKeyField(TcAsset, on_delete="CASCADE")
    display_id = CharField(max_length=32)
    title = CharField(max_length=200)
    notice_text = TextField()
    notice_version = CharField(max_length=32, default="1")
    # [{"id", "name", "description", "version", "is_mandatory", "is_legitimate", "expiry_period",
    #   "data_elements", "processing_activities", "legal_entities", "tools"}]; "id" is the ledger
    # purpose code (see points.PURPOSE_DEFAULTS).
    purposes = JSONField()
    created_at = DateTimeField(default=utcnow)
    consent_type = CharField(max_length=32, default="standard_consent")
    # The banner's settings (colours, texts, template...), snake_case keys (schemas.truconsent).
    settings = JSONField(null=True)
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)

    class Meta:
        table_name = "truconsent_collection_point"
        indexes = ((("org", "display_id"), True),)


class TcConsentRequest(BaseModel):
    """One consent-link request. Regeneration keeps the request and adds a new event (link)."""

    id = CharField(primary_key=True, max_length=36, default=new_uuid)  # request_id
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    collection_point = ForeignKeyField(TcCollectionPoint)
    phone = CharField(max_length=20)  # the data principal's identifier (E.164)
    expiry_hours = IntegerField()
    data_collection_timestamp = DateTimeField()
    current_event_id = CharField(max_length=36)
    previous_event_id = CharField(max_length=36, null=True)
    regeneration_count = IntegerField(default=0)
    expires_at = DateTimeField()
    completed_at = DateTimeField(null=True)
    completed_event_id = CharField(max_length=36, null=True)
    consent_action = CharField(max_length=20, null=True)
    reference = CharField(max_length=32, null=True)
    created_at = DateTimeField()
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)

    class Meta:
        table_name = "truconsent_request"
        indexes = ((("org", "created_at"), False),)


class TcLinkEvent(BaseModel):
    """One consent link (event). ``token`` is the signed part of the link, kept so that history
    can hand the same link out again."""

    id = CharField(primary_key=True, max_length=36, default=new_uuid)  # event_id
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    request = ForeignKeyField(TcConsentRequest, backref="events", on_delete="CASCADE")
    token = TextField()
    created_at = DateTimeField()
    expires_at = DateTimeField()
    superseded_at = DateTimeField(null=True)
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)

    class Meta:
        table_name = "truconsent_link_event"


class TcLog(BaseModel):
    """What truConsent adds to a ledger consent: the action, collection point, link and metadata."""

    consent = ForeignKeyField(Consent, field=Consent.seq, primary_key=True, on_delete="CASCADE",
                              column_name="consent_seq")
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    action = CharField(max_length=20)
    collection_point = ForeignKeyField(TcCollectionPoint, null=True)
    request_id = CharField(max_length=255, null=True, index=True)
    event_id = CharField(max_length=36, null=True)
    metadata = JSONField(null=True)
    # What an SDK sent for this purpose: accepted | declined | shown | pending (None elsewhere).
    consented = CharField(max_length=16, null=True)
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)

    class Meta:
        table_name = "truconsent_log"
        indexes = ((("org", "action"), False),)


class TcSuppression(BaseModel):
    """A purpose a data principal declined, as the SDK reports it after a banner
    (``POST /api/v1/internal/consent/suppression``): one row per purpose per report."""

    id = AutoField()
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    user_id = CharField(max_length=255)
    purpose_id = CharField(max_length=100)
    created_at = DateTimeField()
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)

    class Meta:
        table_name = "truconsent_suppression"
        indexes = ((("org", "user_id", "id"), False),)


class TcRightsCenterSettings(BaseModel):
    """What the rights center shows and how (``GET .../rights-center/settings/global``): the
    organisation's own (``asset`` NULL) and an asset's, each only the keys set; the answer is the
    defaults, then the organisation's, then the asset's."""

    id = CharField(primary_key=True, max_length=36, default=new_uuid)
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    asset = ForeignKeyField(TcAsset, null=True, on_delete="CASCADE")
    settings = JSONField()
    updated_at = DateTimeField()
    audit_seq = IntegerField(null=True)

    class Meta:
        table_name = "truconsent_rights_settings"
        indexes = ((("org", "asset"), False),)


class TcDpo(BaseModel):
    """The organisation's data protection officer, as the rights center shows them."""

    id = CharField(primary_key=True, max_length=36, default=new_uuid)
    org = ForeignKeyField(Organisation, on_delete="CASCADE", unique=True)
    full_name = CharField(max_length=200)
    email = CharField(max_length=254)
    appointment_date = CharField(max_length=32, null=True)
    qualifications = TextField(null=True)
    responsibilities = TextField(null=True)
    working_hours = CharField(max_length=200, null=True)
    response_time = CharField(max_length=200, null=True)
    updated_at = DateTimeField()
    audit_seq = IntegerField(null=True)

    class Meta:
        table_name = "truconsent_dpo"


class TcNominee(BaseModel):
    """A person a data principal nominates to exercise their rights (DPDP Act s. 14). Named by
    the principal's subject id (a pseudonym); the nominee's details are personal data, NULL once
    deleted or erased (``deleted_at`` set)."""

    id = CharField(primary_key=True, max_length=36, default=new_uuid)
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    subject_id = IntegerField()
    nominee_name = CharField(max_length=200, null=True)
    relationship = CharField(max_length=100, null=True)
    nominee_email = CharField(max_length=254, null=True)
    nominee_mobile = CharField(max_length=32, null=True)
    purpose_of_appointment = TextField(null=True)
    created_at = DateTimeField()
    updated_at = DateTimeField()
    deleted_at = DateTimeField(null=True)
    pd_salt = CharField(max_length=32, null=True)
    audit_seq = IntegerField(null=True)

    class Meta:
        table_name = "truconsent_nominee"
        indexes = ((("org", "subject_id"), False),)


class TcGrievance(BaseModel):
    """A grievance ticket a data principal raised (``ticket_id``: GRV-000001...)."""

    id = CharField(primary_key=True, max_length=36, default=new_uuid)
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    ticket_id = CharField(max_length=16)
    subject_id = IntegerField()
    subject = CharField(max_length=200, null=True)
    category = CharField(max_length=100, null=True)
    description = TextField(null=True)
    status = CharField(max_length=16, default="open")
    created_at = DateTimeField()
    updated_at = DateTimeField()
    pd_salt = CharField(max_length=32, null=True)
    audit_seq = IntegerField(null=True)

    class Meta:
        table_name = "truconsent_grievance"
        indexes = ((("org", "ticket_id"), True), (("org", "subject_id"), False))


class TcGrievanceMessage(BaseModel):
    """One message of a grievance ticket's thread: the data principal's (``user``) or the
    organisation's (``agent``)."""

    id = CharField(primary_key=True, max_length=36, default=new_uuid)
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    grievance = ForeignKeyField(TcGrievance, on_delete="CASCADE")
    sender = CharField(max_length=8)
    message = TextField(null=True)
    created_at = DateTimeField()
    pd_salt = CharField(max_length=32, null=True)
    audit_seq = IntegerField(null=True)

    class Meta:
        table_name = "truconsent_grievance_message"
        indexes = ((("grievance", "created_at"), False),)


class TcAccessOtp(BaseModel):
    """A one-time password sent to a phone for the rights center's non-SSO access. The phone is
    kept only as its keyed lookup (``consent.core.personal.lookup``); the code only as an
    HMAC under the service's key and the row's salt. Short-lived state, not covered: each send
    and each verification writes an audit event."""

    id = AutoField()
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    phone_lookup = CharField(max_length=64)
    asset_id = CharField(max_length=36, null=True)
    salt = CharField(max_length=32)
    code_hash = CharField(max_length=64)
    attempts = IntegerField(default=0)
    created_at = DateTimeField()
    expires_at = DateTimeField()
    used_at = DateTimeField(null=True)

    class Meta:
        table_name = "truconsent_access_otp"
        indexes = ((("org", "phone_lookup", "created_at"), False),)


RIGHTS_MODELS = (TcRightsCenterSettings, TcDpo, TcNominee, TcGrievance, TcGrievanceMessage,
                 TcAccessOtp)


def _rights_center(schema: Schema) -> None:
    """Migration 6: the rights center's tables (new: no rows to attest)."""
    schema.create(*RIGHTS_MODELS)


def _banners(schema: Schema) -> None:
    """Migration 2: an asset's type, description and allowed origins; a collection point's consent
    type and banner settings; the SDK's per-purpose value on a log; the suppressions table."""
    schema.add_column("truconsent_asset", "asset_type", CharField(max_length=32, null=True))
    schema.add_column("truconsent_asset", "description", TextField(null=True))
    schema.add_column("truconsent_asset", "allowed_origins", JSONField(null=True))
    # NOT NULL with its default in one statement (both backends allow it): peewee's add_column
    # would add it nullable and then rebuild the table on SQLite, which the rows of
    # truconsent_request and truconsent_log that reference it forbid.
    if "consent_type" not in schema.columns("truconsent_collection_point"):
        schema.execute('ALTER TABLE "truconsent_collection_point" ADD COLUMN "consent_type" '
                       "VARCHAR(32) NOT NULL DEFAULT 'standard_consent'")
    schema.add_column("truconsent_collection_point", "settings", JSONField(null=True))
    schema.add_column("truconsent_log", "consented", CharField(max_length=16, null=True))
    schema.create(TcSuppression)


# The tables of version 1 (the baseline creates those, in their version-1 shape or newer).
BASELINE_MODELS = (TcAsset, TcCollectionPoint, TcConsentRequest, TcLinkEvent, TcLog)
MODELS = (*BASELINE_MODELS, TcSuppression)
# Covered by the audit chain (the OTP state is not: see TcAccessOtp).
RIGHTS_COVERED = (TcRightsCenterSettings, TcDpo)
RIGHTS_PERSONAL = {TcNominee: ("nominee_name", "relationship", "nominee_email", "nominee_mobile",
                               "purpose_of_appointment"),
                   TcGrievance: ("subject", "category", "description"),
                   TcGrievanceMessage: ("message",)}

# The dialect's part of the schema (declared in its entry, DIALECT.schema). What the audit chain
# covers (consent.core.covered): every table of the dialect. A request and its links change
# (regenerated, superseded, completed): each change is hashed again. A log's consent_seq was
# consent_id before version 4: hashed under that name.
SCHEMA = Component("truconsent", models=(*MODELS, *RIGHTS_MODELS), covered=(
    *(covered.cover(model) for model in MODELS if model is not TcLog),
    covered.cover(TcLog, hashed_as={"consent_seq": "consent_id"}),
    *(covered.cover(model) for model in RIGHTS_COVERED),
    *(covered.cover(model, personal=cols) for model, cols in RIGHTS_PERSONAL.items()),
), migrations=(
    baseline(*BASELINE_MODELS),
    Migration(2, "banners: asset origins, banner settings, SDK values, suppressions", _banners),
    cover_rows(*MODELS, version=3),
    Migration(4, "truconsent_log.consent_id renamed consent_seq (it holds consent.seq)",
              rename_columns(TcLog, consent_seq="consent_id")),
    # Version 5 belongs to another change, merged separately: this no-op only holds its place
    # (the integrator replaces it by the real one).
    Migration(5, "(placeholder: another change's version 5)", lambda schema: None),
    Migration(6, "rights center: settings, DPO, nominees, grievances, phone OTPs",
              _rights_center),
))
