"""A database that does not answer is an outage: every API answers 503 with ``Retry-After`` in its
dialect's own shape (pages a page), ``/readyz`` 503 and ``/healthz`` 200; the log gets one line
when the outage begins and one when it ends, never a traceback per request; the CLI says so in
one line; background loops add nothing to the log. A genuine bug is still a 500 with one
traceback.

Outages here are real: PostgreSQL at an address where nothing listens, a throwaway PostgreSQL
server (``.ci/postgres`` on a port and data directory of its own) stopped and started again
mid-test, a SQLite file whose directory disappears, SQLite's write lock held past the busy
timeout, a PostgreSQL backend terminated by the server.
"""
from __future__ import annotations

import glob
import logging
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from consent import create_app
from consent.core import background, outage, storage, tokens
from consent.core.outage import MESSAGE, OUTAGE
from tests.helpers import PG_URL, OrgFixture
from tests.openapi_contract import ContractClient
from tests.route_helpers import NO_DATABASE, every_route

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_app(url: str, **config):
    app = create_app({"TESTING": True, "CONSENT_DATABASE_URL": url,
                      "CONSENT_SECRET_KEY": "outage-" + uuid.uuid4().hex, **config})
    app.test_client_class = ContractClient
    return app


@pytest.fixture
def apps():
    made = []
    yield made
    for app in made:
        app.extensions["consent.background"].stop()
    if storage.db.obj is not None and not storage.db.is_closed():
        storage.db.close()


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.INFO)
    return caplog


def outage_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "consent.core.outage"]


def tracebacks(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info]


SHAPES = {
    # what each dialect answers, with a credential or without (the database decides first)
    "ledger": ("GET", "/ledger/v1/consents",
               {"code": 503, "status": "Service Unavailable", "message": MESSAGE}),
    "truconsent": ("GET", "/api/v1/external/consents/history?dp_id=x", {"detail": MESSAGE}),
    "veriff": ("GET", "/v1/sessions/abc/decision",
               {"status": "fail", "code": "1101", "message": MESSAGE}),
    "avacy": ("POST", "/demo/domains_groups/1/consents", {"message": MESSAGE}),
    "avacy plugin": ("GET", "/wp/validate/demo/key",
                     {"message": {"error": "service_unavailable", "reason": MESSAGE}}),
    "attestr": ("GET", "/api/v3/public/consent/abc",
                {"httpStatusCode": 503, "code": 5031, "message": "Service temporarily unavailable",
                 "appError": False, "details": MESSAGE}),
}
# credentials of every kind (the database is needed to check them)
CREDENTIALS = {"X-Org-Id": "demo", "X-API-Key": "ck_x", "X-AUTH-CLIENT": "ik_x",
               "X-HMAC-SIGNATURE": "0" * 64, "Authorization": "Basic Y2xfeDp5"}
PAGES = [f"/demo/CP001/{uuid.uuid4()}", "/v/some-session-token"]
# URLs a dialect owns that match no route: its credential is checked first (the database)
UNMATCHED = [("/v1/nothing-here", {}), ("/api/v3/public/nothing", {}),
             ("/demo/domains_groups/1/nothing", {"Authorization": "Bearer ck_x"})]


def assert_unavailable_everywhere(app) -> int:
    """Every route and dialect answers 503 as documented; returns how many requests were made."""
    client = app.test_client()
    count = 0
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert (ready.status_code, ready.get_json(), ready.headers["Retry-After"]) == (
        503, SHAPES["ledger"][2], str(outage.RETRY_AFTER))
    for name, (method, path, body) in SHAPES.items():
        response = client.open(path, method=method, json={}, headers=CREDENTIALS)
        assert (response.status_code, response.get_json()) == (503, body), name
        assert response.headers["Retry-After"] == str(outage.RETRY_AFTER)
        count += 1
    with app.app_context():   # a link that passes its signature check: the database is next
        archive = "/avacy/archive?t=" + tokens.dumps(
            app.config["SECRET_KEY"], tokens.Salt.ARCHIVE_PAGE,
            {"org": str(uuid.uuid4()), "page": "avacy.archive"})
    for path in [*PAGES, archive]:
        response = client.get(path)
        assert response.status_code == 503 and response.mimetype == "text/html", path
        assert "Temporarily unavailable" in response.get_data(as_text=True)
        assert response.headers["Retry-After"] == str(outage.RETRY_AFTER)
        assert response.headers["Content-Security-Policy"]   # the pages' own headers
        count += 1
    for path, headers in UNMATCHED:
        response = client.get(path, headers={**CREDENTIALS, **headers})
        assert response.status_code == 503, (path, response.get_data(as_text=True)[:200])
        count += 1
    answered = set()
    for method, path in every_route(app):
        response = client.open(path, method=method, json={}, headers=CREDENTIALS)
        if response.status_code == 503:
            assert response.headers["Retry-After"] == str(outage.RETRY_AFTER)
        else:
            assert response.status_code < 500, (method, path, response.status_code)
            answered.add(path)
        count += 1
    # what answers without the database: the documents, static files, the pages whose
    # signed link is checked first (a missing one is refused before any lookup), and the
    # console without a session cookie (sent to sign-in before any lookup; a signed-in
    # console page is a 503: tests/test_console_access.py)
    console = {p for p in answered if p.startswith("/console/")}
    assert answered - console <= {"/healthz", "/openapi.json", "/docs", "/docs/", "/docs/demo",
                                  "/v/assets/demo", "/truconsent/outbox",
                                  "/avacy/archive"}, answered
    return count


# -- PostgreSQL -----------------------------------------------------------------------------------

def test_postgresql_that_does_not_answer_is_503_everywhere_and_one_log_line(apps, logs):
    app = make_app(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
    apps.append(app)
    for path in NO_DATABASE:   # the liveness probe and the documents never touch the database
        assert app.test_client().get(path).status_code == 200
    assert outage_lines(logs) == []
    requests = assert_unavailable_everywhere(app)
    assert requests > 80
    lines = outage_lines(logs)
    assert len(lines) == 1 and lines[0].startswith("database unavailable: OperationalError: "
                                                   "connection to server at")
    assert tracebacks(logs) == []
    assert not app.extensions["consent.background"].running


def test_the_cli_says_the_database_does_not_answer_in_one_line(apps, logs):
    app = make_app(f"postgresql://postgres@127.0.0.1:{free_port()}/nothing")
    apps.append(app)
    runner = app.test_cli_runner()
    for args in (["audit", "verify"], ["migrate"], ["migrate", "--status"], ["org", "list"],
                 ["seed-demo"]):
        result = runner.invoke(args=args)
        assert result.exit_code == 1, (args, result.output)
        assert result.output.startswith("Error: the database does not answer: OperationalError"), \
            (args, result.output)
        assert len(result.output.strip().splitlines()) == 1
        assert isinstance(result.exception, SystemExit)
    assert tracebacks(logs) == []


def _postgres_bin() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return found[-1] if found else None


class ThrowawayPostgres:
    """A PostgreSQL server of this test's own (``.ci/postgres`` on its own port and data
    directory): the shared test server is never stopped."""

    def __init__(self):
        # not under pytest's tmp_path: its folders are owner-only, and the server runs as the
        # postgres user when the tests run as root
        self.home = Path(tempfile.mkdtemp(prefix="consent-outage-pg-"))
        self.home.chmod(0o755)
        self.env = {**os.environ, "PGPORT": str(free_port()), "PGDATA": str(self.home / "pg")}
        self.url = self._run("start").strip()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    def _run(self, command: str) -> str:
        return subprocess.run([str(ROOT / ".ci" / "postgres"), command], env=self.env,
                              check=True, capture_output=True, text=True, timeout=180).stdout

    def stop(self) -> None:
        self._run("stop")

    def start_again(self) -> None:
        self._run("restart")   # pg_ctl restart starts a stopped server with its last options


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="the PostgreSQL suite")
@pytest.mark.skipif(_postgres_bin() is None, reason="PostgreSQL's server is not installed")
def test_postgresql_stopped_mid_test_is_an_outage_and_its_end_is_logged(apps, logs):
    server = ThrowawayPostgres()
    try:
        app = make_app(server.url)
        apps.append(app)
        with app.app_context():
            storage.create_tables()
            org = OrgFixture("acme")
        client = app.test_client()
        grant = {"subject": "s", "purpose": "p", "status": "granted"}
        assert client.post("/ledger/v1/consents", json=grant,
                           headers=org.headers()).status_code == 201
        app.extensions["consent.background"].stop()   # the requests alone, in this test
        server.stop()
        for _ in range(10):
            for response in (client.get("/ledger/v1/consents", headers=org.headers()),
                             client.post("/ledger/v1/consents", json=grant,
                                         headers=org.headers()),
                             client.get("/readyz")):
                assert response.status_code == 503 and response.headers["Retry-After"]
        assert client.get("/healthz").status_code == 200
        assert len(outage_lines(logs)) == 1 and tracebacks(logs) == []
        server.start_again()
        assert client.get("/readyz").status_code == 200
        assert client.post("/ledger/v1/consents", json=grant,
                           headers=org.headers()).status_code == 201
        lines = outage_lines(logs)
        assert len(lines) == 2 and lines[1].startswith("database answers again after")
        assert "(30 failures)" in lines[1]
        assert tracebacks(logs) == []
        verify = client.get("/ledger/v1/audit/verify", headers=org.headers()).get_json()
        assert verify["ok"] is True and verify["checked"] > 0
    finally:
        storage.db.close()
        server.remove()


def _http(url: str, headers: dict) -> tuple[int, str | None]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Retry-After")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Retry-After")


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="the PostgreSQL suite")
@pytest.mark.skipif(_postgres_bin() is None, reason="PostgreSQL's server is not installed")
def test_gunicorn_on_a_stopped_postgresql_logs_a_line_per_worker_not_per_request(apps, tmp_path):
    """The issue's case: the service under gunicorn, PostgreSQL stopped. Every request is a 503
    with Retry-After; the error log gets at most one line per worker, and no traceback."""
    server = ThrowawayPostgres()
    gunicorn = None
    try:
        app = make_app(server.url)
        apps.append(app)
        with app.app_context():
            storage.create_tables()
            org = OrgFixture("acme")
        app.extensions["consent.background"].stop()
        storage.db.close()
        port = free_port()
        log_path = tmp_path / "gunicorn.log"
        with open(log_path, "w") as log_file:
            gunicorn = subprocess.Popen(
                [str(Path(sys.executable).parent / "gunicorn"), "--bind", f"127.0.0.1:{port}",
                 "--workers", "2", "app:app"], cwd=ROOT, stdout=log_file, stderr=log_file,
                env={**os.environ, "CONSENT_DATABASE_URL": server.url,
                     "CONSENT_SECRET_KEY": app.config["SECRET_KEY"]},
                start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if _http(base + "/readyz", {})[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.1)
        headers = org.headers()
        assert _http(base + "/ledger/v1/consents", headers)[0] == 200
        server.stop()
        answers = [_http(base + path, headers) for _ in range(100)
                   for path in ("/ledger/v1/consents", "/readyz")]
        assert set(answers) == {(503, str(outage.RETRY_AFTER))}
        assert _http(base + "/healthz", {})[0] == 200
        server.start_again()
        deadline = time.monotonic() + 60
        while _http(base + "/readyz", {})[0] != 200:   # each worker reconnects by itself
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        if gunicorn is not None:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            gunicorn.wait(timeout=30)
        server.remove()
    log = log_path.read_text()
    assert "Traceback" not in log and "Error handling request" not in log, log[-3000:]
    started = log.count("database unavailable:")
    assert 1 <= started <= 2, log[-3000:]   # one per worker that met the outage


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="the PostgreSQL suite")
def test_a_postgresql_backend_terminated_by_the_server_is_an_outage(app, org, logs):
    """The server ends this process's session (pg_terminate_backend, as a restart or a
    failover does) inside a transaction: that request is a 503, the next one reconnects."""
    client = app.test_client()
    assert client.get("/ledger/v1/consents", headers=org.headers()).status_code == 200
    pid = storage.db.execute_sql("SELECT pg_backend_pid()").fetchone()[0]
    import psycopg2

    killer = psycopg2.connect(PG_URL)
    killer.autocommit = True
    real_execute = storage.db.obj.execute_sql
    killed = []

    def terminate_then_run(sql, params=None, *args, **kwargs):
        if not killed and sql.lstrip().upper().startswith("INSERT"):
            killed.append(True)
            with killer.cursor() as cursor:
                cursor.execute("SELECT pg_terminate_backend(%s)", (pid,))
        return real_execute(sql, params, *args, **kwargs)

    database = storage.db.obj
    database.execute_sql = terminate_then_run
    try:
        failed = client.post("/ledger/v1/consents", headers=org.headers(),
                             json={"subject": "s", "purpose": "p", "status": "granted"})
    finally:
        del database.execute_sql
        killer.close()
    assert killed and failed.status_code == 503 and failed.headers["Retry-After"]
    assert failed.get_json()["message"] == MESSAGE
    again = client.post("/ledger/v1/consents", headers=org.headers(),
                        json={"subject": "s", "purpose": "p", "status": "granted"})
    assert again.status_code == 201
    assert len(outage_lines(logs)) == 2 and tracebacks(logs) == []


# -- SQLite ---------------------------------------------------------------------------------------

@pytest.mark.skipif(bool(PG_URL), reason="the SQLite suite")
def test_a_sqlite_file_that_cannot_be_opened_is_an_outage_logged_once(apps, logs, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    app = make_app(f"sqlite:///{data / 'consent.sqlite3'}")
    apps.append(app)
    with app.app_context():
        storage.create_tables()
        org = OrgFixture("acme")
    client = app.test_client()
    grant = {"subject": "s", "purpose": "p", "status": "granted"}
    assert client.post("/ledger/v1/consents", json=grant, headers=org.headers()).status_code == 201
    app.extensions["consent.background"].stop()   # the requests alone, in this test

    def away():
        storage.db.close()              # as a new worker: it must open the file
        data.rename(tmp_path / "gone")  # the volume is gone

    def back():
        (tmp_path / "gone").rename(data)

    away()
    requests = assert_unavailable_everywhere(app)
    lines = outage_lines(logs)
    assert len(lines) == 1 and "unable to open database file" in lines[0], lines
    assert tracebacks(logs) == []
    back()
    assert client.get("/readyz").status_code == 200
    lines = outage_lines(logs)
    assert len(lines) == 2 and lines[1].startswith("database answers again after")
    assert requests > 80
    # a second outage within a minute of the first line is not logged (nor is its end)
    away()
    assert client.get("/ledger/v1/consents", headers=org.headers()).status_code == 503
    back()
    assert client.get("/ledger/v1/consents", headers=org.headers()).status_code == 200
    assert len(outage_lines(logs)) == 2
    # past the interval, the next one is
    OUTAGE.every = 0.0
    try:
        away()
        assert client.get("/readyz").status_code == 503
        back()
        assert client.get("/readyz").status_code == 200
    finally:
        OUTAGE.every = 60.0
    assert len(outage_lines(logs)) == 4 and tracebacks(logs) == []
    assert client.get("/ledger/v1/audit/verify", headers=org.headers()).get_json()["ok"]


@pytest.mark.skipif(bool(PG_URL), reason="the SQLite suite")
def test_sqlites_write_lock_held_past_the_busy_timeout_is_a_503(apps, logs, tmp_path):
    path = tmp_path / "consent.sqlite3"
    app = make_app(f"sqlite:///{path}", CONSENT_SQLITE_WRITER_LOCK="none",
                   CONSENT_SQLITE_BUSY_TIMEOUT_MS=100)
    apps.append(app)
    with app.app_context():
        storage.create_tables()
        org = OrgFixture("acme")
    client = app.test_client()
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")   # another program writing, for longer than 100 ms
    try:
        write = client.post("/ledger/v1/consents", headers=org.headers(),
                            json={"subject": "s", "purpose": "p", "status": "granted"})
        assert (write.status_code, write.get_json()["message"]) == (503, MESSAGE)
        assert write.headers["Retry-After"] == str(outage.RETRY_AFTER)
        read = client.get("/ledger/v1/consents", headers=org.headers())   # WAL: reads go on
        assert read.status_code == 200
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert client.post("/ledger/v1/consents", headers=org.headers(), json={
        "subject": "s", "purpose": "p", "status": "granted"}).status_code == 201
    lines = outage_lines(logs)
    assert "database is locked" in lines[0] and "SQLITE_BUSY" in lines[0]
    assert tracebacks(logs) == []


# -- what is an outage, and what is a bug ------------------------------------------------------------

def test_which_errors_are_outages(tmp_path, apps):
    def raised(fn):
        try:
            fn()
        except Exception as exc:  # noqa: BLE001
            return exc
        raise AssertionError("nothing raised")

    # SQLite, real errors of the driver
    missing = tmp_path / "no-such-dir" / "x.sqlite3"
    assert outage.is_unavailable(raised(lambda: sqlite3.connect(missing).execute("SELECT 1")))
    con = sqlite3.connect(tmp_path / "a.sqlite3")
    assert not outage.is_unavailable(raised(lambda: con.execute("SELECT * FROM nope")))
    con.execute("CREATE TABLE t (x UNIQUE)")
    con.execute("INSERT INTO t VALUES (1)")
    con.commit()
    assert not outage.is_unavailable(raised(lambda: con.execute("INSERT INTO t VALUES (1)")))
    # PostgreSQL: a server that does not listen, through peewee as the service meets it
    apps.append(make_app(f"postgresql://postgres@127.0.0.1:{free_port()}/x"))
    refused = raised(lambda: storage.db.execute_sql("SELECT 1"))
    assert type(refused).__module__ == "peewee" and outage.is_unavailable(refused)
    assert outage.describe(refused).startswith("OperationalError: connection to server at")
    # a bug raised while handling an outage is a bug
    def bug_in_handler():
        try:
            storage.db.execute_sql("SELECT 1")
        except Exception:
            raise KeyError("oops")
    assert not outage.is_unavailable(raised(bug_in_handler))
    # not a database error at all
    assert not outage.is_unavailable(ValueError("connection refused"))


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="the PostgreSQL suite")
def test_a_postgresql_error_that_is_not_an_outage_is_not_one(app):
    error = None
    try:
        with storage.db.atomic():
            storage.db.execute_sql("SELECT * FROM no_such_table")
    except Exception as exc:  # noqa: BLE001
        error = exc
    assert error is not None and not outage.is_unavailable(error)


def test_a_bug_is_still_a_500_with_one_traceback(client, org, logs, monkeypatch):
    from consent.dialects.ledger import routes

    def broken(*args, **kwargs):
        raise RuntimeError("a genuine bug")

    monkeypatch.setattr(routes.ledger, "list_consents", broken)
    response = client.get("/ledger/v1/consents", headers=org.headers())
    assert response.status_code == 500 and "Retry-After" not in response.headers
    assert len(tracebacks(logs)) == 1 and outage_lines(logs) == []


# -- background loops --------------------------------------------------------------------------------

class Rounds:
    """A loop step that counts its rounds, then raises what ``fail`` gives."""

    def __init__(self, fail):
        self.fail, self.count, self.done = fail, 0, threading.Condition()

    def __call__(self) -> bool:
        with self.done:
            self.count += 1
            self.done.notify_all()
        self.fail()
        return False

    def run(self, loop, rounds: int) -> None:
        for n in range(rounds):
            with self.done:
                target = self.count + 1
            loop.wake()
            with self.done:
                assert self.done.wait_for(lambda: self.count >= target, timeout=30)


def _wait_logged(caplog, predicate, timeout=30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, [r.getMessage() for r in caplog.records]
        time.sleep(0.01)


def test_background_loops_log_an_outage_once_and_a_bug_once_a_minute(apps, logs):
    apps.append(make_app(f"postgresql://postgres@127.0.0.1:{free_port()}/x"))
    away = Rounds(lambda: storage.db.execute_sql("SELECT 1"))
    state = {"broken": True}

    def bug():
        if state["broken"]:
            raise ValueError("a genuine bug in a loop")

    buggy = Rounds(bug)
    loops = [background.Loop("away-loop", away, lambda: 3600.0),
             background.Loop("buggy-loop", buggy, lambda: 3600.0)]
    runner = background.Runner(loops)
    try:
        away.run(loops[0], 5)
        buggy.run(loops[1], 5)
        _wait_logged(logs, lambda: OUTAGE._failures >= 5)
        _wait_logged(logs, lambda: len(tracebacks(logs)) >= 1)
        state["broken"] = False
        buggy.run(loops[1], 1)
        _wait_logged(logs, lambda: any("runs again" in r.getMessage() for r in logs.records))
    finally:
        runner.stop()
    assert len(outage_lines(logs)) == 1
    buggy_lines = [r for r in logs.records if "buggy-loop" in r.getMessage()]
    assert [r.getMessage() for r in buggy_lines] == [
        "background loop buggy-loop failed (retried every round)",
        "background loop buggy-loop runs again"]
    assert buggy_lines[0].exc_info is not None and len(tracebacks(logs)) == 1
