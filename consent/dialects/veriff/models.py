"""The Veriff dialect's own tables.

An *integration* is a core :class:`~consent.core.storage.Credential` of kind ``hmac`` (API key +
shared secret); these tables point at it. Sessions keep only what the consent flow needs
(vendorData, callback, state): the person and document data a client sends are validated but not
stored. Media keep the image's context, timestamp, size and SHA-256, never the bytes. A
:class:`VeriffConsent` links a session to the ledger :class:`~consent.core.storage.Consent` that an
upload recorded; both are written in one transaction and never updated.
"""
from __future__ import annotations

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from consent.core.storage import (
    BaseModel,
    Consent,
    Credential,
    Organisation,
    new_uuid,
    register_models,
    utcnow,
)

SESSION_CREATED = "created"
SESSION_SUBMITTED = "submitted"


class VeriffSession(BaseModel):
    id = CharField(primary_key=True, max_length=36, default=new_uuid)
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    integration = ForeignKeyField(Credential, on_delete="CASCADE")
    status = CharField(max_length=16, default=SESSION_CREATED)
    vendor_data = TextField(null=True)
    end_user_id = CharField(max_length=255, null=True)
    callback = TextField(null=True)
    # Only the SHA-256 of the session token handed out is kept (the session page looks it up).
    token_hash = CharField(max_length=64, index=True)
    created_at = DateTimeField(default=utcnow)
    submitted_at = DateTimeField(null=True)

    class Meta:
        indexes = ((("integration", "created_at"), False),)


class VeriffMedia(BaseModel):
    id = CharField(primary_key=True, max_length=36, default=new_uuid)
    session = ForeignKeyField(VeriffSession, backref="media", on_delete="CASCADE")
    context = CharField(max_length=100)
    timestamp = DateTimeField(null=True)
    size = IntegerField()
    sha256 = CharField(max_length=64)
    mimetype = CharField(max_length=64, null=True)
    created_at = DateTimeField(default=utcnow)


class VeriffConsent(BaseModel):
    """One consent upload. ``seq`` orders uploads; the newest per session is binding."""

    seq = AutoField()
    # (session, seq) below serves lookups by session; no index of its own.
    session = ForeignKeyField(VeriffSession, backref="consents", on_delete="CASCADE", index=False)
    consent = ForeignKeyField(Consent, field=Consent.id, unique=True)
    type = CharField(max_length=16)
    approved = BooleanField()
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("session", "seq"), False),)


register_models(VeriffSession, VeriffMedia, VeriffConsent,
                obsolete_indexes=("veriff_consent_session_id",))
