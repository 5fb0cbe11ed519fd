"""The truConsent dialect's own tables. They point at the ledger's rows; consent decisions themselves
live in the ledger's ``Consent`` table (one row per purpose: a truConsent "consent log").

Migrations of the ``truconsent`` component: 1, the baseline; 2, what a banner shows and the SDK
sends (an asset's type, description and allowed origins; a collection point's consent type and
banner settings; the per-purpose value an SDK sent on each log; suppressions); 3, every table
covered by the audit chain; 4, ``truconsent_log.consent_id`` renamed ``consent_seq`` (it holds
the consent's ``seq``); 5, personal data erasable (``consent.core.personal``, see :mod:`.people`):
a consent request names its data principal's subject (``subject_id``) and its phone is salted, a
suppression names the subject instead of the plain user id, a log's metadata and request id are
salted, and ``truconsent_personal_ref`` remembers which audit events and outbox mails of the
subject hold personal data; 6, the rights center (:mod:`.rights_center`): its settings per asset,
the DPO's contact, nominees, grievance tickets and their messages, and phone OTPs."""
from __future__ import annotations

import datetime as dt

from peewee import (
    AutoField,
    CharField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    SqliteDatabase,
    TextField,
)

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
    phone = CharField(max_length=20)  # the data principal's identifier (E.164); ERASED once erased
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
    # The data principal's subject (the ledger's pseudonym of the phone; made with the request),
    # by which erasure finds the request. NULL only between migrations 1 and 5.
    subject_id = IntegerField(null=True)
    # The salt its hash is taken with while it holds personal data (consent.core.personal).
    pd_salt = CharField(max_length=32, null=True)

    class Meta:
        table_name = "truconsent_request"
        indexes = ((("org", "created_at"), False), (("org", "subject_id"), False))


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
    # The salt its hash is taken with while metadata or request_id hold a value.
    pd_salt = CharField(max_length=32, null=True)

    class Meta:
        table_name = "truconsent_log"
        indexes = ((("org", "action"), False),)


class TcSuppression(BaseModel):
    """A purpose a data principal declined, as the SDK reports it after a banner
    (``POST /api/v1/internal/consent/suppression``): one row per purpose per report."""

    id = AutoField()
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    # The data principal's subject (the ledger's pseudonym of the user id, made on first use):
    # the user id itself is not kept here (version 5; NULL only between migrations 2 and 5).
    subject_id = IntegerField(null=True)
    purpose_id = CharField(max_length=100)
    created_at = DateTimeField()
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)

    class Meta:
        table_name = "truconsent_suppression"
        indexes = ((("org", "subject_id", "id"), False),)


class TcPersonalRef(BaseModel):
    """What else of the dialect holds a subject's personal data, for erasure to find by the
    subject's id: an audit event written before personal data became erasable (``kind``
    ``event``, ``ref`` its seq: its payload names the person; erasure redacts it) or a consent
    email (``mail``, ``ref`` the outbox message's id: erasure deletes it). Not covered: no answer
    depends on it."""

    id = AutoField()
    org = ForeignKeyField(Organisation, on_delete="CASCADE")
    subject_id = IntegerField()
    kind = CharField(max_length=8)
    ref = IntegerField()

    class Meta:
        table_name = "truconsent_personal_ref"
        indexes = ((("org", "subject_id"), False),)


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


REF_EVENT, REF_MAIL = "event", "mail"    # TcPersonalRef.kind
# Audit events written before version 5 whose payload named the data principal (a masked phone,
# a masked e-mail address, a plain user id): the key that held it.
NAMING_EVENTS = {"truconsent.link.created": "phone", "truconsent.email.sent": "to",
                 "truconsent.email.failed": "to", "truconsent.suppression.recorded": "user_id"}


def _personal_columns(schema: Schema) -> None:
    """The columns of version 5 that today's indexes and hashes name, on the tables there are:
    the baseline creates today's indexes and version 3 attests today's columns, so they add
    them first (version 5 then finds them there)."""
    tables = schema.tables()
    if "truconsent_request" in tables:
        schema.add_column("truconsent_request", "subject_id", IntegerField(null=True))
        schema.add_column("truconsent_request", "pd_salt", CharField(max_length=32, null=True))
    if "truconsent_log" in tables:
        schema.add_column("truconsent_log", "pd_salt", CharField(max_length=32, null=True))
    if "truconsent_suppression" in tables:
        schema.add_column("truconsent_suppression", "subject_id", IntegerField(null=True))


def _erasable(schema: Schema) -> None:
    """Migration 5: personal data erasable (see :mod:`.people`). Each consent request gets its
    phone's subject (made if the phone has none yet) and a salt; each log holding metadata or a
    request id a salt; each suppression its user id's subject in place of the plain user id
    (dropped with its index); the audit events written before that named a data principal and
    the consent emails are remembered by subject (``truconsent_personal_ref``); then the three
    tables are attested again (their hashes now salted)."""
    import json

    from consent.core import personal

    _personal_columns(schema)
    schema.create(TcPersonalRef)
    pg = not isinstance(schema.db, SqliteDatabase)

    def run(text: str, params=()):
        return schema.execute(text.replace("?", "%s") if pg else text, params)

    now = utcnow()
    suppressions = "user_id" in schema.columns("truconsent_suppression")
    for (org_id,) in run('SELECT "id" FROM "organisation" ORDER BY "id"').fetchall():
        found = run('SELECT "lookup_key" FROM "org_key" WHERE "org_id" = ?', (org_id,)).fetchone()
        if found is None:   # an organisation without subjects yet: its key, its chain sealed
            head = run('SELECT MAX("seq") FROM "audit_event" WHERE "org_id" = ?',
                       (org_id,)).fetchone()[0] or 0
            key = personal.new_key()
            run('INSERT INTO "org_key" ("org_id", "lookup_key", "sealed_seq") VALUES (?, ?, ?)',
                (org_id, key, head))
        else:
            key = found[0]
        subjects: dict[str, int] = {}

        def subject_of(identifier: str) -> int | None:
            identifier = personal.normalise(identifier)
            if not identifier or len(identifier) > 255:
                return None
            if identifier not in subjects:
                lookup = personal.lookup_digest(key, identifier)
                select = 'SELECT "id" FROM "subject" WHERE "org_id" = ? AND "lookup" = ?'
                row = run(select, (org_id, lookup)).fetchone()
                if row is None:
                    run('INSERT INTO "subject" ("org_id", "identifier", "lookup", "secret", '
                        '"created_at") VALUES (?, ?, ?, ?, ?)',
                        (org_id, identifier, lookup, personal.new_secret(), now))
                    row = run(select, (org_id, lookup)).fetchone()
                subjects[identifier] = row[0]
            return subjects[identifier]

        of_request = {}
        for request_id, phone, subject_id, salt in run(
                'SELECT "id", "phone", "subject_id", "pd_salt" FROM "truconsent_request" '
                'WHERE "org_id" = ?', (org_id,)).fetchall():
            if subject_id is None:
                subject_id = subject_of(phone)
            if salt is None:
                salt = personal.new_salt()
            run('UPDATE "truconsent_request" SET "subject_id" = ?, "pd_salt" = ? WHERE "id" = ?',
                (subject_id, salt, request_id))
            of_request[request_id] = subject_id
        for (seq,) in run('SELECT "consent_seq" FROM "truconsent_log" WHERE "org_id" = ? AND '
                          '"pd_salt" IS NULL AND ("metadata" IS NOT NULL OR "request_id" IS NOT '
                          'NULL)', (org_id,)).fetchall():
            run('UPDATE "truconsent_log" SET "pd_salt" = ? WHERE "consent_seq" = ?',
                (personal.new_salt(), seq))
        if suppressions:
            for row_id, user_id in run('SELECT "id", "user_id" FROM "truconsent_suppression" '
                                       'WHERE "org_id" = ?', (org_id,)).fetchall():
                run('UPDATE "truconsent_suppression" SET "subject_id" = ? WHERE "id" = ?',
                    (subject_of(user_id), row_id))
        names = list(NAMING_EVENTS)
        refs = []
        for seq, action, entity_id, payload in run(
                'SELECT "seq", "action", "entity_id", "payload" FROM "audit_event" WHERE '
                f'"org_id" = ? AND "action" IN ({", ".join("?" * len(names))}) ORDER BY "seq"',
                (org_id, *names)).fetchall():
            if isinstance(payload, (str, bytes)):
                payload = json.loads(payload)
            if not isinstance(payload, dict) or NAMING_EVENTS[action] not in payload:
                continue
            if action == "truconsent.suppression.recorded":
                subject_id = subject_of(str(payload["user_id"] or ""))
            else:
                subject_id = of_request.get(entity_id)
            if subject_id is None:
                continue
            refs.append((subject_id, REF_EVENT, seq))
            if isinstance(payload.get("outbox_id"), int):
                refs.append((subject_id, REF_MAIL, payload["outbox_id"]))
        for subject_id, kind, ref in refs:
            run('INSERT INTO "truconsent_personal_ref" ("org_id", "subject_id", "kind", "ref") '
                'VALUES (?, ?, ?, ?)', (org_id, subject_id, kind, ref))
    if suppressions:
        schema.drop_index("truconsent_suppression_org_id_user_id_id")
        schema.execute('ALTER TABLE "truconsent_suppression" DROP COLUMN "user_id"')
    schema.create(TcSuppression, TcConsentRequest)   # their subject indexes
    covered.attest([covered.of(TcConsentRequest), covered.of(TcLog), covered.of(TcSuppression)],
                   again=True, note="personal data salted, suppressions by subject (version 5)")


# The tables of version 1 (the baseline creates those, in their version-1 shape or newer).
BASELINE_MODELS = (TcAsset, TcCollectionPoint, TcConsentRequest, TcLinkEvent, TcLog)
MODELS = (*BASELINE_MODELS, TcSuppression)   # every one covered (the personal refs are not)
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
SCHEMA = Component("truconsent", models=(*MODELS, TcPersonalRef, *RIGHTS_MODELS), covered=(
    *(covered.cover(model) for model in MODELS
      if model not in (TcLog, TcConsentRequest)),
    covered.cover(TcConsentRequest, personal=("phone",)),
    covered.cover(TcLog, hashed_as={"consent_seq": "consent_id"},
                  personal=("metadata", "request_id")),
    *(covered.cover(model) for model in RIGHTS_COVERED),
    *(covered.cover(model, personal=cols) for model, cols in RIGHTS_PERSONAL.items()),
), migrations=(
    baseline(*BASELINE_MODELS, before=_personal_columns),
    Migration(2, "banners: asset origins, banner settings, SDK values, suppressions", _banners),
    cover_rows(*MODELS, version=3, also=_personal_columns),
    Migration(4, "truconsent_log.consent_id renamed consent_seq (it holds consent.seq)",
              rename_columns(TcLog, consent_seq="consent_id")),
    Migration(5, "personal data erasable: requests and suppressions by subject, salted phones, "
                 "metadata and request ids; events and mails naming a subject remembered",
              _erasable),
    Migration(6, "rights center: settings, DPO, nominees, grievances, phone OTPs",
              _rights_center),
))
