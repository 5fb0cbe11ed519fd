"""The README's screenshot of the console's overview: a fresh database, ``seed-demo --sample
1000``, the app served on loopback, the demo operator signed in by a sign-in link, the page
captured at 1280x800 by Debian's Chromium. ``.venv/bin/python docs/make_screenshot.py``."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from playwright.sync_api import sync_playwright

    from consent import create_app
    from consent.cli import DEMO_USER
    from consent.core import storage
    from tests.console_helpers import link_for
    from tests.e2e.servers import CHROMIUM, CHROMIUM_ARGS, serving

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"CONSENT_DATABASE_URL": f"sqlite:///{tmp}/consent.sqlite3",
                          "CONSENT_CHECKPOINT_KEY_DIR": f"{tmp}/keys",
                          "CONSENT_SECRET_KEY": "screenshot", "CONSENT_SEED": "21"})
        with app.app_context():
            storage.create_tables()
        result = app.test_cli_runner().invoke(args=["seed-demo", "--sample", "1000"])
        assert result.exit_code == 0, result.output
        with serving(app) as base:
            app.config["CONSENT_PUBLIC_URL"] = base
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(link_for(app, DEMO_USER))
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url("**/console/o/**")
                page.screenshot(path=str(ROOT / "docs" / "console-overview.png"))
                browser.close()
        app.extensions["consent.background"].stop()


if __name__ == "__main__":
    main()
