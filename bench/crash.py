"""``make crashtest``: crash and concurrency proof anyone can re-run.

Crash (``--database sqlite|postgres|both``): the service under gunicorn on loopback, loaded by
this module's own client threads with every dialect's writes (ledger POST, truConsent consent
record and link create, Veriff consent upload, Avacy consent, Attestr register), so it knows
exactly which requests got a 2xx. At a random moment of every cycle the whole process group of
each instance gets SIGKILL; then:

* ``flask --app app audit verify`` runs on what the crash left (every organisation);
* the instances restart; every write acknowledged with a 2xx is read back through the dialect's
  own read API, and counted in the database by the unique marker its request carried (a subject,
  a phone, a reference, a notice text): present exactly once, with every row that belongs to it
  (its audit event, its dialect's rows);
* every write that was not acknowledged is either wholly there or wholly absent (never a consent
  without its audit event, an Avacy entry without its decisions, a link request without its link);
* the requests that carry an idempotency key (ledger ``Idempotency-Key``, truConsent
  ``requestId``, Attestr ``consentReferenceId``) are sent again with the same key: the same record
  comes back (the same ids when it had been acknowledged) and nothing is duplicated.

After the last cycle every acknowledged write is checked again and verify runs once more. SQLite
runs one instance; PostgreSQL runs two instances (two gunicorn servers on two ports) on one
database, each killed at its own random moment.

Concurrency (``--concurrency``, on by default): gunicorn with 4 sync workers on one SQLite file,
32 client connections writing the same mix for a bounded number of requests: zero 5xx, zero
"database is locked" in the responses and the server log; on PostgreSQL two instances writing
to one organisation: one valid chain, audit sequence numbers 1..n without a gap.

Exit status 1 on any violation. ``tests/test_crash.py`` runs a short version of both.
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from .dialects import veriff_signed
from .report import ROOT
from .server import SECRET, VENV_BIN
from .wrk import free_port

OUT = ROOT / "bench" / "out"
_counter = itertools.count(1)
_counter_lock = threading.Lock()


def _next() -> int:
    with _counter_lock:
        return next(_counter)


# -- the service ----------------------------------------------------------------------------

class Instance:
    """One service instance: gunicorn on a fixed loopback port, in its own process group (so one
    SIGKILL takes the arbiter and every worker), its output appended to ``log``."""

    def __init__(self, url: str, workers: int, log: Path, env: dict | None = None):
        self.url, self.workers, self.log = url, workers, log
        self.port = free_port()
        self.env = {**os.environ, "CONSENT_DATABASE_URL": url, "CONSENT_SECRET_KEY": SECRET,
                    "CONSENT_PUBLIC_URL": f"http://127.0.0.1:{self.port}", **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.killed = False
        self.starts = 0

    def flask(self, *args, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([str(VENV_BIN / "flask"), "--app", "app", *args], cwd=ROOT,
                              env=self.env, check=check, capture_output=True, text=True,
                              timeout=timeout)

    def start(self, timeout: float = 60) -> None:
        self.spawn()
        self.wait_ready(timeout)

    def spawn(self) -> None:
        self.killed = False
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [str(VENV_BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers",
                 str(self.workers), "--log-level", "warning", "app:app"],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
        self.starts += 1

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log}")
            try:
                if call(self.port, "GET", "/readyz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"gunicorn did not become ready in {timeout:.0f}s; see {self.log}")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL to the whole process group: arbiter and workers at once, no cleanup."""
        if self.proc is None:
            return
        self.killed = True
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        # the workers were in the same group: wait until none of them runs any more (a zombie
        # waiting for its reaper holds no file, lock or socket)
        deadline = time.monotonic() + 30
        while _group_running(self.proc.pid):
            if time.monotonic() > deadline:
                raise RuntimeError(f"process group {self.proc.pid} survived SIGKILL")
            time.sleep(0.01)

    def stop(self) -> None:
        """Shut down gracefully (SIGTERM), then SIGKILL whatever is left."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            pass
        self.kill()


def _group_running(pgid: int) -> bool:
    """Whether a process of the group still runs (not a zombie), from /proc."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False
    for stat in proc.glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False


def call(port: int, method: str, path: str, headers: dict | None = None,
         body: bytes | None = None, timeout: float = 15) -> tuple[int, bytes]:
    """One request on a new connection; OSError (refused, reset, timeout) when there is no
    answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    except http.client.HTTPException as exc:  # a reply cut short by the kill
        raise ConnectionError(repr(exc)) from exc
    finally:
        conn.close()


# -- the database, read directly ------------------------------------------------------------

class Database:
    """A plain DB-API connection (sqlite3 or psycopg2) for counting rows; ``?`` placeholders."""

    def __init__(self, url: str):
        self.url = url
        self.pg = url.startswith("postgres")
        if self.pg:
            import psycopg2

            self.conn = psycopg2.connect(url)
            self.conn.autocommit = True
        else:
            import sqlite3

            self.conn = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30,
                                        isolation_level=None)

    def rows(self, sql: str, params: tuple = ()) -> list:
        if self.pg:
            sql = sql.replace("?", "%s")
        cur = self.conn.cursor()
        try:
            cur.execute(sql, params)
            return cur.fetchall()
        finally:
            cur.close()

    def value(self, sql: str, params: tuple = ()):
        return self.rows(sql, params)[0][0]

    def close(self) -> None:
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


CONSENTS_OF_SUBJECT = ("SELECT COUNT(*) FROM consent c JOIN subject s "
                       "ON s.id = c.recorded_subject_id WHERE s.identifier = ?")
# a consent counted here has the audit event that recorded it
AUDITED_CONSENTS_OF_SUBJECT = (
    "SELECT COUNT(*) FROM consent c JOIN subject s ON s.id = c.recorded_subject_id "
    "JOIN audit_event a ON a.org_id = c.org_id AND a.seq = c.audit_seq WHERE s.identifier = ?")


# -- the writes -----------------------------------------------------------------------------

@dataclass
class Sent:
    """One write request and what became of it."""
    kind: str
    marker: str
    method: str
    path: str
    headers: dict
    body: bytes
    instance: int = 0
    status: int | None = None
    ids: tuple = ()
    error: str = ""
    retried: bool = False

    @property
    def acked(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Kind:
    """A dialect's write: how to make a request with a unique marker, which ids its answer
    holds, how to read it back through the dialect's API, and the database counts that tell
    whether it is there (all zero: absent; the calibrated tuple: wholly there)."""
    name = ""
    keyed = False  # carries an idempotency key (a retry must not duplicate)

    def __init__(self, seed: dict):
        self.seed = seed

    def build(self, n: int) -> Sent:
        raise NotImplementedError

    def ids(self, body: dict) -> tuple:
        raise NotImplementedError

    def counts(self, db: Database, sent: Sent) -> tuple:
        raise NotImplementedError

    def read_back(self, port: int, sent: Sent, cache: dict) -> str | None:
        """None when the write reads back as acknowledged, else what is wrong."""
        raise NotImplementedError

    def _json(self, method, path, headers, body: dict, marker: str) -> Sent:
        return Sent(self.name, marker, method, path, headers, json.dumps(body).encode())


def _get(port: int, path: str, headers: dict) -> tuple[int, dict | None]:
    status, raw = call(port, "GET", path, headers)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


class LedgerRecord(Kind):
    name, keyed = "ledger", True

    def headers(self):
        return {"X-Org-Id": "demo", "X-API-Key": self.seed["ledger"]["admin_api_key"]}

    def build(self, n):
        marker = f"crash-ledger-{n}"
        sent = self._json("POST", "/ledger/v1/consents",
                          {**self.headers(), "Content-Type": "application/json",
                           "Idempotency-Key": f"key-{marker}"},
                          {"subject": marker, "purpose": "crash-purpose", "status": "granted",
                           "notice_version": "v1"}, marker)
        return sent

    def ids(self, body):
        return (body["id"],)

    def counts(self, db, sent):
        return (db.value(CONSENTS_OF_SUBJECT, (sent.marker,)),
                db.value(AUDITED_CONSENTS_OF_SUBJECT, (sent.marker,)),
                db.value("SELECT COUNT(*) FROM idempotency_record WHERE key = ?",
                         (f"key-{sent.marker}",)))

    def read_back(self, port, sent, cache):
        status, body = _get(port, f"/ledger/v1/consents/{sent.ids[0]}", self.headers())
        if status != 200 or body.get("subject") != sent.marker:
            return f"GET /ledger/v1/consents/{sent.ids[0]} -> {status}"
        return None


class TruConsentRecord(Kind):
    name, keyed = "truconsent-record", True

    def headers(self):
        t = self.seed["truconsent"]
        return {"X-Org-Id": t["org_id"], "X-API-Key": t["api_key"]}

    def build(self, n):
        marker = f"crash-tc-{n}"
        return self._json("POST", "/api/v1/external/consents/record",
                          {**self.headers(), "Content-Type": "application/json"},
                          {"userId": marker, "action": "approved", "requestId": f"req-{marker}",
                           "collectionPointId": self.seed["truconsent"]
                           ["collection_point_display_id"],
                           "purposes": [{"id": pid} for pid in
                                        self.seed["truconsent"]["purpose_ids"][:2]]}, marker)

    def ids(self, body):
        return tuple(log["id"] for log in body["consent_logs"])

    def counts(self, db, sent):
        return (db.value(CONSENTS_OF_SUBJECT, (sent.marker,)),
                db.value(AUDITED_CONSENTS_OF_SUBJECT, (sent.marker,)),
                db.value("SELECT COUNT(*) FROM truconsent_log t JOIN consent c "
                         "ON c.seq = t.consent_id JOIN subject s ON s.id = c.recorded_subject_id "
                         "WHERE s.identifier = ?", (sent.marker,)),
                db.value("SELECT COUNT(*) FROM idempotency_record WHERE key = ?",
                         (f"req-{sent.marker}",)))

    def read_back(self, port, sent, cache):
        status, body = _get(port, "/api/v1/external/consents/history?dp_id="
                            + quote(sent.marker), self.headers())
        if status != 200 or sorted(i["id"] for i in body["items"]) != sorted(sent.ids):
            return f"truConsent history of {sent.marker} -> {status} {body}"
        return None


class TruConsentLink(Kind):
    name = "truconsent-link"

    def headers(self):
        t = self.seed["truconsent"]
        return {"X-Org-Id": t["org_id"], "X-API-Key": t["api_key"]}

    def build(self, n):
        t = self.seed["truconsent"]
        marker = f"+919{n % 10**9:09d}"
        return self._json("POST", "/api/consent/consent-links",
                          {**self.headers(), "Content-Type": "application/json"},
                          {"collection_point_id": t["collection_point_display_id"],
                           "asset_id": t["asset_id"], "phone": marker, "expiry_hours": 24},
                          marker)

    def ids(self, body):
        return (body["request_id"], body["event_id"])

    def counts(self, db, sent):
        return (db.value("SELECT COUNT(*) FROM truconsent_request WHERE phone = ?",
                         (sent.marker,)),
                db.value("SELECT COUNT(*) FROM truconsent_request r JOIN truconsent_link_event e "
                         "ON e.id = r.current_event_id WHERE r.phone = ?", (sent.marker,)))

    def read_back(self, port, sent, cache):
        status, body = _get(port, f"/api/consent/consent-links/status/{sent.ids[0]}",
                            self.headers())
        if status != 200 or body.get("event_id") != sent.ids[1]:
            return f"truConsent link status {sent.ids[0]} -> {status} {body}"
        return None


class VeriffConsent(Kind):
    name = "veriff"

    def build(self, n):
        v = self.seed["veriff"]
        marker = f"I agree to biometric processing (crash {n})"
        body = json.dumps({"type": "bipa", "approved": True, "text": marker}).encode()
        return Sent(self.name, marker, "POST", f"/v1/sessions/{v['session_id']}/consents",
                    {"Content-Type": "application/json", **veriff_signed(v, body)}, body)

    def ids(self, body):
        return (body["id"],)

    def counts(self, db, sent):
        notice = hashlib.sha256(sent.marker.encode()).hexdigest()
        return (db.value("SELECT COUNT(*) FROM consent WHERE notice_version = ?", (notice,)),
                db.value("SELECT COUNT(*) FROM consent c JOIN audit_event a ON a.org_id = c.org_id"
                         " AND a.seq = c.audit_seq WHERE c.notice_version = ?", (notice,)),
                db.value("SELECT COUNT(*) FROM veriff_consent v JOIN consent c ON c.id = "
                         "v.consent_id WHERE c.notice_version = ?", (notice,)))

    def read_back(self, port, sent, cache):
        if "veriff" not in cache:  # one signed list of the session's uploads per check
            v = self.seed["veriff"]
            status, body = _get(port, f"/v1/sessions/{v['session_id']}/consents",
                                veriff_signed(v, v["session_id"].encode()))
            if status != 200:
                return f"Veriff consents list -> {status}"
            cache["veriff"] = [(c["id"], c["text"]) for c in body["consents"]]
        found = [text for cid, text in cache["veriff"] if cid == sent.ids[0]]
        if found != [sent.marker]:
            return f"Veriff consent {sent.ids[0]} listed {len(found)} times"
        return None


class AvacyConsent(Kind):
    name = "avacy"

    def build(self, n):
        a = self.seed["avacy"]
        marker = f"crash-{n}@example.org"
        return self._json(
            "POST", f"/{a['tenant']}/domains_groups/{a['domains_group_id']}/consents",
            {"Content-Type": "application/json", "Accept": "application/json",
             "Authorization": f"Bearer {a['token']}"},
            {"subject": {"email": marker, "first_name": "Mario",
                         "last_name": "Rossi", "age": 33}, "identifier": "email",
             "ip_address": "12.64.193.89", "proofs": "<html></html>",
             "legal_notices": [{"name": "privacy_policy"}],
             "preferences": [{"name": "newsletter", "accepted": True},
                             {"name": "updates", "accepted": False}]}, marker)

    def ids(self, body):
        return (body["data"]["id"],)

    def counts(self, db, sent):
        return (db.value("SELECT COUNT(*) FROM avacy_consent WHERE identifier = ?",
                         (sent.marker,)),
                db.value("SELECT COUNT(*) FROM avacy_decision d JOIN avacy_consent e "
                         "ON e.id = d.entry_id WHERE e.identifier = ?", (sent.marker,)),
                db.value(CONSENTS_OF_SUBJECT, (sent.marker,)),
                db.value(AUDITED_CONSENTS_OF_SUBJECT, (sent.marker,)))

    def read_back(self, port, sent, cache):
        status, body = _get(port, f"/ledger/v1/avacy/consents/{sent.ids[0]}",
                            {"X-Org-Id": "demo",
                             "X-API-Key": self.seed["ledger"]["admin_api_key"]})
        if status != 200 or body.get("id") != sent.ids[0]:
            return f"Avacy entry {sent.ids[0]} -> {status} {body}"
        return None


class AttestrRegister(Kind):
    name, keyed = "attestr", True

    def build(self, n):
        a = self.seed["attestr"]
        marker = f"crash-attestr-{n}"
        return self._json(
            "POST", "/api/v3/public/consent/register",
            {"Content-Type": "application/json", "Authorization": a["authorization"]},
            {"consentPurpose": "kyc_verification", "services": [{"service": a["services"][0]}],
             "consentTimestamp": "2026-05-22T00:00:00+0000", "consentMode": "email_otp",
             "consentType": "single_use", "consentValidFrom": "2026-05-22T00:00:00+0000",
             "consentValidTill": "2099-01-01T00:00:00+0000", "consentReferenceId": marker,
             "consentPrincipalUserId": marker, "clientDeclaration": True,
             "consentOperations": ["VERIFY", "FETCH"],
             "consentDataCategories": [{"category": "financial", "values": ["bank_account"]}]},
            marker)

    def ids(self, body):
        return (body["_id"],)

    def counts(self, db, sent):
        return (db.value("SELECT COUNT(*) FROM attestr_consent WHERE reference_id = ?",
                         (sent.marker,)),
                db.value(CONSENTS_OF_SUBJECT, (sent.marker,)),
                db.value(AUDITED_CONSENTS_OF_SUBJECT, (sent.marker,)))

    def read_back(self, port, sent, cache):
        status, body = _get(port, f"/api/v3/public/consent/{sent.ids[0]}",
                            {"Authorization": self.seed["attestr"]["authorization"]})
        if status != 200 or body.get("_id") != sent.ids[0] \
                or body["data"].get("consentReferenceId") != sent.marker:
            return f"Attestr consent {sent.ids[0]} -> {status} {body}"
        return None


KINDS = (LedgerRecord, TruConsentRecord, TruConsentLink, VeriffConsent, AvacyConsent,
         AttestrRegister)


def send(port: int, kind: Kind, sent: Sent, timeout: float = 15) -> Sent:
    try:
        status, raw = call(port, sent.method, sent.path, sent.headers, sent.body, timeout=timeout)
    except OSError as exc:
        sent.error = repr(exc)
        return sent
    sent.status = status
    if 200 <= status < 300:
        sent.ids = kind.ids(json.loads(raw))
    else:
        sent.error = raw[:300].decode("utf-8", "replace")
    return sent


# -- load -----------------------------------------------------------------------------------

class Load:
    """``clients`` threads writing round-robin over ``kinds`` to the live instances until
    stopped; every request and its outcome kept in ``sent``."""

    def __init__(self, instances: list[Instance], kinds: list[Kind], clients: int,
                 limit: int | None = None):
        self.instances, self.kinds, self.clients, self.limit = instances, kinds, clients, limit
        self.sent: list[Sent] = []
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self._issued = itertools.count()
        self._lock = threading.Lock()

    def _take(self) -> int | None:
        with self._lock:
            n = next(self._issued)
        return None if self.limit is not None and n >= self.limit else n

    def _run(self, seed: int):
        rnd = random.Random(seed)
        while not self.stop.is_set():
            n = self._take()
            if n is None:
                return
            kind = self.kinds[n % len(self.kinds)]
            up = [i for i, s in enumerate(self.instances) if not s.killed] or [0]
            index = rnd.choice(up)  # mostly live ones; a few requests still meet a dead port
            sent = kind.build(_next())
            sent.instance = index
            send(self.instances[index].port, kind, sent)
            self.sent.append(sent)
            if sent.status is None:
                time.sleep(0.02)  # refused: the instance is down; do not spin

    def __enter__(self):
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(self.clients)]
        for t in self.threads:
            t.start()
        return self

    def join(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(timeout=max(0.1, deadline - time.monotonic()))
        if any(t.is_alive() for t in self.threads):
            raise RuntimeError("client threads did not finish")

    def __exit__(self, *exc):
        self.stop.set()
        self.join()


# -- the crash test -------------------------------------------------------------------------

@dataclass
class Report:
    database: str
    instances: int
    cycles: int = 0
    sent: int = 0
    acknowledged: int = 0
    unacknowledged: int = 0
    unacknowledged_committed: int = 0
    in_flight: int = 0
    acknowledged_on_retry: int = 0
    retries: int = 0
    verified: int = 0
    seconds: float = 0.0
    by_kind: dict = field(default_factory=dict)
    violations: list = field(default_factory=list)

    def line(self) -> str:
        return (f"{self.database} x{self.instances}: {self.cycles} cycles, {self.sent} writes "
                f"sent, {self.acknowledged} acknowledged ({self.acknowledged_on_retry} only on a "
                f"retry), {self.unacknowledged} unacknowledged ({self.in_flight} in flight at a "
                f"kill, {self.unacknowledged_committed} committed wholly), {self.retries} "
                f"idempotent retries, audit verify passed {self.verified} times, "
                f"{len(self.violations)} violations, {self.seconds:.0f}s")


class CrashTest:
    def __init__(self, url: str, instances: int = 1, workers: int = 2, clients: int = 8,
                 cycles: int = 20, seed: int | None = None, log_dir: Path = OUT,
                 progress: bool = False, label: str | None = None,
                 kill_window: tuple[float, float] = (0.3, 1.5), cli_every_cycle: bool = True):
        self.url, self.cycles, self.clients = url, cycles, clients
        # verify with the CLI after every crash, or (quicker: no interpreter to start) with
        # GET /ledger/v1/audit/verify, the CLI then running after the last cycle only
        self.cli_every_cycle = cli_every_cycle
        self.kill_window = kill_window  # seconds of load before each instance's SIGKILL
        self.rnd = random.Random(seed)
        log_dir.mkdir(parents=True, exist_ok=True)
        label = label or ("postgres" if url.startswith("postgres") else "sqlite")
        self.servers = [Instance(url, workers, log_dir / f"crash-{label}-{i}.log")
                        for i in range(instances)]
        for s in self.servers:
            s.log.write_bytes(b"")
        self.report = Report(label, instances)
        self.progress = progress
        self.acked: list[Sent] = []
        self.expected: dict[str, tuple] = {}

    def violation(self, text: str) -> None:
        self.report.violations.append(text)

    def run(self) -> Report:
        started = time.monotonic()
        first = self.servers[0]
        self.seed = json.loads(first.flask("seed-demo", "--json").stdout)
        self.kinds = [k(self.seed) for k in KINDS]
        self.by_name = {k.name: k for k in self.kinds}
        try:
            for s in self.servers:
                s.spawn()
            for s in self.servers:
                s.wait_ready()
            self.calibrate()
            bar = None
            if self.progress:
                from tqdm import tqdm
                bar = tqdm(total=self.cycles, desc=f"crash {self.report.database} "
                           f"x{len(self.servers)}", unit="cycle", file=sys.stderr)
            for _ in range(self.cycles):
                self.cycle()
                if bar:
                    bar.update()
                    bar.set_postfix(acked=len(self.acked), violations=len(self.report.violations))
            if bar:
                bar.close()
            self.check_all()
            for s in self.servers:
                s.stop()
            self.verify("after the last cycle")
        finally:
            for s in self.servers:
                s.kill()
        for s in self.servers:
            self.scan_log(s)
        self.report.acknowledged = len(self.acked)
        for sent in self.acked:
            self.report.by_kind[sent.kind] = self.report.by_kind.get(sent.kind, 0) + 1
        self.report.seconds = time.monotonic() - started
        return self.report

    def calibrate(self) -> None:
        """One write of each kind, to learn the rows a whole write leaves."""
        with Database(self.url) as db:
            for kind in self.kinds:
                sent = send(self.servers[0].port, kind, kind.build(_next()))
                if not sent.acked:
                    raise RuntimeError(f"{kind.name}: {sent.status} {sent.error}")
                counts = kind.counts(db, sent)
                if 0 in counts:
                    raise RuntimeError(f"{kind.name}: rows {counts}")
                self.expected[kind.name] = counts
                self.acked.append(sent)
                self.report.sent += 1

    def cycle(self) -> None:
        self.report.cycles += 1
        kill_at = [self.rnd.uniform(*self.kill_window) for _ in self.servers]
        with Load(self.servers, self.kinds, self.clients) as load:
            start = time.monotonic()
            for index in sorted(range(len(self.servers)), key=kill_at.__getitem__):
                time.sleep(max(0.0, start + kill_at[index] - time.monotonic()))
                self.servers[index].kill()
            time.sleep(0.1)  # a few requests meet the dead ports too
        for s in self.servers:
            s.spawn()  # restart; verify meanwhile (what the crash left is all it can see)
        if self.cli_every_cycle:
            self.verify(f"after crash {self.report.cycles}")
        for s in self.servers:
            s.wait_ready()
        if not self.cli_every_cycle:
            self.verify_http(f"after crash {self.report.cycles}")
        self.check_cycle(load.sent)

    def verify(self, when: str) -> None:
        result = self.servers[0].flask("audit", "verify", check=False)
        if result.returncode != 0:
            self.violation(f"audit verify {when}: {result.stdout}{result.stderr}")
        else:
            self.report.verified += 1

    def verify_http(self, when: str) -> None:
        headers = {"X-Org-Id": "demo", "X-API-Key": self.seed["ledger"]["admin_api_key"]}
        for _ in range(100):  # a pass may take several calls on a large ledger
            status, body = _get(self.servers[-1].port, "/ledger/v1/audit/verify", headers)
            if status != 200 or (body["complete"] and not body["ok"]):
                self.violation(f"GET /ledger/v1/audit/verify {when}: {status} {body}")
                return
            if body["complete"]:
                self.report.verified += 1
                return
        self.violation(f"GET /ledger/v1/audit/verify {when}: never complete")

    def check_cycle(self, sent_list: list[Sent]) -> None:
        self.report.sent += len(sent_list)
        port = self.servers[0].port
        cache: dict = {}
        retry: list[Sent] = []
        with Database(self.url) as db:
            for sent in sent_list:
                kind = self.by_name[sent.kind]
                counts = kind.counts(db, sent)
                expected = self.expected[kind.name]
                if sent.acked:
                    self.acked.append(sent)
                    if counts != expected:
                        self.violation(f"acknowledged {sent.kind} {sent.marker} {sent.ids}: rows "
                                       f"{counts}, expected {expected}")
                    problem = kind.read_back(port, sent, cache)
                    if problem:
                        self.violation(f"acknowledged {sent.kind} {sent.marker}: {problem}")
                else:
                    if sent.status is not None:
                        self.violation(f"{sent.kind} {sent.marker} answered {sent.status}: "
                                       f"{sent.error}")
                    self.report.unacknowledged += 1
                    if "Refused" not in sent.error:
                        self.report.in_flight += 1
                    if counts == expected:
                        self.report.unacknowledged_committed += 1
                    elif any(counts):
                        self.violation(f"unacknowledged {sent.kind} {sent.marker} half-written:"
                                       f" rows {counts}, whole is {expected}")
                # retried: every write in flight at a kill, some refused, some acknowledged
                in_flight = not sent.acked and "Refused" not in sent.error
                if kind.keyed and (in_flight or self.rnd.random() < 0.1):
                    retry.append(sent)
            for sent in retry:
                self.retry(db, sent)

    def retry(self, db: Database, original: Sent) -> None:
        """The same request (same idempotency key) again, to a random instance."""
        kind = self.by_name[original.kind]
        again = Sent(original.kind, original.marker, original.method, original.path,
                     original.headers, original.body, retried=True)
        send(self.rnd.choice(self.servers).port, kind, again)
        self.report.retries += 1
        if not again.acked:
            self.violation(f"retry of {original.kind} {original.marker} -> {again.status} "
                           f"{again.error}")
            return
        if original.acked and again.ids != original.ids:
            self.violation(f"retry of {original.kind} {original.marker} gave {again.ids}, "
                           f"first answer {original.ids}")
        counts = kind.counts(db, again)
        if counts != self.expected[kind.name]:
            self.violation(f"after retry of {original.kind} {original.marker}: rows {counts}")
        if not original.acked:
            self.report.acknowledged_on_retry += 1
            self.acked.append(again)  # acknowledged now: checked again at the end

    def check_all(self) -> None:
        """Every acknowledged write, again, after all the crashes."""
        cache: dict = {}
        port = self.servers[-1].port
        with Database(self.url) as db:
            for sent in self.acked:
                kind = self.by_name[sent.kind]
                counts = kind.counts(db, sent)
                if counts != self.expected[kind.name]:
                    self.violation(f"at the end, acknowledged {sent.kind} {sent.marker}: rows "
                                   f"{counts}")
                problem = kind.read_back(port, sent, cache)
                if problem:
                    self.violation(f"at the end, acknowledged {sent.kind} {sent.marker}: "
                                   f"{problem}")
            for org_id, count, low, high in db.rows(
                    "SELECT org_id, COUNT(*), MIN(seq), MAX(seq) FROM audit_event GROUP BY org_id"):
                if (low, high) != (1, count):
                    self.violation(f"audit chain of {org_id}: {count} events, seqs {low}..{high}")
            orphans = db.value("SELECT COUNT(*) FROM consent c LEFT JOIN audit_event a ON "
                               "a.org_id = c.org_id AND a.seq = c.audit_seq WHERE a.id IS NULL")
            if orphans:
                self.violation(f"{orphans} consents without their audit event")

    def scan_log(self, server: Instance) -> None:
        text = server.log.read_text(errors="replace")
        for needle in ("database is locked", "Traceback"):
            if needle in text:
                self.violation(f"{server.log.name}: {needle!r} in the server log")


# -- concurrency ----------------------------------------------------------------------------

@dataclass
class ConcurrencyReport:
    database: str
    instances: int
    workers: int
    connections: int
    requests: int = 0
    statuses: dict = field(default_factory=dict)
    events: int = 0
    locked: int = 0  # responses saying "database is locked"
    seconds: float = 0.0
    violations: list = field(default_factory=list)

    def line(self) -> str:
        return (f"concurrency {self.database}: {self.instances} instance(s) x {self.workers} "
                f"workers, {self.connections} connections, {self.requests} writes "
                f"(statuses {self.statuses}), {self.locked} \"database is locked\", one chain "
                f"of {self.events} events, "
                f"{len(self.violations)} violations, {self.seconds:.1f}s")


def concurrency(url: str, instances: int = 1, workers: int = 4, connections: int = 32,
                requests: int = 640, log_dir: Path = OUT, label: str | None = None
                ) -> ConcurrencyReport:
    """``connections`` clients sending ``requests`` writes (every dialect) to ``instances``
    gunicorn servers of ``workers`` sync workers on one database, all to the demo organisation:
    no 5xx, no "database is locked", one valid audit chain numbered 1..n."""
    label = label or ("postgres" if url.startswith("postgres") else "sqlite")
    report = ConcurrencyReport(label, instances, workers, connections)
    log_dir.mkdir(parents=True, exist_ok=True)
    servers = [Instance(url, workers, log_dir / f"concurrency-{label}-{i}.log")
               for i in range(instances)]
    started = time.monotonic()
    try:
        for s in servers:
            s.log.write_bytes(b"")
        seed = json.loads(servers[0].flask("seed-demo", "--json").stdout)
        for s in servers:
            s.start()
        load = Load(servers, [k(seed) for k in KINDS], connections, limit=requests)
        with load:
            load.join(timeout=180)
        for sent in load.sent:
            key = str(sent.status) if sent.status is not None else "no answer"
            report.statuses[key] = report.statuses.get(key, 0) + 1
            if not sent.acked:  # a 5xx, a 4xx, or no answer; the error holds the response
                report.violations.append(f"{sent.kind}: {sent.status} {sent.error}")
            if "database is locked" in sent.error:
                report.locked += 1
        report.requests = len(load.sent)
        for s in servers:
            s.stop()
        result = servers[0].flask("audit", "verify", check=False)
        if result.returncode != 0:
            report.violations.append(f"audit verify: {result.stdout}{result.stderr}")
        with Database(url) as db:
            rows = db.rows("SELECT e.seq FROM audit_event e JOIN organisation o ON o.id = e.org_id"
                           " WHERE o.slug = 'demo' ORDER BY e.seq")
        seqs = [r[0] for r in rows]
        report.events = len(seqs)
        if seqs != list(range(1, len(seqs) + 1)):
            report.violations.append(f"audit seqs are not 1..{len(seqs)}")
    finally:
        for s in servers:
            s.kill()
    for s in servers:
        text = s.log.read_text(errors="replace")
        for needle in ("database is locked", "Traceback", "[CRITICAL]", "WORKER TIMEOUT"):
            if needle in text:
                report.violations.append(f"{s.log.name}: {needle!r} in the server log")
    report.seconds = time.monotonic() - started
    return report


# -- databases ------------------------------------------------------------------------------

def fresh_sqlite(name: str, directory: Path = OUT) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.sqlite3"
    for suffix in ("", "-wal", "-shm", "-writer.lock"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return f"sqlite:///{path}"


class PgDatabase:
    """A new empty database on the PostgreSQL server at ``server_url``, dropped on exit."""

    def __init__(self, server_url: str, prefix: str = "crash"):
        self.server_url = server_url
        self.name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.url = urlunsplit(urlsplit(server_url)._replace(path="/" + self.name))

    def _admin(self, sql: str) -> None:
        import psycopg2

        conn = psycopg2.connect(self.server_url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def __enter__(self) -> str:
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self.url

    def __exit__(self, *exc):
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def pg_reachable(url: str) -> bool:
    try:
        import psycopg2

        psycopg2.connect(url, connect_timeout=3).close()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not there"
        return False


# -- command line ---------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.crash", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--cycles", type=int, default=20, help="crash cycles per database")
    parser.add_argument("--clients", type=int, default=8, help="client threads under load")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per instance")
    parser.add_argument("--pg-url", default=os.environ.get("CONSENT_TEST_DATABASE_URL", ""),
                        help="a PostgreSQL server (default: $CONSENT_TEST_DATABASE_URL, else one "
                             "started with .ci/postgres and stopped at the end)")
    parser.add_argument("--no-concurrency", dest="concurrency", action="store_false",
                        help="skip the concurrency part")
    parser.add_argument("--requests", type=int, default=1280,
                        help="writes of the concurrency part")
    parser.add_argument("--seed", type=int, default=None, help="random seed (kill moments)")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print(f"crashtest: seed {seed} (--seed {seed} repeats the kill moments)", flush=True)
    started = time.monotonic()
    lines, ok = [], True
    results = {"seed": seed, "cycles": args.cycles, "runs": []}

    def record(report) -> None:
        nonlocal ok
        lines.append(report.line())
        print(report.line(), flush=True)
        for v in report.violations[:50]:
            print(f"  VIOLATION: {v}", flush=True)
        ok = ok and not report.violations
        results["runs"].append({k: v for k, v in vars(report).items()})

    if args.database in ("sqlite", "both"):
        record(CrashTest(fresh_sqlite("crash"), instances=1, workers=args.workers,
                         clients=args.clients, cycles=args.cycles, seed=seed,
                         progress=True).run())
        if args.concurrency:
            record(concurrency(fresh_sqlite("concurrency"), instances=1, workers=4,
                               connections=32, requests=args.requests))
    if args.database in ("postgres", "both"):
        server_url, started_pg = args.pg_url, False
        if not server_url:  # the one .ci/postgres runs, if it is already up
            port = os.environ.get("PGPORT", "55432")
            server_url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        if not pg_reachable(server_url):
            server_url = subprocess.run([str(ROOT / ".ci" / "postgres"), "start"], check=True,
                                        capture_output=True, text=True, timeout=600
                                        ).stdout.strip()
            started_pg = True
        try:
            with PgDatabase(server_url) as url:
                record(CrashTest(url, instances=2, workers=args.workers, clients=args.clients,
                                 cycles=args.cycles, seed=seed, progress=True).run())
            if args.concurrency:
                with PgDatabase(server_url) as url:
                    record(concurrency(url, instances=2, workers=args.workers,
                                       connections=32, requests=args.requests))
        finally:
            if started_pg:
                subprocess.run([str(ROOT / ".ci" / "postgres"), "stop"], timeout=120)
    results["seconds"] = time.monotonic() - started
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "crash.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"\ncrashtest {'PASSED' if ok else 'FAILED'} in {results['seconds']:.0f}s:")
    for line in lines:
        print(f"  {line}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
