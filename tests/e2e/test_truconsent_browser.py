"""End to end: create a consent link through the API, open it in headless Chromium (JavaScript
off, phone-sized viewport), accept one purpose and decline the other, then read user-status."""
from __future__ import annotations

import json
import urllib.request

from tests.e2e.servers import CHROMIUM, CHROMIUM_ARGS
from tests.truconsent_helpers import make_cp


def call(method, url, headers, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={**headers, "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, json.loads(resp.read())


def test_collector_in_headless_chromium(live_server, org):
    from playwright.sync_api import sync_playwright

    cpf = make_cp(org.org)
    marketing, analytics = cpf.cp.purposes
    headers = org.headers(org.consent_key)
    status, link = call("POST", f"{live_server}/api/consent/consent-links", headers, {
        "collection_point_id": "CP001", "asset_id": cpf.asset.id, "phone": "9876543210",
        "expiry_hours": 1})
    assert status == 200 and link["consent_link"].startswith(live_server + "/acme/CP001/")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(java_script_enabled=False,
                                          viewport={"width": 360, "height": 740})
            page = context.new_page()
            response = page.goto(link["consent_link"])
            assert response.status == 200
            assert page.get_by_role("heading", name="Sign-up").is_visible()
            assert page.get_by_text("We use your phone number.").is_visible()
            page.get_by_role("group", name=marketing["name"]).get_by_label("Accept").check()
            page.get_by_role("group", name=analytics["name"]).get_by_label("Decline").check()
            with page.expect_navigation():
                page.get_by_role("button", name="Save my choices").click()
            assert page.get_by_text("Thank you. Your decision has been recorded.").is_visible()
            reference = page.locator("#reference").inner_text()
            assert reference.startswith("TC-")
            rows = page.locator("tbody tr").all_inner_texts()
            assert rows == [f"{marketing['name']}\tAccepted", f"{analytics['name']}\tDeclined"]
            # The page fits a phone screen: nothing wider than the viewport.
            js_page = browser.new_page(viewport={"width": 360, "height": 740})
            js_page.goto(link["consent_link"])
            assert js_page.evaluate("document.documentElement.scrollWidth") <= 360
        finally:
            browser.close()

    status, body = call("GET", f"{live_server}/api/v1/external/consents/user-status"
                               f"?dp_id=%2B919876543210", headers)
    assert status == 200
    [group] = body["collection_points"]
    assert group["collection_point_display_id"] == "CP001"
    got = {p["purpose_id"]: (p["status"], p["consented"], p["source"])
           for p in group["purposes"]}
    assert got == {marketing["id"]: ("granted", True, "consent_link"),
                   analytics["id"]: ("denied", False, "consent_link")}
    status, st = call("GET", f"{live_server}/api/consent/consent-links/status/"
                             f"{link['request_id']}", headers)
    assert (st["status"], st["consent_action"], st["reference"]) == (
        "complete", "partial_consent", reference)
