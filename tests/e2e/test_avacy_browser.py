"""End to end: the WordPress plugin's form body reaches the service over HTTP, and the operator
opens the consent archive in headless Chromium (JavaScript on): the proofs, which carry scripts,
are shown as text and previewed in a sandbox, and no script of theirs runs; the search finds the
person."""
from __future__ import annotations

import json
import urllib.request

from tests.avacy_helpers import FORM, Tenant, plugin_body

PROOFS = ('<form id="signup"><label>Email <input name="your-email"></label></form>'
          '<script>document.title = "pwned"; window.top.pwned = true; window.pwned = true;'
          '</script><img src="x" onerror="window.top.pwned = true; window.pwned = true">')


def plugin_post(base, tenant, identifier):
    payload = {"ip_address": "203.0.113.7", "consent_type": "form", "optin": "accepted",
               "consent_data": [{"label": "your-email", "value": identifier}],
               "identifier": identifier, "source": "plugin",
               "consent_features": ["privacy_policy", "newsletter"], "html_form": PROOFS}
    req = urllib.request.Request(
        f"{base}{tenant.path('v4')}", data=plugin_body(payload).encode(), method="POST",
        headers={"Accept": "application/json", "Authorization": f"Bearer {tenant.token}",
                 "Content-Type": FORM})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, json.loads(resp.read())


def test_archive_page_in_headless_chromium(live_server, browser, org, runner):
    tenant = Tenant(org.org)
    for identifier in ("anna@example.it", "bruno@example.it"):
        status, body = plugin_post(live_server, tenant, identifier)
        assert status == 201 and body["data"]["html_form"] == PROOFS
    url = runner.invoke(args=["avacy", "archive-url", "--org", org.slug]).output.strip()
    assert url.startswith(live_server + "/avacy/archive?t=")

    page = browser.new_page(viewport={"width": 1024, "height": 900})
    response = page.goto(url)
    assert response.status == 200
    page.wait_for_load_state("load")
    assert page.get_by_role("heading", name="Consent archive").is_visible()
    assert page.locator("article.entry").count() == 2
    # the proofs are text on the page: their markup is visible, never executed
    proofs = page.locator("article.entry pre.proofs").first
    assert proofs.inner_text() == PROOFS
    preview = page.locator("iframe.preview").first
    assert preview.get_attribute("sandbox") == ""
    frame = preview.element_handle().content_frame()
    assert frame is not None
    frame.wait_for_load_state("load")
    assert frame.locator("#signup").count() == 1  # the form is rendered in the sandbox
    assert page.title().startswith("Consent archive")
    assert page.evaluate("window.pwned") is None
    assert frame.evaluate("window.pwned") is None
    assert frame.evaluate("document.title") != "pwned"
    # search by identifier, through the page's own form
    page.get_by_label("Identifier").fill("bruno@example.it")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    assert page.locator("article.entry").count() == 1
    assert page.locator("#summary").inner_text().startswith("1 entry for")
    entry = page.locator("article.entry")
    assert "bruno@example.it" in entry.locator("h2").inner_text()
    rows = entry.locator("table.preferences tbody tr").all_inner_texts()
    assert [r.split("\t")[:3] for r in rows] == [
        ["privacy_policy", "Accepted", "yes"], ["newsletter", "Accepted", "yes"]]
    assert page.evaluate("window.pwned") is None
