"""The stub's own tables (component ``control``): each organisation's clock, its fault rules and
its request journal. Bookkeeping of a test stand-in, not records: no audit events, and a reset
empties them with everything else."""
from __future__ import annotations

from peewee import (
    AutoField,
    BooleanField,
    CharField,
    DateTimeField,
    DoubleField,
    ForeignKeyField,
    IntegerField,
    TextField,
)

from consent.core.schema import baseline
from consent.core.components import Component
from consent.core.storage import BaseModel, JSONField, Organisation, utcnow


class ControlClock(BaseModel):
    """An organisation's clock, ``offset_seconds`` away from real time (absent: real time)."""

    org = ForeignKeyField(Organisation, primary_key=True, on_delete="CASCADE")
    offset_seconds = DoubleField()
    set_at = DateTimeField()

    class Meta:
        table_name = "control_clock"


class ControlFault(BaseModel):
    """A fault rule: requests (``target`` ``request``) or webhook deliveries (``delivery``) of
    the organisation that match ``method`` and the ``path`` glob (a delivery's URL for
    deliveries) get ``status`` (or a dropped connection), for the next ``remaining`` matches
    (None: every match) or a ``percent`` of them."""

    id = AutoField()
    org = ForeignKeyField(Organisation, on_delete="CASCADE", index=False)
    target = CharField(max_length=16, default="request")
    method = CharField(max_length=16, null=True)
    path = CharField(max_length=2048)
    status = IntegerField(null=True)
    remaining = IntegerField(null=True)
    count = IntegerField(null=True)
    percent = DoubleField(null=True)
    latency_ms = IntegerField(default=0)
    drop = BooleanField(default=False)
    fired = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "control_fault"
        indexes = ((("org", "id"), False),)


class ControlRequest(BaseModel):
    """One request an organisation's credentials sent (the request journal), as received:
    credential headers masked, the body cut at ``consent.control.journal.BODY_LIMIT``."""

    id = AutoField()
    org = ForeignKeyField(Organisation, on_delete="CASCADE", index=False)
    at = DateTimeField()
    method = CharField(max_length=16)
    path = TextField()
    query = TextField(default="")
    dialect = CharField(max_length=32, null=True)
    headers = JSONField()
    body = TextField(default="")
    body_encoding = CharField(max_length=8, default="utf-8")   # utf-8 or base64
    body_truncated = BooleanField(default=False)
    body_size = IntegerField(default=0)
    status = IntegerField()
    injected = BooleanField(default=False)

    class Meta:
        table_name = "control_request"
        indexes = ((("org", "id"), False),)


MODELS = (ControlClock, ControlFault, ControlRequest)

# Its part of the schema: always installed (consent.web.dialect.install), control mode on or off,
# so a database keeps one shape whichever way a process starts.
SCHEMA = Component("control", MODELS, migrations=(baseline(*MODELS),))
