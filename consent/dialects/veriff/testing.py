"""What the Veriff dialect declares for the shared tests and bench (``consent.testing``): its
signed credential and routes in the isolation matrix (and its page's checks), how fuzzing signs
each operation, its hot write, reads and floor, its crash kind and its read plans."""
from __future__ import annotations

import hashlib
import json
import re

from peewee import JOIN, fn

from consent.core.storage import AuditEvent, Consent
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
    Plan,
    Route,
    Scenario,
    admin_headers,
    hmac_hex,
)

from . import queries
from . import service as veriff
from .models import VeriffConsent

SHAPE = frozenset({"status", "code", "message"})


def signed_value(method: str, path: str, body: bytes) -> bytes:
    """What a Veriff client signs: the body of a POST or PATCH; for a GET or DELETE, the id in
    the path (a media or attempt id for /v1/media and /v1/attempts, else the session id)."""
    if method.upper() in ("POST", "PATCH"):
        return body
    path = path.split("?", 1)[0]
    found = (re.match(r"^/v1/media/([^/]+)", path) or re.match(r"^/v1/attempts/([^/]+)", path)
             or re.match(r"^/v1/sessions/([^/]+)", path))
    return found.group(1).encode() if found else b""


def signer(key: str, secret: str):
    def sign(method, path, body):
        return {"X-AUTH-CLIENT": key,
                "X-HMAC-SIGNATURE": hmac_hex(secret, signed_value(method, path, body))}
    return sign


def veriff_signed(v: dict, signed: bytes) -> dict:
    """The headers of a call signed as a client signs it (seed-demo's ``veriff`` section)."""
    return {"X-AUTH-CLIENT": v["api_key"], "X-HMAC-SIGNATURE": hmac_hex(v["shared_secret"],
                                                                       signed)}


# -- the isolation matrix -------------------------------------------------------------------

class Hmac(CredentialKind):
    """``X-AUTH-CLIENT`` + ``X-HMAC-SIGNATURE``: an integration key and its shared secret."""
    name = "hmac"
    shape = SHAPE

    def other_org(self, world):
        a, b = world.state["veriff"]["a"], world.state["veriff"]["b"]
        return [Attempt(sign=signer(a.key, b.secret)), Attempt(sign=signer(b.key, a.secret))]

    def reaching(self, world):
        b = world.state["veriff"]["b"]
        return Attempt(sign=signer(b.key, b.secret))

    def lacking_scope(self, world):
        from consent.core import auth

        issued = auth.create_credential(world.a.org.id, kind="hmac", name="scoped",
                                        scopes=("admin",))
        return [Attempt(sign=signer(issued.key, issued.shared_secret))]

    def revoked(self, world):
        from consent.core import auth

        from tests.veriff_helpers import Integration

        revoked = Integration(world.a.org, name="revoked integration")
        auth.revoke_credential(world.a.org.id, revoked.id)
        return [Attempt(sign=signer(revoked.key, revoked.secret))]


HMAC = Hmac()
A = ADMIN.name
ROUTES = {
    ("veriff_pages.static", "GET"): Route(PUBLIC, "/v/assets/none.css"),
    ("veriff.Sessions", "POST"): Route(HMAC.name, "/v1/sessions",
                                       {"verification": {"vendorData": "b-vendor"}}),
    ("veriff.Session", "PATCH"): Route(HMAC.name, "/v1/sessions/{session_id}",
                                       {"verification": {"status": "submitted"}}),
    ("veriff.Session", "DELETE"): Route(HMAC.name, "/v1/sessions/{session_id}"),
    ("veriff.Decision", "GET"): Route(HMAC.name, "/v1/sessions/{session_id}/decision"),
    ("veriff.Person", "GET"): Route(HMAC.name, "/v1/sessions/{session_id}/person"),
    ("veriff.Attempts", "GET"): Route(HMAC.name, "/v1/sessions/{session_id}/attempts"),
    ("veriff.Media", "GET"): Route(HMAC.name, "/v1/sessions/{session_id}/media"),
    ("veriff.Media", "POST"): Route(HMAC.name, "/v1/sessions/{session_id}/media",
                                    {"image": {"context": "document-front",
                                               "content": "data:image/jpeg;base64,/9j/4AAQ"}}),
    ("veriff.Consents", "GET"): Route(HMAC.name, "/v1/sessions/{session_id}/consents"),
    ("veriff.MediaFile", "GET"): Route(HMAC.name, "/v1/media/{veriff_media}"),
    ("veriff.AttemptMedia", "GET"): Route(HMAC.name, "/v1/attempts/{attempt_id}/media"),
    ("veriff.WatchlistScreening", "GET"): Route(
        HMAC.name, "/v1/sessions/{session_id}/watchlist-screening"),
    ("veriff.WatchlistScreening", "PATCH"): Route(
        HMAC.name, "/v1/sessions/{session_id}/watchlist-screening", {"monitorStatus": "disabled"}),
    ("veriff.Consents", "POST"): Route(HMAC.name, "/v1/sessions/{session_id}/consents",
                                       {"type": "ine", "approved": True, "text": "t"}),
    ("veriff_admin.Integration", "GET"): Route(
        A, "/ledger/v1/veriff/integrations/{integration_id}"),
    ("veriff_admin.Integration", "PATCH"): Route(
        A, "/ledger/v1/veriff/integrations/{integration_id}", {"event_webhook_url": None}),
    ("veriff_admin.SessionDecision", "POST"): Route(
        A, "/ledger/v1/veriff/sessions/{session_id}/decision", {"status": "approved"}),
    ("veriff_pages.flow_page", "GET"): Route(PAGE, "/v/{flow_token}"),
    ("veriff_pages.flow_action", "POST"): Route(PAGE, "/v/{flow_token}"),
}


def setup(world) -> None:
    """A's session (marker vendor data and person), a consent upload, a media file, the
    session submitted (an attempt and a screening)."""
    import base64

    from tests.veriff_helpers import Integration

    client = world.client
    a, b = Integration(world.a.org), Integration(world.b.org)
    world.state["veriff"] = {"a": a, "b": b}
    r = a.post(client, "/v1/sessions", {"verification": {
        "vendorData": "zz-marker-a-vendor",
        "person": {"firstName": "Zzmarkeralice", "lastName": "Zzmarkerlast"}}})
    assert r.status_code == 201, r.json
    session_id = r.json["verification"]["id"]
    flow_token = r.json["verification"]["url"].rsplit("/", 1)[1]
    assert a.upload(client, session_id, {
        "type": "ine", "approved": True, "text": "zz-marker-a-consent-text"}).status_code == 200
    r = a.post(client, f"/v1/sessions/{session_id}/media", {"image": {
        "context": "face", "content": base64.b64encode(b"\xff\xd8\xffzz-marker-a-jpeg")
        .decode()}})
    assert r.status_code == 200, r.json
    media = r.json["image"]["id"]
    r = a.post(client, f"/v1/sessions/{session_id}",
               {"verification": {"status": "submitted"}}, method="patch")
    assert r.status_code == 200, r.json
    attempt = a.get(client, f"/v1/sessions/{session_id}/attempts",
                    session_id).json["verifications"][0]["id"]
    world.values.update(session_id=session_id, integration_id=a.id, flow_token=flow_token,
                        veriff_media=media, attempt_id=attempt)
    world.markers += [session_id, a.key, a.secret, flow_token, media, attempt]


def flow_page_needs_the_sessions_own_token(world, monkeypatch):
    token = world.values["flow_token"]
    for method in ("GET", "POST"):
        response = world.client.open("/v/" + token[:-3] + "abc", method=method)
        assert response.status_code == 404
        assert response.mimetype == "text/html"
        text = response.get_data(as_text=True)
        assert "zz-marker-a" not in text and "Zzmarker" not in text


def unmatched_urls_need_the_integration(world, monkeypatch):
    """A /v1 URL that matches no route: 401 without a known integration (nothing about which
    paths exist), in Veriff's shape."""
    r = world.client.get("/v1/sessions/x/nothing", headers={"X-AUTH-CLIENT": "ik_unknown"})
    assert r.status_code == 401 and SHAPE <= set(r.json)


# -- fuzz -----------------------------------------------------------------------------------

def fuzz_headers(seed, case, body, blueprint) -> dict:
    if blueprint.endswith("_admin"):
        return admin_headers(seed)
    v = seed["veriff"]
    if case.method.upper() in ("GET", "DELETE"):
        params = case.path_parameters or {}
        signed = str(params.get("session_id", "")).encode()
        for name in ("media_id", "attempt_id"):   # GET /v1/media, /v1/attempts
            if name in params:
                signed = str(params[name]).encode()
    else:
        signed = body or b""
    return veriff_signed(v, signed)


def fuzz_known(requests, seed) -> dict:
    """A session of its own with a file and a submitted attempt (the seed's stays open)."""
    v = seed["veriff"]
    r = requests.post("/v1/sessions", headers={"X-AUTH-CLIENT": v["api_key"]},
                      json={"verification": {"vendorData": "fuzz"}})
    assert r.status_code == 201, r.text
    sid = r.json()["verification"]["id"]
    media = json.dumps({"image": {"context": "face", "content": "/9j/4AAQSkZJRg=="}}).encode()
    r = requests.send("POST", f"/v1/sessions/{sid}/media", data=media, headers={
        "Content-Type": "application/json", **veriff_signed(v, media)})
    assert r.status_code == 200, r.text
    media_id = r.json()["image"]["id"]
    submit = json.dumps({"verification": {"status": "submitted"}}).encode()
    r = requests.send("PATCH", f"/v1/sessions/{sid}", data=submit, headers={
        "Content-Type": "application/json", **veriff_signed(v, submit)})
    assert r.status_code == 200, r.text
    attempt = requests.send("GET", f"/v1/sessions/{sid}/attempts",
                            headers=veriff_signed(v, sid.encode()))
    return {"session_id": v["session_id"], "integration_id": v["integration_id"],
            "media_id": media_id, "attempt_id": attempt.json()["verifications"][0]["id"]}


# -- bench ----------------------------------------------------------------------------------

def consent_upload(v: dict) -> Scenario:
    """A signed consent upload; the same bytes each time (every request records a new consent)."""
    body = json.dumps({"type": "bipa", "approved": True,
                       "text": "User agrees to biometric processing"})
    return Scenario("veriff consent POST", method="POST",
                    path=f"/v1/sessions/{v['session_id']}/consents", body=body,
                    headers={"Content-Type": "application/json",
                             **veriff_signed(v, body.encode())})


def writes(seed: dict) -> list[Scenario]:
    return [consent_upload(seed["veriff"])]


def reads(seed: dict, records: int, subjects: int, purposes: int) -> list[Scenario]:
    """The demo session's consents and decision."""
    v = seed["veriff"]
    session = v["session_id"]
    headers = veriff_signed(v, session.encode())
    return [Scenario("veriff session consents", path=f"/v1/sessions/{session}/consents",
                     headers=headers),
            Scenario("veriff session decision", path=f"/v1/sessions/{session}/decision",
                     headers=headers)]


def prepare_reads(seed: dict) -> list[Scenario]:
    """The session's consent list holds an upload."""
    return [consent_upload(seed["veriff"])]


def floor_consent(environ, raw: bytes, match, config):
    from consent.core import auth

    cred = auth.find_credential(environ.get("HTTP_X_AUTH_CLIENT"), kind="hmac")
    if cred is None or not auth.signature_matches(cred.shared_secret, raw,
                                                  environ.get("HTTP_X_HMAC_SIGNATURE")):
        raise PermissionError()
    data = json.loads(raw)
    session_id = match.group(1)
    if veriff.find_session(cred, session_id) is None:
        return 404, {"status": "fail"}
    row = veriff.record_consent(cred, session_id, data)
    return 200, {"id": row.consent_id, "context": "consent", "sessionId": session_id}


# -- crash ----------------------------------------------------------------------------------

class VeriffConsentUpload(CrashKind):
    name = "veriff"

    def build(self, n):
        from consent.testing import Sent

        v = self.seed["veriff"]
        marker = f"I agree to biometric processing (crash {n})"
        body = json.dumps({"type": "bipa", "approved": True, "text": marker}).encode()
        return Sent(self.name, marker, "POST", f"/v1/sessions/{v['session_id']}/consents",
                    {"Content-Type": "application/json", **veriff_signed(v, body)}, body)

    def ids(self, body):
        return (body["id"],)

    def counts(self, db, sent):
        notice = hashlib.sha256(sent.marker.encode()).hexdigest()
        consents = Consent.select(fn.COUNT(Consent.seq)).where(Consent.notice_version == notice)
        audited = (Consent.select(fn.COUNT(Consent.seq))
                   .join(AuditEvent, JOIN.INNER, on=((AuditEvent.org == Consent.org)
                                                     & (AuditEvent.seq == Consent.audit_seq)))
                   .where(Consent.notice_version == notice))
        uploads = (VeriffConsent.select(fn.COUNT(VeriffConsent.seq))
                   .join(Consent, on=(Consent.id == VeriffConsent.consent))
                   .where(Consent.notice_version == notice))
        return db.count(consents), db.count(audited), db.count(uploads)

    def read_back(self, http, sent, cache):
        if "veriff" not in cache:  # one signed list of the session's uploads per check
            v = self.seed["veriff"]
            status, body = http.get(f"/v1/sessions/{v['session_id']}/consents",
                                    veriff_signed(v, v["session_id"].encode()))
            if status != 200:
                return f"Veriff consents list -> {status}"
            cache["veriff"] = [(c["id"], c["text"]) for c in body["consents"]]
        found = [text for cid, text in cache["veriff"] if cid == sent.ids[0]]
        if found != [sent.marker]:
            return f"Veriff consent {sent.ids[0]} listed {len(found)} times"
        return None


# -- query plans ----------------------------------------------------------------------------

def plans(org_id) -> list[Plan]:
    """A session's consents; the session, its decision, person, attempts and media: by the
    session's key."""
    return [
        Plan("session consents", queries.UPLOADS_OF_SESSION, ("s",),
             "veriff_consent_session_id_seq"),
        Plan("session", queries.SESSION_OF_INTEGRATION, ("s", "i"), "sqlite_autoindex"),
        Plan("session by id", queries.SESSION_BY_ID, ("s",), "sqlite_autoindex_veriff_session"),
        Plan("session of org", queries.SESSION_OF_ORG, ("s", 1),
             "sqlite_autoindex_veriff_session"),
        Plan("session by token", queries.SESSION_BY_TOKEN_HASH, ("h",),
             "veriff_session_token_hash"),
        # The expiry sweep: the open sessions through the state's status, never all of them.
        Plan("expiry due", queries.EXPIRY_DUE, ("2026-01-01", 10),
             "veriff_session_state_status"),
        Plan("attempts", queries.ATTEMPTS_OF_SESSION, ("s",), "veriff_attempt_session_id"),
        # A session's few media, sorted after the search.
        Plan("media", queries.MEDIA_OF_SESSION, ("s",), "veriff_media_session_id",
             sorted_in_memory=True),
    ]


TESTING = DialectTesting(
    name="veriff",
    isolation=Isolation(
        kinds=(HMAC,), routes=ROUTES, setup=setup,
        by_id=("{session_id}", "{integration_id}", "{veriff_media}", "{attempt_id}"),
        checks=(flow_page_needs_the_sessions_own_token, unmatched_urls_need_the_integration)),
    fuzz=Fuzz(headers=fuzz_headers, known=fuzz_known),
    bench=Bench(writes=writes, reads=reads, prepare_reads=prepare_reads,
                floor=(FloorRoute(r"^/v1/sessions/([^/]+)/consents$", floor_consent),)),
    crash=(VeriffConsentUpload,),
    plans=plans,
    big_tables=("veriff_consent", "veriff_session", "veriff_attempt", "veriff_media"),
)
