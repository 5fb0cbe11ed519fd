"""Browser tests: Debian's /usr/bin/chromium driven by playwright (never a downloaded browser),
against the app served for real on loopback. Outside CI a missing chromium skips them; under
CI=true it is a failure."""
from __future__ import annotations

import os

import pytest

from tests.e2e.servers import serving

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 # No name but the loopback ones resolves (pages that link a web font, for one),
                 # so the browser stays on loopback. Not playwright's request interception: that
                 # would answer CORS preflights itself, never asking the service.
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]


def pytest_collection_modifyitems(config, items):
    if os.path.exists(CHROMIUM) or os.environ.get("CI"):
        return
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed (CI=true makes this a failure)")
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture
def live_server(app):
    """The app on a real loopback port; links it hands out point there."""
    with serving(app) as base:
        app.config["CONSENT_PUBLIC_URL"] = base
        yield base


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()
