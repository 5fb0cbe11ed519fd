"""Versioned migrations: what a new database records, what an older one gets, how a migration
fails (whole), how several processes migrate one database (once), and how a service on a schema
that is not its code's answers (503 naming the command, never 500)."""
from __future__ import annotations

import threading
import uuid

import pytest
from peewee import CharField, IntegerField

from consent import create_app
from consent.core import components, migrate, storage
from consent.core.schema import Migration, baseline
from consent.core.storage import BaseModel

ALL = {"core", "control", "truconsent", "veriff", "avacy", "attestr", "console"}


def versions() -> dict[str, int]:
    return {s.name: s.current for s in migrate.status()}


def forget_versions() -> None:
    """Make the database look as versions before migrations left it."""
    storage.db.execute_sql('DROP TABLE "schema_migration"')


def test_a_new_database_is_created_at_every_components_latest_version(app):
    assert {s.name for s in migrate.status()} == ALL
    assert all(s.current == s.latest and not s.behind and not s.legacy
               for s in migrate.status())
    assert migrate.problem() is None
    assert migrate.upgrade() == []   # again: nothing to do
    rows = list(migrate.SchemaMigration.select())
    assert {r.component for r in rows} == ALL
    assert all(r.description.startswith("created at version") for r in rows)


def test_a_database_from_before_versioning_is_at_zero_and_gets_its_baselines(app):
    forget_versions()
    states = {s.name: s for s in migrate.status()}
    assert all(s.legacy and s.current == 0 for s in states.values())
    assert "older than this code" in migrate.problem()
    applied = migrate.upgrade()
    # Each component's baseline, then every migration after it.
    assert {(a.component, a.version) for a in applied} == {
        (c.name, v) for c in components.installed() for v in range(1, c.latest + 1)}
    assert {a.component for a in applied if a.version == 1} == ALL
    assert migrate.problem() is None


# -- a component of the test's own --------------------------------------------------------------------

class Gadget(BaseModel):
    name = CharField(max_length=40)

    class Meta:
        table_name = "test_gadget"


@pytest.fixture
def component(app):
    """A component with a baseline; tests add migrations. Removed again afterwards."""
    before = components.installed()
    entry = components.Component("zz_test", models=(Gadget,), migrations=(baseline(Gadget),))
    components.install([*before, entry])
    yield entry
    components.install(before)
    storage.db.execute_sql('DROP TABLE IF EXISTS "test_gadget"')


def add_size(schema):
    schema.add_column("test_gadget", "size", IntegerField(default=0))


def test_migrations_after_the_recorded_version_run_in_order(app, component):
    migrate.upgrade()
    assert versions()["zz_test"] == 1
    Gadget.create(name="kept")
    seen = []
    component.migrations.append(Migration(2, "add size", add_size))
    component.migrations.append(Migration(3, "fill size", lambda schema: (
        seen.append(schema.columns("test_gadget")),
        schema.execute('UPDATE "test_gadget" SET "size" = 7'))))
    assert "zz_test 1 < 3" in migrate.problem()
    applied = migrate.upgrade()
    assert [(a.component, a.version) for a in applied] == [("zz_test", 2), ("zz_test", 3)]
    assert "size" in seen[0]    # 3 ran on what 2 left
    assert storage.db.execute_sql('SELECT "name", "size" FROM "test_gadget"').fetchall() == \
        [("kept", 7)]
    assert versions()["zz_test"] == 3 and migrate.problem() is None


def test_a_failing_migration_rolls_back_whole_and_the_earlier_ones_stay(app, component):
    migrate.upgrade()

    def broken(schema):
        add_size(schema)
        schema.execute('UPDATE "test_gadget" SET "size" = 1')
        raise RuntimeError("half-way")

    component.migrations.append(Migration(2, "add size", add_size))
    component.migrations.append(Migration(3, "broken", broken))
    with pytest.raises(RuntimeError, match="half-way"):
        migrate.upgrade()
    assert versions()["zz_test"] == 2
    assert "size" in {c.name for c in storage.db.get_columns("test_gadget")}
    component.migrations[2] = Migration(3, "fixed", lambda schema: None)
    assert [a.version for a in migrate.upgrade()] == [3]


def test_a_failing_migration_leaves_no_half_change(app, component):
    migrate.upgrade()

    def broken(schema):
        add_size(schema)
        raise RuntimeError("after the ALTER")

    component.migrations.append(Migration(2, "broken", broken))
    with pytest.raises(RuntimeError):
        migrate.upgrade()
    assert "size" not in {c.name for c in storage.db.get_columns("test_gadget")}
    assert versions()["zz_test"] == 1


def test_several_processes_migrating_at_once_apply_each_migration_once(app, component):
    migrate.upgrade()
    runs = []

    def slow(schema):
        runs.append(threading.get_ident())
        add_size(schema)

    component.migrations.append(Migration(2, "slow", slow))
    errors = []

    def run():
        try:
            migrate.upgrade()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            storage.db.close()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and len(runs) == 1
    assert list(migrate.SchemaMigration.select().where(
        migrate.SchemaMigration.component == "zz_test").order_by(
        migrate.SchemaMigration.version).tuples().select(
        migrate.SchemaMigration.version)) == [(1,), (2,)]


def test_a_dialect_added_later_gets_its_tables_at_its_latest_version(app, component):
    # registered after the app's database was made: no table, nothing recorded
    assert not storage.db.table_exists("test_gadget")
    component.migrations.append(Migration(2, "add size", add_size))
    applied = migrate.upgrade()
    assert [(a.component, a.version, a.description) for a in applied] == [
        ("zz_test", 2, "created at version 2")]   # the models are its latest shape
    assert storage.db.table_exists("test_gadget")


# -- a service on a schema that is not its code's -------------------------------------------------------

@pytest.fixture
def legacy_app(database_url):
    """The service started on a database from before versioned migrations."""
    first = create_app({"TESTING": True, "CONSENT_DATABASE_URL": database_url,
                        "CONSENT_SECRET_KEY": "k"})
    with first.app_context():
        storage.create_tables()
        forget_versions()
    first.extensions["consent.background"].stop()

    def make(**config):
        app = create_app({"TESTING": True, "CONSENT_DATABASE_URL": database_url,
                          "CONSENT_SECRET_KEY": "k-" + uuid.uuid4().hex, **config})
        app.extensions["consent.schema_gate"].RECHECK = 0.0
        made.append(app)
        return app
    made = []
    yield make
    for app in made:
        app.extensions["consent.background"].stop()


def test_an_older_schema_is_503_naming_the_command_in_each_dialects_shape(legacy_app):
    app = legacy_app()
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.headers["Retry-After"]
    assert "flask --app app migrate" in ready.get_json()["message"]
    ledger = client.get("/ledger/v1/consents", headers={"X-Org-Id": "x", "X-API-Key": "y"})
    assert ledger.status_code == 503
    assert ledger.get_json()["code"] == 503 and "migrate" in ledger.get_json()["message"]
    veriff = client.post("/v1/sessions", json={})
    assert veriff.status_code == 503 and veriff.get_json()["status"] == "fail"
    tc = client.get("/api/v1/external/consents/history?user_id=u")
    assert tc.status_code == 503 and "migrate" in tc.get_json()["detail"]
    attestr = client.post("/api/v3/public/consent/register", json={})
    assert attestr.status_code == 503
    assert client.get("/openapi.json").status_code == 200
    # nothing ran in the background on the old schema
    assert not app.extensions["consent.background"].running


def test_after_the_command_the_running_service_serves(legacy_app):
    app = legacy_app()
    client = app.test_client()
    assert client.get("/readyz").status_code == 503
    result = app.test_cli_runner().invoke(args=["migrate"])
    assert result.exit_code == 0, result.output
    assert "core: version 1: baseline" in result.output
    assert client.get("/readyz").status_code == 200
    assert app.extensions["consent.schema_gate"].current


def test_migrate_status_exits_1_until_current(legacy_app):
    app = legacy_app()
    runner = app.test_cli_runner()
    behind = runner.invoke(args=["migrate", "--status"])
    assert behind.exit_code == 1 and "from before versioned migrations" in behind.output
    assert "flask --app app migrate" in behind.output
    assert runner.invoke(args=["migrate"]).exit_code == 0
    current = runner.invoke(args=["migrate", "--status"])
    latest = {c.name: c.latest for c in components.installed()}["core"]
    assert current.exit_code == 0 and f"core         {latest} of {latest}" in current.output


def test_auto_migrate_migrates_on_the_first_request(legacy_app):
    app = legacy_app(CONSENT_AUTO_MIGRATE=True)
    assert app.test_client().get("/readyz").status_code == 200
    with app.app_context():
        assert migrate.problem() is None


def test_a_schema_newer_than_the_code_is_refused_not_migrated(legacy_app):
    app = legacy_app(CONSENT_AUTO_MIGRATE=True)
    with app.app_context():
        migrate.upgrade()
        migrate.SchemaMigration.create(component="core", version=99, description="from the future")
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503 and "newer than this code" in ready.get_json()["message"]
    with app.app_context(), pytest.raises(RuntimeError, match="newer than this code"):
        migrate.upgrade()


def test_an_empty_database_says_to_migrate(database_url):
    app = create_app({"TESTING": True, "CONSENT_DATABASE_URL": database_url,
                      "CONSENT_SECRET_KEY": "k"})
    try:
        ready = app.test_client().get("/readyz")
        assert ready.status_code == 503
        assert "no tables yet: run `flask --app app migrate`" in ready.get_json()["message"]
    finally:
        app.extensions["consent.background"].stop()
