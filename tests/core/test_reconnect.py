"""PostgreSQL restarts: a dead connection is replaced on the next request, with at most the
in-flight request failing, in one process and in two service instances sharing the database.

Runs on PostgreSQL with ``CONSENT_TEST_PG_RESTART`` set to a command that restarts the server
(``.ci/run`` passes ``.ci/postgres restart``); under CI=true a missing command is a failure.
"""
from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from consent.core import audit
from consent.core.storage import Consent

PG_URL = os.environ.get("CONSENT_TEST_DATABASE_URL", "")
RESTART = os.environ.get("CONSENT_TEST_PG_RESTART", "")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not PG_URL, reason="PostgreSQL only")]

GRANT = {"subject": "user-1", "purpose": "marketing", "status": "granted"}


def restart_postgres():
    if not RESTART:
        if os.environ.get("CI"):
            pytest.fail("CONSENT_TEST_PG_RESTART is not set: the reconnect tests cannot run")
        pytest.skip("set CONSENT_TEST_PG_RESTART to a command that restarts the test PostgreSQL")
    subprocess.run(shlex.split(RESTART), check=True, timeout=120, capture_output=True)


def test_next_request_after_a_restart_succeeds(client, org):
    assert client.post("/ledger/v1/consents", json=GRANT, headers=org.headers()).status_code == 201
    restart_postgres()  # the connection this process holds is now dead
    listing = client.get("/ledger/v1/consents", headers=org.headers())
    assert listing.status_code == 200 and len(listing.json["items"]) == 1
    assert client.post("/ledger/v1/consents", json=GRANT, headers=org.headers()).status_code == 201
    assert client.get("/readyz").json == {"status": "ok"}
    assert client.get("/ledger/v1/audit/verify", headers=org.headers()).json["ok"] is True


def test_a_restart_inside_a_transaction_fails_only_that_request(client, org, monkeypatch):
    real_append = audit.append
    restarted = []

    def append_after_a_restart(*args, **kwargs):
        if not restarted:
            restarted.append(True)
            restart_postgres()  # the transaction's connection dies under it
        return real_append(*args, **kwargs)

    monkeypatch.setattr(audit, "append", append_after_a_restart)
    failed = client.post("/ledger/v1/consents", json=GRANT, headers=org.headers())
    # the database went away under it: an outage (503, retry), not a bug (500)
    assert failed.status_code == 503 and failed.headers["Retry-After"]
    assert failed.json["message"] and "Traceback" not in failed.get_data(as_text=True)
    monkeypatch.undo()
    # Nothing of the failed write was committed, and the next requests work.
    assert client.post("/ledger/v1/consents", json=GRANT, headers=org.headers()).status_code == 201
    assert Consent.select().count() == 1
    assert client.get("/ledger/v1/audit/verify", headers=org.headers()).json["ok"] is True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _call(url: str, key: str, body: dict | None = None) -> int:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if body else "GET", headers={
        "X-Org-Id": "acme", "X-API-Key": key, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_two_instances_recover_after_a_restart(app, org, database_url):
    """Two gunicorn instances on one database: after a restart, each may fail at most the one
    request that met its dead connection; then every request succeeds again."""
    env = {**os.environ, "CONSENT_DATABASE_URL": database_url,
           "CONSENT_SECRET_KEY": app.config["SECRET_KEY"]}
    ports = [_free_port(), _free_port()]
    servers = [subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--log-level", "warning", "app:app"],
        cwd=ROOT, env=env, start_new_session=True) for port in ports]
    try:
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        deadline = time.monotonic() + 30
        for base in bases:
            while True:
                try:
                    urllib.request.urlopen(base + "/healthz", timeout=2).read()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        for base in bases:
            assert _call(base + "/ledger/v1/consents", org.admin_key, GRANT) == 201
        restart_postgres()
        failures = {base: 0 for base in bases}
        for _ in range(5):
            for base in bases:
                for status in (_call(base + "/ledger/v1/consents", org.admin_key),
                               _call(base + "/ledger/v1/consents", org.admin_key, GRANT)):
                    if status >= 500:
                        failures[base] += 1
        assert all(count <= 1 for count in failures.values()), failures
        for base in bases:  # and every request after that works
            assert _call(base + "/ledger/v1/consents", org.admin_key, GRANT) == 201
            assert _call(base + "/readyz", org.admin_key) == 200
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
        for server in servers:
            server.wait(timeout=30)
