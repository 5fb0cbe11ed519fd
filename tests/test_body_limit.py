"""The body limit holds on every route, in one place (``consent.web.limits``): a body over it is
a 413 in the route's own shape before anything runs, whether or not the route reads a body.
(Chunked bodies, which only a real server delivers, are tested through gunicorn in
``test_serving.py``.)"""
from __future__ import annotations

import uuid

from consent.dialects.veriff.routes import MEDIA_MAX_BYTES

LIMIT = 1024


def _path(app, rule) -> str:
    """A URL of the rule, with values its converters accept."""
    values = {}
    for name, converter in rule._converters.items():
        kind = type(converter).__name__
        values[name] = (1 if kind == "IntegerConverter" else uuid.uuid4()
                        if kind == "UUIDConverter" else "acme")
    return app.url_map.bind("consent.test").build(rule.endpoint, values, append_unknown=False)


def test_every_route_refuses_a_body_over_the_limit(app, client, org):
    app.config["MAX_CONTENT_LENGTH"] = LIMIT
    checked = 0
    for rule in app.url_map.iter_rules():
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if rule.endpoint == "veriff.Media" and method == "POST":
                continue  # its own, higher limit (below)
            path = _path(app, rule)
            r = client.open(path, method=method, data=b"x" * (LIMIT + 1),
                            headers=org.headers(**{"Content-Type": "application/json"}))
            assert r.status_code == 413, (method, path, r.status_code, r.get_data()[:200])
            checked += 1
            # within the limit, never a 413
            r = client.open(path, method=method, data=b"{}",
                            headers=org.headers(**{"Content-Type": "application/json"}))
            assert r.status_code != 413, (method, path)
    assert checked > 60


def test_the_verification_route_that_never_reads_a_body_answers_413(app, client, org):
    """The issue's case: 202 to a 50 MB body it never read; now 413 like every other route, and
    no verification is started."""
    r = client.post("/ledger/v1/audit/verifications", headers=org.headers(),
                    environ_overrides={"CONTENT_LENGTH": str(50 * 1024 * 1024)})
    assert r.status_code == 413
    assert r.json == {"code": 413, "status": "Request Entity Too Large",
                      "message": "Request body too large"}
    assert client.get("/ledger/v1/audit/verifications/1", headers=org.headers()).status_code == 404
    r = client.post("/ledger/v1/audit/verifications", headers=org.headers())
    assert r.status_code == 202 and r.json["id"] == 1


def test_an_operations_own_limit_replaces_the_apps(app, client, org):
    """Veriff's media upload takes bodies up to 25 MB: above the app's limit it is not refused
    for its size; above its own it is, in Veriff's shape, before its credential is looked at."""
    from tests.veriff_helpers import Integration, fail

    integration = Integration(org.org)
    path = "/v1/sessions/0b0e6a1e-0000-4000-8000-000000000000/media"
    headers = {"X-AUTH-CLIENT": integration.key, "Content-Type": "application/json"}
    over_app = client.post(path, headers=headers, environ_overrides={
        "CONTENT_LENGTH": str(app.config["MAX_CONTENT_LENGTH"] + 1)}, data=b"")
    assert over_app.status_code != 413
    over_own = client.post(path, headers=headers,
                           environ_overrides={"CONTENT_LENGTH": str(MEDIA_MAX_BYTES + 1)})
    assert over_own.status_code == 413
    assert over_own.json == fail("Request body too large")


def test_every_operation_documents_413(client):
    spec = client.get("/openapi.json").json
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                assert "413" in operation["responses"], (method, path)
    assert "longer than 4096 bytes is answered 414" in spec["info"]["description"]
    media = spec["paths"]["/v1/sessions/{session_id}/media"]["post"]["responses"]["413"]
    assert media["description"] == f"The request body is larger than {MEDIA_MAX_BYTES} bytes"
