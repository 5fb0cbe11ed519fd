"""The console's own tables (component ``console``): single-use sign-in links already used, and
the daily counts the overview draws (so it never counts the ledger).

``console_day`` holds, per organisation, day (UTC, the day of a consent's ``created_at``),
source, status and purpose, how many consents were recorded. The ledger's one insert of a
consent adds to it in the same transaction (the ``consent.recorded`` hook), so it is exact; when
the table is created on a database that already has consents (an upgrade), the component's
``fill`` counts them. A control-mode reset empties it with the
organisation's consents; erasure leaves it (consents stay, and it holds no personal data)."""
from __future__ import annotations

from peewee import (
    AutoField,
    CharField,
    DateField,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    SqliteDatabase,
)

from consent.core.components import Component
from consent.core.schema import Schema, baseline
from consent.core.storage import BaseModel, Organisation, Purpose, User, utcnow


class ConsoleSignIn(BaseModel):
    """A sign-in link that was used (its nonce's SHA-256): a link signs in once."""

    nonce_hash = CharField(primary_key=True, max_length=64)
    user = ForeignKeyField(User, on_delete="CASCADE")
    used_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "console_sign_in"


class ConsoleDay(BaseModel):
    """Consents recorded per organisation, day, source, status and purpose."""

    id = AutoField()
    org = ForeignKeyField(Organisation, on_delete="CASCADE", index=False)
    day = DateField()
    source = CharField(max_length=32)
    status = CharField(max_length=16)
    purpose = ForeignKeyField(Purpose, on_delete="CASCADE", index=False)
    count = IntegerField(default=0)

    class Meta:
        table_name = "console_day"
        indexes = ((("org", "day", "source", "status", "purpose"), True),)


MODELS = (ConsoleSignIn, ConsoleDay)


def _fill_days(schema: Schema) -> None:
    """The counts of the consents already recorded (one GROUP BY, once)."""
    day = ('DATE("created_at")' if isinstance(schema.db, SqliteDatabase)
           else 'CAST("created_at" AS DATE)')
    schema.execute(
        'INSERT INTO "console_day" ("org_id", "day", "source", "status", "purpose_id", "count") '
        f'SELECT "org_id", {day}, "source", "status", "purpose_id", COUNT(*) FROM "consent" '
        f'GROUP BY "org_id", {day}, "source", "status", "purpose_id"')


SCHEMA = Component("console", MODELS, fill=_fill_days, migrations=(
    baseline(*MODELS),
))
