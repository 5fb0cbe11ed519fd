"""The pieces a migration is written with (:class:`Migration`, :class:`Schema`), and the core's
own component of the schema, :data:`CORE`: its tables, the migrations that lead older databases
to their shape and its covered tables, declared in this one place (installed with the dialects'
by ``consent.core.components.install``). The mechanism that applies migrations is
``consent.core.migrate``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from peewee import (
    SQL,
    BlobField,
    BooleanField,
    CharField,
    DateTimeField,
    DecimalField,
    FloatField,
    IntegerField,
    SqliteDatabase,
)
from playhouse.migrate import SchemaMigrator, migrate

from . import covered
from .components import Component
from .database import db
from .storage import (
    CORE_MODELS,
    AuditCheckpoint,
    Consent,
    OrgKey,
    RetentionPolicy,
    RightsRequest,
    ConsentEvent,
    ConsentTerms,
    ConsentUse,
    Notice,
    NoticeVersion,
    Purpose,
    PurposeVersion,
    SessionTokenRevocation,
    Subject,
    SubjectLink,
)


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    up: Callable[["Schema"], None]


class Schema:
    """What a migration may look at and change, on either backend."""

    def __init__(self):
        self.db = db.obj
        self.migrator = SchemaMigrator.from_database(self.db)

    def tables(self) -> set[str]:
        return set(self.db.get_tables())

    def has_table(self, table: str) -> bool:
        return table in self.tables()

    def columns(self, table: str) -> set[str]:
        return {c.name for c in self.db.get_columns(table)}

    def indexes(self, table: str) -> set[str]:
        return {i.name for i in self.db.get_indexes(table)}

    def add_column(self, table: str, name: str, field, fill: str | None = None) -> bool:
        """Add a column if the table lacks it; True if it was added. ``fill``: an SQL
        expression (of the row's other columns) that gives the existing rows their value; a
        column that is NOT NULL in the models is added nullable, filled, then made NOT NULL."""
        if name in self.columns(table):
            return False
        if fill is None:
            migrate(self.migrator.add_column(table, name, field))
            return True
        if field.null or not isinstance(self.db, SqliteDatabase):
            nullable = field.clone()
            nullable.null = True
            migrate(self.migrator.add_column(table, name, nullable))
            self.execute(f'UPDATE "{table}" SET "{name}" = ({fill})')
            if not field.null:
                migrate(self.migrator.add_not_null(table, name))   # PostgreSQL: in place
            return True
        # SQLite cannot add NOT NULL to a column in place: playhouse would rebuild the table,
        # and dropping the old one with foreign keys on deletes the rows that point at it. A
        # NOT NULL column with a placeholder default is added instead, then filled.
        placeholder = field.clone()
        placeholder.constraints = [SQL("DEFAULT " + (
            "0" if isinstance(field, (IntegerField, FloatField, DecimalField, BooleanField))
            else "''"))]
        migrate(self.migrator.alter_add_column(table, name, placeholder, allow_not_null=True))
        self.execute(f'UPDATE "{table}" SET "{name}" = ({fill})')
        return True

    def create(self, *models) -> None:
        """Create tables (and their indexes) that do not exist yet."""
        self.db.create_tables(models, safe=True)

    def drop_index(self, name: str) -> None:
        self.db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')

    def execute(self, sql: str, params=()):
        return self.db.execute_sql(sql, params)

    def rename_column(self, model, old: str, new: str) -> bool:
        """Rename a column of ``model``'s table that still has its old name (True if it did),
        and give the indexes on it the names the model gives them (an index keeps its name when
        its column is renamed: it is dropped and made again)."""
        table = model._meta.table_name
        if old not in self.columns(table):
            return False
        migrate(self.migrator.rename_column(table, old, new))
        expected = {index._name for index in model._meta.fields_to_index()}
        for index in self.db.get_indexes(table):
            if new in index.columns and index.name not in expected \
                    and not index.name.startswith("sqlite_") and not index.name.endswith("_pkey"):
                self.drop_index(index.name)
        self.create(model)
        return True


# Columns renamed by a migration: {model: {new name: old name}}. The migrations that work from
# today's models (a baseline creating their indexes, cover_rows attesting their rows) rename them
# first, since they name and index today's columns; the renaming migration then finds it done.
RENAMED: dict = {}


def rename_columns(model, **renamed: str) -> Callable[[Schema], None]:
    """A migration's ``up`` that renames columns of ``model``'s table (``new=old``), and records
    the rename for the migrations before it (:data:`RENAMED`)."""
    RENAMED.setdefault(model, {}).update(renamed)

    def up(schema: Schema) -> None:
        for new, old in renamed.items():
            schema.rename_column(model, old, new)
    return up


def today_names(schema: Schema, models) -> None:
    """Rename the columns of ``models`` that a later migration renames (:data:`RENAMED`)."""
    for model in models:
        for new, old in RENAMED.get(model, {}).items():
            schema.rename_column(model, old, new)


def cover_rows(*models, version: int, also=None) -> Migration:
    """A migration that makes tables covered (``consent.core.covered``): adds their
    ``audit_seq`` column, runs ``also(schema)`` for what else they gain, then attests the rows
    already there in ``rows.attested`` events (their content as it is at the upgrade). Attesting
    reads the columns the models name today, so a column renamed by a later migration is
    renamed here already (that migration then finds it done)."""
    def up(schema: Schema) -> None:
        today_names(schema, models)
        for model in models:
            schema.add_column(model._meta.table_name, covered.POINTER,
                              IntegerField(null=True))
        if also is not None:
            also(schema)
        covered.attest([covered.of(m) for m in models],
                       note=f"rows written before version {version} covered them")
    names = ", ".join(m._meta.table_name for m in models)
    return Migration(version, f"rows covered by the audit chain: {names}", up)


def baseline(*models, obsolete_indexes: tuple[str, ...] = (), also=None,
             before=None) -> Migration:
    """A component's migration 1 from the versions before migrations: its tables and indexes
    created where missing, the indexes it no longer has dropped, then ``also(schema)`` for what
    else those versions lack. (Its indexes are today's, on today's columns: a column a later
    migration renames is renamed first.)"""
    def up(schema: Schema) -> None:
        today_names(schema, models)
        if before is not None:   # columns a later migration adds that today's indexes name
            before(schema)
        schema.create(*models)
        if also is not None:
            also(schema)
        for name in obsolete_indexes:
            schema.drop_index(name)
    return Migration(1, "baseline: the schema of every version before migrations", up)


# -- the core's migrations ------------------------------------------------------------------------

# Indexes versions before migrations created and the baseline drops: each was a prefix of (or
# unused next to) a composite index, and every index is one more page written on every insert.
OBSOLETE_INDEXES = (
    "consent_org_id", "consent_subject_id", "consent_recorded_subject_id", "consent_purpose_id",
    "audit_event_org_id", "subject_org_id",
    # (org, subject, purpose, seq) could not order a subject's list by seq: (subject, seq)
    "consent_org_id_subject_id_purpose_id_seq",
    # b66afb2's list indexes, replaced at 221c0c9 by ones without the org column (subjects and
    # purposes belong to one organisation) and a status index that leads with the org
    "consent_org_id_subject_id_seq", "consent_org_id_purpose_id_seq",
    "consent_org_id_status_seq",
)


def _audit_seq(schema: Schema) -> None:
    """``consent.audit_seq``, filled in from the ``recorded`` consent events that held it
    before. (SQL of the schema of these versions, names and all; the baseline has renamed
    ``consent_event.consent_id`` ``consent_seq`` by now, see :func:`today_names`.)"""
    if schema.add_column("consent", "audit_seq", IntegerField(null=True)):
        schema.execute(
            'UPDATE "consent" SET "audit_seq" = (SELECT a."seq" FROM "consent_event" e '
            'JOIN "audit_event" a ON a."event_id" = e."audit_event_id" '
            "WHERE e.\"consent_seq\" = \"consent\".\"seq\" AND e.\"type\" = 'recorded') "
            'WHERE "audit_seq" IS NULL')


def _operator_sessions(schema: Schema) -> None:
    """Session tokens keep a hint (their last characters) and can be revoked for one
    organisation (``session_token_revocation``)."""
    schema.add_column("session_token", "hint", CharField(max_length=16, null=True))
    schema.create(SessionTokenRevocation)


# The core's covered tables (consent.core.covered): what decides an answer besides the consent
# rows themselves (which verify checks against their record hash).
COVERED = (
    covered.cover(ConsentTerms, org=(ConsentTerms.consent, Consent.org)),
    covered.cover(ConsentUse),
    # consent_event.consent_seq was consent_id before version 5: hashed under that name.
    covered.cover(ConsentEvent, org=(ConsentEvent.consent, Consent.org),
                  hashed_as={"consent_seq": "consent_id"}),
    covered.cover(SubjectLink, personal=("metadata",)),
    covered.cover(Purpose),
    covered.cover(PurposeVersion, org=(PurposeVersion.purpose, Purpose.org)),
    covered.cover(Notice),
    covered.cover(NoticeVersion, org=(NoticeVersion.notice, Notice.org)),
)

def _erasable(schema: Schema) -> None:
    """Personal data becomes erasable (``consent.core.personal``): subjects gain their keyed
    lookup, secret and erasure time, and are found by the lookup (the plain identifier's index
    goes); identity links gain a salt; organisations get their lookup key, and the head of their
    chain now is sealed (``org_key.sealed_seq``: the events so far may hold personal data,
    which erasure redacts); rights requests and retention policies get their tables. Existing
    links are attested again, salted."""
    from . import personal

    _subject_columns(schema)
    _link_salt(schema)
    schema.create(OrgKey, RightsRequest, RetentionPolicy)
    orgs = [row[0] for row in schema.execute('SELECT "id" FROM "organisation"').fetchall()]
    for org_id in orgs:
        head = schema.execute(_marks(schema, 'SELECT MAX("seq") FROM "audit_event" '
                                             'WHERE "org_id" = ?'), (org_id,)).fetchone()[0] or 0
        schema.execute(_marks(schema, 'INSERT INTO "org_key" ("org_id", "lookup_key", '
                                      '"sealed_seq") VALUES (?, ?, 0) ON CONFLICT DO NOTHING'),
                       (org_id, personal.new_key()))
        schema.execute(_marks(schema, 'UPDATE "org_key" SET "sealed_seq" = ? WHERE "org_id" = ?'),
                       (head, org_id))
        key = schema.execute(_marks(schema, 'SELECT "lookup_key" FROM "org_key" '
                                            'WHERE "org_id" = ?'), (org_id,)).fetchone()[0]
        rows = schema.execute(_marks(schema, 'SELECT "id", "identifier" FROM "subject" '
                                             'WHERE "org_id" = ? AND "lookup" IS NULL'),
                              (org_id,)).fetchall()
        for subject_id, identifier in rows:
            schema.execute(_marks(schema, 'UPDATE "subject" SET "lookup" = ?, "secret" = ? '
                                          'WHERE "id" = ?'),
                           (personal.lookup_digest(key, identifier), personal.new_secret(),
                            subject_id))
    links = schema.execute('SELECT "id" FROM "subject_link" WHERE "metadata" IS NOT NULL '
                           'AND "pd_salt" IS NULL').fetchall()
    for (link_id,) in links:
        schema.execute(_marks(schema, 'UPDATE "subject_link" SET "pd_salt" = ? WHERE "id" = ?'),
                       (personal.new_salt(), link_id))
    schema.drop_index("subject_org_id_identifier")
    schema.create(Subject)   # its (org, lookup) index
    covered.attest([covered.of(SubjectLink)], again=True,
                   note="identity links salted: their metadata became erasable (version 6)")


def _subject_columns(schema: Schema) -> None:
    """The subject's columns of version 6 (its index on ``lookup`` is one of today's, which
    the baseline creates: so it adds them first)."""
    if schema.has_table("subject"):
        schema.add_column("subject", "lookup", BlobField(null=True))
        schema.add_column("subject", "secret", BlobField(null=True))
        schema.add_column("subject", "commitment", CharField(max_length=32, null=True))
        schema.add_column("subject", "erased_at", DateTimeField(null=True))


def _link_salt(schema: Schema) -> None:
    """``subject_link.pd_salt`` (version 6), which today's hash of a link covers: added before
    version 4 attests the links."""
    schema.add_column("subject_link", "pd_salt", CharField(max_length=32, null=True))


def _marks(schema: Schema, text: str) -> str:
    return text if isinstance(schema.db, SqliteDatabase) else text.replace("?", "%s")


BASELINE = (*CORE_MODELS, ConsentTerms, ConsentUse)
CORE = Component("core", models=(*BASELINE, SessionTokenRevocation, AuditCheckpoint, OrgKey,
                                    RightsRequest, RetentionPolicy),
                 covered=COVERED, migrations=(
    baseline(*BASELINE, obsolete_indexes=OBSOLETE_INDEXES, also=_audit_seq,
             before=_subject_columns),
    Migration(2, "operator sessions: token hints, revocation per organisation",
              _operator_sessions),
    Migration(3, "audit_checkpoint: the signed checkpoints of the audit chain",
              lambda schema: schema.create(AuditCheckpoint)),
    cover_rows(*(entry.model for entry in COVERED), version=4, also=_link_salt),
    Migration(5, "consent_event.consent_id renamed consent_seq (it holds consent.seq)",
              rename_columns(ConsentEvent, consent_seq="consent_id")),
    Migration(6, "personal data erasable: keyed subject lookups, subject secrets, salted "
                 "identity links, a sealed prefix per chain; rights requests, retention",
              _erasable),
))
