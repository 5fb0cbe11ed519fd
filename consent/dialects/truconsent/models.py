"""The truConsent dialect's own tables. They point at the ledger's rows; consent decisions themselves
live in the ledger's ``Consent`` table (one row per purpose: a truConsent "consent log")."""
from __future__ import annotations

import datetime as dt

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from consent.core import covered
from consent.core.schema import baseline, cover_rows
from consent.core.storage import (
    BaseModel,
    Consent,
    JSONField,
    Organisation,
    new_uuid,
    register_models,
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
    # [{"id", "name", "description", "version"}]; "id" is the ledger purpose code.
    purposes = JSONField()
    created_at = DateTimeField(default=utcnow)
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

    consent = ForeignKeyField(Consent, field=Consent.seq, primary_key=True, on_delete="CASCADE")
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    action = CharField(max_length=20)
    collection_point = ForeignKeyField(TcCollectionPoint, null=True)
    request_id = CharField(max_length=255, null=True, index=True)
    event_id = CharField(max_length=36, null=True)
    metadata = JSONField(null=True)
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)

    class Meta:
        table_name = "truconsent_log"
        indexes = ((("org", "action"), False),)


# What the audit chain covers (consent.core.covered): every table of the dialect. A request and
# its links change (regenerated, superseded, completed): each change is hashed again.
for _model in (TcAsset, TcCollectionPoint, TcConsentRequest, TcLinkEvent, TcLog):
    covered.cover(_model)

MODELS = (TcAsset, TcCollectionPoint, TcConsentRequest, TcLinkEvent, TcLog)
register_models(*MODELS, component="truconsent", migrations=(
    baseline(*MODELS),
    cover_rows(*MODELS, version=2),
))
