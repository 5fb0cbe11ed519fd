"""Fixtures: an app on a fresh temporary SQLite file per test (or a fresh PostgreSQL schema when
CONSENT_TEST_DATABASE_URL is set), its client and CLI runner, and a seeded organisation."""
from __future__ import annotations

import os
import uuid

import pytest

# Every response dumped by a compiled schema is also dumped by marshmallow and compared.
os.environ.setdefault("CONSENT_CHECK_FAST_DUMP", "1")

from consent import create_app
from consent.core import auth, ledger, storage, verify
from tests.openapi_contract import ContractClient

PG_URL = os.environ.get("CONSENT_TEST_DATABASE_URL", "")


def _fresh_pg_url() -> str:
    """A new empty database on the test PostgreSQL server."""
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


def _drop_pg(name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(PG_URL)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


@pytest.fixture
def database_url(tmp_path):
    if PG_URL:
        url, name = _fresh_pg_url()
        yield url
        if storage.db.obj is not None:
            storage.db.close()
        _drop_pg(name)
    else:
        yield f"sqlite:///{tmp_path / 'consent.sqlite3'}"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "tampered: the test writes the database behind the service's back "
                   "(tampering, or rows made by hand): no verify after it")


@pytest.fixture
def app(database_url, tmp_path, request):
    application = create_app({
        "TESTING": True,
        "CONSENT_DATABASE_URL": database_url,
        "CONSENT_CHECKPOINT_KEY_DIR": str(tmp_path / "checkpoint-keys"),
        "CONSENT_SECRET_KEY": "test-secret-key-" + uuid.uuid4().hex,
        "CONSENT_PUBLIC_URL": "http://consent.test",
    })
    with application.app_context():
        storage.create_tables()
    yield application
    try:
        if request.node.get_closest_marker("tampered") is None:
            # Whatever a test wrote through the service, the audit chain covers it: every
            # organisation verifies (a write that forgot to record a covered row fails here).
            with application.app_context():
                broken = {o.slug: r for o in ledger.all_orgs()
                          if not (r := verify.full(o.id))["ok"]}
            assert not broken, f"verify after the test: {broken}"
    finally:
        # The app's loops end before its database does (a loop must never see the next test's).
        application.extensions["consent.background"].stop()
        if storage.db.obj is not None and not storage.db.is_closed():
            storage.db.close()


@pytest.fixture
def client(app):
    """A test client whose every response is checked against /openapi.json."""
    app.test_client_class = ContractClient
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


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


@pytest.fixture
def org(app):
    return OrgFixture("acme")


@pytest.fixture
def other_org(app):
    return OrgFixture("globex")
