"""Hostile input on every console route (read from the app's URL map, so a new view is covered
without a line here): query strings and form fields with NUL, lone surrogates, huge and
negative numbers, NaN, extreme dates, over-long values and path arguments that are no id. Each
answer is a page with a 2xx, 3xx or 4xx status, never a 5xx and never a trace."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from tests.console_helpers import csrf_of

# Sent raw (percent-escapes kept as they are): %ED%A0%80 is a lone surrogate in UTF-8.
VALUES = ["%00", "%ED%A0%80", "%FF%FE", "%C0%80", "9" * 400, "-1", "0", "NaN", "Infinity",
          "1e309", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59Z", "x" * 5000,
          "2026-13-45", "' OR 1=1 --", "<script>alert(1)</script>", "../../etc/passwd"]
PARAMS = ["cursor", "after", "before", "limit", "status", "subject", "purpose", "source", "from",
          "to", "topic", "kind", "identifier", "q", "page", "seq", "id", "session", "webspace"]
PATH_VALUES = ["0", "-1", "99999999999999999999999", "nope", "%00", "x" * 300]


def _console_rules(app):
    return [r for r in app.url_map.iter_rules()
            if r.endpoint.startswith("console.") and r.endpoint != "console.static"]


def _path(app, rule, org: str, value: str) -> str:
    from flask import url_for

    args = {name: value for name in rule.arguments if name != "org"}
    with app.test_request_context():
        try:
            return url_for(rule.endpoint, org=org, **args) if "org" in rule.arguments \
                else url_for(rule.endpoint, **args)
        except Exception:  # noqa: BLE001 - a converter refused the value: build it by hand
            path = rule.rule.replace("<org>", org)
            for name in args:
                path = path.replace(f"<int:{name}>", value).replace(f"<{name}>", value)
            return path


def _no_server_error(response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code}"
    assert b"Traceback" not in response.data, what



def test_hostile_query_strings_on_every_console_page(app, signed_in, org):
    client = signed_in
    for rule in _console_rules(app):
        if "GET" not in rule.methods or rule.endpoint == "console.sign_out":
            continue
        base = _path(app, rule, org.slug, "1")
        for name in PARAMS:
            for value in VALUES:
                response = client.get(f"{base}?{name}={quote(value, safe='%')}")
                _no_server_error(response, f"GET {base}?{name}={value[:20]!r}")


def test_path_arguments_that_name_nothing(app, signed_in, org):
    client = signed_in
    for rule in _console_rules(app):
        if set(rule.arguments) <= {"org"}:
            continue
        for value in PATH_VALUES:
            path = _path(app, rule, org.slug, value)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                response = client.open(path, method=method)
                _no_server_error(response, f"{method} {path[:80]}")
                assert response.status_code >= 300 or method == "GET"


def test_hostile_form_fields_on_every_console_form(app, signed_in, org):
    client = signed_in
    csrf = csrf_of(client.get(f"/console/o/{org.slug}/").data)
    fields = ["name", "scopes", "reason", "identifier", "kind", "subject", "to", "email",
              "decision", "status", "url", "webhook_url", "t", "confirm"]
    for rule in _console_rules(app):
        if "POST" not in rule.methods or rule.endpoint == "console.sign_out":
            continue
        path = _path(app, rule, org.slug, "1")
        for value in VALUES:
            body = "&".join([f"csrf={quote(csrf)}"] + [f"{f}={quote(value, safe='%')}"
                                                        for f in fields])
            response = client.post(path, data=body,
                                   content_type="application/x-www-form-urlencoded")
            _no_server_error(response, f"POST {path} with {value[:20]!r}")
    # and the body no form sends: JSON, a huge urlencoded field, a broken encoding
    for body, kind in ((b'{"csrf": 1}', "application/json"),
                       (b"csrf=" + b"a" * 200_000, "application/x-www-form-urlencoded"),
                       (b"csrf=%ZZ&name=%ED%A0%80", "application/x-www-form-urlencoded")):
        response = client.post(f"/console/o/{org.slug}/switch", data=body, content_type=kind)
        _no_server_error(response, f"switch with {kind}")
        assert response.status_code == 403


def test_hostile_organisation_slugs(app, signed_in, org):
    """The organisation in the URL is looked up for a signed-in operator: NUL (which PostgreSQL
    refuses in text), an invalid encoding, a long one, one that is no slug: a 404 page."""
    for slug in ("%00", "a%00b", "%ED%A0%80", "x" * 300, "..", "%2F", "ACME", " acme"):
        for rest in ("", "consents", "audit"):
            response = signed_in.get(f"/console/o/{slug}/{rest}")
            _no_server_error(response, f"slug {slug[:20]!r}")
            assert response.status_code in (404, 308), (slug, rest, response.status_code)
