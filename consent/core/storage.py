"""The ledger's own tables, and the value conventions every table follows (naive UTC datetimes,
UUID text keys, JSON as canonical text).

Models are bound to the process's one database proxy (``consent.core.database``). Dialects keep
their own tables in their own packages, pointing at these rows. Which tables the process serves,
and the migrations that lead older databases to them, is declared, not registered here: the
core's component in ``consent.core.schema`` (``CORE``), each dialect's in its ``Dialect`` entry
(``consent.core.components``).
"""
from __future__ import annotations

import datetime as dt
import json

from peewee import (
    AutoField,
    BlobField,
    BooleanField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

# Sorted keys, no spaces, UTF-8 as is: the form every stored hash is computed over. Defined with
# the chain's other hashing rules in the dependency-free auditchain package, which the standalone
# verifier shares, so the two can never drift.
from auditchain.hashing import canonical_json  # noqa: E402,F401

from . import clock, ids  # noqa: E402

# The database handle the models are bound to (consent.core.database). Its other names stay
# importable from here, where most callers import them from; new code imports them from
# consent.core.database.
from .database import (  # noqa: F401,E402  (re-exported)
    create_tables,
    db,
    init_database,
    is_postgres,
    is_sqlite,
    make_database,
    release_broken_connection,
    transaction,
)


# Naive UTC timestamp, the one form every stored datetime takes: the service's one clock, which
# control mode moves per organisation (consent.core.clock).
utcnow = clock.utcnow


def new_uuid() -> str:
    """A random UUID (seeded under ``CONSENT_SEED``: consent.core.ids)."""
    return ids.uuid4()


class JSONField(TextField):
    """JSON stored as canonical text on every backend (so hashes over it are stable)."""

    def db_value(self, value):
        return None if value is None else canonical_json(value)

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


class Organisation(BaseModel):
    id = CharField(primary_key=True, max_length=36, default=new_uuid)
    slug = CharField(unique=True, max_length=64)
    name = CharField(max_length=200)
    subdomain = CharField(unique=True, max_length=64)
    created_at = DateTimeField(default=utcnow)


class User(BaseModel):
    id = CharField(primary_key=True, max_length=36, default=new_uuid)
    email = CharField(unique=True, max_length=254)
    name = CharField(max_length=200, default="")
    created_at = DateTimeField(default=utcnow)


class Membership(BaseModel):
    id = AutoField()
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    user = ForeignKeyField(User, on_delete="CASCADE")
    role = CharField(max_length=20, default="admin")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("org", "user"), True),)


class SessionToken(BaseModel):
    """A bearer session token issued to a user. Only its SHA-256 is stored, and ``hint``, its
    last characters (to tell a user's tokens apart; None for tokens from before it was kept).
    ``revoked_at``: revoked everywhere (``flask --app app token revoke``); an organisation's
    admin revokes it for that organisation only (:class:`SessionTokenRevocation`)."""

    id = CharField(primary_key=True, max_length=36, default=new_uuid)
    user = ForeignKeyField(User, on_delete="CASCADE")
    token_hash = CharField(unique=True, max_length=64)
    hint = CharField(max_length=16, null=True)
    expires_at = DateTimeField()
    revoked_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)


class SessionTokenRevocation(BaseModel):
    """A session token revoked for one organisation (by its admin API, or when its user was
    removed from the organisation): the token no longer works there, and still works for the
    other organisations its user belongs to."""

    id = AutoField()
    token = ForeignKeyField(SessionToken, on_delete="CASCADE", index=False)  # (token, org)
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    revoked_at = DateTimeField(default=utcnow)
    actor = CharField(max_length=100)

    class Meta:
        table_name = "session_token_revocation"
        indexes = ((("token", "org"), True),)


class Credential(BaseModel):
    """A machine credential of one organisation.

    kind ``api_key``: a key sent as a header (X-API-Key), with scopes.
    kind ``hmac``: an API key plus a shared secret used to sign bodies (Veriff's integrations).
    kind ``basic``: a client id plus a token, sent as HTTP Basic auth.
    The key or token is stored only as SHA-256 (keys are 256-bit random, so a fast hash is enough).
    The shared secret must stay readable to check signatures; it is never returned after creation.
    """

    id = CharField(primary_key=True, max_length=36, default=new_uuid)
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    kind = CharField(max_length=16)
    name = CharField(max_length=200, default="")
    key_hash = CharField(unique=True, max_length=64)
    key_prefix = CharField(max_length=24)
    client_id = CharField(max_length=64, null=True, index=True)
    scopes = CharField(max_length=200, default="")
    shared_secret = CharField(max_length=200, null=True)
    created_at = DateTimeField(default=utcnow)
    revoked_at = DateTimeField(null=True)

    @property
    def scope_set(self) -> set[str]:
        return set(filter(None, self.scopes.split(",")))

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class Subject(BaseModel):
    """A data principal, identified inside one organisation by an identifier string.

    The row is the person's pseudonym: every other row names the person by ``id`` alone. What
    identifies them is here, apart from everything the audit chain hashes
    (``consent.core.personal``): ``identifier`` as given, ``lookup`` the keyed hash an identifier
    is found by (the index holds no plain value), ``secret`` the key the commitments to their
    personal data are taken with. Erasure empties ``identifier``, sets the other two NULL,
    keeps ``commitment`` and sets ``erased_at``: the pseudonym and its decision history stay,
    and no identifier finds them again."""

    id = AutoField()
    org = ForeignKeyField(Organisation, on_delete="CASCADE", index=False)  # (org, lookup)
    identifier = CharField(max_length=255)              # '' once erased
    lookup = BlobField(null=True)                       # 16 bytes, keyed hash; NULL once erased
    secret = BlobField(null=True)                       # 16 bytes; NULL once erased
    # The commitment its consents' record hashes took to its identifier
    # (consent.core.personal.subject_commitment): kept here only once it is erased.
    commitment = CharField(max_length=32, null=True)
    erased_at = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        # The lookup alone (an HMAC under the organisation's own key): every query still
        # filters by the organisation too.
        indexes = ((("lookup",), True),)


class OrgKey(BaseModel):
    """An organisation's key for the keyed hashes identifiers are looked up by
    (``consent.core.personal.lookup``), made with its first subject, and ``sealed_seq``: the
    head of its chain when the database was upgraded to erasable personal data (events up to it
    may hold personal data in their payloads, and are redacted by erasure; 0: none)."""

    org = ForeignKeyField(Organisation, primary_key=True, on_delete="CASCADE")
    lookup_key = CharField(max_length=64)
    sealed_seq = IntegerField(default=0)

    class Meta:
        table_name = "org_key"


class SubjectLink(BaseModel):
    """A recorded link from an anonymous identifier to an authenticated one (map-user)."""

    id = CharField(primary_key=True, max_length=36, default=new_uuid)
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    anonymous = ForeignKeyField(Subject, backref="links_out")
    authenticated = ForeignKeyField(Subject, backref="links_in")
    moved_count = IntegerField(default=0)
    metadata = JSONField(null=True)
    created_at = DateTimeField(default=utcnow)
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)
    # The random salt its hash is taken with while it holds personal data (consent.core.personal);
    # NULL once erased, so the hashes recorded before cannot confirm a guess of what it held.
    pd_salt = CharField(max_length=32, null=True)


class Purpose(BaseModel):
    id = AutoField()
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    code = CharField(max_length=100)
    name = CharField(max_length=200)
    current_version = CharField(max_length=32, default="1")
    created_at = DateTimeField(default=utcnow)
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)

    class Meta:
        indexes = ((("org", "code"), True),)


class PurposeVersion(BaseModel):
    id = AutoField()
    purpose = ForeignKeyField(Purpose, backref="versions", on_delete="CASCADE")
    version = CharField(max_length=32)
    description = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)

    class Meta:
        indexes = ((("purpose", "version"), True),)


class Notice(BaseModel):
    id = AutoField()
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    code = CharField(max_length=100)
    title = CharField(max_length=200)
    current_version = CharField(max_length=32, default="1")
    created_at = DateTimeField(default=utcnow)
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)

    class Meta:
        indexes = ((("org", "code"), True),)


class NoticeVersion(BaseModel):
    id = AutoField()
    notice = ForeignKeyField(Notice, backref="versions", on_delete="CASCADE")
    version = CharField(max_length=32)
    text = TextField()
    created_at = DateTimeField(default=utcnow)
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)

    class Meta:
        indexes = ((("notice", "version"), True),)


class Consent(BaseModel):
    """One consent decision. Never updated in place, with one exception that is itself audited:
    ``subject`` (the current holder) moves when an identity mapping moves the record, and each move
    is a ``mapped`` ConsentEvent; ``recorded_subject`` keeps who it was recorded under.

    ``status`` is ``granted``, ``denied`` or ``withdrawn``. A withdrawal is a new record for the same
    subject and purpose whose ``supersedes`` names the record it withdraws. The newest record per
    (subject, purpose) is the binding one.

    Two keys, and a column pointing at a consent is named after the one it holds:

    * ``seq``, the primary key: the ledger's internal order (keyset pages, the binding rule).
      Rows this database writes about a consent point at it as ``consent_seq`` (its events, an
      Avacy decision, a truConsent log).
    * ``id``, a UUID: the consent's name in every API (``supersedes`` holds one). Rows that keep
      the id an API answered with point at it as ``consent_id`` (its terms and uses, a Veriff
      upload, an Attestr consent).
    """

    seq = AutoField()   # the primary key (see above)
    id = CharField(unique=True, max_length=36, default=new_uuid)   # the API's id (see above)
    # Foreign keys carry no index of their own: every query filters by org first, which the
    # composite indexes below serve, and no referenced row is ever deleted. Each index costs a page
    # written per insert (see the note on OBSOLETE_INDEXES).
    org = ForeignKeyField(Organisation, on_delete="CASCADE", index=False)
    subject = ForeignKeyField(Subject, backref="consents", index=False)
    recorded_subject = ForeignKeyField(Subject, index=False)
    purpose = ForeignKeyField(Purpose, index=False)
    purpose_version = CharField(max_length=32, null=True)
    notice_version = CharField(max_length=64, null=True)
    status = CharField(max_length=16)
    source = CharField(max_length=32)
    supersedes = CharField(max_length=36, null=True)
    valid_from = DateTimeField()
    valid_until = DateTimeField(null=True)
    evidence = JSONField(null=True)
    created_at = DateTimeField()
    record_hash = CharField(max_length=64)
    # The seq of the audit event that recorded it (its "recorded" event; not in the record hash:
    # verify checks the event it points at).
    audit_seq = IntegerField(null=True)

    class Meta:
        # A list filtered by a value that few rows hold (a subject, a purpose, a source) has an
        # index that starts with the filter and ends with its order (seq), so it never walks the
        # organisation: SQLite prefers an index that satisfies ORDER BY over one that only
        # satisfies WHERE. Subjects and purposes belong to one organisation, so their indexes
        # need no org column (each saves 36 bytes per row). A list by status walks (org, seq)
        # until its page is full: with three statuses that is a few pages, at any size.
        # tests/core/test_query_plans.py pins the plans.
        indexes = (
            (("org", "seq"), False),
            (("subject", "seq"), False),
            (("purpose", "seq"), False),
            (("org", "source", "seq"), False),
        )


class ConsentEvent(BaseModel):
    """Append-only events on a consent after it was recorded: withdrawn, mapped, used, expired.
    (Its recording is its audit event, ``Consent.audit_seq``; databases from before that column
    also hold a ``recorded`` event per consent.)"""

    id = AutoField()
    consent = ForeignKeyField(Consent, backref="events", on_delete="CASCADE",
                              column_name="consent_seq")
    type = CharField(max_length=16)
    at = DateTimeField(default=utcnow)
    audit_event_id = CharField(max_length=36)
    data = JSONField(null=True)
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)


class AuditEvent(BaseModel):
    """The per-organisation SHA-256 hash chain: each event stores the previous event's hash and its
    own, computed over its canonical content (see ``consent.core.audit``)."""

    id = AutoField()
    event_id = CharField(unique=True, max_length=36, default=new_uuid)
    org = ForeignKeyField(Organisation, on_delete="CASCADE", index=False)  # (org, seq)
    seq = IntegerField()
    at = DateTimeField()
    actor = CharField(max_length=100)
    action = CharField(max_length=64)
    entity_type = CharField(max_length=32)
    entity_id = CharField(max_length=64)
    payload = JSONField()
    prev_hash = CharField(max_length=64)
    hash = CharField(max_length=64)

    class Meta:
        indexes = ((("org", "seq"), True), (("org", "at", "seq"), False))


class IdempotencyRecord(BaseModel):
    """The first response to a request made with an idempotency key, replayed on repeats."""

    id = AutoField()
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    scope = CharField(max_length=64)
    key = CharField(max_length=255)
    request_hash = CharField(max_length=64)
    status = IntegerField()
    body = JSONField()
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("org", "scope", "key"), True),)


class OutboxMessage(BaseModel):
    """Mail kept locally when no SMTP server is configured (and a record of every send)."""

    id = AutoField()
    org = ForeignKeyField(Organisation, on_delete="CASCADE", null=True)
    to_masked = CharField(max_length=254)
    subject = CharField(max_length=255)
    body_text = TextField()
    body_html = TextField(null=True)
    transport = CharField(max_length=16)
    status = CharField(max_length=16)
    created_at = DateTimeField(default=utcnow)
    # The full recipient is kept only while the message waits in the local outbox.
    to_address = CharField(max_length=254, null=True)


class WebhookDelivery(BaseModel):
    """One webhook in the durable outbox: written in the same transaction as the change it
    reports, sent after the commit, retried with backoff (see ``consent.core.outbox``). The exact
    bytes and headers are fixed when it is queued, so every attempt sends the same request."""

    id = AutoField()
    org = ForeignKeyField(Organisation, on_delete="CASCADE", index=False)  # (org, id)
    topic = CharField(max_length=64)          # what happened, e.g. "decision" (dialect's name)
    reference = CharField(max_length=64, null=True)  # the entity it is about (a session id...)
    url = TextField()
    headers = JSONField()
    body = TextField()
    status = CharField(max_length=16, default="pending")  # pending | delivered | failed
    attempts = IntegerField(default=0)
    next_attempt_at = DateTimeField()
    lease_until = DateTimeField(null=True)    # a sender is on it until then
    last_status_code = IntegerField(null=True)
    last_error = TextField(null=True)
    created_at = DateTimeField(default=utcnow)
    delivered_at = DateTimeField(null=True)

    class Meta:
        table_name = "webhook_delivery"
        indexes = ((("org", "id"), False), (("status", "next_attempt_at"), False))


class WebhookAttempt(BaseModel):
    """Every attempt to send a webhook, whatever came of it."""

    id = AutoField()
    delivery = ForeignKeyField(WebhookDelivery, on_delete="CASCADE")
    at = DateTimeField()
    duration_ms = IntegerField()
    status_code = IntegerField(null=True)
    error = TextField(null=True)
    response_excerpt = TextField(null=True)

    class Meta:
        table_name = "webhook_attempt"


class Verification(BaseModel):
    """A verification of an organisation's chain, consents and covered rows, and how far it has
    come (see ``consent.core.verify``)."""

    id = AutoField()
    org = ForeignKeyField(Organisation, on_delete="CASCADE", index=False)  # (org, status, id)
    kind = CharField(max_length=16)           # pass (GET /audit/verify) | background
    status = CharField(max_length=16)         # running | done | broken
    progress = JSONField()
    result = JSONField(null=True)
    lease_until = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("org", "status", "id"), False),)


class ConsentTerms(BaseModel):
    """What a consent allows besides its validity window: the operations it grants (``None``:
    any operation) and whether its first use consumes it. Written by whoever records the
    consent, in the same transaction, with an audit event (``consent.core.usage.set_terms``)."""

    consent = ForeignKeyField(Consent, field=Consent.id, primary_key=True, on_delete="CASCADE")
    operations = JSONField(null=True)
    single_use = BooleanField(default=False)
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)

    class Meta:
        table_name = "consent_terms"


class ConsentUse(BaseModel):
    """One use of a consent for an operation (``consent.core.usage``). ``single_use_key`` is the
    consent's id for a single-use consent, else NULL: its unique index lets exactly one use in,
    whatever the concurrency (NULLs never collide)."""

    id = AutoField()
    org = ForeignKeyField(Organisation, on_delete="CASCADE", index=False)
    consent = ForeignKeyField(Consent, field=Consent.id, on_delete="CASCADE", index=False)
    operation = CharField(max_length=64)
    used_at = DateTimeField()
    actor = CharField(max_length=100)
    audit_event_id = CharField(max_length=36)
    single_use_key = CharField(max_length=36, null=True, unique=True)
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)

    class Meta:
        table_name = "consent_use"
        indexes = ((("consent", "id"), False),)


class AuditCheckpoint(BaseModel):
    """A checkpoint the service signed (``consent.core.checkpoints``): the organisation's head at
    ``at``, with the key's id and the signature (see ``auditchain.checkpoint``). ``origin`` says
    who asked first (request, cli, schedule); ``witnessed`` that the schedule sent it to the
    configured witness(es); ``witness_file`` that its line is ``pending`` in, or ``written`` to,
    the witness file."""

    id = AutoField()
    org = ForeignKeyField(Organisation, on_delete="CASCADE", index=False)  # (org, id)
    seq = IntegerField()
    head_hash = CharField(max_length=64)
    at = DateTimeField()
    key_id = CharField(max_length=16)
    signature = CharField(max_length=100)
    origin = CharField(max_length=16)
    witnessed = BooleanField(default=False)
    witness_file = CharField(max_length=16, null=True)

    class Meta:
        table_name = "audit_checkpoint"
        indexes = ((("org", "seq", "head_hash", "key_id"), True), (("org", "id"), False),
                   (("witness_file",), False))


class RightsRequest(BaseModel):
    """A data principal's request to exercise a right (``consent.core.rights``): ``access`` (a
    report of everything held about them) or ``erasure``. ``status``: received, in_progress,
    completed or refused (with ``refusal``, the reason). ``identifier`` and ``reason`` are the
    requester's words, personal data: NULL once the request is completed or its subject erased;
    ``subject`` (the pseudonym) stays. Every step is an audit event."""

    id = CharField(primary_key=True, max_length=36, default=new_uuid)
    org = ForeignKeyField(Organisation, on_delete="CASCADE", index=False)  # (org, status, due)
    kind = CharField(max_length=16)
    subject = ForeignKeyField(Subject, null=True, index=False)
    identifier = CharField(max_length=255, null=True)
    status = CharField(max_length=16)
    source = CharField(max_length=32)
    reason = TextField(null=True)
    refusal = TextField(null=True)
    metadata = JSONField(null=True)
    result = JSONField(null=True)
    due_at = DateTimeField()
    created_at = DateTimeField()
    updated_at = DateTimeField()
    completed_at = DateTimeField(null=True)

    class Meta:
        table_name = "rights_request"
        indexes = ((("org", "status", "due_at"), False), (("org", "created_at"), False),
                   (("subject",), False))


class RetentionPolicy(BaseModel):
    """An organisation's retention policy (``consent.core.retention``): the personal data of a
    subject with no binding grant is erased ``subject_days`` after their last consent ended or
    was withdrawn; evidence files (Avacy proofs, Veriff media) ``evidence_days`` after they
    were received. NULL: never. No row: no retention (the default)."""

    org = ForeignKeyField(Organisation, primary_key=True, on_delete="CASCADE")
    subject_days = IntegerField(null=True)
    evidence_days = IntegerField(null=True)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "retention_policy"


class SchemaMigration(BaseModel):
    """One migration applied to this database (or a component created at a version): the
    bookkeeping of ``consent.core.migrate``, which creates the table (no component has it)."""

    id = AutoField()
    component = CharField(max_length=64)
    version = IntegerField()
    description = CharField(max_length=200)
    applied_at = DateTimeField(default=utcnow)
    duration_ms = IntegerField(default=0)

    class Meta:
        table_name = "schema_migration"
        indexes = ((("component", "version"), True),)


# ConsentTerms, ConsentUse and AuditCheckpoint are registered by consent.core.schema (they came
# in later versions of the core's schema).
CORE_MODELS = [
    Organisation, User, Membership, SessionToken, Credential, Subject, SubjectLink, Purpose,
    PurposeVersion, Notice, NoticeVersion, Consent, ConsentEvent, AuditEvent, IdempotencyRecord,
    OutboxMessage, WebhookDelivery, WebhookAttempt, Verification,
]
