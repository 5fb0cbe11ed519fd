"""The console in headless Chromium: signing in by an e-mailed link (a real SMTP server on
loopback), the overview with real data, the keyboard, axe-core, the CSP, the phone layout, the
organisation switcher and signing out."""
from __future__ import annotations

import email
from urllib.parse import urlsplit

import pytest

from tests.console_helpers import make_operator
from tests.e2e.console import (
    SIZES,
    axe_violations,
    no_horizontal_scroll,
    screenshot,
    signed_in_page,
)


def _watch(page) -> dict:
    """What a page did that it must not: console errors (a CSP violation is one), requests
    to another host."""
    seen = {"errors": [], "hosts": set()}
    page.on("console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: seen["errors"].append(str(e)))
    page.on("request", lambda r: seen["hosts"].add(urlsplit(r.url).netloc))
    return seen


def _record(client_post, org, n=6):
    for i in range(n):
        client_post(f"u{i}", "marketing" if i % 2 else "analytics",
                    ("granted", "denied", "granted")[i % 3])


@pytest.fixture
def history(app, org, other_org):
    from consent.core import ledger

    for i in range(6):
        ledger.record_one(org.org.id, ledger.Decision(
            subject=f"u{i}", purpose="marketing" if i % 2 else "analytics",
            status=("granted", "denied", "granted")[i % 3], source="ledger"))
    ledger.record_one(other_org.org.id, ledger.Decision(
        subject="g1", purpose="zz-globex-purpose", status="granted", source="ledger"))


def test_sign_in_by_emailed_link_and_the_overview(app, org, live_server, browser, smtp,  
                                                  history):
    make_operator(org.org.id)
    app.config["CONSENT_SMTP_URL"] = smtp.url
    context = browser.new_context(viewport=SIZES["desktop"])
    page = context.new_page()
    seen = _watch(page)
    page.goto(f"{live_server}/console/o/acme/")
    assert page.url.endswith("/console/sign-in")
    assert axe_violations(page) == []
    screenshot(page, "sign-in-desktop")
    page.get_by_label("E-mail address").fill("ops@example.com")
    page.get_by_role("button", name="Send me a sign-in link").click()
    page.get_by_role("heading", name="Check your e-mail").wait_for()
    [envelope] = smtp.messages
    body = email.message_from_bytes(envelope.content).get_payload(decode=True).decode()
    link = next(word for word in body.split() if "/console/sign-in/link?t=" in word)
    page.goto(link)
    assert axe_violations(page) == []
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/o/acme/")
    assert page.get_by_role("heading", name="Overview", level=1).is_visible()
    text = page.locator("main").inner_text()
    assert "zz-globex-purpose" not in text
    # the charts: SVG with a title and description, and their numbers as a table
    chart = page.locator("figure.chart").first
    assert chart.locator("svg[role=img] > title").count() == 1
    assert chart.locator("rect").count() >= 2
    page.get_by_text("The numbers, day by day").first.click()
    assert chart.locator("table tbody tr").count() == 30
    assert "analytics" in page.locator("section[aria-labelledby=purposes-h]").inner_text()
    assert axe_violations(page) == []
    screenshot(page, "overview-desktop")
    assert seen["errors"] == []                    # no CSP violation, no failed asset
    assert seen["hosts"] <= {urlsplit(live_server).netloc}
    # the same link again: used (a 410 page)
    page.goto(link)
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("heading", name="Expired").is_visible()
    context.close()


def test_the_keyboard_reaches_everything(app, org, live_server, browser, history):
    make_operator(org.org.id)
    page = signed_in_page(browser, app, live_server)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.goto(page.url)
    labels = []
    for _ in range(12):
        page.keyboard.press("Tab")
        labels.append(page.evaluate("document.activeElement.textContent.trim()"))
    assert "Sign out" in labels and "Consents" in labels and "Rights requests" in labels
    # a visible focus ring on the focused link
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    while page.evaluate("document.activeElement.textContent.trim()") != "Audit":
        page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/o/acme/audit")


def test_the_phone_layout_holds(app, org, live_server, browser, history):
    make_operator(org.org.id)
    page = signed_in_page(browser, app, live_server, size="phone")
    seen = _watch(page)
    page.reload()
    assert no_horizontal_scroll(page)
    assert axe_violations(page) == []
    screenshot(page, "overview-phone")
    assert seen["errors"] == []


def test_switching_organisations_and_signing_out(app, org, other_org, live_server, browser):
    make_operator(org.org.id)
    make_operator(other_org.org.id)
    page = signed_in_page(browser, app, live_server)
    seen = _watch(page)
    page.get_by_label("Organisation").select_option("globex")
    page.get_by_role("button", name="Switch").click()
    page.wait_for_url("**/console/o/globex/")
    assert page.get_by_label("Organisation").input_value() == "globex"
    # a form replayed without its token is refused
    status = page.evaluate("""async () => (await fetch(location.pathname + 'sign-out',
        {method: 'POST', body: new URLSearchParams({csrf: 'forged'})})).status""")
    assert status == 403
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/console/sign-in")
    page.goto(f"{live_server}/console/o/acme/")
    assert page.url.endswith("/console/sign-in")
    assert seen["errors"] == [] or all("403" in e for e in seen["errors"])
