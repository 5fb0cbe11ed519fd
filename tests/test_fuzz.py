"""Schemathesis over /openapi.json, every operation of every dialect with its real credentials
(tests/fuzz.py): zero 5xx, and every response's status, content type and body as documented.

In ``make test``: in-process (WSGI), a bounded, derandomized number of examples per operation
(``FUZZ_EXAMPLES``, default 6). ``make fuzz``: ``FUZZ_LIVE=1``, the same against a real gunicorn
on 127.0.0.1 with its own SQLite database, and many examples (``FUZZ_EXAMPLES``, default 300).
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests import fuzz

pytestmark = pytest.mark.fuzz

LIVE = os.environ.get("FUZZ_LIVE") == "1"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300" if LIVE else "6"))
ROOT = Path(__file__).resolve().parent.parent


class _Requests:
    """The few calls the setup makes, through requests (live) or the Flask test client."""

    def __init__(self, base_url=None, flask_client=None):
        self.base_url, self.flask_client = base_url, flask_client

    def post(self, path, headers, json):
        if self.flask_client is not None:
            r = self.flask_client.post(path, headers=headers, json=json)
            return _Reply(r.status_code, r.get_data(as_text=True))
        import requests
        r = requests.post(self.base_url + path, headers=headers, json=json, timeout=30)
        return _Reply(r.status_code, r.text)


    def send(self, method, path, headers, data=None):
        """Any method with raw bytes (Veriff's calls sign the exact body)."""
        if self.flask_client is not None:
            r = self.flask_client.open(path, method=method, headers=headers, data=data)
            return _Reply(r.status_code, r.get_data(as_text=True))
        import requests
        r = requests.request(method, self.base_url + path, headers=headers, data=data,
                             timeout=30)
        return _Reply(r.status_code, r.text)


class _Reply:
    def __init__(self, status_code, text):
        self.status_code, self.text = status_code, text

    def json(self):
        return json.loads(self.text)


def _report(outcome: fuzz.Outcome) -> str:
    return (f"{outcome.operations} operations, {outcome.examples} examples in "
            f"{outcome.seconds:.1f}s, statuses {dict(sorted(outcome.statuses.items()))}")


@pytest.mark.skipif(LIVE, reason="FUZZ_LIVE=1: the live run below")
def test_fuzz_every_operation_in_process(app, runner):
    seeded = runner.invoke(args=["seed-demo", "--json"])
    assert seeded.exit_code == 0, seeded.output
    seed = json.loads(seeded.output)
    credentials = fuzz.Credentials(seed)
    credentials.learn(_Requests(flask_client=app.test_client()))
    schema = fuzz.load_wsgi(app)
    outcome = fuzz.run(schema, credentials, examples=EXAMPLES, deadline_s=60)
    print(_report(outcome))
    for label, statuses in outcome.by_operation.items():
        print(f"  {label}: {statuses}")
    assert outcome.operations >= 58
    assert not outcome.failures, "\n\n".join(outcome.failures)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not LIVE, reason="make fuzz (FUZZ_LIVE=1)")
@pytest.mark.timeout(0)
def test_fuzz_every_operation_live_gunicorn(tmp_path):
    """``make fuzz``: a long run over HTTP against gunicorn (2 workers) on its own database."""
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {**os.environ,
           "CONSENT_DATABASE_URL": os.environ.get(
               "FUZZ_DATABASE_URL", f"sqlite:///{tmp_path / 'fuzz.sqlite3'}"),
           "CONSENT_SECRET_KEY": "fuzz-" + os.urandom(8).hex(),
           "CONSENT_CHECKPOINT_KEY_DIR": str(tmp_path / "checkpoint-keys"),
           "CONSENT_PUBLIC_URL": base_url}
    bindir = Path(sys.executable).parent
    flask = [str(bindir / "flask"), "--app", "app"]
    subprocess.run(flask + ["init-db"], env=env, cwd=ROOT, check=True, timeout=120,
                   capture_output=True)
    seed = json.loads(subprocess.run(flask + ["seed-demo", "--json"], env=env, cwd=ROOT,
                                     check=True, timeout=120, capture_output=True,
                                     text=True).stdout)
    log = open(tmp_path / "gunicorn.log", "wb")
    server = subprocess.Popen([str(bindir / "gunicorn"), "--bind", f"127.0.0.1:{port}",
                               "--workers", "2", "app:app"], env=env, cwd=ROOT, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        until = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base_url + "/readyz", timeout=5):
                    break
            except OSError:
                if time.monotonic() > until or server.poll() is not None:
                    raise RuntimeError("gunicorn did not become ready") from None
                time.sleep(0.2)
        credentials = fuzz.Credentials(seed)
        credentials.learn(_Requests(base_url=base_url))
        schema = fuzz.load_url(base_url)
        outcome = fuzz.run(schema, credentials, examples=EXAMPLES, shrink=True,
                           base_url=base_url, timeout=30)
        print(_report(outcome))
        assert not outcome.failures, "\n\n".join(outcome.failures)
    finally:
        try:
            os.killpg(server.pid, 15)
            server.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, 9)
            server.wait(timeout=30)
        log.close()
