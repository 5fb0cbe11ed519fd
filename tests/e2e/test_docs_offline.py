"""/docs renders the API reference with no network beyond the service itself: headless Chromium
with every request to another host refused finds every operation of /openapi.json rendered."""
from __future__ import annotations

import json
import urllib.request
from urllib.parse import urlsplit


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
