"""What each dialect declares for the shared tests and the bench, and the pieces the declarations
are written with. A dialect package has a ``testing.py`` whose ``TESTING`` is a
:class:`DialectTesting`; the shared files loop over the registry (:func:`declarations`) and name
no dialect:

* ``tests/test_tenant_isolation.py``: the dialect's routes with their credential kind
  (:class:`Route`, :class:`CredentialKind`: how a request carries each organisation's credential,
  and the wrong ones: another organisation's, one lacking the scope, a revoked one, an expired
  one), the marker data organisation A holds, and checks of its own (pages with a token);
* ``tests/fuzz.py``: how to authenticate (sign) each operation of its blueprints, and the ids of
  a few real records for path parameters;
* ``bench/dialects.py`` and ``bench/floor.py``: its hot writes with their bodies
  (:class:`Scenario`), its reads, and each write's floor (the same write through the product's
  own functions, without the framework);
* ``bench/crash/``: its crash kinds (:class:`CrashKind`: a write with a unique marker, the rows
  that make it whole, how it reads back);
* ``tests/core/test_query_plans.py``: its read statements and the index each must use
  (:class:`Plan`).

The declarations are imported by tests and the bench only (never by the app); they may use the
test helpers (``tests.*``) inside their functions.
"""
from __future__ import annotations

import hashlib
import hmac
import importlib
import json
from dataclasses import dataclass, field
from typing import Callable


def declarations() -> list["DialectTesting"]:
    """Every registered dialect's declaration (``<package>.testing.TESTING``), in registry
    order: a registered dialect without one fails here, by name."""
    from consent import dialects

    out = []
    for name in dialects.names():
        try:
            module = importlib.import_module(f"{name}.testing")
        except ModuleNotFoundError as exc:
            if exc.name != f"{name}.testing":
                raise
            raise LookupError(f"dialect {name} declares nothing for the shared tests and bench "
                              f"({name}.testing is missing)") from None
        out.append(module.TESTING)
    return out


# -- requests -------------------------------------------------------------------------------

def hmac_hex(secret: str, payload: bytes) -> str:
    """Lowercase hex HMAC-SHA256 (Veriff's X-HMAC-SIGNATURE)."""
    return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()


def admin_headers(seed: dict) -> dict:
    """The service's own admin credential from ``seed-demo --json`` (the ledger's API and every
    dialect's operator API under /ledger/v1)."""
    return {"X-Org-Id": seed["org"]["slug"], "X-API-Key": seed["ledger"]["admin_api_key"]}


# -- bench ----------------------------------------------------------------------------------

@dataclass
class Scenario:
    """One request wrk sends over and over (bench/wrk.py)."""
    name: str
    method: str = "GET"
    path: str = "/healthz"
    headers: dict = field(default_factory=dict)
    body: str | None = None
    lua: str = ""            # extra Lua for per-request variation (overrides method/path/body)
    expect_status: int = 200


def lua_string(value: str) -> str:
    return "[==[" + value + "]==]"


def counter_body(template: str) -> str:
    """Lua that sends ``template`` with ``{n}`` replaced by a per-request counter."""
    head, _, tail = template.partition("{n}")
    return ("counter = 0\nrequest = function()\n  counter = counter + 1\n"
            f"  local body = {lua_string(head)} .. counter .. {lua_string(tail)}\n"
            "  return wrk.format(nil, nil, nil, body)\nend\n")


def unique_body(template: str) -> str:
    """Lua that sends ``template`` with ``{n}`` replaced by a value unique across runs (a random
    prefix and a counter): for a write whose repeat would only answer the first."""
    head, _, tail = template.partition("{n}")
    return ("math.randomseed(os.time())\nprefix = tostring(math.random(1, 1000000000))\n"
            "counter = 0\nrequest = function()\n  counter = counter + 1\n"
            f"  local body = {lua_string(head)} .. prefix .. '-' .. counter .. "
            f"{lua_string(tail)}\n  return wrk.format(nil, nil, nil, body)\nend\n")


def random_path(template: str, low: int, high: int) -> str:
    """Lua that GETs ``template`` with ``{r}`` replaced by a random integer in [low, high]
    (the same sequence on every run and at every size)."""
    head, _, tail = template.partition("{r}")
    return ("math.randomseed(42)\nrequest = function()\n"
            f"  local path = {json.dumps(head)} .. math.random({low}, {high}) .. "
            f"{json.dumps(tail)}\n  return wrk.format('GET', path)\nend\n")


@dataclass(frozen=True)
class FloorRoute:
    """A write's floor (bench/floor.py): requests to ``/__floor`` + a path matching ``pattern``
    run ``handler(environ, raw_body, match, config) -> (status, body)``, which calls the very
    functions the product's view calls; PermissionError is a 401."""
    pattern: str
    handler: Callable


# -- crash ----------------------------------------------------------------------------------

@dataclass
class Sent:
    """One write request of the crash test and what became of it."""
    kind: str
    marker: str
    method: str
    path: str
    headers: dict
    body: bytes
    instance: int = 0
    status: int | None = None
    ids: tuple = ()
    error: str = ""
    retried: bool = False

    @property
    def acked(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class CrashKind:
    """A dialect's write under the crash test (bench/crash/): how to make a request with a
    unique marker, which ids its answer holds, the database counts that tell whether it is there
    (all zero: absent; the calibrated tuple: wholly there; counted with the models through
    ``db.count(query)``, a plain connection of the crash driver's), and how it reads back through
    the dialect's API (``http.get(path, headers) -> (status, json)``)."""
    name = ""
    keyed = False  # carries an idempotency key (a retry must not duplicate)

    def __init__(self, seed: dict):
        self.seed = seed

    def build(self, n: int) -> Sent:
        raise NotImplementedError

    def ids(self, body: dict) -> tuple:
        raise NotImplementedError

    def counts(self, db, sent: Sent) -> tuple:
        raise NotImplementedError

    def read_back(self, http, sent: Sent, cache: dict) -> str | None:
        """None when the write reads back as acknowledged, else what is wrong."""
        raise NotImplementedError

    def _json(self, method, path, headers, body: dict, marker: str) -> Sent:
        return Sent(self.name, marker, method, path, headers, json.dumps(body).encode())


def consents_of_subject(identifier: str, audited: bool = False):
    """The query counting the consents recorded for a subject identifier (with ``audited``:
    only those whose recording audit event exists): the crash kinds' shared probe."""
    from consent.core.storage import AuditEvent, Consent, Subject
    from peewee import JOIN, fn

    query = (Consent.select(fn.COUNT(Consent.seq))
             .join(Subject, on=(Subject.id == Consent.recorded_subject)))
    if audited:
        query = query.join(AuditEvent, JOIN.INNER, on=(
            (AuditEvent.org == Consent.org) & (AuditEvent.seq == Consent.audit_seq)))
    return query.where(Subject.identifier == identifier)


# -- query plans ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    """A read statement (``statement.text``) with parameters, and the index SQLite's plan must
    search (tests/core/test_query_plans.py): no walk of a big table, no sort of all its rows
    unless ``sorted_in_memory`` (a few rows of one key)."""
    name: str
    statement: object
    params: tuple
    index: str | None = None
    sorted_in_memory: bool = False


# -- tenant isolation -----------------------------------------------------------------------

@dataclass(frozen=True)
class Route:
    """How the isolation matrix calls a route: its credential kind (a :class:`CredentialKind`'s
    name, or ``public`` / ``page``), its path with A's ids as ``{placeholders}``, its body."""
    kind: str
    path: str
    body: object = None


PUBLIC = "public"   # no credential by design
PAGE = "page"       # a page that carries a signed token (the dialect's own checks)


@dataclass
class Attempt:
    """One way of presenting a credential: headers, or ``sign(method, path, body) -> headers``
    (a signature over the exact request), a tenant in the URL instead of A's, a path rewritten
    (``path(path) -> path``), and what must come back: one of ``statuses`` in the kind's error
    shape, or exactly ``body`` when given."""
    headers: dict = field(default_factory=dict)
    statuses: frozenset = frozenset({401})
    sign: Callable | None = None
    tenant: str | None = None
    path: Callable | None = None
    body: dict | None = None


class CredentialKind:
    """A credential kind as the isolation matrix uses it. ``shape``: the keys every error body of
    its routes has. Each method returns the attempts of one row of the matrix (none: the row does
    not apply to the kind); ``world`` holds both organisations (``world.a``, ``world.b``) and
    what each dialect's setup made (``world.state[dialect]``)."""
    name = ""
    shape: frozenset = frozenset()

    def other_org(self, world) -> list[Attempt]:
        """Organisation B's credential presented for A (or A's signed with B's secret)."""
        return []

    def reaching(self, world) -> Attempt | None:
        """B's valid credential for B itself (the request then names A's ids)."""
        return None

    def lacking_scope(self, world) -> list[Attempt]:
        """A's own credential of this kind without what the operation needs."""
        return []

    def revoked(self, world) -> list[Attempt]:
        """A's credential of this kind, issued and revoked."""
        return []

    def expired(self, world) -> list[tuple[dict, list[Attempt]]]:
        """``(clock shift as timedelta keywords, attempts made before the shift)`` pairs."""
        return []


@dataclass
class Isolation:
    """What the isolation matrix needs of a dialect: its credential kinds, every route it
    serves (a route missing fails the matrix), ``setup(world)`` giving organisation A marker
    data (``world.values`` for the placeholders, ``world.markers`` that must never reach B) and
    B its credentials, the placeholders that name one of A's records (``by_id``), how to move
    its own clock (``shift_clock(monkeypatch, timedelta)``), and checks of its own
    (``check(world, monkeypatch)``: pages carrying a token, unmatched URLs)."""
    kinds: tuple = ()
    routes: dict = field(default_factory=dict)
    setup: Callable | None = None
    by_id: tuple = ()
    shift_clock: Callable | None = None
    checks: tuple = ()


@dataclass
class Fuzz:
    """How schemathesis calls the operations of the dialect's blueprints: ``headers(seed, case,
    body, blueprint) -> dict`` (``body``: the exact bytes sent, for a signature), and ``known(
    requests, seed) -> {path parameter: value}`` from a few records it makes first
    (``requests.post(path, headers, json)`` and ``requests.send(method, path, headers, data)``,
    each answering ``.status_code``, ``.text``, ``.json()``)."""
    headers: Callable | None = None
    known: Callable | None = None


@dataclass
class Bench:
    """The dialect's hot writes (``writes(seed)``), its read endpoints (``reads(seed, records,
    subjects, purposes)``, on a ledger bench/server.py prefilled: ``records`` consents of
    ``subjects`` subjects s0.. over ``purposes`` purposes purpose-0..), writes to send once before
    the reads (``prepare_reads(seed)``), each write's floor, and the writes the SQLite writer
    mechanisms are compared on (``mechanisms``: scenario names)."""
    writes: Callable | None = None
    reads: Callable | None = None
    prepare_reads: Callable | None = None
    floor: tuple = ()
    mechanisms: tuple = ()


@dataclass
class DialectTesting:
    """A dialect's declaration for the shared tests and bench (``<package>.testing.TESTING``)."""
    name: str
    isolation: Isolation = field(default_factory=Isolation)
    fuzz: Fuzz = field(default_factory=Fuzz)
    bench: Bench = field(default_factory=Bench)
    crash: tuple = ()                 # CrashKind subclasses
    plans: Callable | None = None     # plans(org_id) -> [Plan]
    big_tables: tuple = ()            # its tables no plan may walk


class ServiceAdmin(CredentialKind):
    """``X-Org-Id`` + ``X-API-Key`` with the admin scope: the ledger's API and every dialect's
    operator API under /ledger/v1 (the service's own error shape)."""
    name = "admin_key"
    shape = frozenset({"code", "status", "message"})

    def other_org(self, world):
        return [Attempt({**world.b.headers(), "X-Org-Id": world.a.slug})]

    def reaching(self, world):
        return Attempt(world.b.headers())

    def lacking_scope(self, world):
        from consent.core import auth

        issued = auth.create_credential(world.a.org.id, name="scoped", scopes=("consent",))
        return [Attempt(world.a.headers(issued.key), frozenset({403}))]

    def revoked(self, world):
        from consent.core import auth

        issued = auth.create_credential(world.a.org.id, name="revoked admin",
                                        scopes=("admin", "consent"))
        auth.revoke_credential(world.a.org.id, issued.credential.id)
        return [Attempt(world.a.headers(issued.key))]


ADMIN = ServiceAdmin()


def check_operator_page(world, monkeypatch, path: str, make_token) -> None:
    """An operator page opened with a signed link (``make_token(org)``): B's link shows none of
    A's data, a tampered one is 403, and it expires (410) after its hour."""
    with world.app.test_request_context():
        token_b = make_token(world.b.org)
    response = world.client.get(f"{path}?t={token_b}")
    assert response.status_code == 200
    assert response.mimetype == "text/html", response.mimetype
    text = response.get_data(as_text=True)
    for marker in ("zz-marker-a", "919812345678", "98123 45678"):
        assert marker not in text
    response = world.client.get(f"{path}?t={token_b[:-2]}xx")
    assert response.status_code == 403
    world.shift_clock(monkeypatch, hours=2)
    response = world.client.get(f"{path}?t={token_b}")
    assert response.status_code == 410
    assert "zz-marker-a" not in response.get_data(as_text=True)


class ApiKeyKind(CredentialKind):
    """A dialect's ``X-Org-Id`` + ``X-API-Key`` credential of ``scopes`` (its own error
    ``shape``): another organisation's key for A, a key without the scope, a revoked key."""

    def __init__(self, name: str, shape, scopes=("consent",)):
        self.name, self.shape, self.scopes = name, frozenset(shape), tuple(scopes)

    def other_org(self, world):
        return [Attempt({**world.b.headers(world.b.consent_key), "X-Org-Id": world.a.slug})]

    def reaching(self, world):
        return Attempt(world.b.headers(world.b.consent_key))

    def lacking_scope(self, world):
        from consent.core import auth

        issued = auth.create_credential(world.a.org.id, name="scoped", scopes=())
        return [Attempt(world.a.headers(issued.key), frozenset({403}))]

    def revoked(self, world):
        from consent.core import auth

        issued = auth.create_credential(world.a.org.id, name="revoked", scopes=self.scopes)
        auth.revoke_credential(world.a.org.id, issued.credential.id)
        return [Attempt(world.a.headers(issued.key))]


def api_key_credential(environ, kind: str = "api_key"):
    """A floor's credential check (bench/floor.py): the views' lookup, by hash, of
    ``X-API-Key`` for the organisation ``X-Org-Id`` names; PermissionError when it fails."""
    from consent.core import auth

    cred = auth.find_credential(environ.get("HTTP_X_API_KEY"), kind=kind)
    if cred is None or environ.get("HTTP_X_ORG_ID") not in (cred.org_slug, cred.org_id):
        raise PermissionError()
    return cred
