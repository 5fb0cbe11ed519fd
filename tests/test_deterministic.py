"""Deterministic mode (CONSENT_SEED, consent.core.ids): fresh databases give the same
credentials, ids, numbers and tokens on every run, for snapshot tests in client projects; it
is refused with a non-loopback bind unless forced, and says so when it is on."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from consent import create_app
from consent.core import ids, storage

ROOT = Path(__file__).resolve().parent.parent
GRANT = {"subject": "user-1", "purpose": "marketing", "status": "granted"}


def seed_demo(tmp: Path, seed: str) -> dict:
    env = {**os.environ, "CONSENT_SEED": seed,
           "CONSENT_DATABASE_URL": f"sqlite:///{tmp / 'consent.sqlite3'}",
           "CONSENT_CHECKPOINT_KEY_DIR": str(tmp / "keys")}
    env.pop("CONSENT_SECRET_KEY", None)
    done = subprocess.run([sys.executable, "-m", "flask", "--app", str(ROOT / "app.py"),
                           "seed-demo", "--json"], cwd=tmp, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "deterministic mode: CONSENT_SEED=" + seed in done.stderr   # the log says it is on
    return json.loads(done.stdout)


def test_two_fresh_runs_with_the_same_seed_print_the_same_credentials(tmp_path):
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir(), (tmp_path / "c").mkdir()
    first, second = seed_demo(tmp_path / "a", "42"), seed_demo(tmp_path / "b", "42")
    assert first == second
    assert first["veriff"]["session_id"] == second["veriff"]["session_id"]
    assert first["truconsent"]["bearer_token"] == second["truconsent"]["bearer_token"]
    other = seed_demo(tmp_path / "c", "43")
    assert other["ledger"]["admin_api_key"] != first["ledger"]["admin_api_key"]


def _requests_once(database_url: str, tmp_path: Path, seed: str) -> list:
    app = create_app({"TESTING": True, "CONSENT_DATABASE_URL": database_url,
                      "CONSENT_CHECKPOINT_KEY_DIR": str(tmp_path / "keys"),
                      "CONSENT_SEED": seed, "CONSENT_CONTROL": True})
    try:
        with app.app_context():
            storage.create_tables()
            from consent.core import auth, ledger
            org = ledger.create_org("acme", "Acme")
            key = auth.create_credential(org.id, name="admin", scopes=("admin", "consent")).key
        client = app.test_client()
        headers = {"X-Org-Id": "acme", "X-API-Key": key}
        made = [client.post("/ledger/v1/consents", json={**GRANT, "subject": f"u{i}"},
                            headers=headers).json for i in range(3)]
        # the checkpoint signing key (a fresh key directory) and a percent fault's draws
        checkpoint = client.get("/ledger/v1/audit/checkpoint", headers=headers).json
        assert client.post("/_control/faults", headers=headers, json={
            "method": "GET", "path": "/ledger/v1/consents", "status": 503,
            "percent": 50}).status_code == 201
        fired = [client.get("/ledger/v1/consents", headers=headers).status_code
                 for _ in range(16)]
        assert set(fired) == {200, 503}
        return [key, org.id, checkpoint["key_id"], fired] + [
            (m["id"], m["record_hash"] if "record_hash" in m else None) for m in made]
    finally:
        app.extensions["consent.background"].stop()
        storage.db.close()


def test_the_same_requests_get_the_same_ids(tmp_path):
    (tmp_path / "1").mkdir(), (tmp_path / "2").mkdir(), (tmp_path / "3").mkdir()
    first = _requests_once(f"sqlite:///{tmp_path / '1' / 'db.sqlite3'}", tmp_path / "1", "7")
    second = _requests_once(f"sqlite:///{tmp_path / '2' / 'db.sqlite3'}", tmp_path / "2", "7")
    assert first[:4] == second[:4]      # key, org, checkpoint key id, which faults fired
    assert [m[0] for m in first[4:]] == [m[0] for m in second[4:]]
    third = _requests_once(f"sqlite:///{tmp_path / '3' / 'db.sqlite3'}", tmp_path / "3", "8")
    assert third[0] != first[0] and third[2] != first[2]
    # an app without a seed draws from the operating system again
    app = create_app({"TESTING": True, "CONSENT_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
                      "CONSENT_CHECKPOINT_KEY_DIR": str(tmp_path / "keys")})
    app.extensions["consent.background"].stop()
    assert ids.seeded() is None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_refused_on_a_public_bind_unless_forced(tmp_path):
    env = {**os.environ, "CONSENT_SEED": "1",
           "CONSENT_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
           "CONSENT_CHECKPOINT_KEY_DIR": str(tmp_path / "keys")}
    gunicorn = str(Path(sys.executable).parent / "gunicorn")
    done = subprocess.run([gunicorn, "-c", "gunicorn.conf.py", "--bind",
                           f"0.0.0.0:{_free_port()}", "app:app"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "CONSENT_SEED is set" in done.stderr and "CONSENT_SEED_FORCE=1" in done.stderr
    from consent.control.guard import SeedRefused, refuse_seed_on_public_bind
    refuse_seed_on_public_bind(["127.0.0.1:5000", "[::1]:5000", "localhost:80"],
                               {"CONSENT_SEED": "1"})
    refuse_seed_on_public_bind(["0.0.0.0:5000"], {"CONSENT_SEED": "1", "CONSENT_SEED_FORCE": "1"})
    refuse_seed_on_public_bind(["0.0.0.0:5000"], {})
    try:
        refuse_seed_on_public_bind(["192.0.2.1:5000"], {"CONSENT_SEED": "1"})
    except SeedRefused:
        pass
    else:
        raise AssertionError("a public bind with a seed was not refused")
