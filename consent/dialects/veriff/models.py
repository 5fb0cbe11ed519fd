"""The Veriff dialect's own tables.

An *integration* is a core :class:`~consent.core.storage.Credential` of kind ``hmac`` (API key +
shared secret); these tables point at it. A :class:`VeriffSession` keeps what the session was
created with that never changes (vendorData, callback, the token's hash). What changes lives in
:class:`VeriffSessionState`: the status, the current attempt, the person and document data the
session was created with (the decision and ``GET /person`` return them; they are cleared when the
session is deleted, and the audit chain keeps only salted hashes of them, see
:class:`VeriffSessionState`), and when it was deleted. A session
without a state row (created before the state existed) is in its original ``status``.

Each pass through the flow is a :class:`VeriffAttempt` (Veriff's ``attemptId``), carrying its
decision once there is one. Media keep the image's context, timestamp, size, SHA-256 and bytes
(served by ``GET /v1/media/{id}``; erased with the session), and the attempt they belong to (set
when the session is started or submitted, for media uploaded before). The session's state also
keeps the ``verification`` object it was created with, as sent (erased with the session). A
:class:`VeriffScreening` is the session's watchlist screening (the local stand-in's result, made
when the session is submitted). A :class:`VeriffConsent` links a session to the ledger
:class:`~consent.core.storage.Consent` that an upload recorded; both are written in one
transaction and never updated. :class:`VeriffIntegration` holds an integration's webhook URLs and
the API key its webhooks carry in ``X-AUTH-CLIENT``.
"""
from __future__ import annotations

from types import SimpleNamespace

from peewee import (
    AutoField,
    BlobField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from consent.core import covered, ids, sql
from consent.core.components import Component
from consent.core.schema import Migration, baseline, cover_rows, rename_columns
from consent.core.storage import (
    BaseModel,
    Consent,
    Credential,
    JSONField,
    Organisation,
    new_uuid,
    utcnow,
)

class VeriffSession(BaseModel):
    id = CharField(primary_key=True, max_length=36, default=new_uuid)
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    integration = ForeignKeyField(Credential, on_delete="CASCADE")
    # The status at creation; afterwards VeriffSessionState.status is the session's status.
    status = CharField(max_length=16, default="created")
    vendor_data = TextField(null=True)
    end_user_id = CharField(max_length=255, null=True)
    callback = TextField(null=True)
    # Only the SHA-256 of the session token handed out is kept (the session page looks it up).
    token_hash = CharField(max_length=64, index=True)
    created_at = DateTimeField(default=utcnow)
    submitted_at = DateTimeField(null=True)
    # The keyed hash (consent.core.personal.lookup) of the ledger subject the session belongs to
    # (service.subject_for: its vendorData, else "veriff-session:<id>"): how an erasure or an
    # access report finds the person's sessions without an index over a plain identifier.
    subject_lookup = CharField(max_length=64, null=True)
    # The salt of the row's hash while it holds personal data (consent.core.personal).
    pd_salt = CharField(max_length=32, null=True)
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)

    class Meta:
        # (org, created_at): the operator console's pages of an organisation's sessions
        indexes = ((("integration", "created_at"), False), (("org", "subject_lookup"), False),
                   (("org", "created_at", "id"), False))


class VeriffMedia(BaseModel):
    id = CharField(primary_key=True, max_length=36, default=new_uuid)
    session = ForeignKeyField(VeriffSession, backref="media", on_delete="CASCADE")
    context = CharField(max_length=100)
    timestamp = DateTimeField(null=True)
    size = IntegerField()
    sha256 = CharField(max_length=64)
    mimetype = CharField(max_length=64, null=True)
    created_at = DateTimeField(default=utcnow)
    content = BlobField(null=True)              # the image; NULL once the session is deleted
    attempt_id = CharField(max_length=36, null=True)   # the attempt it belongs to
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)


class VeriffConsent(BaseModel):
    """One consent upload. ``seq`` orders uploads; the newest per session is binding."""

    seq = AutoField()
    # (session, seq) below serves lookups by session; no index of its own.
    session = ForeignKeyField(VeriffSession, backref="consents", on_delete="CASCADE", index=False)
    consent = ForeignKeyField(Consent, field=Consent.id, unique=True)
    type = CharField(max_length=16)
    approved = BooleanField()
    created_at = DateTimeField(default=utcnow)
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)

    class Meta:
        indexes = ((("session", "seq"), False),)


class VeriffAttempt(BaseModel):
    """One pass through the verification flow (Veriff's ``attemptId``) and its decision."""

    seq = AutoField()
    id = CharField(unique=True, max_length=36, default=new_uuid)
    # (session, seq) below serves lookups by session; no index of its own.
    session = ForeignKeyField(VeriffSession, on_delete="CASCADE", index=False)
    status = CharField(max_length=32)
    created_at = DateTimeField(default=utcnow)
    submitted_at = DateTimeField(null=True)
    decided_at = DateTimeField(null=True)
    code = IntegerField(null=True)            # 9001, 9102... once decided
    reason_code = IntegerField(null=True)
    reason = TextField(null=True)
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)

    class Meta:
        indexes = ((("session", "seq"), False),)


class VeriffSessionState(BaseModel):
    """What changes about a session: one row per session, updated in place (every change is an
    audit event, which records the row's new hash). ``pd_salt`` is random while the row holds
    person, document or request data and cleared with them: the hashes the chain keeps of the
    row cannot be used to guess the erased data. (It was ``salt`` before version 5, which
    introduced the core's ``pd_salt`` for the same purpose: renamed, and hashed under its old
    name, so no hash changed.)"""

    session = ForeignKeyField(VeriffSession, primary_key=True, on_delete="CASCADE")
    # indexed: the expiry sweep finds the sessions still open through it
    status = CharField(max_length=32, index=True)
    attempt = ForeignKeyField(VeriffAttempt, field=VeriffAttempt.id, null=True, index=False)
    person = JSONField(null=True)
    document = JSONField(null=True)
    updated_at = DateTimeField(default=utcnow)
    deleted_at = DateTimeField(null=True)
    # The ``verification`` object of POST /v1/sessions as sent (validated): every field kept.
    request = JSONField(null=True)
    pd_salt = CharField(max_length=32, null=True)   # "salt" before version 5
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)


class VeriffScreening(BaseModel):
    """A session's watchlist (PEP and sanctions) screening: one row, replaced by each
    submission's (``checkType`` initial_result, then updated_result). ``hits`` keep each hit
    with its review (matchStatus, riskLevel, isWhitelisted). When the session is deleted, its
    search term and hits (personal data) are erased, and so is the ``pd_salt`` of the row's hash
    (random while it holds them, as for :class:`VeriffSessionState`)."""

    session = ForeignKeyField(VeriffSession, primary_key=True, on_delete="CASCADE")
    attempt_id = CharField(max_length=36)
    check_type = CharField(max_length=16)
    match_status = CharField(max_length=16)
    monitor_status = CharField(max_length=16)
    search_name = TextField(null=True)
    search_year = CharField(max_length=4, null=True)
    hits = JSONField()
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    pd_salt = CharField(max_length=32, null=True)   # "salt" before version 5
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)


class VeriffIntegration(BaseModel):
    """An integration's webhook URLs, and its API key: Veriff's webhooks carry it in
    ``X-AUTH-CLIENT`` (it is the integration's public, "publishable" key, which
    ``@veriff/js-sdk`` puts in web pages; the core keeps only its hash). The shared secret that
    signs the webhooks stays on the credential."""

    integration = ForeignKeyField(Credential, primary_key=True, on_delete="CASCADE")
    api_key = CharField(max_length=100, null=True)
    event_url = TextField(null=True)
    decision_url = TextField(null=True)
    updated_at = DateTimeField(default=utcnow)


# What the audit chain covers (consent.core.covered): sessions, their state (status, person,
# document, the request as sent, deletion), attempts and their decisions, media (their bytes as
# their SHA-256), consent uploads and watchlist screenings. Not covered: integrations' webhook
# settings (access configuration, like the credentials they extend). Personal data
# (consent.core.personal), erasable: a session's vendorData, endUserId, callback and subject
# lookup; its state's person, document and request; its screening's search term and hits. The
# state's and screening's salt was ``salt`` before version 5, hashed under that name. A medium's
# bytes are personal too, but their hash is their SHA-256, which the row shows in plain
# (``sha256``, as Veriff's API does): a salt would hide nothing; they are erased (NULL) by
# deletion, erasure and retention.
COVERED = (
    covered.cover(VeriffSession,
                  personal=("vendor_data", "end_user_id", "callback", "subject_lookup")),
    *(covered.cover(model, org=(model.session, VeriffSession.org))
      for model in (VeriffMedia, VeriffConsent, VeriffAttempt)),
    covered.cover(VeriffSessionState, org=(VeriffSessionState.session, VeriffSession.org),
                  hashed_as={"pd_salt": "salt"}, personal=("person", "document", "request")),
    covered.cover(VeriffScreening, org=(VeriffScreening.session, VeriffSession.org),
                  hashed_as={"pd_salt": "salt"},
                  personal=("search_name", "search_year", "hits")),
)

# Version 5 renamed the state's and the screening's ``salt`` ``pd_salt`` (the core's name for it):
# the migrations before it that name today's columns rename it first (consent.core.schema).
_RENAME_STATE_SALT = rename_columns(VeriffSessionState, pd_salt="salt")
_RENAME_SCREENING_SALT = rename_columns(VeriffScreening, pd_salt="salt")


def _session_columns(schema) -> None:
    """The session's columns of version 5 (its (org, subject_lookup) index is one of today's,
    which the baseline creates, and its hash covers them, which version 3 attests: so both add
    them first)."""
    if schema.has_table("veriff_session"):
        schema.add_column("veriff_session", "subject_lookup", CharField(max_length=64, null=True))
        schema.add_column("veriff_session", "pd_salt", CharField(max_length=32, null=True))


def _salts(schema) -> None:
    """A salt for every state row that still holds person, document or request data, and for
    every screening that still holds a search term or hits (``pd_salt``: today's name of the
    column version 3 added as ``salt``); the session's columns of version 5, which today's hash
    of a session covers."""
    _session_columns(schema)
    schema.add_column("veriff_session_state", "pd_salt", CharField(max_length=32, null=True))
    schema.add_column("veriff_screening", "pd_salt", CharField(max_length=32, null=True))
    for table, holding in (
            ("veriff_session_state",
             '"person" IS NOT NULL OR "document" IS NOT NULL OR "request" IS NOT NULL'),
            ("veriff_screening", '"search_name" IS NOT NULL OR "search_year" IS NOT NULL '
                                 "OR \"hits\" <> '[]'")):
        rows = schema.execute(f'SELECT "session_id" FROM "{table}" WHERE "pd_salt" IS NULL '
                              f"AND ({holding})").fetchall()
        salt = sql.Statement(f'UPDATE "{table}" SET "pd_salt" = ? WHERE "session_id" = ?')
        for (session_id,) in rows:
            salt.execute((new_salt(), session_id))


def new_salt() -> str:
    return ids.token_hex(16)


MODELS = (VeriffSession, VeriffMedia, VeriffConsent, VeriffAttempt, VeriffSessionState,
          VeriffIntegration, VeriffScreening)
VERSION_1 = MODELS[:-1]


def _media_and_screening(schema) -> None:
    schema.add_column("veriff_media", "content", BlobField(null=True))
    schema.add_column("veriff_media", "attempt_id", CharField(max_length=36, null=True))
    schema.add_column("veriff_session_state", "request", JSONField(null=True))
    schema.create(VeriffScreening)


def _erasable(schema) -> None:
    """Version 5, personal data erasable (consent.core.personal): the state's and screening's
    ``salt`` renamed ``pd_salt`` (hashed under its old name: no hash changes); each session gains
    the keyed lookup of its subject (found by it, not by a plain identifier) and, holding
    personal data, a salt; the sessions are attested again, salted."""
    from consent.core import personal

    from .service import subject_for

    _RENAME_STATE_SALT(schema)
    _RENAME_SCREENING_SALT(schema)
    _session_columns(schema)
    rows = schema.execute('SELECT "id", "org_id", "vendor_data" FROM "veriff_session" '
                          'WHERE "subject_lookup" IS NULL').fetchall()
    fill = sql.Statement('UPDATE "veriff_session" SET "subject_lookup" = ?, "pd_salt" = ? '
                         'WHERE "id" = ?')
    for session_id, org_id, vendor_data in rows:
        identifier = subject_for(SimpleNamespace(id=session_id, vendor_data=vendor_data))
        fill.execute((personal.lookup(org_id, identifier, create=True), new_salt(), session_id))
    schema.create(VeriffSession)   # its (org, subject_lookup) index
    covered.attest([covered.of(VeriffSession)], again=True,
                   note="Veriff sessions salted and given their subject's lookup: their "
                        "vendorData, endUserId and callback became erasable (version 5)")


# The dialect's part of the schema (declared in its entry, DIALECT.schema).
SCHEMA = Component("veriff", models=MODELS, covered=COVERED, migrations=(
    baseline(*VERSION_1, obsolete_indexes=("veriff_consent_session_id",),
             before=_session_columns),
    Migration(2, "media bytes and attempts (GET /v1/media, /v1/attempts/{id}/media), the "
                 "session's request as sent, watchlist screenings", _media_and_screening),
    cover_rows(*(entry.model for entry in COVERED), version=3, also=_salts),
    Migration(4, "sessions expire: the state's status indexed (the expiry sweep)",
              lambda schema: schema.create(VeriffSessionState)),
    Migration(5, "personal data erasable: sessions found by their subject's keyed lookup and "
                 "salted; the state's and screening's salt renamed pd_salt", _erasable),
    Migration(6, "sessions indexed by organisation and creation (the console's session pages)",
              lambda schema: schema.create(VeriffSession)),
))
