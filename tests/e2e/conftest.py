"""Browser tests: Debian's /usr/bin/chromium driven by playwright (never a downloaded browser),
against the app served for real on loopback. Outside CI a missing chromium skips them; under
CI=true it is a failure."""
from __future__ import annotations

import os

import pytest

from tests.e2e.servers import CHROMIUM, CHROMIUM_ARGS, serving

def pytest_collection_modifyitems(config, items):
    skip = None if os.path.exists(CHROMIUM) or os.environ.get("CI") else pytest.mark.skip(
        reason=f"{CHROMIUM} is not installed (CI=true makes this a failure)")
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)
            if skip is not None:
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
