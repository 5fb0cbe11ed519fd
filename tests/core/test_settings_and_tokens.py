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
    auth.add_member(org.org, user)
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
    auth.require_membership(operator, org.org)
    with pytest.raises(Forbidden):
        auth.require_membership(operator, other_org.org)


def test_tokens_need_max_age():
    from consent.core import tokens
    signed = tokens.dumps("k", tokens.Purpose.CONSENT_LINK, {"a": 1})
    with pytest.raises(ValueError):
        tokens.loads("k", tokens.Purpose.CONSENT_LINK, signed, max_age=None)
    with pytest.raises(tokens.BadSignature):  # a token for one purpose is no good for another
        tokens.loads("k", tokens.Purpose.SESSION, signed, max_age=60)


def test_credentials_stored_hashed(org):
    issued = auth.create_credential(org.org, kind="hmac")
    row = issued.credential
    assert row.key_hash == auth.sha256_hex(issued.key)
    assert issued.key not in (row.key_hash, row.key_prefix, row.shared_secret)
    assert auth.find_credential(issued.key, kind="hmac").id == row.id
    assert auth.find_credential(issued.key, kind="api_key") is None
    assert ledger.verify(org.org)["ok"]


def test_signature_matches_constant_time_hex():
    sig = auth.hmac_sha256_hex("s", b"body")
    assert auth.signature_matches("s", b"body", sig)
    assert auth.signature_matches("s", b"body", sig.upper())
    assert not auth.signature_matches("s", b"body!", sig)
    assert not auth.signature_matches("s", b"body", None)
