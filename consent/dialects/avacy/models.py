"""The Avacy dialect's own tables. They point at the ledger's rows; the decisions themselves live
in the ledger's ``Consent`` table (one per preference or consent feature).

* :class:`AvacyWebspace`: a domains group / webspace of an organisation (Avacy renamed domains
  groups to webspaces; one row serves both). ``number`` is the integer id in Avacy's URLs,
  counted per organisation; ``key`` is the webspace key the WordPress plugin is configured with.
  The plugin puts that key in the banner script's URL on every page of the site, so it is a
  public site identifier, not a secret: it is stored as is.
* :class:`AvacyConsent`: one entry of the consent archive (one accepted request), with the
  proofs byte for byte, the IP address, the v4 body's ``versions`` as sent, and the rest of the
  request. Never updated, except its ``subject_id`` (and ``audit_seq``) once, in the transaction
  that creates it, and later by erasure (its person's) and retention (its proofs). Its personal
  columns (``identifier``, ``ip_address``, ``proofs``, ``proofs_sha256``, ``request``,
  ``versions``) are salted (``pd_salt``, ``consent.core.personal``); it is found by its
  subject's id (``ledger.find_subject``), never by an index over the plain identifier.
* :class:`AvacyDecision`: which ledger consent each preference of an entry became
  (``consent_seq``: the consent's ``seq``; ``consent_id`` before version 4).
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

from consent.core import covered
from consent.core.components import Component
from consent.core.schema import Migration, baseline, cover_rows, rename_columns
from consent.core.storage import (
    BaseModel,
    Consent,
    JSONField,
    Organisation,
    Subject,
    utcnow,
)

CHANNELS = ("domains_groups", "v2", "v4")


class AvacyWebspace(BaseModel):
    id = AutoField()
    org = ForeignKeyField(Organisation, on_delete="CASCADE", index=False)  # (org, number)
    number = IntegerField()
    key = CharField(max_length=36, unique=True)
    name = CharField(max_length=200)
    created_at = DateTimeField(default=utcnow)
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)

    class Meta:
        table_name = "avacy_webspace"
        indexes = ((("org", "number"), True),)


class AvacyConsent(BaseModel):
    id = AutoField()                      # the "id" Avacy answers with
    org = ForeignKeyField(Organisation, on_delete="CASCADE", index=False)
    webspace = ForeignKeyField(AvacyWebspace, on_delete="CASCADE", index=False)
    webspace_number = IntegerField()      # the webspace's id in URLs (never changes)
    channel = CharField(max_length=16)    # domains_groups | v2 | v4
    identifier = CharField(max_length=255)  # the person's identifying value (the ledger subject)
    subject = ForeignKeyField(Subject, null=True, index=False)   # (org, subject, id)
    ip_address = CharField(max_length=45)
    proofs = TextField(null=True)         # byte for byte as received (HTML)
    proofs_sha256 = CharField(max_length=64)
    request = JSONField()                 # the rest of the request, as validated
    versions = JSONField(null=True)       # v4: [{slug, link, date}] exactly as sent
    audit_event_id = CharField(max_length=36)
    created_at = DateTimeField()
    updated_at = DateTimeField()
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)
    # The salt of its hash while it holds personal data (NULL once erased).
    pd_salt = CharField(max_length=32, null=True)

    class Meta:
        table_name = "avacy_consent"
        indexes = ((("org", "id"), False), (("org", "subject", "id"), False),
                   (("org", "created_at"), False))


class AvacyDecision(BaseModel):
    consent = ForeignKeyField(Consent, field=Consent.seq, primary_key=True, on_delete="CASCADE",
                              column_name="consent_seq")
    entry = ForeignKeyField(AvacyConsent, on_delete="CASCADE", index=False)  # (entry, consent)
    name = CharField(max_length=100)
    accepted = BooleanField()
    # The audit event that last wrote this row, which records its hash (consent.core.covered).
    audit_seq = IntegerField(null=True)

    class Meta:
        table_name = "avacy_decision"
        indexes = ((("entry", "consent"), False),)


def _webspace_number(schema) -> None:
    """Entries written before 8eb766b read their webspace's number through a join: it is
    copied into each."""
    schema.add_column("avacy_consent", "webspace_number", IntegerField(), fill=(
        'SELECT w."number" FROM "avacy_webspace" w '
        'WHERE w."id" = "avacy_consent"."webspace_id"'))


MODELS = (AvacyWebspace, AvacyConsent, AvacyDecision)


def _versions(schema) -> None:
    schema.add_column("avacy_consent", "versions", JSONField(null=True))


def _salt_column(schema) -> None:
    """``avacy_consent.pd_salt`` (version 5), which today's hash of an entry covers: added
    before version 3 attests the entries."""
    schema.add_column("avacy_consent", "pd_salt", CharField(max_length=32, null=True))


# Indexes versions before 5 had: the archive was searched by the plain identifier.
OLD_INDEXES = ("avacy_consent_org_id_identifier_id",)


def _erasable(schema) -> None:
    """Version 5: an entry's personal data becomes erasable. Every entry gets a salt (they all
    hold an identifier, an IP address...), and its subject's id where it lacked one (an entry
    with no decisions: found by the subject's keyed lookup, core version 6); the index over
    the plain identifier goes, the one over the subject comes; the entries are attested again
    (salted)."""
    from consent.core import personal
    from consent.core.schema import _marks

    _salt_column(schema)
    rows = schema.execute('SELECT "id", "org_id", "identifier", "subject_id" '
                          'FROM "avacy_consent" WHERE "pd_salt" IS NULL').fetchall()
    for entry_id, org_id, identifier, subject_id in rows:
        if subject_id is None:
            key = personal.org_key(org_id, create=True)
            found = schema.execute(_marks(schema, 'SELECT "id" FROM "subject" WHERE '
                                                  '"org_id" = ? AND "lookup" = ?'), (
                org_id, personal.lookup_digest(key, identifier))).fetchone()
            subject_id = found[0] if found else None
        schema.execute(_marks(schema, 'UPDATE "avacy_consent" SET "pd_salt" = ?, '
                                      '"subject_id" = ? WHERE "id" = ?'),
                       (personal.new_salt(), subject_id, entry_id))
    for name in OLD_INDEXES:
        schema.drop_index(name)
    schema.create(AvacyConsent)   # its (org, subject, id) and (org, created_at) indexes
    covered.attest([covered.of(AvacyConsent)], again=True,
                   note="archive entries salted: their personal data became erasable "
                        "(avacy version 5)")


# The dialect's part of the schema (declared in its entry, DIALECT.schema). What the audit chain
# covers (consent.core.covered): all three. A decision's consent_seq was consent_id before version
# 4: hashed under that name.
SCHEMA = Component("avacy", models=MODELS, covered=(
    covered.cover(AvacyWebspace),
    covered.cover(AvacyConsent, personal=("identifier", "ip_address", "proofs", "proofs_sha256",
                                          "request", "versions")),
    covered.cover(AvacyDecision, org=(AvacyDecision.entry, AvacyConsent.org),
                  hashed_as={"consent_seq": "consent_id"}),
), migrations=(
    baseline(*MODELS, also=_webspace_number),
    Migration(2, "avacy_consent.versions: the policy versions a v4 request accepted, as sent",
              _versions),
    cover_rows(*MODELS, version=3, also=_salt_column),
    Migration(4, "avacy_decision.consent_id renamed consent_seq (it holds consent.seq)",
              rename_columns(AvacyDecision, consent_seq="consent_id")),
    Migration(5, "avacy_consent erasable: salted personal columns, found by subject (no "
                 "index over the plain identifier)", _erasable),
))
