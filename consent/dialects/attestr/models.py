"""The Attestr dialect's own tables, and its clock.

A *client* (Attestr's "app") is a core :class:`~consent.core.storage.Credential` of kind
``basic``; :class:`AttestrClient` keeps its Attestr settings, keyed by the credential id. A
registered consent is a ledger :class:`~consent.core.storage.Consent` (the decision, its
validity and its evidence) with terms (``consent.core.usage``: operations, single use);
:class:`AttestrConsent` keeps what Attestr's API adds: the ``_id`` and ``number``, the
client's reference id, the body as provided, and the lifecycle moments the dialect reports
(revoked, consumed, expired). Asynchronous exports are :class:`AttestrAsync` jobs whose file is
an :class:`AttestrMedia`. Rate-limit counters are rows of :class:`AttestrRateCounter`, shared by
every worker and instance on the database.
"""
from __future__ import annotations

import datetime as dt

from peewee import (
    BigIntegerField,
    BlobField,
    BooleanField,
    CharField,
    CompositeKey,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from consent.core import covered
from consent.core.components import Component
from consent.core.schema import Migration, baseline, cover_rows
from consent.core.storage import (
    BaseModel,
    Consent,
    Credential,
    JSONField,
    Organisation,
    utcnow,
)


def now() -> dt.datetime:
    """The dialect's clock (naive UTC): validity, expiry and rate-limit windows read it. Tests
    replace it (``monkeypatch.setattr(models, "now", ...)``) to move time without sleeping."""
    return utcnow()


class AttestrClient(BaseModel):
    credential = ForeignKeyField(Credential, primary_key=True, on_delete="CASCADE")
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    name = CharField(max_length=200, default="")
    services = JSONField()                        # provisioned service codes
    ip_allowlist = JSONField(null=True)           # addresses or networks; None: any address
    # Fixed-window limits (None: unlimited): every API of the client, and each API alone.
    account_per_second = IntegerField(null=True)
    account_per_day = IntegerField(null=True)
    api_per_second = IntegerField(null=True)
    api_per_day = IntegerField(null=True)
    credits = BigIntegerField(null=True)          # None: no credits accounting
    webhook_url = TextField(null=True)
    # Sent as ``Authorization: Basic <token>`` to the webhook URL; kept readable to send it.
    webhook_token = CharField(max_length=100, null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "attestr_client"


class AttestrConsent(BaseModel):
    id = CharField(primary_key=True, max_length=24)            # Attestr's ``_id``
    number = CharField(unique=True, max_length=16)
    org = ForeignKeyField(Organisation, on_delete="CASCADE", index=False)
    client = ForeignKeyField(AttestrClient, on_delete="CASCADE", index=False)
    consent = ForeignKeyField(Consent, field=Consent.id, unique=True)
    reference_id = CharField(max_length=128)    # ``[erased]`` once its person is erased
    # The keyed hash (``personal.keyed_hash`` under the organisation's key) a repeated
    # registration finds the consent by (no index over the plain reference id); NULL once erased.
    reference_lookup = CharField(max_length=64, null=True)
    request_hash = CharField(max_length=64)
    data = JSONField()                            # the body as the client provided it
    single_use = BooleanField()
    webhook = BooleanField()
    valid_from = DateTimeField()
    valid_till = DateTimeField()
    created_at = DateTimeField()
    revoked_at = DateTimeField(null=True)
    consumed_at = DateTimeField(null=True)
    expired_at = DateTimeField(null=True)
    # ``valid_till`` while the consent can still expire (not revoked, consumed or expired yet):
    # what the expiry sweep looks for, and what it claims by setting NULL.
    sweep_at = DateTimeField(null=True, index=True)
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)
    # The salt of its hash while it holds personal data (consent.core.personal).
    pd_salt = CharField(max_length=32, null=True)

    class Meta:
        table_name = "attestr_consent"
        # (org, created_at, id): the operator console's pages of an organisation's consents
        indexes = ((("client", "reference_lookup"), True), (("org", "created_at", "id"), False))


class AttestrMedia(BaseModel):
    id = CharField(primary_key=True, max_length=24)
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    file_name = CharField(max_length=200)
    mimetype = CharField(max_length=100)
    size = IntegerField()
    sha256 = CharField(max_length=64)
    content = BlobField()
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "attestr_media"


class AttestrAsync(BaseModel):
    """An asynchronous request (a consent's audit-trail export): pending, then completed (with
    its media) or errored. A worker claims a pending job with a lease."""

    id = CharField(primary_key=True, max_length=24)
    number = CharField(unique=True, max_length=16)
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    client = ForeignKeyField(AttestrClient, on_delete="CASCADE", index=False)
    attestr_consent = ForeignKeyField(AttestrConsent, on_delete="CASCADE")
    kind = CharField(max_length=32)
    status = CharField(max_length=16, default="pending")
    attempts = IntegerField(default=0)
    lease_until = DateTimeField(null=True)
    media = ForeignKeyField(AttestrMedia, null=True, on_delete="SET NULL")
    error = TextField(null=True)
    base_url = TextField()                        # where the request reached the service
    created_at = DateTimeField()
    updated_at = DateTimeField()

    class Meta:
        table_name = "attestr_async"
        # (org, created_at, id): the operator console's pages of an organisation's exports
        indexes = ((("status", "created_at"), False), (("org", "created_at", "id"), False))


class AttestrRateCounter(BaseModel):
    """Requests of one client in one fixed window (a second or a UTC day) of one scope
    (``account`` or an API's name)."""

    client_id = CharField(max_length=36)
    scope = CharField(max_length=64)
    unit = CharField(max_length=1)                # "s" (second) or "d" (day)
    window_start = BigIntegerField()              # epoch second, or the day's ordinal
    count = IntegerField()

    class Meta:
        table_name = "attestr_rate_counter"
        primary_key = CompositeKey("client_id", "scope", "unit", "window_start")


# What the audit chain covers (consent.core.covered): a consent's Attestr side, its lifecycle
# moments included; ``sweep_at`` is the expiry sweep's bookkeeping (``expired_at`` is the answer)
# and ``reference_lookup`` an index of ``reference_id``. Its personal data (the client's
# reference, the body as provided, with the principal's id, and the hash of that body) is
# salted and erasable. Not covered: clients (access configuration, like the credentials they
# extend), export jobs and their files (renderings of covered rows), rate-limit counters
# (bookkeeping).
MODELS = (AttestrClient, AttestrConsent, AttestrMedia, AttestrAsync, AttestrRateCounter)


def _consent_columns(schema) -> None:
    """The columns of version 3 (today's index names ``reference_lookup``, and today's hash
    covers ``pd_salt``): added before the baseline and version 2 need them."""
    if schema.has_table("attestr_consent"):
        schema.add_column("attestr_consent", "reference_lookup",
                          CharField(max_length=64, null=True))
        schema.add_column("attestr_consent", "pd_salt", CharField(max_length=32, null=True))


def _erasable(schema) -> None:
    """Version 3: a consent's personal data becomes erasable. Every consent gets a salt and
    the keyed hash of its reference id; the unique index over the plain reference id goes (the
    one over the keyed hash takes its place); the consents are attested again (salted)."""
    from consent.core import personal
    from consent.core.schema import _marks

    _consent_columns(schema)
    rows = schema.execute('SELECT "id", "org_id", "reference_id" FROM "attestr_consent" '
                          'WHERE "pd_salt" IS NULL').fetchall()
    for consent_id, org_id, reference_id in rows:
        schema.execute(_marks(schema, 'UPDATE "attestr_consent" SET "pd_salt" = ?, '
                                      '"reference_lookup" = ? WHERE "id" = ?'), (
            personal.new_salt(),
            personal.keyed_hash(personal.org_key(org_id, create=True), reference_id),
            consent_id))
    schema.drop_index("attestr_consent_client_id_reference_id")
    schema.create(AttestrConsent)   # its (client, reference_lookup) index
    covered.attest([covered.of(AttestrConsent)], again=True,
                   note="consents salted: their personal data became erasable "
                        "(attestr version 3)")


# The dialect's part of the schema (declared in its entry, DIALECT.schema).
SCHEMA = Component("attestr", models=MODELS, covered=(
    covered.cover(AttestrConsent, skip=("sweep_at", "reference_lookup"),
                  personal=("reference_id", "request_hash", "data")),
), migrations=(
    baseline(*MODELS, before=_consent_columns),
    cover_rows(AttestrConsent, version=2, also=_consent_columns),
    Migration(3, "attestr_consent erasable: salted personal columns, found by a keyed hash of "
                 "its reference id (no index over the plain value)", _erasable),
    Migration(4, "consents and export jobs indexed by organisation and creation (the console's "
                 "pages)", lambda schema: schema.create(AttestrConsent, AttestrAsync)),
))
