"""The pytest plugin (plugins/pytest-consent-ledger) the way a client project uses it: pytester
runs a small client test suite in a subprocess that has nothing but the plugin (its source
directory on the path; nothing of this repository imported) and talks to the service over HTTP,
a service the fixture starts from this checkout on a free loopback port."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGIN = ROOT / "plugins" / "pytest-consent-ledger"
EXAMPLE = PLUGIN / "example" / "test_client_app.py"

pytest_plugins = ("pytester",)


@pytest.fixture
def client_project(pytester, monkeypatch):
    """A client project: its tests, the plugin on the path, this checkout to start from."""
    # the plugin's package alone (a copy: no build or egg-info left by a local pip install
    # can register it a second time through its entry point)
    shutil.copytree(PLUGIN / "src" / "pytest_consent_ledger",
                    pytester.path / "_plugin" / "pytest_consent_ledger",
                    ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("PYTHONPATH", str(pytester.path / "_plugin"))
    monkeypatch.setenv("CONSENT_LEDGER_CHECKOUT", str(ROOT))
    monkeypatch.setenv("CONSENT_LEDGER_PYTHON", sys.executable)
    for name in ("CONSENT_LEDGER_URL", "CONSENT_DATABASE_URL", "CONSENT_TEST_DATABASE_URL",
                 "CONSENT_CHECK_FAST_DUMP"):
        monkeypatch.delenv(name, raising=False)
    return pytester


def run(pytester, *args):
    return pytester.runpytest_subprocess("-p", "pytest_consent_ledger.plugin",
                                         "-p", "no:randomly", "-p", "no:cacheprovider", *args,
                                         timeout=240)


def test_the_readmes_client_suite_passes(client_project):
    shutil.copy(EXAMPLE, client_project.path / "test_client_app.py")
    result = run(client_project, "-v")
    result.assert_outcomes(passed=4)


def test_without_reset_records_are_seen_by_the_next_test(client_project):
    client_project.makepyfile(test_leak="""
        def test_first(consent_ledger):
            tc = consent_ledger["truconsent"]
            r = consent_ledger.request("GET", "/api/consent/consent-links/history",
                                       headers={"X-Org-Id": tc["org_id"],
                                                "X-API-Key": tc["api_key"]})
            assert r.status in (200, 401, 403)

        def test_second_sees_the_journal(consent_ledger):
            assert len(consent_ledger.requests()) == 1

        def test_reset_by_option_would_clear(consent_ledger):
            consent_ledger.reset()
            assert consent_ledger.requests() == []
    """)
    run(client_project).assert_outcomes(passed=3)


def test_reset_option_resets_before_every_test(client_project):
    client_project.makepyfile(test_opt="""
        def test_one(consent_ledger):
            consent_ledger.advance(hours=5)
            assert consent_ledger.requests() == []

        def test_two(consent_ledger):
            # the reset before this test put the clock back to real time
            assert consent_ledger._control("GET", "/clock")["moved"] is False
    """)
    run(client_project, "--consent-ledger-reset").assert_outcomes(passed=2)


def test_connects_to_a_running_service(client_project, monkeypatch, tmp_path):
    """CONSENT_LEDGER_URL: the fixture starts nothing and uses the credentials file."""
    sys.path.insert(0, str(PLUGIN / "src"))
    try:
        from pytest_consent_ledger.plugin import Started
    finally:
        sys.path.remove(str(PLUGIN / "src"))
    service = Started(ROOT)
    try:
        credentials = service.wait()
        creds = tmp_path / "creds.json"
        creds.write_text(__import__("json").dumps(credentials))
        monkeypatch.setenv("CONSENT_LEDGER_URL", service.url)
        monkeypatch.setenv("CONSENT_LEDGER_CREDENTIALS", str(creds))
        monkeypatch.delenv("CONSENT_LEDGER_CHECKOUT")
        client_project.makepyfile(test_running=f"""
            def test_uses_it(consent_ledger):
                assert consent_ledger.base_url == "{service.url}"
                assert consent_ledger.reset()["seq"] == 1
        """)
        run(client_project).assert_outcomes(passed=1)
        assert service.process.poll() is None   # the session did not stop what it did not start
    finally:
        service.stop()


def test_missing_configuration_is_a_usage_error(client_project, monkeypatch):
    monkeypatch.delenv("CONSENT_LEDGER_CHECKOUT")
    client_project.makepyfile(test_x="def test_x(consent_ledger):\n    pass\n")
    result = run(client_project)
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*CONSENT_LEDGER_URL*CONSENT_LEDGER_CHECKOUT*"])


def test_plugin_imports_the_standard_library_only():
    import ast

    stdlib = set(sys.stdlib_module_names) | {"pytest", "_pytest", "pytest_consent_ledger"}
    for path in (PLUGIN / "src" / "pytest_consent_ledger").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0
                     else [])
            for name in names:
                assert name.split(".")[0] in stdlib, (path.name, name)
    assert os.path.exists(PLUGIN / "pyproject.toml")


def test_a_drop_fault_closes_the_connection_unanswered():
    """Over a real socket (gunicorn): the client gets no answer at all; the journal keeps the
    request with status 0 and ``injected``."""
    import http.client

    sys.path.insert(0, str(PLUGIN / "src"))
    try:
        from pytest_consent_ledger.client import Ledger
        from pytest_consent_ledger.plugin import Started
    finally:
        sys.path.remove(str(PLUGIN / "src"))
    service = Started(ROOT)
    try:
        ledger = Ledger(service.url, service.wait())
        ledger.fault("/ledger/v1/consents", method="POST", drop=True, count=1)
        admin = {"X-Org-Id": "demo", "X-API-Key": ledger["ledger"]["admin_api_key"]}
        body = {"subject": "u1", "purpose": "marketing", "status": "granted"}
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError, OSError)):
            ledger.request("POST", "/ledger/v1/consents", json_body=body, headers=admin)
        answer = ledger.request("POST", "/ledger/v1/consents", json_body=body, headers=admin)
        assert answer.status == 201
        [ok, dropped] = ledger.requests(path="/ledger/v1/consents")
        assert (dropped["status"], dropped["injected"], ok["status"]) == (0, True, 201)
        assert len(ledger.state()["records"]["core"]["consent"]) == 1   # nothing written
    finally:
        service.stop()
