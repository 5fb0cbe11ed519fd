"""``/docs``: every response under it carries the pages' security headers, and the page runs no
inline script (its CSP allows scripts from this service only). That Swagger UI still renders
under that policy, with no violation, is tested in a browser (tests/e2e/test_docs_offline.py)."""
from __future__ import annotations

import re

import pytest

from consent.web.docs import CSP

PATHS = ("/docs", "/docs/", "/docs/index.html", "/docs/swagger-initializer.js",
         "/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/favicon-32x32.png",
         "/docs/no-such-asset.js")


@pytest.mark.parametrize("path", PATHS)
def test_every_docs_response_carries_the_security_headers(client, path):
    r = client.get(path)
    assert r.status_code == (404 if "no-such" in path else 200)
    assert r.headers["Content-Security-Policy"] == CSP
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "no-referrer"


def test_the_policy_allows_scripts_from_this_service_only_and_no_framing():
    directives = dict(d.strip().split(" ", 1) for d in CSP.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["connect-src"] == "'self'"
    assert "unsafe-eval" not in CSP and "*" not in CSP


def test_the_page_has_no_inline_script(client):
    html = client.get("/docs").get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert [attrs for attrs, _ in scripts] == [
        ' src="/docs/swagger-ui-bundle.js"', ' src="/docs/swagger-ui-standalone-preset.js"',
        ' src="/docs/swagger-initializer.js"']
    assert all(body.strip() == "" for _, body in scripts)
    assert " on" not in re.sub(r'"[^"]*"', "", html).lower()  # no onload= and the like
    initializer = client.get("/docs/swagger-initializer.js")
    assert initializer.mimetype == "text/javascript"
    assert '"/openapi.json"' in initializer.get_data(as_text=True)


def test_no_path_leaves_the_assets_folder(client):
    for path in ("/docs/../app.py", "/docs/%2e%2e/app.py", "/docs/..%2fapp.py"):
        r = client.get(path)
        assert r.status_code == 404, path
