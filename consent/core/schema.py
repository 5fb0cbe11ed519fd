"""The pieces a migration is written with (:class:`Migration`, :class:`Schema`), and the core's
own component of the schema: its tables and the migrations that lead older databases to their
shape. The mechanism that applies migrations is ``consent.core.migrate``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from peewee import IntegerField
from playhouse.migrate import SchemaMigrator, migrate

from . import covered
from .storage import (
    CORE_MODELS,
    ConsentEvent,
    Notice,
    NoticeVersion,
    Purpose,
    PurposeVersion,
    SubjectLink,
    db,
    register_models,
)
from .usage import ConsentTerms, ConsentUse


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

    def add_column(self, table: str, name: str, field) -> bool:
        """Add a column if the table lacks it; True if it was added."""
        if name in self.columns(table):
            return False
        migrate(self.migrator.add_column(table, name, field))
        return True

    def create(self, *models) -> None:
        """Create tables (and their indexes) that do not exist yet."""
        self.db.create_tables(models, safe=True)

    def drop_index(self, name: str) -> None:
        self.db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')

    def execute(self, sql: str, params=()):
        return self.db.execute_sql(sql, params)



def cover_rows(*models, version: int, also=None) -> Migration:
    """A migration that makes tables covered (``consent.core.covered``): adds their
    ``audit_seq`` column, runs ``also(schema)`` for what else they gain, then attests the rows
    already there in ``rows.attested`` events (their content as it is at the upgrade)."""
    def up(schema: Schema) -> None:
        for model in models:
            schema.add_column(model._meta.table_name, covered.POINTER,
                              IntegerField(null=True))
        if also is not None:
            also(schema)
        covered.attest([covered.of(m) for m in models],
                       note=f"rows written before version {version} covered them")
    names = ", ".join(m._meta.table_name for m in models)
    return Migration(version, f"rows covered by the audit chain: {names}", up)


def baseline(*models, obsolete_indexes: tuple[str, ...] = (), also=None) -> Migration:
    """A component's migration 1 from the versions before migrations: its tables and indexes
    created where missing, the indexes it no longer has dropped, then ``also(schema)`` for what
    else those versions lack."""
    def up(schema: Schema) -> None:
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
)


def _audit_seq(schema: Schema) -> None:
    """``consent.audit_seq``, filled in from the ``recorded`` consent events that held it
    before."""
    if schema.add_column("consent", "audit_seq", IntegerField(null=True)):
        schema.execute(
            'UPDATE "consent" SET "audit_seq" = (SELECT a."seq" FROM "consent_event" e '
            'JOIN "audit_event" a ON a."event_id" = e."audit_event_id" '
            "WHERE e.\"consent_id\" = \"consent\".\"seq\" AND e.\"type\" = 'recorded') "
            'WHERE "audit_seq" IS NULL')


# The core's covered tables (consent.core.covered): what decides an answer besides the consent
# rows themselves (which verify checks against their record hash).
covered.cover(ConsentTerms, org='c."org_id"', join='JOIN "consent" c ON c."id" = t."consent_id"')
covered.cover(ConsentUse)
covered.cover(ConsentEvent, org='c."org_id"',
              join='JOIN "consent" c ON c."seq" = t."consent_id"')
covered.cover(SubjectLink)
covered.cover(Purpose)
covered.cover(PurposeVersion, org='p."org_id"',
              join='JOIN "purpose" p ON p."id" = t."purpose_id"')
covered.cover(Notice)
covered.cover(NoticeVersion, org='n."org_id"', join='JOIN "notice" n ON n."id" = t."notice_id"')
COVERED = (ConsentTerms, ConsentUse, ConsentEvent, SubjectLink, Purpose, PurposeVersion, Notice,
           NoticeVersion)

CORE = (*CORE_MODELS, ConsentTerms, ConsentUse)
register_models(*CORE, component="core", migrations=(
    baseline(*CORE, obsolete_indexes=OBSOLETE_INDEXES, also=_audit_seq),
    cover_rows(*COVERED, version=2),
))
