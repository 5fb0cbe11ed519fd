"""What the Attestr dialect declares for the shared tests and bench (``consent.testing``): its
client credential and routes in the isolation matrix, how fuzzing authenticates, its hot write
and floor, its crash kind and its read plans."""
from __future__ import annotations

import base64
import datetime as dt
import json

from peewee import fn

from consent.testing import (
    Attempt,
    Bench,
    CrashKind,
    CredentialKind,
    DialectTesting,
    FloorRoute,
    Fuzz,
    Isolation,
    Plan,
    Route,
    Scenario,
    consents_of_subject,
    unique_body,
)

from . import clients, consents, queries, ratelimit
from .models import AttestrConsent

SHAPE = frozenset({"httpStatusCode", "code", "message", "appError"})


# -- the isolation matrix -------------------------------------------------------------------

class Basic(CredentialKind):
    """``Authorization: Basic`` with an Attestr client's token."""
    name = "attestr_basic"
    shape = SHAPE

    def reaching(self, world):
        return Attempt(world.state["attestr"]["b"].headers())

    def lacking_scope(self, world):
        """A Basic credential that is no Attestr client."""
        from consent.core import auth

        basic = auth.create_credential(world.a.org.id, kind="basic", name="scoped",
                                       scopes=("consent",))
        token = base64.b64encode(f"{basic.credential.client_id}:{basic.key}".encode()).decode()
        return [Attempt({"Authorization": f"Basic {token}"}, frozenset({403}))]

    def revoked(self, world):
        from consent.core import auth

        from tests.attestr_helpers import Client

        revoked = Client(world.a.org)
        auth.revoke_credential(world.a.org.id, revoked.id)
        return [Attempt(revoked.headers())]


BASIC = Basic()


def _register_body(world):
    from tests.attestr_helpers import body

    return body(consentReferenceId="b-ref")


ROUTES = {
    ("attestr.Register", "POST"): Route(BASIC.name, "/api/v3/public/consent/register",
                                        _register_body),
    ("attestr.DataCategories", "POST"): Route(BASIC.name,
                                              "/api/v3/public/consent/data-categories",
                                              {"services": ["BANK_ACC"]}),
    ("attestr.ConsentDetails", "GET"): Route(BASIC.name,
                                             "/api/v3/public/consent/{attestr_consent}"),
    ("attestr.Revoke", "POST"): Route(BASIC.name,
                                      "/api/v3/public/consent/{attestr_consent}/revoke", {}),
    ("attestr.Export", "POST"): Route(BASIC.name,
                                      "/api/v3/public/consent/{attestr_consent}/export", {}),
    ("attestr.AsyncResult", "GET"): Route(BASIC.name, "/api/v3/public/common/async/{async_id}"),
    ("attestr.Media", "GET"): Route(BASIC.name, "/api/v3/public/common/media/{media_id}"),
}


def setup(world) -> None:
    """A's consent with a marker reference and principal, and its export job."""
    from tests.attestr_helpers import Client, register

    a, b = Client(world.a.org), Client(world.b.org)
    world.state["attestr"] = {"a": a, "b": b}
    r = register(world.client, a, consentReferenceId="zz-marker-a-ref",
                 consentPrincipalUserId="zz-marker-a-principal")
    assert r.status_code == 200, r.json
    consent_id = r.json["_id"]
    r = world.client.post(f"/api/v3/public/consent/{consent_id}/export", json={},
                          headers=a.headers())
    assert r.status_code == 200, r.json
    world.values.update(attestr_consent=consent_id, media_id="none",
                        async_id=r.json.get("asyncId") or r.json.get("_id") or "none")
    world.markers.append(consent_id)


# -- fuzz -----------------------------------------------------------------------------------

def fuzz_headers(seed, case, body, blueprint) -> dict:
    return {"Authorization": seed["attestr"]["authorization"]}


def fuzz_known(requests, seed) -> dict:
    a = seed["attestr"]
    r = requests.post("/api/v3/public/consent/register",
                      headers={"Authorization": a["authorization"]},
                      json={"consentPurpose": "kyc_verification",
                            "services": [{"service": a["services"][0]}],
                            "consentTimestamp": "2026-05-22T00:00:00+0000",
                            "consentMode": "email_otp", "consentType": "multi_use",
                            "consentValidFrom": "2026-05-22T00:00:00+0000",
                            "consentValidTill": "2099-01-01T00:00:00+0000",
                            "consentReferenceId": "fuzz-ref", "consentPrincipalUserId": "fuzz",
                            "clientDeclaration": True, "consentOperations": ["VERIFY"],
                            "consentDataCategories": [{"category": "financial",
                                                       "values": ["ifsc"]}]})
    assert r.status_code == 200, r.text
    return {"consent_id": r.json()["_id"]}


# -- bench ----------------------------------------------------------------------------------

def register_body(a: dict, reference: str) -> str:
    return json.dumps({
        "consentPurpose": "kyc_verification", "services": [{"service": a["services"][0]}],
        "consentTimestamp": "2026-05-22T00:00:00+0000", "consentMode": "email_otp",
        "consentType": "single_use", "consentValidFrom": "2026-05-22T00:00:00+0000",
        "consentValidTill": "2099-01-01T00:00:00+0000", "consentReferenceId": reference,
        "consentPrincipalUserId": "bench-user", "clientDeclaration": True,
        "consentOperations": ["VERIFY", "FETCH"],
        "consentDataCategories": [{"category": "financial", "values": ["bank_account", "ifsc"]}]})


def writes(seed: dict) -> list[Scenario]:
    """A consent registration; a new consentReferenceId each time (a repeated one would only
    answer the consent registered first)."""
    a = seed["attestr"]
    return [Scenario("attestr register POST", method="POST",
                     path="/api/v3/public/consent/register",
                     body=register_body(a, "bench-check"),
                     lua=unique_body(register_body(a, "{n}")),
                     headers={"Content-Type": "application/json",
                              "Authorization": a["authorization"]})]


TIMESTAMPS = ("consentTimestamp", "consentValidFrom", "consentValidTill")


def floor_register(environ, raw: bytes, match, config):
    from consent.core import auth
    from schemas.common import naive_utc

    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    client_id, _, secret = base64.b64decode(token).decode().partition(":")
    cred = auth.find_basic_client(client_id, secret) if scheme == "Basic" else None
    client = clients.find(cred.id) if cred is not None else None
    if client is None or not clients.ip_allowed(client, environ.get("REMOTE_ADDR")):
        raise PermissionError()
    ratelimit.hit(client, "consent.register")
    provided = json.loads(raw)
    data = {"webhook": False, **provided,
            **{k: naive_utc(dt.datetime.fromisoformat(provided[k])) for k in TIMESTAMPS}}
    row = consents.register(client, data, provided)
    return 200, {"_id": row.id, "number": row.number}


# -- crash ----------------------------------------------------------------------------------

class AttestrRegister(CrashKind):
    name, keyed = "attestr", True

    def build(self, n):
        a = self.seed["attestr"]
        marker = f"crash-attestr-{n}"
        return self._json(
            "POST", "/api/v3/public/consent/register",
            {"Content-Type": "application/json", "Authorization": a["authorization"]},
            {"consentPurpose": "kyc_verification", "services": [{"service": a["services"][0]}],
             "consentTimestamp": "2026-05-22T00:00:00+0000", "consentMode": "email_otp",
             "consentType": "single_use", "consentValidFrom": "2026-05-22T00:00:00+0000",
             "consentValidTill": "2099-01-01T00:00:00+0000", "consentReferenceId": marker,
             "consentPrincipalUserId": marker, "clientDeclaration": True,
             "consentOperations": ["VERIFY", "FETCH"],
             "consentDataCategories": [{"category": "financial", "values": ["bank_account"]}]},
            marker)

    def ids(self, body):
        return (body["_id"],)

    def counts(self, db, sent):
        registered = AttestrConsent.select(fn.COUNT(AttestrConsent.id)).where(
            AttestrConsent.reference_id == sent.marker)
        return (db.count(registered), db.count(consents_of_subject(sent.marker)),
                db.count(consents_of_subject(sent.marker, audited=True)))

    def read_back(self, http, sent, cache):
        status, body = http.get(f"/api/v3/public/consent/{sent.ids[0]}",
                                {"Authorization": self.seed["attestr"]["authorization"]})
        if status != 200 or body.get("_id") != sent.ids[0] \
                or body["data"].get("consentReferenceId") != sent.marker:
            return f"Attestr consent {sent.ids[0]} -> {status} {body}"
        return None


# -- query plans ----------------------------------------------------------------------------

def plans(org_id) -> list[Plan]:
    """A consent by its id, reference, ledger consent or number; an async job; the sweeps."""
    return [
        Plan("consent of org", queries.CONSENT_OF_ORG, (1, "x"),
             "sqlite_autoindex_attestr_consent"),
        Plan("consent by reference", queries.CONSENT_BY_REFERENCE, (1, "r"),
             "attestr_consent_client_id_reference_lookup"),
        Plan("async of consent", queries.ASYNC_OF_CONSENT, ("x",),
             "attestr_async_attestr_consent_id"),
        Plan("consent by ledger id", queries.CONSENT_BY_LEDGER_ID, ("c",),
             "attestr_consent_consent_id"),
        Plan("number taken", queries.NUMBER_TAKEN, ("n", "n"), "attestr_consent_number"),
        Plan("async of org", queries.ASYNC_OF_ORG, (1, "x"), "sqlite_autoindex_attestr_async"),
        Plan("expiry due", queries.EXPIRY_DUE, ("2026-01-01", 10), "attestr_consent_sweep_at"),
        Plan("client", queries.CLIENT, (1,), "sqlite_autoindex_attestr_client"),
    ]


TESTING = DialectTesting(
    name="attestr",
    isolation=Isolation(kinds=(BASIC,), routes=ROUTES, setup=setup,
                        by_id=("{attestr_consent}", "{async_id}", "{media_id}")),
    fuzz=Fuzz(headers=fuzz_headers, known=fuzz_known),
    bench=Bench(writes=writes, floor=(
        FloorRoute(r"^/api/v3/public/consent/register$", floor_register),)),
    crash=(AttestrRegister,),
    plans=plans,
    big_tables=("attestr_consent", "attestr_async"),
)
