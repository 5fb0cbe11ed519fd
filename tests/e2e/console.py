"""The console in headless Chromium: a browser page signed in by a sign-in link, axe-core (from
npm, ``tests.npm_cache``) run on it, and screenshots at the two sizes the console is checked at."""
from __future__ import annotations

import os
from pathlib import Path

from tests.console_helpers import link_for
from tests.npm_cache import npm_package

AXE = ("axe-core", "4.10.3")
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
# Screenshots land here (git-ignored), to be looked at; CONSOLE_SCREENSHOTS overrides.
SHOTS = Path(os.environ.get("CONSOLE_SCREENSHOTS") or
             Path(__file__).resolve().parents[2] / ".cache" / "console-screenshots")


def signed_in_page(browser, app, base: str, email: str = "ops@example.com", size="desktop"):
    """A new page (its own context) signed in as ``email`` through a sign-in link: open the
    link, press the button, land on the overview."""
    context = browser.new_context(viewport=SIZES[size])
    page = context.new_page()
    link = link_for(app, email)
    page.goto(link)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/o/**")
    return page


def axe_violations(page, impacts=("serious", "critical")) -> list[dict]:
    """axe-core's violations of the page at these impacts (id, impact, the nodes' targets).
    The script is evaluated through the DevTools protocol, which the page's CSP does not
    govern: the page itself keeps its CSP."""
    source = (npm_package(*AXE) / "axe.min.js").read_text()
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate("(src) => { (0, eval)(src); }", source)
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.map(n => n.target.join(' '))}));
    }""")
    return [v for v in result if v["impact"] in impacts]


def screenshot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def no_horizontal_scroll(page) -> bool:
    """The page fits its viewport's width (what a phone shows without scrolling sideways)."""
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
