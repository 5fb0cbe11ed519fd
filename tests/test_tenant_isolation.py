"""Tenant isolation matrix: every route of ``app.url_map`` that takes a credential, called with a
credential of another organisation, a wrong scope, a revoked credential and an expired token
(where each exists), is rejected in its dialect's own error shape and status, and no response
ever carries a byte of the other organisation's data.

Nothing here names a dialect: each declares, in its package's ``testing.py``
(``consent.testing``), its routes with their credential kind, how each kind presents the right
and the wrong credentials, the marker data organisation A holds, and checks of its own (pages
that carry a token). Organisation A ("acme") holds distinct marker data in every dialect;
organisation B ("globex") has credentials of every kind. A route of the url_map that no
declaration lists fails ``test_every_route_is_in_the_matrix``, so a new route cannot go
untested. Every JSON response is also checked against /openapi.json (the contract client).
"""
from __future__ import annotations

import datetime as dt
import json
import time as _time

import itsdangerous.timed
import pytest

from consent.core import auth
from consent.testing import ADMIN, PAGE, PUBLIC, Attempt, Route, declarations
from tests.helpers import OrgFixture

DECLARED = declarations()

# The service's own routes (no dialect's): its probes and documents.
SERVICE_ROUTES = {
    ("api-docs.openapi_json", "GET"): Route(PUBLIC, "/openapi.json"),
    ("service.Health", "GET"): Route(PUBLIC, "/healthz"),
    ("service.Ready", "GET"): Route(PUBLIC, "/readyz"),
    ("docs.page", "GET"): Route(PUBLIC, "/docs"),
    ("docs.show", "GET"): Route(PUBLIC, "/docs/swagger-ui.css"),
}
ROUTES = dict(SERVICE_ROUTES)
for _d in DECLARED:
    ROUTES.update(_d.isolation.routes)
KINDS = {ADMIN.name: ADMIN}
for _d in DECLARED:
    KINDS.update({kind.name: kind for kind in _d.isolation.kinds})
# Operations on one of A's records by id: another organisation's credential must not reach it.
BY_ID = tuple(p for d in DECLARED for p in d.isolation.by_id)
CHECKS = [(d.name, check) for d in DECLARED for check in d.isolation.checks]


def test_every_route_is_in_the_matrix(world):
    routes = {(rule.endpoint, method) for rule in world.app.url_map.iter_rules()
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    missing = routes - set(ROUTES)
    assert not missing, f"routes without a tenant-isolation entry: {sorted(missing)}"
    assert not set(ROUTES) - routes, "matrix entries for routes that no longer exist"
    unknown = {r.kind for r in ROUTES.values()} - set(KINDS) - {PUBLIC, PAGE}
    assert not unknown, f"routes of credential kinds no dialect declares: {unknown}"


# -- two organisations -----------------------------------------------------------------------------

class World:
    """Organisation A with marker data in every dialect, organisation B with its credentials,
    and an operator of each with a session token (the service's own, used by dialects whose
    routes take one)."""

    operator_email = "op@example.com"

    def __init__(self, app, client):
        self.app, self.client = app, client
        self.a, self.b = OrgFixture("acme"), OrgFixture("globex")
        self.bearer_a = self._operator(self.a.org, self.operator_email)
        self.bearer_b = self._operator(self.b.org, "op@b.example")
        operator = auth.session_for_token(app.config["SECRET_KEY"], self.bearer_a,
                                          app.config["CONSENT_SESSION_MAX_AGE"])
        self.values = {"op_user_id": operator.user_id, "op_token_id": operator.id}
        # What must never reach B: A's marker values and the ids B was never given.
        self.markers = ["zz-marker-a", "Zzmarker", self.a.admin_key, self.a.consent_key,
                        operator.user_id, operator.id, self.operator_email]
        self.state: dict = {}
        for declared in DECLARED:
            if declared.isolation.setup is not None:
                declared.isolation.setup(self)

    def _operator(self, org, email) -> str:
        user = auth.create_user(email)
        auth.add_member(org.id, user)
        return auth.issue_session_token(self.app.config["SECRET_KEY"], user, 3600,
                                        self.app.config["CONSENT_SESSION_MAX_AGE"])

    def fill(self, text: str, tenant: str | None = None) -> str:
        values = dict(self.values)
        if tenant:
            values["tenant"] = tenant
        for name, value in values.items():
            text = text.replace("{" + name + "}", str(value))
        return text

    def body(self, route: Route):
        if callable(route.body):
            return route.body(self)
        if route.body is None:
            return None
        return json.loads(self.fill(json.dumps(route.body)))

    def assert_no_leak(self, response, sent: str):
        text = response.get_data(as_text=True)
        for marker in self.markers:
            if marker and marker not in sent:
                assert marker not in text, f"{marker!r} of organisation A leaked: {text[:400]}"

    def shift_clock(self, monkeypatch, **delta):
        """Move the clock instead of sleeping: stored expiry times, every dialect's own clock
        and itsdangerous' max_age all see the future."""
        offset = dt.timedelta(**delta)
        real = auth.utcnow
        monkeypatch.setattr(auth, "utcnow", lambda: real() + offset)
        monkeypatch.setattr(itsdangerous.timed, "time", _ShiftedTime(offset.total_seconds()))
        for declared in DECLARED:
            if declared.isolation.shift_clock is not None:
                declared.isolation.shift_clock(monkeypatch, offset)


class _ShiftedTime:
    def __init__(self, seconds):
        self.seconds = seconds

    def time(self):
        return _time.time() + self.seconds


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """One app and one World for the module (building it takes a few hundred requests' time);
    the tests below only add credentials and never change A's data."""
    import uuid

    from consent import create_app
    from consent.core import storage
    from tests import helpers
    from tests.openapi_contract import ContractClient

    pg_name = None
    if helpers.PG_URL:
        url, pg_name = helpers.fresh_pg_database()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('isolation') / 'consent.sqlite3'}"
    app = create_app({"TESTING": True, "CONSENT_DATABASE_URL": url,
                      "CONSENT_SECRET_KEY": "test-secret-key-" + uuid.uuid4().hex,
                      "CONSENT_CHECKPOINT_KEY_DIR": str(tmp_path_factory.mktemp("keys")),
                      "CONSENT_PUBLIC_URL": "http://consent.test"})
    app.test_client_class = ContractClient
    with app.app_context():
        storage.create_tables()
        yield World(app, app.test_client())
        app.extensions["consent.background"].stop()
        if storage.db.obj is not None and not storage.db.is_closed():
            storage.db.close()
    if pg_name:
        helpers.drop_pg_database(pg_name)


class Problems(list):
    """Failures of a whole row of the matrix, reported together."""

    def check(self, key, fn, *args, **kwargs):
        try:
            fn(*args, **kwargs)
        except AssertionError as exc:
            self.append(f"{key[1]} {key[0]}: {exc}")

    def assert_none(self):
        assert not self, "\n".join(self)


def _call(world, key, route, attempt: Attempt):
    """Send the route's request as the attempt presents its credential."""
    endpoint, method = key
    path = world.fill(route.path, attempt.tenant)
    if attempt.path is not None:
        path = attempt.path(path)
    body = world.body(route)
    data = json.dumps(body, separators=(",", ":")).encode() if body is not None else b""
    headers = dict(attempt.headers)
    if attempt.sign is not None:
        headers.update(attempt.sign(method, path, data))
    if body is not None or method in ("POST", "PATCH"):
        headers.setdefault("Content-Type", "application/json")
    response = world.client.open(path, method=method, data=data or None, headers=headers)
    return response, path + data.decode()


def _expect(world, key, route, attempt: Attempt):
    response, sent = _call(world, key, route, attempt)
    assert response.status_code in attempt.statuses, (response.status_code,
                                                      response.get_data()[:300])
    body = response.get_json()
    if attempt.body is not None:
        assert body == attempt.body, body
    else:
        assert isinstance(body, dict) and KINDS[route.kind].shape <= set(body), body
    world.assert_no_leak(response, sent)


def _routes_of(kind: str) -> list:
    return sorted(k for k, r in ROUTES.items() if r.kind == kind)


def _row(world, attempts_of) -> int:
    """Every route of every kind, with each attempt ``attempts_of(kind)`` gives (once per
    kind: the credentials it makes are shared by the kind's routes); how many were sent."""
    problems = Problems()
    sent = 0
    for name, kind in KINDS.items():
        for attempt in attempts_of(kind):
            for key in _routes_of(name):
                problems.check(key, _expect, world, key, ROUTES[key], attempt)
                sent += 1
    problems.assert_none()
    return sent


# -- the rows of the matrix -------------------------------------------------------------------------

def test_other_orgs_credential_naming_this_org_is_rejected(world):
    """B's valid credential presented for A (a key with A's X-Org-Id, a token in A's tenant,
    B's operator token for A (403, not a member), an integration signing with the other's
    secret): rejected in the dialect's shape."""
    assert _row(world, lambda kind: kind.other_org(world)) >= 100


def test_other_org_reaching_for_this_orgs_records(world):
    """B's credential for B itself, with A's ids, subjects and users in the request: a record
    of A by id is not found; lists and queries answer only B's own data."""
    problems = Problems()
    answered = []

    def one(key, route, attempt):
        response, sent = _call(world, key, route, attempt)
        world.assert_no_leak(response, sent)
        answered.append(response.status_code)
        if any(p in route.path + json.dumps(route.body if not callable(route.body) else None)
               for p in BY_ID):
            assert 400 <= response.status_code < 500, response.get_data()[:300]
            assert KINDS[route.kind].shape <= set(response.get_json()), response.get_json()

    for name, kind in KINDS.items():
        attempt = kind.reaching(world)
        if attempt is not None:
            for key in _routes_of(name):
                problems.check(key, one, key, ROUTES[key], attempt)
    problems.assert_none()
    # B's credentials work (the leak checks above ran on real answers, not on 401s).
    assert sum(200 <= s < 300 for s in answered) >= 20, answered


def test_credential_without_the_scope_is_rejected(world):
    """A's own credential lacking what the operation needs (a key without its scope: 403; an
    integration without the consent scope: 401; a Basic credential that is no client: 403)."""
    assert _row(world, lambda kind: kind.lacking_scope(world)) >= 80


def test_revoked_credential_is_rejected(world):
    """A credential of A of the route's own kind, issued and then revoked: 401 everywhere."""
    assert _row(world, lambda kind: kind.revoked(world)) >= 90


def test_expired_credential_is_rejected(world, monkeypatch):
    """A credential past its lifetime (the clock is moved, not waited for): 401."""
    problems = Problems()
    for name, kind in KINDS.items():
        for shift, attempts in kind.expired(world):
            with monkeypatch.context() as shifted:
                world.shift_clock(shifted, **shift)
                for attempt in attempts:
                    for key in _routes_of(name):
                        problems.check(key, _expect, world, key, ROUTES[key], attempt)
    problems.assert_none()


def test_every_kind_has_its_rows(world):
    """Each credential kind is exercised: no kind slips through the matrix with no row."""
    for name, kind in KINDS.items():
        rows = (kind.other_org(world), kind.lacking_scope(world), kind.revoked(world))
        assert any(rows) or kind.reaching(world) is not None, name
        assert _routes_of(name), f"credential kind {name} guards no route"


@pytest.mark.parametrize("dialect,check", CHECKS,
                         ids=[f"{d}-{c.__name__}" for d, c in CHECKS])
def test_the_dialects_own_checks(world, monkeypatch, dialect, check):
    """What each dialect checks itself: pages that carry a signed token (another's, a tampered
    or an expired one), URLs it owns that match no route."""
    check(world, monkeypatch)


def test_public_routes_carry_no_org_data(world):
    for key, route in ROUTES.items():
        if route.kind != PUBLIC or "{" in route.path:
            continue
        response = world.client.open(route.path, method=key[1])
        world.assert_no_leak(response, route.path)


def test_the_leak_check_is_live(world):
    """A's own credential sees A's markers: the check that guards every row above fires."""
    leaked = 0
    for key in _routes_of(ADMIN.name):
        if key[1] != "GET" or "{" in ROUTES[key].path:
            continue
        response, sent = _call(world, key, ROUTES[key], Attempt(world.a.headers()))
        if response.status_code != 200:
            continue
        try:
            world.assert_no_leak(response, sent)
        except AssertionError as exc:
            assert "leaked" in str(exc)
            leaked += 1
    assert leaked > 0
