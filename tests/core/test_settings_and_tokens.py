"""Configuration precedence, the generated secret, and bearer session tokens."""
from __future__ import annotations

import os
import stat
import time

import pytest
from flask import Flask

from consent import settings
from consent.core import auth, ledger
from consent.core.errors import Forbidden, Unauthorized


def make_flask(tmp_path):
    return Flask("probe", instance_path=str(tmp_path / "instance"), instance_relative_config=True)


def test_defaults_then_instance_config_then_env(tmp_path, monkeypatch):
    monkeypatch.delenv("CONSENT_PUBLIC_URL", raising=False)
    monkeypatch.delenv("CONSENT_DATABASE_URL", raising=False)
    monkeypatch.delenv("CONSENT_SECRET_KEY", raising=False)
    app = make_flask(tmp_path)
    settings.load(app)
    assert app.config["CONSENT_PUBLIC_URL"] == ""  # unset: links follow the host served
    assert app.config["CONSENT_DATABASE_URL"] == \
        f"sqlite:///{tmp_path / 'instance' / 'consent.sqlite3'}"

    (tmp_path / "instance" / "config.py").write_text(
        'CONSENT_PUBLIC_URL = "https://from-instance.example/"\nMAX_CONTENT_LENGTH = 4096\n')
    app = make_flask(tmp_path)
    settings.load(app)
    assert app.config["CONSENT_PUBLIC_URL"] == "https://from-instance.example"
    assert app.config["MAX_CONTENT_LENGTH"] == 4096

    monkeypatch.setenv("CONSENT_PUBLIC_URL", "https://from-env.example")
    monkeypatch.setenv("CONSENT_MAX_CONTENT_LENGTH", "2048")
    app = make_flask(tmp_path)
    settings.load(app)
    assert app.config["CONSENT_PUBLIC_URL"] == "https://from-env.example"
    assert app.config["MAX_CONTENT_LENGTH"] == 2048


def test_secret_key_generated_once_with_mode_0600(tmp_path, monkeypatch):
    monkeypatch.delenv("CONSENT_SECRET_KEY", raising=False)
    app = make_flask(tmp_path)
    settings.load(app)
    path = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    first = app.config["SECRET_KEY"]
    assert len(first) >= 48
    again = make_flask(tmp_path)
    settings.load(again)
    assert again.config["SECRET_KEY"] == first


def test_no_hard_coded_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("CONSENT_SECRET_KEY", raising=False)
    a, b = make_flask(tmp_path / "a"), make_flask(tmp_path / "b")
    settings.load(a)
    settings.load(b)
    assert a.config["SECRET_KEY"] != b.config["SECRET_KEY"]


@pytest.fixture
def operator(app, org):
    user = auth.create_user("op@example.com")
    auth.add_member(org.org.id, user)
    return user


def test_session_token_roundtrip(app, operator):
    key, max_age = app.config["SECRET_KEY"], app.config["CONSENT_SESSION_MAX_AGE"]
    token = auth.issue_session_token(key, operator, 600, max_age)
    assert auth.user_for_session_token(key, token, max_age).id == operator.id


def test_session_token_expired_by_moving_the_clock(app, operator, monkeypatch):
    key, max_age = app.config["SECRET_KEY"], app.config["CONSENT_SESSION_MAX_AGE"]
    token = auth.issue_session_token(key, operator, 60, max_age)
    later = time.time() + 120
    import datetime as dt
    from consent.core import storage
    real_now = storage.utcnow()
    monkeypatch.setattr(auth, "utcnow", lambda: real_now + dt.timedelta(seconds=120))
    with pytest.raises(Unauthorized):
        auth.user_for_session_token(key, token, max_age)
    # And past the service-wide maximum, the signature itself has expired.
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later + max_age)
    with pytest.raises(Unauthorized, match="expired"):
        auth.user_for_session_token(key, token, max_age)


def test_session_token_tampered_or_other_secret(app, operator):
    key, max_age = app.config["SECRET_KEY"], app.config["CONSENT_SESSION_MAX_AGE"]
    token = auth.issue_session_token(key, operator, 600, max_age)
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    with pytest.raises(Unauthorized):
        auth.user_for_session_token(key, tampered, max_age)
    with pytest.raises(Unauthorized):
        auth.user_for_session_token("another-secret", token, max_age)


def test_session_token_revoked(app, operator):
    key, max_age = app.config["SECRET_KEY"], app.config["CONSENT_SESSION_MAX_AGE"]
    token = auth.issue_session_token(key, operator, 600, max_age)
    assert auth.revoke_session_token(token)
    with pytest.raises(Unauthorized):
        auth.user_for_session_token(key, token, max_age)


def test_membership_required(app, operator, other_org, org):
    auth.require_membership(operator, org.org.id)
    with pytest.raises(Forbidden):
        auth.require_membership(operator, other_org.org.id)


def test_tokens_need_max_age():
    from consent.core import tokens
    signed = tokens.dumps("k", tokens.Salt.CONSENT_LINK, {"a": 1})
    with pytest.raises(ValueError):
        tokens.loads("k", tokens.Salt.CONSENT_LINK, signed, max_age=None)
    with pytest.raises(tokens.BadSignature):  # a token for one purpose is no good for another
        tokens.loads("k", tokens.Salt.SESSION, signed, max_age=60)


def test_credentials_stored_hashed(org):
    issued = auth.create_credential(org.org.id, kind="hmac")
    row = issued.credential
    assert row.key_hash == auth.sha256_hex(issued.key)
    assert issued.key not in (row.key_hash, row.key_prefix, row.shared_secret)
    assert auth.find_credential(issued.key, kind="hmac").id == row.id
    assert auth.find_credential(issued.key, kind="api_key") is None
    assert ledger.verify(org.org.id)["ok"]


def test_signature_matches_constant_time_hex():
    sig = auth.hmac_sha256_hex("s", b"body")
    assert auth.signature_matches("s", b"body", sig)
    assert auth.signature_matches("s", b"body", sig.upper())
    assert not auth.signature_matches("s", b"body!", sig)
    assert not auth.signature_matches("s", b"body", None)


_READ_SECRET = """
import importlib.util, sys
from pathlib import Path
spec = importlib.util.spec_from_file_location("settings", sys.argv[2])
settings = importlib.util.module_from_spec(spec)
spec.loader.exec_module(settings)  # the module alone (standard library only), not the app
print("ready", flush=True)
sys.stdin.readline()
print(settings.instance_secret(Path(sys.argv[1])), flush=True)
"""


@pytest.mark.slow
def test_secret_key_created_by_racing_processes_is_never_read_partial(tmp_path):
    """Eight processes starting together on a new instance folder all read the same whole key
    (written to a temporary file, then linked into place). Each is a fresh interpreter that
    imports only the settings module (a fork of this test process could inherit a lock held by
    another thread and hang), released together once all are ready, and killed if it is late."""
    import subprocess
    import sys

    for trial in range(12):
        path = tmp_path / f"trial-{trial}" / "secret_key"
        path.parent.mkdir()
        procs = [subprocess.Popen([sys.executable, "-c", _READ_SECRET, str(path), settings.__file__],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                 for _ in range(8)]
        try:
            for p in procs:
                assert p.stdout.readline().strip() == "ready"
            for p in procs:
                p.stdin.write("go\n")
                p.stdin.flush()
            keys = [p.communicate(timeout=60)[0].strip() for p in procs]
        finally:
            for p in procs:
                p.kill()
                p.wait()
        assert len(set(keys)) == 1 and len(keys[0]) >= 48, keys
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert [p.name for p in path.parent.iterdir()] == ["secret_key"]  # no temporary left


def test_files_at_rest_are_owner_only(tmp_path, monkeypatch):
    """The instance folder (0700), the secret key, and the SQLite database with its WAL and
    shared-memory files (0600), whatever the process umask."""
    from consent.core import ledger, storage

    monkeypatch.delenv("CONSENT_SECRET_KEY", raising=False)
    monkeypatch.delenv("CONSENT_DATABASE_URL", raising=False)
    old = os.umask(0o022)
    try:
        app = Flask("probe", instance_path=str(tmp_path / "instance"),
                    instance_relative_config=True)
        settings.load(app)
        instance = tmp_path / "instance"
        assert stat.S_IMODE(os.stat(instance).st_mode) == 0o700
        database = app.config["CONSENT_DATABASE_URL"].removeprefix("sqlite:///")
        storage.init_database(app.config["CONSENT_DATABASE_URL"])
        storage.create_tables()
        ledger.create_org("files", "Files")
        for name in (database, database + "-wal", database + "-shm", str(instance / "secret_key")):
            assert stat.S_IMODE(os.stat(name).st_mode) == 0o600, name
        storage.db.close()
    finally:
        os.umask(old)
