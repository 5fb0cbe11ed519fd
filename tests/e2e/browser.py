"""What the browser tests share: Debian's Chromium, how it is launched, and the rule that a
missing browser skips a test outside CI and fails it under CI=true."""
from __future__ import annotations

import os

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def require_chromium() -> None:
    """Call at a browser test module's top."""
    if not os.path.exists(CHROMIUM) and not os.environ.get("CI"):
        pytest.skip(f"{CHROMIUM} is not installed (set CI=true to make this a failure)",
                    allow_module_level=True)
