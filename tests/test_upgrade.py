"""Upgrades from databases written by older versions (tests/upgrade/): the first commit and every
commit that changed the schema since, each database written by that version's own code through
its own APIs, on SQLite (a copy of the file) and on PostgreSQL (its dump loaded into a fresh
database; the PostgreSQL suite).

For each: the newest code started on it answers ``/readyz`` and every route 503 naming
``flask --app app migrate`` (never 500); the command makes it current; every record the old
version answered reads back the same through the newest code's APIs (every field the old
answer had, same value); ``audit verify`` passes, the old events unchanged (the head hash the
old version printed is still the hash at its head's seq; the upgrade only appends the events
that attest the rows already there);
the links the old version handed out (truConsent's consent link, Veriff's session url, Avacy's
archive link) still open; and new writes in every dialect continue the same chain.
"""
from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import threading
import time as _time
from pathlib import Path
from urllib.parse import quote, urlsplit

import itsdangerous.timed
import pytest

from consent import create_app
from consent.core import migrate, storage
from consent.dialects.truconsent import models as tc_models
from tests.helpers import PG_URL, drop_pg_database, fresh_pg_database
from tests.openapi_contract import ContractClient
from tests.route_helpers import NO_DATABASE, every_route
from tests.veriff_helpers import dumps, sign

pytestmark = pytest.mark.upgrade

ROOT = Path(__file__).parent.parent
HERE = Path(__file__).parent / "upgrade"
MANIFEST = json.loads((HERE / "manifest.json").read_text())
FIXTURES = {f["commit"]: f for f in MANIFEST["fixtures"]}
COMMAND = "flask --app app migrate"

BACKEND = "postgresql" if PG_URL else "sqlite"   # the suite's database: SQLite, or PostgreSQL


def load(name: str) -> bytes:
    return gzip.decompress((HERE / "fixtures" / name).read_bytes())


# -- the old database, restored ---------------------------------------------------------------------

def restore(fixture: dict, tmp_path: Path) -> tuple[str, str | None]:
    """The fixture's database on the suite's backend: (its URL, the PostgreSQL database's
    name to drop afterwards)."""
    info = fixture[BACKEND]
    if BACKEND == "sqlite":
        path = tmp_path / "consent.sqlite3"
        path.write_bytes(load(info["database"]))
        path.chmod(0o600)
        return f"sqlite:///{path}", None
    url, name = fresh_pg_database()
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url],
                   input=load(info["database"]), check=True, capture_output=True)
    return url, name


class Upgraded:
    """One fixture restored on the suite's backend, the newest code started on it."""

    def __init__(self, fixture: dict, tmp_path: Path):
        self.fixture = fixture
        self.info = fixture[BACKEND]
        self.old = json.loads(load(self.info["records"]))
        self.url, self.pg_name = restore(fixture, tmp_path)
        self.app = create_app({"TESTING": True, "CONSENT_DATABASE_URL": self.url,
                               "CONSENT_SECRET_KEY": MANIFEST["secret_key"],
                               "CONSENT_PUBLIC_URL": MANIFEST["public_url"]})
        self.app.extensions["consent.schema_gate"].RECHECK = 0.0
        self.app.test_client_class = ContractClient
        self.client = self.app.test_client()
        self.runner = self.app.test_cli_runner()

    def close(self) -> None:
        self.app.extensions["consent.background"].stop()
        if storage.db.obj is not None and not storage.db.is_closed():
            storage.db.close()
        if self.pg_name:
            drop_pg_database(self.pg_name)

    def cli(self, *args):
        return self.runner.invoke(args=list(args))

    def ledger(self, slug: str = "demo") -> dict:
        return {"X-Org-Id": slug, "X-API-Key": self.old["orgs"][slug]["admin_api_key"]}

    def get(self, path: str, headers=None, status: int = 200):
        response = self.client.get(path, headers=headers or {})
        assert response.status_code == status, (path, response.status_code,
                                                response.get_data(as_text=True)[:500])
        return response


def schema_shape() -> dict:
    """Every table's columns (name, type, nullable, primary key), indexes (name, unique,
    columns) and foreign keys, as the database reports them."""
    db = storage.db
    return {table: ({(c.name, c.data_type.lower(), c.null, c.primary_key)
                     for c in db.get_columns(table)},
                    {(i.name, i.unique, tuple(i.columns)) for i in db.get_indexes(table)},
                    {(f.column, f.dest_table, f.dest_column) for f in db.get_foreign_keys(table)})
            for table in db.get_tables()}


@pytest.fixture(scope="module")
def fresh_schema(tmp_path_factory):
    """The schema the newest code creates on a new database of the suite's backend."""
    if BACKEND == "sqlite":
        url, name = f"sqlite:///{tmp_path_factory.mktemp('fresh') / 'fresh.sqlite3'}", None
    else:
        url, name = fresh_pg_database()
    app = create_app({"TESTING": True, "CONSENT_DATABASE_URL": url, "CONSENT_SECRET_KEY": "k"})
    try:
        migrate.upgrade()
        return schema_shape()
    finally:
        app.extensions["consent.background"].stop()
        storage.db.close()
        if name:
            drop_pg_database(name)


@pytest.fixture(params=list(FIXTURES))
def upgraded(request, tmp_path, fresh_schema):
    fixture = FIXTURES[request.param]
    if BACKEND not in fixture:
        pytest.fail(f"{request.param} has no {BACKEND} fixture: run "
                    "tests/upgrade/make_fixtures.py with --postgres")
    up = Upgraded(fixture, tmp_path)
    yield up
    up.close()


# -- comparing what the old version answered with what the newest answers --------------------------

def kept(old, new, where: str = "") -> list[str]:
    """Every field of the old answer is in the new one, with the same value (the new answer may
    add fields). Returns the differences."""
    if isinstance(old, dict):
        if not isinstance(new, dict):
            return [f"{where}: {old!r} became {new!r}"]
        out = []
        for key, value in old.items():
            if key not in new:
                out.append(f"{where}.{key}: missing (was {value!r})")
            else:
                out += kept(value, new[key], f"{where}.{key}")
        return out
    if isinstance(old, list):
        if not isinstance(new, list) or len(old) != len(new):
            return [f"{where}: {old!r} became {new!r}"]
        return [d for i, (a, b) in enumerate(zip(old, new)) for d in kept(a, b, f"{where}[{i}]")]
    if isinstance(new, str) and ".headers." in where and (new == "***" or new.endswith(" ***")):
        return []   # a secret header this version masks in every delivery view
    return [] if old == new else [f"{where}: {old!r} became {new!r}"]


def assert_kept(old, new, where: str) -> None:
    differences = kept(old, new, where)
    assert not differences, "\n".join(differences)


# -- before the migration: 503 everywhere, naming the command -------------------------------------

def check_refused_until_migrated(up: Upgraded) -> None:
    client = up.client
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and int(ready.headers["Retry-After"]) > 0
    assert f"run `{COMMAND}`" in ready.get_json()["message"]
    answered = 0
    for method, path in every_route(up.app):
        if path.startswith(NO_DATABASE):
            continue
        response = client.open(path, method=method, json={})
        assert response.status_code == 503, (method, path, response.status_code,
                                             response.get_data(as_text=True)[:300])
        assert response.headers["Retry-After"]
        text = response.get_data(as_text=True)
        if response.mimetype == "text/html":   # a page, for a person: no operator's command
            assert "Temporarily unavailable" in text, (method, path)
        else:
            assert COMMAND in text, (method, path)
        answered += 1
    assert answered > 50
    # each dialect's own shape, with the credentials the old version issued
    body = up.get("/ledger/v1/consents", up.ledger(), status=503).get_json()
    assert body["code"] == 503 and COMMAND in body["message"]
    body = client.post("/v1/sessions", json={}).get_json()
    assert body["status"] == "fail" and COMMAND in body["message"]
    body = client.get("/api/v1/external/consents/history?dp_id=x").get_json()
    assert list(body) == ["detail"] and COMMAND in body["detail"]
    body = client.post("/demo/domains_groups/1/consents", json={}).get_json()
    assert list(body) == ["message"] and COMMAND in body["message"]
    body = client.post("/api/v3/public/consent/register", json={}).get_json()
    assert body["httpStatusCode"] == 503 and COMMAND in body["details"]
    # the CLI says so too, instead of a traceback
    result = up.cli("audit", "verify")
    assert result.exit_code == 1 and COMMAND in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not up.app.extensions["consent.background"].running


# -- after it: every record as the old version answered it ----------------------------------------

def check_ledger(up: Upgraded) -> None:
    for slug, org in up.old["orgs"].items():
        h = up.ledger(slug)
        listed = up.get("/ledger/v1/consents?limit=500", h).get_json()
        assert [c["id"] for c in listed["items"]] == org["consent_ids"], slug
        for consent_id, detail in org["details"].items():
            new = up.get(f"/ledger/v1/consents/{consent_id}", h).get_json()
            assert_kept({k: v for k, v in detail.items() if k != "events"}, new,
                        f"{slug} consent {consent_id}")
            # its events: every one the old version showed but the 'recorded' one, which
            # versions since 328c342 show as the consent's own audit_event_id
            old_events = [e for e in detail.get("events", []) if e["type"] != "recorded"]
            assert_kept(old_events, [e for e in new["events"] if e["type"] != "recorded"],
                        f"{slug} consent {consent_id} events")
        for subject, state in org["states"].items():
            new = up.get(f"/ledger/v1/subjects/{quote(subject)}/state", h).get_json()
            assert_kept(without(state, "as_of"), new, f"{slug} state of {subject}")
        events = up.get("/ledger/v1/audit?limit=500", h).get_json()["items"]
        # Every old event as it was; the migration only extends the chain, with the events
        # that attest the rows already there (consent.core.covered), from the old head on.
        old_count = org["verify"]["events"]
        assert_kept(org["chain"], [{k: e.get(k) for k in org["chain"][0]}
                                   for e in events[:len(org["chain"])]], f"{slug} chain")
        assert events[old_count - 1]["hash"] == org["verify"]["head_hash"]
        attested = events[old_count:]
        assert all((e["action"], e["actor"]) == ("rows.attested", "system:migration")
                   for e in attested), [e["action"] for e in attested]
        assert not attested or attested[0]["prev_hash"] == org["verify"]["head_hash"]
        export = up.get(f"/ledger/v1/export?format=jsonl", h).get_data()
        assert [json.loads(line)["id"] for line in export.splitlines()] == org["export"]["ids"]
        result = up.cli("audit", "verify", "--org", slug)
        assert result.exit_code == 0, result.output
        verdict = json.loads(result.output)
        assert (verdict["org"], verdict["ok"], verdict["checked"],
                verdict["consents_checked"]) == (slug, True, old_count + len(attested),
                                                 org["verify"]["consents"]), verdict
        assert verdict["head_hash"] == (attested[-1]["hash"] if attested
                                        else org["verify"]["head_hash"])
        assert org["verify"]["head_hash"] == up.info["head_hashes"][slug]
        api = up.get("/ledger/v1/audit/verify", h).get_json()
        assert api["ok"] is True and api["head_hash"] == verdict["head_hash"]
    # an old write repeated with its Idempotency-Key is the same write, not a new one
    first = up.old["ledger"]["written"][0]
    again = up.client.post("/ledger/v1/consents", json=first["body"], headers={
        **up.ledger(first["org"]), "Idempotency-Key": first["idempotency_key"]})
    assert again.status_code in (200, 201) and again.get_json()["id"] == first["id"]
    single = up.old["ledger"].get("single_use")
    if single:   # used once by the old version: used up
        check = up.client.post("/ledger/v1/checks", headers=up.ledger(), json={
            "consent_id": single["id"], "operation": "export", "use": True}).get_json()
        assert (check["allowed"], check["reason"]) == (False, "already_used")


def without(value, *keys):
    if isinstance(value, dict):
        return {k: without(v, *keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [without(v, *keys) for v in value]
    return value


def check_truconsent(up: Upgraded) -> None:
    old = up.old["truconsent"]
    h = {"X-Org-Id": old["org_id"], "X-API-Key": old["api_key"]}
    for request_id, status in old["status"].items():
        new = up.get(f"/api/consent/consent-links/status/{request_id}", h).get_json()
        assert_kept(status, new, f"truconsent link {request_id}")
    for dp, history in old["history"].items():
        new = up.get(f"/api/v1/external/consents/history?dp_id={quote(dp, safe='')}",
                     h).get_json()
        assert_kept(history, new, f"truconsent history of {dp}")
    new = up.get("/api/v1/external/consents/user-status?dp_id=user-7", h).get_json()
    assert_kept(without(old["user_status"], "as_of"), new, "truconsent user-status")


def check_veriff(up: Upgraded) -> None:
    old = up.old["veriff"]
    key, secret = old["api_key"], old["shared_secret"]
    for session in old["sessions"]:
        sid = session["id"]
        headers = {"X-AUTH-CLIENT": key, "X-HMAC-SIGNATURE": sign(secret, sid.encode())}
        for part in ("consents", "media", "decision", "person", "attempts"):
            new = up.get(f"/v1/sessions/{sid}/{part}", headers).get_json()
            if part in session:
                assert_kept(session[part], new, f"veriff session {sid} {part}")


def check_avacy(up: Upgraded) -> None:
    for identifier, found in up.old["avacy"]["archive"].items():
        new = up.get(f"/ledger/v1/avacy/consents?identifier={quote(identifier, safe='')}",
                     up.ledger()).get_json()
        assert_kept(found, new, f"avacy archive of {identifier}")
        assert all(entry["intact"] for entry in new["items"]), identifier


def check_attestr(up: Upgraded) -> None:
    old = up.old["attestr"]
    h = {"Authorization": old["authorization"]}
    for consent in old["consents"]:
        new = up.get(f"/api/v3/public/consent/{consent['id']}", h).get_json()
        # requestId names each answer (a new one every time)
        assert_kept(without(consent["read"], "requestId"), new,
                    f"attestr consent {consent['id']}")
    job = old["export"]
    assert_kept(job, up.get(f"/api/v3/public/common/async/{job['_id']}", h).get_json(),
                "attestr export job")
    media = up.get(urlsplit(job["output"]["url"]).path, h).get_data()
    assert hashlib.sha256(media).hexdigest() == old["export_media_sha256"]


def check_webhooks(up: Upgraded) -> None:
    for delivery in up.old["webhooks"]:
        new = up.get(f"/ledger/v1/webhooks/{delivery['id']}", up.ledger()).get_json()
        assert_kept(delivery, new, f"webhook delivery {delivery['id']}")


# -- the links the old version handed out ------------------------------------------------------------

class FrozenTime:
    def __init__(self, offset: float):
        self.offset = offset

    def time(self):
        return _time.time() + self.offset


def at_written_time(monkeypatch, up: Upgraded, later=dt.timedelta(minutes=1)) -> None:
    """The clock of the signed links and of truConsent's expiry set to a minute (``later``)
    after the old version wrote the database: a link opens as it did then (each has a
    lifetime of hours)."""
    written = dt.datetime.fromisoformat(up.old["written_at"]) + later
    offset = written - dt.datetime.now(dt.timezone.utc)
    monkeypatch.setattr(itsdangerous.timed, "time", FrozenTime(offset.total_seconds()))
    monkeypatch.setattr(tc_models, "CLOCK_OFFSET", offset)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def check_links(up: Upgraded, monkeypatch) -> None:
    if "truconsent" in up.old:
        link = up.info["consent_link"]
        assert link == up.old["truconsent"]["links"][1]["consent_link"]
        # a day after it was made, the page says the link expired (a page, not an error)
        at_written_time(monkeypatch, up, later=dt.timedelta(hours=25))
        expired = up.client.get(path_of(link))
        assert expired.status_code == 410 and "This link has expired" in \
            expired.get_data(as_text=True)
        monkeypatch.undo()
        at_written_time(monkeypatch, up)
        page = up.get(path_of(link)).get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        done = up.client.post(path_of(link), data={"csrf_token": csrf,
                                                   "decision": "accept_all"})
        assert done.status_code == 200 and "Your decision has been recorded" in \
            done.get_data(as_text=True)
        answered = up.old["truconsent"]["links"][0]["consent_link"]
        again = up.get(path_of(answered)).get_data(as_text=True)   # the old answer shown
        assert "Your decision for this request has been recorded." in again
        assert "<form" not in again
        monkeypatch.undo()
    if up.info.get("veriff_session_url"):
        page = up.get(path_of(up.info["veriff_session_url"])).get_data(as_text=True)
        assert up.old["veriff"]["sessions"][1]["id"] in page
    if up.info.get("avacy_archive_url"):
        at_written_time(monkeypatch, up)
        page = up.get(path_of(up.info["avacy_archive_url"])).get_data(as_text=True)
        assert "mario@example.it" in page and "lucia@example.it" in page
        monkeypatch.undo()


# -- new writes, on the same chain -------------------------------------------------------------------

def check_new_writes(up: Upgraded) -> None:
    client = up.client
    r = client.post("/ledger/v1/consents", headers=up.ledger(), json={
        "subject": "erin@example.com", "purpose": "marketing", "status": "granted"})
    assert r.status_code == 201, r.get_json()
    assert client.post(f"/ledger/v1/consents/{r.get_json()['id']}/withdraw", json={},
                       headers=up.ledger()).status_code == 201
    if "truconsent" in up.old:
        t = up.old["truconsent"]
        # a purpose of one of the organisation's collection points (the records of the old
        # version used purposes of none, which this version refuses in new writes)
        from consent.core import ledger
        from consent.dialects.truconsent import points
        with up.app.app_context():
            purpose = next(iter(points.purpose_points(ledger.get_org(t["org_id"]))))
        r = client.post("/api/v1/external/consents/record", json={
            "userId": "new-user", "action": "approved", "purposes": [{"id": purpose}]},
            headers={"X-Org-Id": t["org_id"], "X-API-Key": t["api_key"]})
        assert r.status_code == 200, r.get_json()
    if "veriff" in up.old:
        v = up.old["veriff"]
        sid = up.old["veriff"]["sessions"][1]["id"]
        data = dumps({"type": "ine", "approved": True, "text": "After the upgrade"})
        r = client.post(f"/v1/sessions/{sid}/consents", data=data, headers={
            "X-AUTH-CLIENT": v["api_key"], "Content-Type": "application/json",
            "X-HMAC-SIGNATURE": sign(v["shared_secret"], data)})
        assert r.status_code == 200, r.get_json()
        first = up.old["veriff"]["sessions"][0]
        if first["submitted"]["verification"]["status"] == "submitted":
            # submitted before sessions had decisions: the operator decides it now
            r = client.post(f"/ledger/v1/veriff/sessions/{first['id']}/decision",
                            headers=up.ledger(), json={"status": "approved"})
            assert r.status_code == 200, r.get_json()
            decision = client.get(f"/v1/sessions/{first['id']}/decision", headers={
                "X-AUTH-CLIENT": v["api_key"],
                "X-HMAC-SIGNATURE": sign(v["shared_secret"], first["id"].encode())}).get_json()
            assert decision["verification"]["status"] == "approved"
    if "avacy" in up.old:
        a = up.old["avacy"]
        r = client.post(f"/demo/domains_groups/{a['domains_group_id']}/consents", headers={
            "Accept": "application/json", "Authorization": f"Bearer {a['token']}"}, json={
            "subject": {"email": "new@example.it", "first_name": "N", "last_name": "U",
                        "age": 40, "address": "Via Roma 1"},
            "identifier": "email", "ip_address": "12.64.193.90", "proofs": "<html></html>",
            "legal_notices": [{"name": "privacy_policy"}],
            "preferences": [{"name": "newsletter", "accepted": True}]})
        assert r.status_code == 201, r.get_json()
    if "attestr" in up.old:
        body = {**up.old["attestr"]["consents"][0]["body"], "consentReferenceId": "after-upgrade"}
        r = client.post("/api/v3/public/consent/register", json=body,
                        headers={"Authorization": up.old["attestr"]["authorization"]})
        assert r.status_code == 200, r.get_json()
    head = up.old["orgs"]["demo"]["verify"]["head_hash"]
    events = up.get(f"/ledger/v1/audit?limit=500", up.ledger()).get_json()["items"]
    old_count = up.old["orgs"]["demo"]["verify"]["events"]
    assert events[old_count - 1]["hash"] == head
    assert events[old_count]["prev_hash"] == head   # the chain goes on from the old head
    result = up.cli("audit", "verify")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["ok"] for line in result.output.splitlines()] == [True, True]


def check_console_counts(up: Upgraded) -> None:
    """The console's daily counts (its migration 1 counts the old consents; each new one is
    counted in its own transaction) agree with the consents, group by group."""
    from consent.console.models import ConsoleDay
    from consent.core.storage import Consent

    with up.app.app_context():
        counted = {}
        for row in ConsoleDay.select():
            key = (row.org_id, str(row.day)[:10], row.source, row.status, row.purpose_id)
            counted[key] = counted.get(key, 0) + row.count
        held = {}
        for c in Consent.select():
            key = (c.org_id, str(c.created_at)[:10], c.source, c.status, c.purpose_id)
            held[key] = held.get(key, 0) + 1
    assert held and counted == held


def check_erasure(up: Upgraded, tmp_path: Path) -> None:
    """A person the old version recorded (whose identifier its events hold in their payloads)
    is erased: the sealed prefix is the old head, the events that named them are redacted,
    ``audit verify`` passes, and so does the standalone verifier told the sealed seq."""
    slug, org = next((s, o) for s, o in up.old["orgs"].items() if o["states"])
    subject = sorted(org["states"])[0]
    sealed = up.cli("audit", "sealed", "--org", slug)
    # the old head, and the events the upgrade attested rows with before it sealed the chain
    assert sealed.exit_code == 0 and int(sealed.output) >= org["verify"]["events"]
    h = up.ledger(slug)
    assert up.client.get(f"/ledger/v1/subjects/{quote(subject)}/report",
                         headers=h).status_code == 200
    r = up.client.post(f"/ledger/v1/subjects/{quote(subject)}/erasure", headers=h)
    assert r.status_code == 200 and r.get_json()["erased"] is True, r.get_json()
    assert r.get_json()["tables"]["audit_event.redacted"] >= 1
    result = up.cli("audit", "verify", "--org", slug)
    assert result.exit_code == 0, result.output
    assert up.client.get(f"/ledger/v1/subjects/{quote(subject)}/state",
                         headers=h).get_json()["purposes"] == []
    export = tmp_path / "chain.jsonl"
    assert up.cli("audit", "export", "--org", slug, "-o", str(export)).exit_code == 0
    from auditchain import verifier
    assert verifier.main(["--export", str(export)], out=io.StringIO()) == 1  # redacted events
    out = io.StringIO()
    assert verifier.main(["--export", str(export), "--sealed-seq", sealed.output.strip()],
                         out=out) == 0, out.getvalue()
    assert "redacted by erasures" in out.getvalue()


# -- the test --------------------------------------------------------------------------------------

def test_an_older_database_is_refused_then_migrated_with_every_record_kept(
        upgraded, fresh_schema, monkeypatch, tmp_path):
    up = upgraded
    check_refused_until_migrated(up)
    result = up.cli("migrate")
    assert result.exit_code == 0, result.output
    assert "core: version 1: baseline" in result.output
    assert up.cli("migrate", "--status").exit_code == 0
    assert up.client.get("/readyz").status_code == 200
    with up.app.app_context():
        assert migrate.problem() is None
        upgraded_schema = schema_shape()
    # the same tables, columns, indexes and keys as a database the newest code created
    for table in sorted(set(fresh_schema) | set(upgraded_schema)):
        assert table in upgraded_schema, f"{table} missing"
        assert table in fresh_schema, f"{table} is left over"
        for part, new, old in zip(("columns", "indexes", "foreign keys"), fresh_schema[table],
                                  upgraded_schema[table]):
            assert new == old, (f"{table} {part}: lacks {sorted(new - old)}, "
                                f"has besides {sorted(old - new)}")
    check_ledger(up)
    if "truconsent" in up.old:
        check_truconsent(up)
    if "veriff" in up.old:
        check_veriff(up)
    if "avacy" in up.old:
        check_avacy(up)
    if "attestr" in up.old:
        check_attestr(up)
    if "webhooks" in up.old:
        check_webhooks(up)
    check_links(up, monkeypatch)
    check_console_counts(up)
    check_new_writes(up)
    check_console_counts(up)
    check_erasure(up, tmp_path)


def test_the_fixtures_cover_every_schema_change():
    """The manifest's commits are the first one and every one whose schema differs from its
    parent's (make_fixtures.py --scan), each with a database on both backends."""
    from tests.upgrade.make_fixtures import COMMITS

    assert [c for c, _ in COMMITS] == list(FIXTURES)
    for commit, fixture in FIXTURES.items():
        assert set(fixture) >= {"sqlite", "postgresql"}, commit
        assert (HERE / "fixtures" / fixture["sqlite"]["database"]).exists()
        assert (HERE / "fixtures" / fixture["postgresql"]["database"]).exists()
    assert FIXTURES["7f4ea4a"]["schema_change"]["tables_added"] == FIXTURES["7f4ea4a"]["tables"]


# -- several processes at once -----------------------------------------------------------------------

def wait_until(condition, timeout: float = 60.0) -> None:
    deadline = _time.monotonic() + timeout
    while not condition():
        assert _time.monotonic() < deadline, "condition not met in time"
        _time.sleep(0.05)


class MigrationLockHeld:
    """The migration lock of a database, held by this test (PostgreSQL: the advisory lock;
    SQLite: the writer lock's flock) until :meth:`release`; :meth:`waiting` counts the
    processes waiting for it."""

    def __init__(self, url: str):
        if BACKEND == "postgresql":
            import psycopg2

            self.holder = psycopg2.connect(url)
            self.holder.autocommit = True
            self.cursor = self.holder.cursor()
            self.cursor.execute("SELECT pg_advisory_lock(%s)", (migrate.PG_LOCK_KEY,))
        else:
            import fcntl

            self.holder = open(url.removeprefix("sqlite:///") + "-writer.lock", "a+")
            fcntl.flock(self.holder, fcntl.LOCK_EX)
            self.inode = os.fstat(self.holder.fileno()).st_ino

    def waiting(self) -> int:
        if BACKEND == "postgresql":
            self.cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
            return self.cursor.fetchone()[0]
        with open("/proc/locks") as locks:   # blocked flock requests on the lock file (Linux)
            return sum(1 for line in locks
                       if "->" in line and f":{self.inode} " in line.split("FLOCK", 1)[-1])

    def release(self) -> None:
        if BACKEND == "postgresql":
            self.cursor.execute("SELECT pg_advisory_unlock(%s)", (migrate.PG_LOCK_KEY,))
        else:
            import fcntl

            fcntl.flock(self.holder, fcntl.LOCK_UN)
        self.holder.close()


BASELINES = sorted(f"{component}: version 1: baseline: the schema of every version before "
                   "migrations" for component in ("attestr", "avacy", "core", "truconsent",
                                                  "veriff"))


def applied_once(url: str) -> None:
    """Each component's migration is recorded once, and the database is current."""
    env = {**os.environ, "CONSENT_DATABASE_URL": url, "CONSENT_SECRET_KEY": "k"}
    status = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "migrate",
                             "--status"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert status.returncode == 0, status.stdout + status.stderr
    versions = [line.split()[:4] for line in status.stdout.splitlines()[:7]]
    assert [v[0] for v in versions] == ["core", "attestr", "avacy", "console", "control",
                                        "truconsent", "veriff"]
    assert all(v[1] == v[3] and v[2] == "of" for v in versions), versions


def test_two_processes_migrating_one_database_at_once_apply_each_migration_once(tmp_path):
    """Two ``flask migrate`` started together on the newest pre-migration database, both made
    to wait on the migration lock (held here until both wait for it): each migration is applied
    once, both exit 0, and the database is current."""
    url, pg_name = restore(FIXTURES["1d841ff"], tmp_path)
    env = {**os.environ, "CONSENT_DATABASE_URL": url, "CONSENT_SECRET_KEY": "k"}
    try:
        lock = MigrationLockHeld(url)
        processes = [subprocess.Popen([sys.executable, "-m", "flask", "--app", "app", "migrate"],
                                      cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True) for _ in range(2)]
        try:
            wait_until(lambda: lock.waiting() == 2 or any(p.poll() is not None
                                                          for p in processes))
            assert lock.waiting() == 2, [p.communicate() for p in processes]
        finally:
            lock.release()
        outputs = [p.communicate(timeout=120) for p in processes]
        assert [p.returncode for p in processes] == [0, 0], outputs
        applied = [line.split(" (")[0] for out, _ in outputs for line in out.splitlines()
                   if ": version " in line]
        assert len(applied) == len(set(applied)), applied      # none applied twice
        assert set(BASELINES) <= set(applied)                   # by one process or the other
        applied_once(url)
    finally:
        if pg_name:
            drop_pg_database(pg_name)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, headers=None) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                    timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_two_instances_started_with_auto_migrate_migrate_once_and_serve(tmp_path):
    """``CONSENT_AUTO_MIGRATE=true``: two gunicorn instances on one older database, each asked
    to serve while the migration lock is held (both wait for it): each migration is applied
    once, and both serve the old records."""
    import signal

    fixture = FIXTURES["1d841ff"]
    old = json.loads(load(fixture[BACKEND]["records"]))
    url, pg_name = restore(fixture, tmp_path)
    env = {**os.environ, "CONSENT_DATABASE_URL": url, "CONSENT_AUTO_MIGRATE": "true",
           "CONSENT_SECRET_KEY": MANIFEST["secret_key"]}
    ports = [_free_port(), _free_port()]
    servers = []
    try:
        lock = MigrationLockHeld(url)
        servers = [subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "--bind", f"127.0.0.1:{port}",
             "--workers", "1", "--log-level", "warning", "app:app"], cwd=ROOT, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True)
            for port in ports]
        for port in ports:   # up (the liveness probe needs no database)
            wait_until(lambda: _alive(port))
        answers: dict[int, tuple] = {}
        threads = [threading.Thread(target=lambda p=p: answers.__setitem__(
            p, _get(f"http://127.0.0.1:{p}/readyz"))) for p in ports]
        for thread in threads:
            thread.start()
        try:
            wait_until(lambda: lock.waiting() == 2)
        finally:
            lock.release()
        for thread in threads:
            thread.join(120)
        assert [answers[p][0] for p in ports] == [200, 200], answers
        headers = {"X-Org-Id": "demo", "X-API-Key": old["orgs"]["demo"]["admin_api_key"]}
        for port in ports:
            status, body = _get(f"http://127.0.0.1:{port}/ledger/v1/consents?limit=500",
                                headers)
            assert status == 200
            assert [c["id"] for c in json.loads(body)["items"]] == \
                old["orgs"]["demo"]["consent_ids"]
        applied_once(url)
    finally:
        for server in servers:
            os.killpg(server.pid, signal.SIGTERM)
        for server in servers:
            _, errors = server.communicate(timeout=30)
            assert "Traceback" not in errors, errors
        if pg_name:
            drop_pg_database(pg_name)


def _alive(port: int) -> bool:
    try:
        return _get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    except OSError:
        return False
