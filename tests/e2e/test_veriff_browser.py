"""Veriff's own published browser SDKs against this service, in headless Chromium.

The service runs as a real server on loopback (127.0.0.1); a shop page is served by a second
loopback server on another origin (``localhost``, another port: another site), as a team's
front-end would be. The SDKs are the packages published on npm (fetched at test time into
.cache/npm). No host name but those two resolves in the browser, so the tests stay on
loopback.

* ``@veriff/js-sdk`` 2.0.0: ``mount()`` renders its form, the click sends its CORS request
  (preflight, then ``POST {host}/v1/sessions`` with ``x-auth-client`` and ``x-origin: js-sdk``)
  and ``onSession`` gets the 201 session.
* ``@veriff/incontext-sdk`` 2.5.0: ``createVeriffFrame({url})`` frames the session page, which
  completes the flow (submit, decide) and tells the SDK: ``onEvent`` sees STARTED, SUBMITTED,
  FINISHED, the SDK closes its frame, and the decision webhook arrives at a loopback receiver.
"""
from __future__ import annotations

import json
import urllib.request

import pytest

from consent.core import outbox
from consent.dialects.veriff.service import create_integration
from tests.e2e.servers import serving
from tests.npm_cache import npm_package
from tests.receiver import Receiver
from tests.veriff_helpers import sign

class Recorder:
    """WSGI middleware noting each request's method, path and headers (the browser's side)."""

    def __init__(self, app):
        self.app, self.seen = app, []

    def __call__(self, environ, start_response):
        self.seen.append((environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""),
                          {k[5:].replace("_", "-").lower(): v for k, v in environ.items()
                           if k.startswith("HTTP_")}))
        return self.app(environ, start_response)


@pytest.fixture
def veriff_server(app):
    """The service on a real loopback port; the session URLs it hands out point there."""
    recorder = Recorder(app)
    with serving(recorder) as base:
        app.config["CONSENT_PUBLIC_URL"] = base
        yield base, recorder


def shop_site(files: dict[str, tuple[str, bytes]]):
    """The integrator's own pages on another origin: ``localhost``, another site than the
    service's 127.0.0.1, so the session page is framed in a third-party context."""
    def app(environ, start_response):
        found = files.get(environ.get("PATH_INFO", ""))
        status, mimetype, body = ("200 OK", *found) if found else (
            "404 Not Found", "text/plain", b"not found")
        start_response(status, [("Content-Type", mimetype), ("Content-Length", str(len(body)))])
        return [body]

    return serving(app, host="localhost")


def page_files(sdk_name: str, sdk_source: bytes, app_js: str, shim: bool = False) -> dict:
    scripts = (['<script src="/shim.js"></script>'] if shim else []) + [
        f'<script src="/{sdk_name}"></script>', '<script src="/app.js"></script>']
    html = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>'
            '</head><body><h1>Shop</h1><div id="veriff-root"></div>'
            + "".join(scripts) + "</body></html>")
    return {"/": ("text/html; charset=utf-8", html.encode()),
            # lib/veriff.js is a CommonJS bundle (it ends with module.exports.Veriff = ...)
            "/shim.js": ("text/javascript", b"var module = {exports: {}};"),
            f"/{sdk_name}": ("text/javascript", sdk_source),
            "/app.js": ("text/javascript", app_js.encode())}


def signed_get(base, integration, path, session_id):
    request = urllib.request.Request(base + path, headers={
        "X-AUTH-CLIENT": integration.key,
        "X-HMAC-SIGNATURE": sign(integration.shared_secret, session_id.encode())})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_js_sdk_creates_a_session_cross_origin(veriff_server, browser, org):
    base, recorder = veriff_server
    sdk = npm_package("@veriff/js-sdk", "2.0.0")
    integration = create_integration(org.org)
    app_js = f"""
      window.sessionResult = null;
      var veriff = module.exports.Veriff({{
        host: {json.dumps(base)}, apiKey: {json.dumps(integration.key)},
        parentId: "veriff-root",
        onSession: function (err, response) {{ window.sessionResult = {{err: err, response: response}}; }}
      }});
      veriff.setParams({{person: {{givenName: "Ada", lastName: "Lovelace"}},
                         vendorData: "shop-user-7"}});
      veriff.mount({{submitBtnText: "Get verified"}});
    """
    files = page_files("veriff.js", (sdk / "lib" / "veriff.js").read_bytes(), app_js, shim=True)
    with shop_site(files) as shop:
        context = browser.new_context()
        page = context.new_page()
        assert page.goto(shop + "/").status == 200
        page.get_by_role("button", name="Get verified").click()
        page.wait_for_function("window.sessionResult !== null", timeout=10000)
        result = page.evaluate("window.sessionResult")
        context.close()

    assert result["err"] is None, result
    body = result["response"]
    assert body["status"] == "success"
    verification = body["verification"]
    assert verification["status"] == "created" and verification["vendorData"] == "shop-user-7"
    assert verification["url"] == f"{base}/v/{verification['sessionToken']}"
    # The browser asked first (CORS preflight), then sent what the SDK sends.
    requests = [(m, p, h) for m, p, h in recorder.seen if p == "/v1/sessions"]
    (pre_method, _, pre_headers), (method, _, headers) = requests
    assert pre_method == "OPTIONS" and pre_headers["origin"] == shop
    assert "x-origin" in pre_headers["access-control-request-headers"]
    assert method == "POST" and headers["x-origin"] == "js-sdk"
    assert headers["x-auth-client"] == integration.key and "x-hmac-signature" not in headers
    person = signed_get(base, integration, f"/v1/sessions/{verification['id']}/person",
                        verification["id"])
    assert (person["person"]["firstName"], person["person"]["lastName"]) == ("Ada", "Lovelace")


def test_incontext_sdk_frames_the_flow_to_the_end(veriff_server, browser, org):
    base, _recorder = veriff_server
    sdk = npm_package("@veriff/incontext-sdk", "2.5.0")
    with Receiver() as rx:
        integration = create_integration(org.org, event_url=rx.url + "/events",
                                         decision_url=rx.url + "/decisions")
        request = urllib.request.Request(
            base + "/v1/sessions", method="POST",
            data=json.dumps({"verification": {"vendorData": "shop-user-8",
                                              "callback": "https://shop.example/done",
                                              "person": {"firstName": "Grace",
                                                         "lastName": "Hopper"}}}).encode(),
            headers={"Content-Type": "application/json", "X-AUTH-CLIENT": integration.key})
        with urllib.request.urlopen(request, timeout=10) as response:
            session = json.loads(response.read())["verification"]
        app_js = f"""
          window.veriffEvents = [];
          window.veriffSDK.createVeriffFrame({{
            url: {json.dumps(session["url"])},
            onEvent: function (msg) {{ window.veriffEvents.push(msg); }}
          }});
        """
        files = page_files("incontext.js",
                           (sdk / "dist" / "v2.5.0" / "veriff.js").read_bytes(), app_js)
        with shop_site(files) as shop:
            context = browser.new_context()
            page = context.new_page()
            assert page.goto(shop + "/").status == 200
            page.wait_for_function("window.veriffEvents.includes('STARTED')", timeout=10000)
            frame = page.frame_locator("#veriffFrame")
            assert frame.locator("#session-status").inner_text() == "started"
            frame.get_by_role("button", name="Submit verification").click()
            page.wait_for_function("window.veriffEvents.includes('SUBMITTED')", timeout=10000)
            frame.get_by_label("approved").check()
            frame.get_by_role("button", name="Send decision").click()
            page.wait_for_function("window.veriffEvents.includes('FINISHED')", timeout=10000)
            events = page.evaluate("window.veriffEvents")
            page.wait_for_function("document.getElementById('veriffFrame') === null",
                                   timeout=5000)  # the SDK closed its frame
            context.close()
        received = rx.wait_for(3)

    assert events == ["STARTED", "SUBMITTED", "FINISHED"]
    by_path = {}
    for r in received:
        assert r.headers["x-auth-client"] == integration.key
        assert r.headers["x-hmac-signature"] == sign(integration.shared_secret, r.body)
        by_path.setdefault(r.path, []).append(json.loads(r.body))
    assert [e["code"] for e in by_path["/events"]] == [7001, 7002]
    [decision] = by_path["/decisions"]
    assert decision["verification"]["id"] == session["id"]
    assert (decision["verification"]["status"], decision["verification"]["code"]) == (
        "approved", 9001)
    assert decision == signed_get(base, integration, f"/v1/sessions/{session['id']}/decision",
                                  session["id"])
    assert outbox.SENDER.enabled
