"""The console's credentials view in headless Chromium: every kind listed, an API key created
(the secret shown once) and used on the API, then revoked in the browser (asked first, confirmed
by the keyboard) and refused with 401; a form without its CSRF token refused; axe on every state,
screenshots at desktop and phone size."""
from __future__ import annotations

import urllib.error
import urllib.request

from consent.core import auth
from consent.dialects.attestr import clients as attestr_clients
from consent.dialects.veriff import service as veriff_service
from tests.console_helpers import make_operator
from tests.e2e.console import axe_violations, no_horizontal_scroll, screenshot, signed_in_page
from tests.e2e.test_console_webhooks import tab_to


def api_status(base, org, key) -> int:
    request = urllib.request.Request(f"{base}/ledger/v1/audit?limit=1",
                                     headers={"X-API-Key": key, "X-Org-Id": org.slug})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_credentials_create_use_and_revoke_a_key(app, org, live_server, browser):
    make_operator(org.org.id)
    make_operator(org.org.id, "second@example.com", "Second Operator")
    veriff_service.create_integration(org.org, name="Shop KYC",
                                      decision_url="http://127.0.0.1:9/veriff/decision")
    attestr_clients.create_client(org.org, name="Lending app", services=["BANK_ACC", "PAN"],
                                  webhook_url="http://127.0.0.1:9/attestr")

    for size in ("phone", "desktop"):
        page = signed_in_page(browser, app, live_server, size=size)
        page.get_by_role("navigation", name="Console").get_by_role("link", name="Credentials").click()
        page.wait_for_url("**/credentials")
        text = page.locator("main").inner_text()
        for shown in ("admin", "Shop KYC", "Lending app", "BANK_ACC, PAN", "second@example.com",
                      "this session"):
            assert shown in text, shown
        assert axe_violations(page) == []
        screenshot(page, f"credentials-{size}")
        if size == "phone":
            assert no_horizontal_scroll(page)
            page.context.close()

    # create an API key: the secret shown once
    page.get_by_text("Create an API key").click()
    page.get_by_label("Name").first.fill("Browser key")
    page.get_by_label("admin").check()
    page.get_by_role("button", name="Create API key").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "New API key: Browser key"
    key = page.locator("code.secret-value").inner_text()
    assert key.startswith("ck_") and key not in page.url
    assert axe_violations(page) == []
    screenshot(page, "credential-issued-desktop")
    assert api_status(live_server, org, key) == 200

    page.get_by_role("link", name="Back to credentials").click()
    page.wait_for_url("**/credentials")
    assert key not in page.content() and key[:10] in page.content()

    # CSRF: a tampered token is refused, nothing revoked
    page.evaluate("() => document.querySelectorAll('input[name=csrf]').forEach("
                  "i => i.value = 'tampered')")
    page.get_by_role("button", name="Revoke API key Browser key").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == "Not allowed"
    assert api_status(live_server, org, key) == 200

    # revoke: asked first, confirmed by the keyboard; the key then gets 401
    page.goto(f"{live_server}/console/o/{org.slug}/credentials")
    page.get_by_role("button", name="Revoke API key Browser key").click()
    page.wait_for_load_state()
    assert page.get_by_role("heading", level=1).inner_text() == \
        "Revoke the API key “Browser key”?"
    assert axe_violations(page) == []
    screenshot(page, "credential-confirm-desktop")
    assert api_status(live_server, org, key) == 200
    tab_to(page, "Revoke API key")
    page.keyboard.press("Enter")
    page.wait_for_url("**done=revoked")
    assert "The credential is revoked" in page.get_by_role("status").inner_text()
    assert api_status(live_server, org, key) == 401
    row = page.locator("#keys tr", has_text="Browser key")
    assert "revoked" in row.inner_text()
    assert axe_violations(page) == []
    screenshot(page, "credentials-revoked-desktop")
    page.context.close()

    # phone: the secret page and the confirm page fit the screen
    page = signed_in_page(browser, app, live_server, size="phone")
    page.goto(f"{live_server}/console/o/{org.slug}/credentials")
    page.get_by_text("Create an Attestr client").click()
    page.get_by_label("Services").fill("BANK_ACC")
    page.get_by_role("button", name="Create Attestr client").click()
    page.wait_for_load_state()
    assert page.locator("code.secret-value").count() == 2
    assert no_horizontal_scroll(page) and axe_violations(page) == []
    screenshot(page, "credential-issued-phone")
    token_id = auth.member_tokens(org.org.id)[0]["id"]
    page.goto(f"{live_server}/console/o/{org.slug}/credentials")
    page.locator(f"form[action$='/tokens/{token_id}/revoke'] button").click()
    page.wait_for_load_state()
    assert "signs you out" in page.locator("main").inner_text()
    assert no_horizontal_scroll(page) and axe_violations(page) == []
    screenshot(page, "credential-confirm-phone")
    page.get_by_role("button", name="Revoke token").click()
    page.wait_for_url("**/console/sign-in")
    page.goto(f"{live_server}/console/o/{org.slug}/credentials")
    page.wait_for_url("**/console/sign-in")
    page.context.close()
