"""What the console declares for the shared tests (``consent.testing``): its pages take no API
credential, so it brings no routes to the isolation matrix; its own check walks every console
route instead (a route missing from :data:`ID_ROUTES` fails it).

:func:`operator_b_never_reaches_a`: B's operator, signed in through a sign-in link, asks for
every console URL of A's organisation (404, nothing of A's), and for every URL of B's
organisation naming one of A's records (``ID_ROUTES``: 404 or 403, nothing of A's); their forms
too, with B's own CSRF token, change nothing of A's."""
from __future__ import annotations

import re

from consent.testing import PAGE, PUBLIC as PUBLIC_KIND, DialectTesting, Isolation, Route

# Console routes with arguments besides ``org``: endpoint -> world -> {argument: a value naming
# one of organisation A's records} (``world.values``, ``world.state``: the isolation World).
def _rights_request(world) -> dict:
    return {"request_id": world.values["rights_request_id"]}


def _a_event(world):
    """One of A's audit events (its newest: a seq beyond B's own head)."""
    from consent.core import checkpoints, ledger

    seq = checkpoints.head(world.a.org.id)[0]
    assert seq > checkpoints.head(world.b.org.id)[0], "A's seq must name none of B's events"
    return ledger.audit_events(world.a.org.id, from_seq=seq, to_seq=seq, limit=1)[0]


def _a_verification(world) -> dict:
    from consent.core import verify

    if "console_verification" not in world.state:
        world.state["console_verification"] = verify.start_full(world.a.org.id).id
    return {"vid": world.state["console_verification"]}


ID_ROUTES: dict = {
    # the providers view (views/providers_*.py)
    "console.providers_veriff_decide": lambda world: {"session_id": world.values["session_id"]},
    "console.providers_attestr_export": lambda world: {
        "consent_id": world.values["attestr_consent"]},
    "console.webhooks_delivery": lambda world: {"delivery_id": _a_delivery(world)},
    "console.webhooks_replay": lambda world: {"delivery_id": _a_delivery(world)},
    "console.credentials_revoke": lambda world: {"credential_id": _a_credential(world)},
    "console.credentials_revoke_token": lambda world: {"token_id": world.values["op_token_id"]},
    "console.credentials_remove_member": lambda world: {"user_id": world.values["op_user_id"]},
    # the rights requests view (views/rights.py): A's request the ledger's setup made
    "console.rights_request": _rights_request,
    "console.rights_start": _rights_request,
    "console.rights_complete": _rights_request,
    "console.rights_refuse": _rights_request,
    "console.rights_report": _rights_request,
    # the consents and audit views (views/consents.py, views/audit.py)
    "console.consents_detail": lambda world: {"consent_id": world.values["consent_id"]},
    "console.audit_event": lambda world: {"seq": _a_event(world).seq},
    "console.audit_event_by_id": lambda world: {"event_id": _a_event(world).event_id},
    "console.audit_verification": _a_verification,
    "console.audit_verification_status": _a_verification,
}


def _a_delivery(world) -> int:
    """One of organisation A's webhook deliveries (queued once, to a host that never answers)."""
    if "console_delivery" not in world.state:
        from consent.core import outbox
        from consent.core.storage import transaction

        with transaction():
            world.state["console_delivery"] = outbox.enqueue(
                world.a.org.id, topic="zz-marker-a", url="https://zz-marker-a.invalid/hook",
                body='{"zz-marker-a": true}', headers={"Content-Type": "application/json"})
    return world.state["console_delivery"]


def _a_credential(world) -> str:
    """The id of organisation A's admin API key."""
    from consent.core import auth

    return auth.find_credential(world.a.admin_key).id

# Endpoints that take no organisation (the sign-in pages, the assets).
PUBLIC = {"console.index", "console.sign_in", "console.sign_in_link", "console.static"}


def _routes() -> dict:
    """Every console route for the matrix: the sign-in pages and assets public, the rest pages
    (checked by :func:`operator_b_never_reaches_a`). Read from the blueprint itself."""
    from flask import Flask

    from .blueprint import bp

    app = Flask(__name__)
    app.register_blueprint(bp)
    routes = {}
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("console."):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes[(rule.endpoint, method)] = Route(
                PUBLIC_KIND if rule.endpoint in PUBLIC else PAGE, path)
    return routes


def _signed_in_client(world, email: str):
    from tests.console_helpers import sign_in

    client = world.app.test_client()
    sign_in(client, world.app, email)
    return client


def operator_b_never_reaches_a(world, monkeypatch) -> None:
    from tests.console_helpers import csrf_of

    app = world.app
    client = _signed_in_client(world, "op@b.example")
    a, b = world.a.slug, world.b.slug
    home = client.get(f"/console/o/{b}/")
    assert home.status_code == 200
    csrf = csrf_of(home.data)
    problems = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("console.") or rule.endpoint in PUBLIC:
            continue
        extra = set(rule.arguments) - {"org"}
        if extra and rule.endpoint not in ID_ROUTES:
            problems.append(f"{rule.endpoint} ({rule.rule}) is not in "
                            "consent.console.testing.ID_ROUTES")
            continue
        values = ID_ROUTES[rule.endpoint](world) if extra else {}
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            targets = [(a, {404}), (b, {404, 403} if extra else None)]
            if rule.endpoint == "console.sign_out":
                targets = targets[:1]    # B's own would sign B out (tested on its own)
            for slug, allowed in targets:
                with app.test_request_context():
                    from flask import url_for

                    path = url_for(rule.endpoint, org=slug, **values)
                kwargs = {"data": {"csrf": csrf}} if method == "POST" else {}
                response = client.open(path, method=method, **kwargs)
                if allowed is not None and response.status_code not in allowed:
                    problems.append(f"{method} {path}: {response.status_code}, expected "
                                    f"{sorted(allowed)}")
                try:
                    world.assert_no_leak(response, path)
                except AssertionError as leak:
                    problems.append(f"{method} {path}: {leak}")
    assert not problems, "\n".join(problems)


TESTING = DialectTesting(name="console",
                         isolation=Isolation(routes=_routes(),
                                             checks=(operator_b_never_reaches_a,)))
