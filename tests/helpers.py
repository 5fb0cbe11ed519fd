"""What several test modules share besides fixtures: the PostgreSQL test databases and an
organisation with its keys. (Fixtures are in conftest.py, which no test imports.)"""
from __future__ import annotations

import os
import uuid

from consent.core import auth, ledger

PG_URL = os.environ.get("CONSENT_TEST_DATABASE_URL", "")


def fresh_pg_database() -> tuple[str, str]:
    """A new empty database on the test PostgreSQL server: its URL and name."""
    import psycopg2
    from urllib.parse import urlsplit, urlunsplit

    name = "t_" + uuid.uuid4().hex[:16]
    conn = psycopg2.connect(PG_URL)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    parts = urlsplit(PG_URL)
    return urlunsplit(parts._replace(path="/" + name)), name


def drop_pg_database(name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(PG_URL)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


class OrgFixture:
    """An organisation with an admin key and a consent-only key, and header helpers."""

    def __init__(self, slug: str):
        self.org = ledger.create_org(slug, f"Org {slug}")
        self.admin_key = auth.create_credential(self.org.id, name="admin",
                                                scopes=("admin", "consent")).key
        self.consent_key = auth.create_credential(self.org.id, name="consent",
                                                  scopes=("consent",)).key

    @property
    def slug(self):
        return self.org.slug

    def headers(self, key=None, **extra):
        return {"X-API-Key": key or self.admin_key, "X-Org-Id": self.org.slug, **extra}


def free_port() -> int:
    """A TCP port free on loopback now (for a server a test starts)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpInbox:
    """What a real SMTP server on loopback (aiosmtpd, the ``smtp`` fixture) received: its
    envelopes, in order; ``url`` is the CONSENT_SMTP_URL that reaches it."""

    def __init__(self):
        self.messages = []
        self.url = ""

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"


def delivery_settled(delivery_id, status: str, timeout: float = 15.0):
    """Wait (bounded) until a webhook delivery has this status and no sender holds it; its row."""
    import time

    from consent.core.storage import WebhookDelivery

    deadline = time.monotonic() + timeout
    row = None
    while time.monotonic() < deadline:
        row = WebhookDelivery.get_by_id(delivery_id)
        if row.status == status and row.lease_until is None:
            return row
        time.sleep(0.02)
    raise AssertionError(f"delivery {delivery_id} never became {status}: "
                         f"{row.status if row else None}")
