"""The truConsent dialect's own tables. They point at the ledger's rows; consent decisions themselves
live in the ledger's ``Consent`` table (one row per purpose: a truConsent "consent log").

Migrations of the ``truconsent`` component: 1, the baseline; 2, what a banner shows and the SDK
sends (an asset's type, description and allowed origins; a collection point's consent type and
banner settings; the per-purpose value an SDK sent on each log; suppressions); 3, every table
covered by the audit chain; 4, ``truconsent_log.consent_id`` renamed ``consent_seq`` (it holds
the consent's ``seq``)."""
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

# The dialect's part of the schema (declared in its entry, DIALECT.schema). What the audit chain
# covers (consent.core.covered): every table of the dialect. A request and its links change
# (regenerated, superseded, completed): each change is hashed again. A log's consent_seq was
# consent_id before version 4: hashed under that name.
SCHEMA = Component("truconsent", models=MODELS, covered=(
    *(covered.cover(model) for model in MODELS if model is not TcLog),
    covered.cover(TcLog, hashed_as={"consent_seq": "consent_id"}),
), migrations=(
    baseline(*BASELINE_MODELS),
    Migration(2, "banners: asset origins, banner settings, SDK values, suppressions", _banners),
    cover_rows(*MODELS, version=3),
    Migration(4, "truconsent_log.consent_id renamed consent_seq (it holds consent.seq)",
              rename_columns(TcLog, consent_seq="consent_id")),
))
