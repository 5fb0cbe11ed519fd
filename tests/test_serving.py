"""The service as ``make run`` serves it: real gunicorn (``-c gunicorn.conf.py``, two workers,
``--access-logfile``) on a free loopback port, over real sockets.

* the access log masks every token a link carries and never logs a credential header;
* a request line over 4 KiB (and the other requests gunicorn refuses itself) is answered in JSON
  in the service's error shape, not gunicorn's HTML;
* a body over the limit is 413 on a route that never reads it, declared or chunked;
* an operator token revoked, or a member removed, is refused on the very next request, whichever
  worker takes it.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from consent.core import auth
from tests.helpers import OrgFixture

ROOT = Path(__file__).resolve().parent.parent
# gunicorn's default access log format, and every atom that could carry a credential.
LOG_FORMAT = ('%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" '
              'auth=%({authorization}i)s key=%({x-api-key}i)s client=%({x-auth-client}i)s '
              'sig=%({x-hmac-signature}i)s cookie=%({cookie}i)s env=%({http_authorization}e)s '
              'envkey=%({http_x_api_key}e)s raw=%({raw_uri}e)s qs=%({query_string}e)s '
              'path=%(U)s q=%(q)s referer=%({referer}i)s')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Served:
    """The data of one organisation, and gunicorn serving it."""

    def __init__(self, app, tmp: Path):
        from consent.dialects.avacy.pages import archive_url
        from consent.dialects.truconsent.pages import outbox_token
        from tests.avacy_helpers import Tenant
        from tests.truconsent_helpers import create_link, link_path, make_cp
        from tests.veriff_helpers import Integration

        self.app, self.tmp = app, tmp
        client = app.test_client()
        self.org = OrgFixture("acme")
        self.link = link_path(create_link(client, self.org, make_cp(self.org.org))["consent_link"])
        self.link_token = self.link.split("t=", 1)[1]
        self.veriff = Integration(self.org.org)
        r = self.veriff.post(client, "/v1/sessions", {"verification": {"vendorData": "v"}})
        assert r.status_code == 201, r.json
        self.flow_path = "/v/" + r.json["verification"]["url"].rsplit("/", 1)[1]
        self.flow_token = self.flow_path[3:]
        self.avacy = Tenant(self.org.org)
        with app.test_request_context():
            self.archive = archive_url(self.org.org).split("consent.test", 1)[1]
            self.outbox = f"/truconsent/outbox?t={outbox_token(self.org.org)}"
        self.archive_token = self.archive.split("t=", 1)[1]
        self.outbox_token = self.outbox.split("t=", 1)[1]
        self.user = auth.create_user("op@example.com")
        auth.add_member(self.org.org.id, self.user)
        row, self.bearer = auth.issue_session(app.config["SECRET_KEY"], self.user, 3600,
                                              app.config["CONSENT_SESSION_MAX_AGE"])
        self.bearer_id = row.id
        self.secrets = [self.link_token, self.flow_token, self.avacy.token, self.archive_token,
                        self.outbox_token, self.org.admin_key, self.org.consent_key,
                        self.veriff.key, self.bearer]
        self.access_log = tmp / "access.log"
        self.error_log = tmp / "error.log"

    def start(self):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "CONSENT_DATABASE_URL": self.app.config["CONSENT_DATABASE_URL"],
               "CONSENT_SECRET_KEY": self.app.config["SECRET_KEY"],
               "CONSENT_PUBLIC_URL": self.base}
        # exactly as `make run` serves (Makefile), with a file for the log and a format that
        # names every credential header
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "--config", "gunicorn.conf.py",
             "--bind", f"127.0.0.1:{self.port}", "--workers", "2",
             "--access-logfile", str(self.access_log), "--access-logformat", LOG_FORMAT,
             "--error-logfile", str(self.error_log), "app:app"],
            cwd=ROOT, env=env, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=5):
                    return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("gunicorn did not start: "
                                       + self.error_log.read_text()[-2000:]) from None
                time.sleep(0.2)

    def stop(self):
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    # -- requests ------------------------------------------------------------------------------
    def get(self, path, headers=None, method="GET", body=None):
        request = urllib.request.Request(self.base + path, data=body, method=method,
                                         headers=headers or {})
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def raw(self, data: bytes) -> tuple[int, dict, bytes]:
        """Send bytes as they are; the status, headers and body of the answer."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=30) as s:
            s.sendall(data)
            received = b""
            while True:
                try:
                    chunk = s.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                received += chunk
                head, sep, body = received.partition(b"\r\n\r\n")
                if sep:
                    headers = _headers(head)
                    if len(body) >= int(headers.get("content-length", "-1")) >= 0:
                        break
        head, _, body = received.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        return status, _headers(head), body

    def log_lines(self, agent: str, at_least: int) -> list[str]:
        """The access log's lines of the requests sent with User-Agent ``agent``, once there are
        ``at_least`` (each request is logged after its answer, by the worker that served it)."""
        deadline = time.monotonic() + 30
        while True:
            text = self.access_log.read_text() if self.access_log.exists() else ""
            lines = [line for line in text.splitlines() if f'"{agent}"' in line]
            if len(lines) >= at_least or time.monotonic() > deadline:
                return lines
            time.sleep(0.05)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _headers(head: bytes) -> dict:
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from consent import create_app
    from consent.core import storage
    from tests import helpers

    tmp = tmp_path_factory.mktemp("served")
    pg_name = None
    if helpers.PG_URL:
        url, pg_name = helpers.fresh_pg_database()
    else:
        url = f"sqlite:///{tmp / 'consent.sqlite3'}"
    app = create_app({"TESTING": True, "CONSENT_DATABASE_URL": url,
                      "CONSENT_SECRET_KEY": "test-secret-key-" + uuid.uuid4().hex,
                      "CONSENT_PUBLIC_URL": "http://consent.test"})
    with app.app_context():
        storage.create_tables()
        data = Served(app, tmp)
        data.start()
        try:
            yield data
        finally:
            data.stop()
            app.extensions["consent.background"].stop()
            if storage.db.obj is not None and not storage.db.is_closed():
                storage.db.close()
    if pg_name:
        helpers.drop_pg_database(pg_name)


# -- the access log ----------------------------------------------------------------------------------

def test_the_access_log_masks_every_token_a_link_carries(served):
    s = served
    agent = {"User-Agent": "masking-links"}
    key = s.avacy.webspace.key
    requests = [
        (s.link, 200),                                          # truConsent collector link
        (s.flow_path, 200),                                     # Veriff flow page
        (f"/wp/validate/acme/{key}/{s.avacy.token}", 200),      # Avacy plugin check
        (s.archive, 200),                                       # Avacy archive page
        (s.outbox, 200),                                        # truConsent outbox page
        # the same tokens, spelt the ways the routing still accepts
        (s.link.replace("?t=", "?%74="), 200),
        (s.link.replace("?t=", "?x=1&t="), 200),
        ("/%76/" + s.flow_token, 200),
        ("//v//" + s.flow_token, 308),
        (f"/wp/validate/acme/{key}/{s.avacy.token}/extra", 404),
    ]
    for path, expected in requests:
        status, _ = s.get(path, headers=agent)
        assert status == expected, (path, status)
    # a page's assets are fetched with the page's URL as Referer
    status, _ = s.get("/v/assets/flow.js", headers={"Referer": s.base + s.flow_path, **agent})
    assert status == 200
    status, _ = s.get("/healthz", headers={"Referer": s.base + s.link, **agent})
    assert status == 200
    lines = s.log_lines("masking-links", len(requests) + 2)
    assert len(lines) == len(requests) + 2, lines
    text = "\n".join(lines)
    for secret in s.secrets:
        assert secret not in text, (secret, text)
    assert text.count("t=***") >= 6 and "%74=***" in text
    assert f'"GET /v/*** HTTP/1.1"' in text and "path=/v/***" in text
    assert f"/wp/validate/acme/{key}/*** HTTP/1.1" in text
    assert f'"{s.base}/v/***"' in text  # the Referer
    assert "/v/assets/flow.js" in text   # what is no token stays as it was


def test_the_access_log_never_logs_who_a_request_is_about(served):
    """Identifiers in paths and queries are masked: an erased person is in no log line."""
    s = served
    agent = {"User-Agent": "masking-people", **s.org.headers()}
    who = "erin.logged@example.com"
    requests = [
        (f"/ledger/v1/subjects/{who}/state", 200),
        (f"/ledger/v1/subjects/{who}/report", 404),
        (f"/ledger/v1/consents?subject={who}&limit=5", 200),
        (f"/api/v1/internal/consent/user/{who}", None),
    ]
    for path, expected in requests:
        status, _ = s.get(path.replace("@", "%40"), headers=agent)
        assert expected is None or status == expected, (path, status)
    lines = s.log_lines("masking-people", len(requests))
    text = "\n".join(lines)
    assert len(lines) == len(requests), lines
    assert "erin.logged" not in text, text
    assert '"GET /ledger/v1/subjects/***/state HTTP/1.1"' in text
    assert "subject=***&limit=5" in text
    assert "/api/v1/internal/consent/user/***" in text


def test_the_access_log_never_logs_credentials(served):
    import base64

    s = served

    basic = base64.b64encode(b"secret-without-colon-zz9").decode()
    calls = [
        ({"X-Org-Id": "acme", "X-API-Key": s.org.admin_key}, "/ledger/v1/consents", 200),
        ({"X-Org-Id": "acme", "Authorization": f"Bearer {s.bearer}"},
         "/api/consent/consent-links/history", 200),
        ({"Authorization": f"Basic {basic}"}, "/api/v3/public/consent/nope", 401),
        ({"X-AUTH-CLIENT": s.veriff.key, "X-HMAC-SIGNATURE": "ab" * 32,
          "Cookie": "session=zz-cookie-secret"}, "/v1/sessions/nope/decision", 401),
    ]
    for headers, path, expected in calls:
        status, body = s.get(path, headers={**headers, "User-Agent": "masking-credentials"})
        assert status == expected, (path, status, body[:200])
    lines = s.log_lines("masking-credentials", len(calls))
    assert len(lines) == len(calls), lines
    text = "\n".join(lines)
    for secret in (*s.secrets, "secret-without-colon-zz9", basic, "zz-cookie-secret", "ab" * 32):
        assert secret not in text, (secret, text)
    assert "auth=***" in text and "key=***" in text and "client=***" in text
    assert "env=***" in text and "envkey=***" in text and "cookie=***" in text
    # the user of a Basic authorization (gunicorn's %(u)s) is not logged either
    assert all(line.split(" ")[2] == "-" for line in lines)


# -- what gunicorn answers itself ----------------------------------------------------------------------

def _line(target_length: int) -> bytes:
    """A request line of exactly ``target_length`` bytes (without its CRLF)."""
    fixed = len(b"GET /healthz?q= HTTP/1.1")
    return b"GET /healthz?q=" + b"a" * (target_length - fixed) + b" HTTP/1.1"


def test_a_request_line_over_4_kib_is_414_in_json(served):
    s = served
    status, _, _ = s.raw(_line(4096) + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200  # 4 KiB exactly is served
    for length in (4097, 8000, 70000):
        status, headers, body = s.raw(_line(length) + b"\r\nHost: x\r\n\r\n")
        assert status == 414, (length, body[:200])
        assert headers["content-type"] == "application/json"
        assert json.loads(body) == {"code": 414, "status": "Request-URI Too Long",
                                    "message": "The request line is longer than 4096 bytes"}


def test_other_requests_gunicorn_refuses_are_json_too_and_not_logged_with_tokens(served):
    s = served
    status, headers, body = s.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: "
                                  + b"a" * 9000 + b"\r\n\r\n")
    assert status == 431 and headers["content-type"] == "application/json"
    assert json.loads(body)["code"] == 431
    status, headers, body = s.raw(b"GET " + s.flow_path.encode() + b" HTTP/1.1 junk\r\n"
                                  b"Host: x\r\n\r\n")
    assert status == 400 and headers["content-type"] == "application/json"
    answer = json.loads(body)
    assert set(answer) == {"code", "status", "message"} and answer["code"] == 400
    assert s.flow_token not in answer["message"]
    deadline = time.monotonic() + 30
    while "Invalid request" not in s.error_log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    errors = s.error_log.read_text()
    assert "Invalid request" in errors and s.flow_token not in errors


# -- bodies over the limit ---------------------------------------------------------------------------

def _admin(s) -> bytes:
    return f"X-Org-Id: acme\r\nX-API-Key: {s.org.admin_key}\r\n".encode()


def test_a_body_over_the_limit_is_413_where_the_route_never_reads_it(served):
    s = served
    # 50 MB declared, none of it sent: the answer comes at once, and nothing was started
    head = (b"POST /ledger/v1/audit/verifications HTTP/1.1\r\nHost: x\r\n" + _admin(s)
            + b"Content-Length: 52428800\r\n\r\n")
    status, headers, body = s.raw(head)
    assert status == 413 and headers["content-type"] == "application/json"
    assert json.loads(body) == {"code": 413, "status": "Request Entity Too Large",
                                "message": "Request body too large"}
    # chunked, 2 MiB: refused once it goes past the limit
    chunk = b"100000\r\n" + b"x" * 0x100000 + b"\r\n"
    status, _, body = s.raw(b"POST /ledger/v1/audit/verifications HTTP/1.1\r\nHost: x\r\n"
                            + _admin(s) + b"Transfer-Encoding: chunked\r\n\r\n" + chunk * 2
                            + b"0\r\n\r\n")
    assert status == 413, body[:200]
    assert json.loads(body)["message"] == "Request body too large"
    # without a body it is accepted
    status, body = s.get("/ledger/v1/audit/verifications", method="POST",
                         headers={"X-Org-Id": "acme", "X-API-Key": s.org.admin_key})
    assert status == 202, body[:200]


def test_a_chunked_body_within_the_limit_reaches_the_route_whole(served):
    s = served
    body = json.dumps({"subject": "chunked-subject", "purpose": "p", "status": "granted"}).encode()
    parts = [body[:10], body[10:]]
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    status, _, answer = s.raw(b"POST /ledger/v1/consents HTTP/1.1\r\nHost: x\r\n" + _admin(s)
                              + b"Content-Type: application/json\r\nConnection: close\r\n"
                              b"Transfer-Encoding: chunked\r\n\r\n" + chunked)
    assert status == 201, answer[:300]
    assert json.loads(answer)["subject"] == "chunked-subject"


# -- revocation holds on the next request, on every worker ------------------------------------------

def test_revocation_and_removal_hold_on_the_next_request_of_every_worker(served):
    s = served
    user = auth.create_user("second@example.com")
    auth.add_member(s.org.org.id, user)
    _, token = auth.issue_session(s.app.config["SECRET_KEY"], user, 3600,
                                  s.app.config["CONSENT_SESSION_MAX_AGE"])
    _, other = auth.issue_session(s.app.config["SECRET_KEY"], user, 3600,
                                  s.app.config["CONSENT_SESSION_MAX_AGE"])
    probe = "/api/consent/consent-links/history"

    def status_with(bearer):
        return s.get(probe, headers={"X-Org-Id": "acme", "Authorization": f"Bearer {bearer}"})[0]

    assert [status_with(token) for _ in range(6)] == [200] * 6  # both workers know it
    token_id = auth.session_for_token(s.app.config["SECRET_KEY"], token,
                                      s.app.config["CONSENT_SESSION_MAX_AGE"]).id
    admin = {"X-Org-Id": "acme", "X-API-Key": s.org.admin_key}
    status, _ = s.get(f"/ledger/v1/tokens/{token_id}/revoke", method="POST", headers=admin)
    assert status == 200
    assert [status_with(token) for _ in range(6)] == [401] * 6
    assert status_with(other) == 200
    status, _ = s.get(f"/ledger/v1/members/{user.id}", method="DELETE", headers=admin)
    assert status == 200
    assert [status_with(other) for _ in range(6)] == [403] * 6


def test_the_apps_own_error_log_masks_a_link_token(client, caplog, monkeypatch):
    """A bug on a page whose URL carries a token logs the path with the token masked."""
    from consent.dialects.veriff import service

    def broken(token):
        raise RuntimeError("a bug")

    monkeypatch.setattr(service, "session_by_token", broken)
    token = "secret-session-token-" + uuid.uuid4().hex
    response = client.get(f"/v/{token}")
    assert response.status_code == 500
    assert "unhandled error on GET /v/" in caplog.text
    assert token not in caplog.text
