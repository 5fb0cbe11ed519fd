"""/docs renders the API reference with no network beyond the service itself: headless Chromium
with every request to another host refused finds every operation of /openapi.json rendered."""
from __future__ import annotations

import json
import urllib.request
from urllib.parse import urlsplit

from tests.e2e.servers import serving


def test_docs_render_every_operation_without_internet(live_server, browser):
    with urllib.request.urlopen(f"{live_server}/openapi.json", timeout=10) as response:
        spec = json.loads(response.read())
    operations = sum(1 for item in spec["paths"].values() for method in item
                     if method in ("get", "post", "put", "patch", "delete"))
    assert operations > 20

    served = urlsplit(live_server).netloc
    refused = []
    context = browser.new_context()
    page = context.new_page()

    def only_the_service(route):
        if urlsplit(route.request.url).netloc == served:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_service)
    page.goto(f"{live_server}/docs", wait_until="load")
    page.wait_for_selector(".opblock", timeout=20000)
    rendered = page.locator(".opblock").count()
    assert rendered == operations, (rendered, operations)
    assert page.locator(".opblock-summary-path", has_text="/ledger/v1/consents").count() >= 1
    assert page.locator(".opblock-summary-path", has_text="/v1/sessions").count() >= 1
    assert refused == [], f"/docs asked for outside resources: {refused}"
    context.close()


def test_docs_render_under_their_csp_with_no_violation(live_server, browser):
    """/docs carries a CSP that allows scripts from the service only: Swagger UI still renders
    every operation, expands one and its models, with no CSP violation reported."""
    context = browser.new_context()
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.add_init_script("window.__violations = [];"
                         "document.addEventListener('securitypolicyviolation', e => "
                         "window.__violations.push([e.violatedDirective, e.blockedURI]));")
    response = page.goto(f"{live_server}/docs", wait_until="load")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    page.wait_for_selector(".opblock", timeout=20000)
    page.locator(".opblock-summary").first.click()
    page.wait_for_selector(".opblock-body", timeout=20000)
    models = page.locator("section.models h4")
    if models.count():
        models.first.click()
    page.wait_for_selector(".model-container, .models", timeout=20000)
    assert page.evaluate("window.__violations") == []
    assert not [m for m in console if "Content Security Policy" in m], console
    context.close()


def test_docs_are_never_framed(live_server, browser):
    """frame-ancestors 'none' and X-Frame-Options: a page of another site framing /docs gets
    nothing of it, while the same page framing a response without those headers (/healthz)
    shows it (so the check can see a framed page)."""
    body = ("<script>window.loaded = 0;</script>"
            f'<iframe id="docs" onload="window.loaded++" src="{live_server}/docs"></iframe>'
            f'<iframe id="probe" onload="window.loaded++" src="{live_server}/healthz"></iframe>'
            ).encode()

    def framing_site(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/html"),
                                  ("Content-Length", str(len(body)))])
        return [body]

    context = browser.new_context()
    page = context.new_page()
    with serving(framing_site, host="localhost") as other_site:  # another site
        page.goto(f"{other_site}/", wait_until="load")
        page.wait_for_function("() => window.loaded === 2", timeout=20000)
        framed = {urlsplit(f.url).path: f.content() for f in page.frames[1:]}
    assert '"status":"ok"' in framed.get("/healthz", "").replace(" ", ""), framed.keys()
    assert "/docs" not in framed
    assert not any("swagger-ui" in content for content in framed.values())
    context.close()
