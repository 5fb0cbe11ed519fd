"""The pytest plugin: the ``consent_ledger`` fixture, its options and the reset marker.

Where the service comes from, in order:

1. ``--consent-ledger-url`` / ``CONSENT_LEDGER_URL``: a service already running (started with
   ``CONSENT_CONTROL=1``); its credentials are the JSON ``seed-demo --json`` printed, from
   ``--consent-ledger-credentials`` / ``CONSENT_LEDGER_CREDENTIALS`` (a file path).
2. ``--consent-ledger-checkout`` / ``CONSENT_LEDGER_CHECKOUT``: a checkout of the service; the
   fixture starts ``python -m consent.stub`` from it (its ``.venv/bin/python`` unless
   ``CONSENT_LEDGER_PYTHON`` names another) on a free loopback port with a fresh SQLite
   database in a temporary directory, waits for ``/readyz``, and stops it after the session.

Reset between tests: ``@pytest.mark.consent_ledger_reset`` on a test (or module, via
``pytestmark``), or ``--consent-ledger-reset`` for every test that uses the fixture.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .client import Ledger

READY_TIMEOUT = 60.0


def pytest_addoption(parser):
    group = parser.getgroup("consent-ledger")
    group.addoption("--consent-ledger-url", default=None,
                    help="a running Consent Ledger (CONSENT_LEDGER_URL)")
    group.addoption("--consent-ledger-credentials", default=None,
                    help="its seed-demo --json output, a file (CONSENT_LEDGER_CREDENTIALS)")
    group.addoption("--consent-ledger-checkout", default=None,
                    help="a checkout to start the service from (CONSENT_LEDGER_CHECKOUT)")
    group.addoption("--consent-ledger-reset", action="store_true", default=False,
                    help="reset the organisation before every test that uses consent_ledger")


def pytest_configure(config):
    config.addinivalue_line("markers", "consent_ledger_reset: reset the Consent Ledger's "
                                       "organisation before this test")


def _option(config, name: str, env: str):
    return config.getoption(name) or os.environ.get(env) or None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=2) as answer:
            return answer.status == 200
    except (urllib.error.URLError, OSError):
        return False


class Started:
    """A service this session started, and how to stop it."""

    def __init__(self, checkout: Path):
        self.dir = Path(tempfile.mkdtemp(prefix="consent-ledger-"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        python = os.environ.get("CONSENT_LEDGER_PYTHON") or str(checkout / ".venv" / "bin" /
                                                                "python")
        if not Path(python).exists():
            python = sys.executable
        env = {**os.environ,
               "CONSENT_DATABASE_URL": f"sqlite:///{self.dir / 'consent.sqlite3'}",
               "CONSENT_CHECKPOINT_KEY_DIR": str(self.dir / "checkpoint-keys"),
               "CONSENT_CONTROL": "1", "PYTHONUNBUFFERED": "1"}
        env.setdefault("CONSENT_SECRET_KEY", os.urandom(32).hex())
        self.seed_json = self.dir / "seed.json"
        self.log = open(self.dir / "service.log", "wb")
        self.process = subprocess.Popen(
            [python, "-m", "consent.stub", "--port", str(self.port),
             "--seed-json", str(self.seed_json)],
            cwd=str(checkout), env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait(self) -> dict:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Consent Ledger exited ({self.process.returncode}): "
                                   f"{(self.dir / 'service.log').read_text()[-2000:]}")
            if self.seed_json.exists() and _ready(self.url):
                return json.loads(self.seed_json.read_text())
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"the Consent Ledger did not answer /readyz in {READY_TIMEOUT} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="session")
def consent_ledger(pytestconfig):
    """The Consent Ledger as a stub: a :class:`pytest_consent_ledger.Ledger`."""
    url = _option(pytestconfig, "consent_ledger_url", "CONSENT_LEDGER_URL")
    if url:
        path = _option(pytestconfig, "consent_ledger_credentials", "CONSENT_LEDGER_CREDENTIALS")
        if not path:
            raise pytest.UsageError("CONSENT_LEDGER_URL needs CONSENT_LEDGER_CREDENTIALS: the "
                                    "file seed-demo --json wrote")
        if not _ready(url.rstrip("/")):
            raise pytest.UsageError(f"no Consent Ledger answers /readyz at {url}")
        yield Ledger(url, json.loads(Path(path).read_text()))
        return
    checkout = _option(pytestconfig, "consent_ledger_checkout", "CONSENT_LEDGER_CHECKOUT")
    if not checkout:
        raise pytest.UsageError("set CONSENT_LEDGER_URL (a running service) or "
                                "CONSENT_LEDGER_CHECKOUT (a checkout to start one from)")
    started = Started(Path(checkout).resolve())
    try:
        credentials = started.wait()
        yield Ledger(started.url, credentials)
    finally:
        started.stop()


@pytest.fixture(autouse=True)
def _consent_ledger_reset(request):
    if "consent_ledger" not in request.fixturenames:
        return
    if request.node.get_closest_marker("consent_ledger_reset") is None and \
            not request.config.getoption("consent_ledger_reset"):
        return
    request.getfixturevalue("consent_ledger").reset()
