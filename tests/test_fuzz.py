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


def _known_records(client, seed) -> dict:
    """A record of each kind, so operations on one id reach real data (not only 404s)."""
    ledger_h = {"X-Org-Id": seed["org"]["slug"], "X-API-Key": seed["ledger"]["admin_api_key"]}
    out = {}
    r = client.post("/ledger/v1/consents", headers=ledger_h,
                    json={"subject": "fuzz-subject", "purpose": "marketing",
                          "status": "granted"})
    assert r.status_code == 201, r.text
    out["ledger"] = {"consent_id": r.json()["id"], "subject": "fuzz-subject",
                     "integration_id": seed["veriff"]["integration_id"],
                     "session_id": seed["veriff"]["session_id"]}
    t = seed["truconsent"]
    r = client.post("/api/consent/consent-links",
                    headers={"X-Org-Id": t["org_id"], "X-API-Key": t["api_key"]},
                    json={"collection_point_id": t["collection_point_display_id"],
                          "asset_id": t["asset_id"], "phone": "+919876543210",
                          "expiry_hours": 24})
    assert r.status_code == 200, r.text
    out["truconsent"] = {"request_id": r.json()["request_id"]}
    out["truconsent"].update(asset_id=t["asset_id"], banner_id=t["banner_id"], user_id="fuzz")
    out["ledger"].update(asset_id=t["asset_id"], cp_id=t["collection_point_id"])
    a = seed["attestr"]
    r = client.post("/api/v3/public/consent/register",
                    headers={"Authorization": a["authorization"]},
                    json={"consentPurpose": "kyc_verification",
                          "services": [{"service": a["services"][0]}],
                          "consentTimestamp": "2026-05-22T00:00:00+0000",
                          "consentMode": "email_otp", "consentType": "multi_use",
                          "consentValidFrom": "2026-05-22T00:00:00+0000",
                          "consentValidTill": "2099-01-01T00:00:00+0000",
                          "consentReferenceId": "fuzz-ref", "consentPrincipalUserId": "fuzz",
                          "clientDeclaration": True, "consentOperations": ["VERIFY"],
                          "consentDataCategories": [{"category": "financial",
                                                     "values": ["ifsc"]}]})
    assert r.status_code == 200, r.text
    out["attestr"] = {"consent_id": r.json()["_id"]}
    # Veriff: a session of its own with a file and a submitted attempt (the seed's stays open)
    v = seed["veriff"]
    r = client.post("/v1/sessions", headers={"X-AUTH-CLIENT": v["api_key"]},
                    json={"verification": {"vendorData": "fuzz"}})
    assert r.status_code == 201, r.text
    sid = r.json()["verification"]["id"]
    signed = {"X-AUTH-CLIENT": v["api_key"], "Content-Type": "application/json"}
    media = json.dumps({"image": {"context": "face", "content": "/9j/4AAQSkZJRg=="}}).encode()
    r = client.send("POST", f"/v1/sessions/{sid}/media", data=media, headers={
        **signed, "X-HMAC-SIGNATURE": fuzz.sign(v["shared_secret"], media)})
    assert r.status_code == 200, r.text
    media_id = r.json()["image"]["id"]
    submit = json.dumps({"verification": {"status": "submitted"}}).encode()
    r = client.send("PATCH", f"/v1/sessions/{sid}", data=submit, headers={
        **signed, "X-HMAC-SIGNATURE": fuzz.sign(v["shared_secret"], submit)})
    assert r.status_code == 200, r.text
    attempt = client.send("GET", f"/v1/sessions/{sid}/attempts", headers={
        "X-AUTH-CLIENT": v["api_key"], "X-HMAC-SIGNATURE": fuzz.sign(v["shared_secret"],
                                                                    sid.encode())})
    out["veriff"] = {"media_id": media_id,
                     "attempt_id": attempt.json()["verifications"][0]["id"]}
    return out


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
    credentials.known = _known_records(_Requests(flask_client=app.test_client()), seed)
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
        credentials.known = _known_records(_Requests(base_url=base_url), seed)
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
