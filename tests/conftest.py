"""Fixtures: an app on a fresh temporary SQLite file per test (or a fresh PostgreSQL schema when
CONSENT_TEST_DATABASE_URL is set), its client and CLI runner, and a seeded organisation."""
from __future__ import annotations

import os
import uuid

import pytest

# Every response dumped by a compiled schema is also dumped by marshmallow and compared.
os.environ.setdefault("CONSENT_CHECK_FAST_DUMP", "1")

from consent import create_app, dialects
from consent.core import ledger, storage, verify
from tests.helpers import PG_URL, OrgFixture, drop_pg_database, fresh_pg_database
from tests.openapi_contract import ContractClient

# What the registry's dialects declare, for tests parametrized over it when they are collected
# (every app a test creates declares it again).
dialects.declare()

@pytest.fixture
def database_url(tmp_path):
    if PG_URL:
        url, name = fresh_pg_database()
        yield url
        if storage.db.obj is not None:
            storage.db.close()
        drop_pg_database(name)
    else:
        yield f"sqlite:///{tmp_path / 'consent.sqlite3'}"


SLOW_KINDS = ("browser", "crash", "fuzz", "upgrade")   # each is slow too (pytest.ini's markers)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(item.get_closest_marker(kind) for kind in SLOW_KINDS):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def app(database_url, tmp_path, request):
    application = create_app({
        "TESTING": True,
        "CONSENT_DATABASE_URL": database_url,
        "CONSENT_CHECKPOINT_KEY_DIR": str(tmp_path / "checkpoint-keys"),
        "CONSENT_SECRET_KEY": "test-secret-key-" + uuid.uuid4().hex,
        "CONSENT_PUBLIC_URL": "http://consent.test",
        # @pytest.mark.control_mode: the app serves /_control (CONSENT_CONTROL=1)
        "CONSENT_CONTROL": request.node.get_closest_marker("control_mode") is not None,
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


@pytest.fixture
def org(app):
    return OrgFixture("acme")


@pytest.fixture
def other_org(app):
    return OrgFixture("globex")


@pytest.fixture
def smtp():
    """A real SMTP server on loopback (aiosmtpd) for the length of the test: a SmtpInbox."""
    from aiosmtpd.controller import Controller

    from tests.helpers import SmtpInbox, free_port

    inbox = SmtpInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.url = f"smtp://127.0.0.1:{controller.port}"
    yield inbox
    controller.stop()


@pytest.fixture
def signed_in(app, client, org):
    """The test client signed in to the console as an operator of ``org`` (ops@example.com)."""
    from tests.console_helpers import make_operator, sign_in

    make_operator(org.org.id)
    sign_in(client, app)
    return client
