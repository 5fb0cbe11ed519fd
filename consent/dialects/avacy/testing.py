"""What the Avacy dialect declares for the shared tests and bench (``consent.testing``): its
credential kinds and routes in the isolation matrix (and its page's checks), how fuzzing
authenticates, its hot write and floor, its crash kind. (Its read plans have a test of their
own, tests/test_avacy_query_plans.py, on a filled archive.)"""
from __future__ import annotations

import json

from peewee import fn

from consent.testing import (
    ADMIN,
    PAGE,
    PUBLIC,
    Attempt,
    Bench,
    CrashKind,
    CredentialKind,
    DialectTesting,
    FloorRoute,
    Fuzz,
    Isolation,
    Route,
    Scenario,
    admin_headers,
    check_operator_page,
    consents_of_subject,
)

from . import archive
from .models import AvacyConsent, AvacyDecision

SHAPE = frozenset({"message"})
WP_NOT_FOUND = {"message": {"error": "token_not_found_or_expired"}}


# -- the isolation matrix -------------------------------------------------------------------

class Token(CredentialKind):
    """``Authorization: Bearer`` with an API token of the tenant the URL names."""
    name = "avacy_token"
    shape = SHAPE

    def _tenant(self, world, org):
        return world.state["avacy"][org]

    def other_org(self, world):   # B's token, A's tenant in the URL
        return [Attempt(self._tenant(world, "b").headers())]

    def reaching(self, world):
        return Attempt(self._tenant(world, "b").headers(), tenant=world.b.slug)

    def lacking_scope(self, world):
        from consent.core import auth

        issued = auth.create_credential(world.a.org.id, name="scoped", scopes=("admin",))
        return [Attempt(self._tenant(world, "a").headers(issued.key), frozenset({403}))]

    def revoked(self, world):
        return [Attempt(self._tenant(world, "a").headers(world.state["avacy"]["revoked"]))]


class PluginToken(CredentialKind):
    """The plugin's set-up check: the token is in the path (answers its own body)."""
    name = "wp_token"
    shape = frozenset({"message"})

    def other_org(self, world):
        b = world.state["avacy"]["b"].token
        return [Attempt(path=lambda path: path.replace(world.values["token"], b),
                        body=WP_NOT_FOUND)]

    def revoked(self, world):
        revoked = world.state["avacy"]["revoked"]
        return [Attempt(path=lambda path: path.replace(world.values["token"], revoked),
                        body=WP_NOT_FOUND)]


TOKEN, WP_TOKEN = Token(), PluginToken()
A = ADMIN.name


def _v4_body():
    return {"ip_address": "1.2.3.4", "consent_type": "form", "optin": "accepted",
            "identifier": "b@example.com",
            "consent_data": [{"label": "email", "value": "b@example.com"}]}


def _documented(world):
    from tests.avacy_helpers import DOCUMENTED

    return DOCUMENTED


ROUTES = {
    ("avacy_wp.ValidateAccount", "GET"): Route(PUBLIC, "/wp/validate/{tenant}/{webspace_key}"),
    ("avacy.DomainsGroupConsents", "POST"): Route(
        TOKEN.name, "/{tenant}/domains_groups/{webspace}/consents", _documented),
    ("avacy.WebspaceV2Consents", "POST"): Route(
        TOKEN.name, "/{tenant}/v2/webspaces/{webspace}/consents", _documented),
    ("avacy.WebspaceV4Consents", "POST"): Route(
        TOKEN.name, "/{tenant}/v4/webspaces/{webspace}/consents", _v4_body()),
    ("avacy_wp.ValidateToken", "GET"): Route(WP_TOKEN.name,
                                             "/wp/validate/{tenant}/{webspace_key}/{token}"),
    ("avacy_admin.Archive", "GET"): Route(A, "/ledger/v1/avacy/consents"),
    ("avacy_admin.ArchiveEntry", "GET"): Route(A, "/ledger/v1/avacy/consents/{entry_id}"),
    ("avacy_admin.Webspaces", "GET"): Route(A, "/ledger/v1/avacy/webspaces"),
    ("avacy_admin.Webspaces", "POST"): Route(A, "/ledger/v1/avacy/webspaces",
                                             {"name": "b site"}),
    ("avacy_admin.Tokens", "POST"): Route(A, "/ledger/v1/avacy/tokens", {"name": "b"}),
    ("avacy_pages.archive_page", "GET"): Route(PAGE, "/avacy/archive"),
}


def setup(world) -> None:
    """A's archive entry for a marker address; both tenants' tokens, and a revoked one of A."""
    from consent.core import auth

    from tests.avacy_helpers import DOCUMENTED, Tenant

    a, b = Tenant(world.a.org), Tenant(world.b.org)
    revoked = archive.create_token(world.a.org, name="revoked avacy")
    auth.revoke_credential(world.a.org.id, revoked.credential.id)
    world.state["avacy"] = {"a": a, "b": b, "revoked": revoked.key}
    body = json.loads(json.dumps(DOCUMENTED))
    body["subject"]["email"] = "zz-marker-a@example.com"
    r = a.post_json(world.client, "domains_groups", body)
    assert r.status_code == 201, r.json
    world.values.update(tenant=world.a.slug, webspace=a.webspace.number,
                        webspace_key=a.webspace.key, token=a.token, entry_id=r.json["data"]["id"])
    world.markers.append(a.token)


def archive_page(world, monkeypatch):
    from .pages import archive_token

    check_operator_page(world, monkeypatch, "/avacy/archive", archive_token)


def unmatched_urls_need_the_tenants_token(world, monkeypatch):
    """A tenant URL that matches no route, with B's token for A: 401, in Avacy's shape."""
    r = world.client.post(f"/{world.a.slug}/domains_groups/1/nothing",
                          headers=world.state["avacy"]["b"].headers())
    assert r.status_code == 401 and SHAPE <= set(r.json)


# -- fuzz -----------------------------------------------------------------------------------

def fuzz_headers(seed, case, body, blueprint) -> dict:
    if blueprint.endswith("_admin"):
        return admin_headers(seed)
    if case.operation.path.startswith("/{tenant}/"):
        return {"Authorization": f"Bearer {seed['avacy']['token']}",
                "Accept": "application/json"}
    return {}


def fuzz_known(requests, seed) -> dict:
    a = seed["avacy"]
    return {"tenant": a["tenant"], "group_id": a["domains_group_id"],
            "webspace_id": a["webspace_id"], "webspace_key": a["webspace_key"],
            "token": a["token"]}


# -- bench ----------------------------------------------------------------------------------

def writes(seed: dict) -> list[Scenario]:
    """Avacy's documented request: two preferences and two legal notices, the same person each
    time (every request adds an archive entry and two decisions)."""
    a = seed["avacy"]
    body = json.dumps({
        "subject": {"email": "test@email.it", "first_name": "Mario", "last_name": "Rossi",
                    "age": 33, "address": "Example Street 123"},
        "identifier": "email", "ip_address": "12.64.193.89", "proofs": "<html></html>",
        "legal_notices": [{"name": "privacy_policy"}, {"name": "cookie_policy"}],
        "preferences": [{"name": "newsletter", "accepted": True},
                        {"name": "updates", "accepted": True}]})
    return [Scenario("avacy consent POST", method="POST",
                     path=f"/{a['tenant']}/domains_groups/{a['domains_group_id']}/consents",
                     body=body, expect_status=201,
                     headers={"Content-Type": "application/json", "Accept": "application/json",
                              "Authorization": f"Bearer {a['token']}"})]


def floor_consent(environ, raw: bytes, match, config):
    from consent.core import auth

    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    cred = auth.find_credential(token, kind="api_key") if scheme == "Bearer" else None
    if cred is None or cred.org_slug != match.group(1) or "consent" not in cred.scope_set:
        raise PermissionError()
    org = cred.org
    space = archive.webspace(org, int(match.group(2)))
    if space is None:
        return 404, {"message": "Domains group not found."}
    entry = archive.record(org, space, archive.from_documented("domains_groups", json.loads(raw)),
                           f"credential:{cred.id}")
    return 201, {"data": {"id": entry.row.id, "subject_id": entry.row.subject_id}}


# -- crash ----------------------------------------------------------------------------------

class AvacyEntry(CrashKind):
    name = "avacy"

    def build(self, n):
        a = self.seed["avacy"]
        marker = f"crash-{n}@example.org"
        return self._json(
            "POST", f"/{a['tenant']}/domains_groups/{a['domains_group_id']}/consents",
            {"Content-Type": "application/json", "Accept": "application/json",
             "Authorization": f"Bearer {a['token']}"},
            {"subject": {"email": marker, "first_name": "Mario",
                         "last_name": "Rossi", "age": 33}, "identifier": "email",
             "ip_address": "12.64.193.89", "proofs": "<html></html>",
             "legal_notices": [{"name": "privacy_policy"}],
             "preferences": [{"name": "newsletter", "accepted": True},
                             {"name": "updates", "accepted": False}]}, marker)

    def ids(self, body):
        return (body["data"]["id"],)

    def counts(self, db, sent):
        entries = AvacyConsent.select(fn.COUNT(AvacyConsent.id)).where(
            AvacyConsent.identifier == sent.marker)
        decisions = (AvacyDecision.select(fn.COUNT(AvacyDecision.consent))
                     .join(AvacyConsent, on=(AvacyConsent.id == AvacyDecision.entry))
                     .where(AvacyConsent.identifier == sent.marker))
        return (db.count(entries), db.count(decisions),
                db.count(consents_of_subject(sent.marker)),
                db.count(consents_of_subject(sent.marker, audited=True)))

    def read_back(self, http, sent, cache):
        status, body = http.get(f"/ledger/v1/avacy/consents/{sent.ids[0]}",
                                admin_headers(self.seed))
        if status != 200 or body.get("id") != sent.ids[0]:
            return f"Avacy entry {sent.ids[0]} -> {status} {body}"
        return None


TESTING = DialectTesting(
    name="avacy",
    isolation=Isolation(kinds=(TOKEN, WP_TOKEN), routes=ROUTES, setup=setup,
                        by_id=("{entry_id}",),
                        checks=(archive_page, unmatched_urls_need_the_tenants_token)),
    fuzz=Fuzz(headers=fuzz_headers, known=fuzz_known),
    bench=Bench(writes=writes, floor=(
        FloorRoute(r"^/([^/]+)/domains_groups/(\d+)/consents$", floor_consent),)),
    crash=(AvacyEntry,),
)
