"""What the truConsent dialect declares for the shared tests and bench (``consent.testing``): its
credential kinds and routes in the isolation matrix (and its pages' checks), how fuzzing
authenticates, its hot writes, reads and floors, its crash kinds and its read plans."""
from __future__ import annotations

import itertools
import json

from peewee import fn

from consent.core.storage import Consent, IdempotencyRecord, Subject, transaction
from consent.testing import (
    ADMIN,
    PAGE,
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
    check_operator_page,
    consents_of_subject,
    counter_body,
    random_path,
)

from . import links, logs, models, points, queries
from .models import TcConsentRequest, TcLinkEvent, TcLog
from .phones import normalise_phone

SHAPE = frozenset({"detail"})


# -- the isolation matrix -------------------------------------------------------------------

def _scoped(world, scopes):
    from consent.core import auth

    return auth.create_credential(world.a.org.id, name="scoped", scopes=scopes)


def _revoked(world, scopes):
    from consent.core import auth

    issued = auth.create_credential(world.a.org.id, name="revoked", scopes=scopes)
    auth.revoke_credential(world.a.org.id, issued.credential.id)
    return issued


class ConsentKey(CredentialKind):
    """``X-Org-Id`` + ``X-API-Key`` with the consent (or admin) scope."""
    name = "tc_key"
    shape = SHAPE

    def other_org(self, world):
        return [Attempt({**world.b.headers(world.b.consent_key), "X-Org-Id": world.a.slug})]

    def reaching(self, world):
        return Attempt(world.b.headers(world.b.consent_key))

    def lacking_scope(self, world):
        return [Attempt(world.a.headers(_scoped(world, ()).key), frozenset({403}))]

    def revoked(self, world):
        return [Attempt(world.a.headers(_revoked(world, ("consent",)).key))]


class LinkCredential(ConsentKey):
    """The consent-link routes: a consent key, or an operator's bearer token."""
    name = "tc_link"

    def other_org(self, world):
        return super().other_org(world) + [Attempt(
            {"Authorization": f"Bearer {world.bearer_b}", "X-Org-Id": world.a.slug},
            frozenset({403}))]   # not a member of A

    def revoked(self, world):
        from consent.core import auth

        user = auth.User.get(auth.User.email == world.operator_email)
        token = auth.issue_session_token(world.app.config["SECRET_KEY"], user, 3600,
                                         world.app.config["CONSENT_SESSION_MAX_AGE"])
        auth.revoke_session_token(token)
        return super().revoked(world) + [Attempt({"Authorization": f"Bearer {token}",
                                                  "X-Org-Id": world.a.slug})]

    def expired(self, world):
        """A token past its own lifetime (its stored expiry), and one past the longest
        lifetime (itsdangerous' max_age)."""
        from consent.core import auth

        config = world.app.config
        user = auth.User.get(auth.User.email == world.operator_email)
        short = auth.issue_session_token(config["SECRET_KEY"], user, 60,
                                         config["CONSENT_SESSION_MAX_AGE"])
        return [({"minutes": 2}, [Attempt({"Authorization": f"Bearer {short}",
                                           "X-Org-Id": world.a.slug})]),
                ({"seconds": config["CONSENT_SESSION_MAX_AGE"] + 60},
                 [Attempt({"Authorization": f"Bearer {world.bearer_a}",
                           "X-Org-Id": world.a.slug})])]


class AdminScopeKey(ConsentKey):
    """``X-Org-Id`` + ``X-API-Key`` with the admin scope (map-user)."""
    name = "tc_admin_scope"

    def other_org(self, world):
        return [Attempt({**world.b.headers(), "X-Org-Id": world.a.slug})]

    def reaching(self, world):
        return Attempt(world.b.headers())

    def lacking_scope(self, world):
        return [Attempt(world.a.headers(_scoped(world, ("consent",)).key), frozenset({403}))]

    def revoked(self, world):
        return [Attempt(world.a.headers(_revoked(world, ("admin", "consent")).key))]


TC_KEY, TC_LINK, TC_ADMIN = ConsentKey(), LinkCredential(), AdminScopeKey()
A = ADMIN.name
ROUTES = {
    ("truconsent.ConsentLinks", "POST"): Route(TC_LINK.name, "/api/consent/consent-links",
                                               {"collection_point_id": "{cp_id}",
                                                "asset_id": "{asset_id}",
                                                "phone": "+919876543210"}),
    ("truconsent.LinkHistory", "GET"): Route(TC_LINK.name, "/api/consent/consent-links/history"),
    ("truconsent.LinkStatus", "GET"): Route(
        TC_LINK.name, "/api/consent/consent-links/status/{request_id}"),
    ("truconsent.LinkRegenerate", "POST"): Route(
        TC_LINK.name, "/api/consent/consent-links/regenerate/{request_id}"),
    ("truconsent.Record", "POST"): Route(TC_KEY.name, "/api/v1/external/consents/record",
                                         {"userId": "{tc_user}", "action": "approved",
                                          "purposes": [{"id": "{tc_purpose}"}]}),
    ("truconsent.History", "GET"): Route(TC_KEY.name,
                                         "/api/v1/external/consents/history?userId={tc_user}"),
    ("truconsent.UserStatus", "GET"): Route(
        TC_KEY.name, "/api/v1/external/consents/user-status?userId={tc_user}"),
    ("truconsent.MapUser", "POST"): Route(TC_ADMIN.name, "/api/v1/external/consents/map-user",
                                          {"anonymousId": "{tc_user}",
                                           "authenticatedUserId": "someone-else"}),
    ("truconsent.SdkBanners", "GET"): Route(
        TC_LINK.name, "/api/v1/internal/consent?asset_id={asset_id}&userId={tc_user}"),
    ("truconsent.SdkAssetBanner", "GET"): Route(
        TC_LINK.name, "/api/v1/internal/consent/{asset_id}/{cp_id}?userId={tc_user}"),
    ("truconsent.SdkBanner", "GET"): Route(
        TC_LINK.name, "/api/v1/internal/consent/{cp_id}?userId={tc_user}"),
    ("truconsent.SdkBanner", "POST"): Route(TC_LINK.name, "/api/v1/internal/consent/{cp_id}",
                                            {"userId": "{tc_user}", "action": "approved",
                                             "purposes": [{"purposeId": "{tc_purpose}"}]}),
    ("truconsent.SdkSuppression", "POST"): Route(
        TC_LINK.name, "/api/v1/internal/consent/suppression",
        {"userId": "{tc_user}", "declinedPurposeIds": ["{tc_purpose}"]}),
    ("truconsent.SdkRightsCenter", "POST"): Route(
        TC_LINK.name, "/api/v1/internal/consent/rights-center",
        {"userId": "{tc_user}", "action": "revoked", "assetId": "{asset_id}",
         "purposes": [{"id": "{tc_purpose}", "consented": "declined"}]}),
    ("truconsent.SdkUserConsents", "GET"): Route(TC_LINK.name,
                                                 "/api/v1/internal/consent/user/{tc_user}"),
    ("truconsent.SdkUserConsentStatus", "GET"): Route(
        TC_LINK.name, "/api/v1/internal/consent/user-consent-status?userId={tc_user}"),
    ("truconsent.LegacyBanners", "GET"): Route(TC_LINK.name, "/banners/"),
    ("truconsent.LegacyBanner", "GET"): Route(TC_LINK.name, "/banners/{cp_id}"),
    ("truconsent.LegacyConsent", "POST"): Route(TC_LINK.name, "/banners/{cp_id}/consent",
                                                {"userId": "{tc_user}", "action": "Approved",
                                                 "purposes": [{"purposeId": "{tc_purpose}"}]}),
    ("truconsent.LegacyUserConsents", "GET"): Route(TC_LINK.name, "/banners/user/{tc_user}"),
    ("truconsent.PublicAssets", "GET"): Route(TC_KEY.name, "/api/v1/external/public/assets"),
    ("truconsent.PublicAsset", "GET"): Route(TC_KEY.name,
                                             "/api/v1/external/public/assets/{asset_id}"),
    ("truconsent.PublicCollectionPoints", "GET"): Route(
        TC_KEY.name, "/api/v1/external/public/collection-points?asset_id={asset_id}"),
    ("truconsent.DpTimeline", "GET"): Route(
        TC_KEY.name, "/api/v1/external/consents/dp-timeline?user_id={tc_user}"),
    ("truconsent_admin.AssetById", "PATCH"): Route(A, "/ledger/v1/truconsent/assets/{asset_id}",
                                                   {"description": "b"}),
    ("truconsent_admin.CollectionPointById", "GET"): Route(
        A, "/ledger/v1/truconsent/collection-points/{cp_id}"),
    ("truconsent_admin.CollectionPointById", "PATCH"): Route(
        A, "/ledger/v1/truconsent/collection-points/{cp_id}", {"consent_type": "general"}),
    ("truconsent_admin.Assets", "GET"): Route(A, "/ledger/v1/truconsent/assets"),
    ("truconsent_admin.Assets", "POST"): Route(A, "/ledger/v1/truconsent/assets",
                                               {"name": "b asset"}),
    ("truconsent_admin.CollectionPoints", "GET"): Route(
        A, "/ledger/v1/truconsent/collection-points"),
    ("truconsent_admin.CollectionPoints", "POST"): Route(
        A, "/ledger/v1/truconsent/collection-points",
        {"asset_id": "{asset_id}", "title": "t", "notice_text": "n",
         "purposes": [{"name": "n", "description": "d"}]}),
    # the rights center (rights_routes)
    ("truconsent_rights.RightsCenterSettings", "GET"): Route(
        TC_LINK.name, "/api/v1/internal/rights-center/settings/global?asset_id={asset_id}"),
    ("truconsent_rights.Dpo", "GET"): Route(TC_LINK.name, "/api/v1/internal/dpo"),
    ("truconsent_rights.DeletionRequest", "POST"): Route(
        TC_LINK.name, "/api/v1/internal/rights-requests/deletion-request",
        {"user_id": "{tc_user}", "reason": "r"}),
    ("truconsent_rights.AccessRequest", "POST"): Route(
        TC_LINK.name, "/api/v1/internal/rights-requests/access-request",
        {"user_id": "{tc_user}", "subject": "s", "description": "d"}),
    ("truconsent_rights.UserNominees", "GET"): Route(
        TC_LINK.name, "/api/v1/internal/nominee/user/{tc_user}"),
    ("truconsent_rights.Nominees", "POST"): Route(
        TC_LINK.name, "/api/v1/internal/nominee",
        {"client_user_id": "{tc_user}", "nominee_name": "n", "relationship": "r"}),
    ("truconsent_rights.NomineeById", "PUT"): Route(
        TC_LINK.name, "/api/v1/internal/nominee/{nominee_id}",
        {"nominee_name": "n", "relationship": "r"}),
    ("truconsent_rights.NomineeById", "DELETE"): Route(
        TC_LINK.name, "/api/v1/internal/nominee/{nominee_id}"),
    ("truconsent_rights.UserGrievances", "GET"): Route(
        TC_LINK.name, "/api/v1/internal/grievance/user/{tc_user}"),
    ("truconsent_rights.Grievances", "POST"): Route(
        TC_LINK.name, "/api/v1/internal/grievance",
        {"client_user_id": "{tc_user}", "subject": "s", "description": "d"}),
    ("truconsent_rights.GrievanceMessages", "GET"): Route(
        TC_LINK.name, "/api/v1/internal/grievance/{ticket_id}/messages"),
    ("truconsent_rights.GrievanceMessages", "POST"): Route(
        TC_LINK.name, "/api/v1/internal/grievance/{ticket_id}/messages", {"message": "m"}),
    ("truconsent_rights.SendOtp", "POST"): Route(
        TC_LINK.name, "/api/v1/internal/rights-center-access/send-otp",
        {"phone": "9812345679", "countryCode": "+91"}),
    ("truconsent_rights.VerifyOtp", "POST"): Route(
        TC_LINK.name, "/api/v1/internal/rights-center-access/verify-otp",
        {"phone": "9812345679", "countryCode": "+91", "otp": "000000"}),
    ("truconsent_rights_admin.OrgSettings", "GET"): Route(
        A, "/ledger/v1/truconsent/rights-center/settings"),
    ("truconsent_rights_admin.OrgSettings", "PUT"): Route(
        A, "/ledger/v1/truconsent/rights-center/settings", {"access_mode": "non_sso"}),
    ("truconsent_rights_admin.AssetSettings", "GET"): Route(
        A, "/ledger/v1/truconsent/assets/{asset_id}/rights-center/settings"),
    ("truconsent_rights_admin.AssetSettings", "PUT"): Route(
        A, "/ledger/v1/truconsent/assets/{asset_id}/rights-center/settings",
        {"access_mode": "non_sso"}),
    ("truconsent_rights_admin.AdminDpo", "GET"): Route(A, "/ledger/v1/truconsent/dpo"),
    ("truconsent_rights_admin.AdminDpo", "PUT"): Route(
        A, "/ledger/v1/truconsent/dpo", {"full_name": "b", "email": "b@b.example"}),
    ("truconsent_rights_admin.AdminGrievances", "GET"): Route(
        A, "/ledger/v1/truconsent/grievances"),
    ("truconsent_rights_admin.AdminGrievance", "GET"): Route(
        A, "/ledger/v1/truconsent/grievances/{ticket_id}"),
    ("truconsent_rights_admin.AdminGrievanceReply", "POST"): Route(
        A, "/ledger/v1/truconsent/grievances/{ticket_id}/messages", {"message": "m"}),
    ("truconsent_pages.collector", "GET"): Route(PAGE, "{link_path}"),
    ("truconsent_pages.collector", "POST"): Route(PAGE, "{link_path}"),
    ("truconsent_pages.outbox_page", "GET"): Route(PAGE, "/truconsent/outbox"),
}


def setup(world) -> None:
    """A's collection point, a link to a marker phone and a consent of a marker user."""
    from tests.truconsent_helpers import create_link, link_path, make_cp

    a, client = world.a, world.client
    cp = make_cp(a.org, title="zz-marker-a-cp-title")
    make_cp(world.b.org)
    link = create_link(client, a, cp, phone="+919812345678")
    r = client.post("/api/v1/external/consents/record", headers=a.headers(a.consent_key),
                    json={"userId": "zz-marker-a-user", "action": "approved",
                          "purposes": [{"id": cp.purpose_ids[0]}]})
    assert r.status_code == 200, r.json
    world.state["truconsent"] = cp
    world.values.update(request_id=link["request_id"],
                        link_path=link_path(link["consent_link"]), cp_id=cp.cp.id,
                        asset_id=cp.asset.id, tc_user="zz-marker-a-user",
                        tc_purpose=cp.purpose_ids[0])
    world.markers += ["+919812345678", "9812345678", link["request_id"]]
    # The rights center: A's marker user's nominee and grievance ticket, A's DPO and settings.
    headers = a.headers(a.consent_key)
    r = client.post("/api/v1/internal/nominee", headers=headers, json={
        "client_user_id": "zz-marker-a-user", "nominee_name": "zz-marker-a-nominee",
        "relationship": "Zzmarker sibling", "nominee_email": "zz-marker-a@nominee.example",
        "nominee_mobile": "+919800000001"})
    assert r.status_code == 200, r.json
    nominee_id = r.json["id"]
    r = client.post("/api/v1/internal/grievance", headers=headers, json={
        "client_user_id": "zz-marker-a-user", "subject": "zz-marker-a-grievance",
        "category": "Zzmarker", "description": "zz-marker-a words"})
    assert r.status_code == 200, r.json
    r = client.put("/ledger/v1/truconsent/dpo", headers=a.headers(), json={
        "full_name": "Zzmarker DPO", "email": "zz-marker-a-dpo@example.com"})
    assert r.status_code == 200, r.json
    r = client.put("/ledger/v1/truconsent/rights-center/settings", headers=a.headers(),
                   json={"rights_section_title": "zz-marker-a-title"})
    assert r.status_code == 200, r.json
    world.values.update(nominee_id=nominee_id, ticket_id=r.json and
                        client.get("/api/v1/internal/grievance/user/zz-marker-a-user",
                                   headers=headers).json[0]["ticket_id"])
    world.markers += [nominee_id, "+919800000001"]


def shift_clock(monkeypatch, offset) -> None:
    monkeypatch.setattr(models, "CLOCK_OFFSET", offset)


def _page_text(response):
    assert response.mimetype == "text/html", response.mimetype
    return response.get_data(as_text=True)


def collector_refuses_another_links_token(world, monkeypatch):
    from tests.truconsent_helpers import create_link, link_path, make_cp

    other = create_link(world.client, world.b, make_cp(world.b.org, title="b"))
    b_token = link_path(other["consent_link"]).split("t=", 1)[1]
    path = world.values["link_path"].split("t=", 1)[0] + "t=" + b_token
    for method in ("GET", "POST"):
        response = world.client.open(path, method=method)
        assert response.status_code == 400, response.status_code  # "tampered"
        assert "zz-marker-a" not in _page_text(response)


def collector_expired_link(world, monkeypatch):
    world.shift_clock(monkeypatch, hours=25)
    for method in ("GET", "POST"):
        response = world.client.open(world.values["link_path"], method=method)
        assert response.status_code == 410, response.status_code
        assert "zz-marker-a" not in _page_text(response)


def outbox_page(world, monkeypatch):
    from .pages import outbox_token

    check_operator_page(world, monkeypatch, "/truconsent/outbox", outbox_token)


# -- fuzz -----------------------------------------------------------------------------------

_turn = itertools.count()


def fuzz_headers(seed, case, body, blueprint) -> dict:
    if blueprint.endswith("_admin"):
        return admin_headers(seed)
    t = seed["truconsent"]
    if case.operation.path.startswith("/api/consent/") and next(_turn) % 2:
        return {"X-Org-Id": t["org_id"], "Authorization": f"Bearer {t['bearer_token']}"}
    return {"X-Org-Id": t["org_id"], "X-API-Key": t["api_key"]}


def fuzz_known(requests, seed) -> dict:
    t = seed["truconsent"]
    r = requests.post("/api/consent/consent-links",
                      headers={"X-Org-Id": t["org_id"], "X-API-Key": t["api_key"]},
                      json={"collection_point_id": t["collection_point_display_id"],
                            "asset_id": t["asset_id"], "phone": "+919876543210",
                            "expiry_hours": 24})
    assert r.status_code == 200, r.text
    headers = {"X-Org-Id": t["org_id"], "X-API-Key": t["api_key"]}
    nominee = requests.post("/api/v1/internal/nominee", headers=headers, json={
        "client_user_id": "fuzz", "nominee_name": "Fuzz Nominee", "relationship": "Sibling"})
    assert nominee.status_code == 200, nominee.text
    ticket = requests.post("/api/v1/internal/grievance", headers=headers, json={
        "client_user_id": "fuzz", "subject": "Fuzz", "description": "A fuzz ticket"})
    assert ticket.status_code == 200, ticket.text
    return {"request_id": r.json()["request_id"], "asset_id": t["asset_id"],
            "banner_id": t["banner_id"], "user_id": "fuzz", "cp_id": t["collection_point_id"],
            "nominee_id": nominee.json()["id"], "ticket_id": ticket.json()["ticket_id"]}


# -- bench ----------------------------------------------------------------------------------

LINK = "truconsent link create POST"
RECORD = "truconsent consent record POST"


def _headers(t: dict) -> dict:
    return {"X-Org-Id": t["org_id"], "X-API-Key": t["api_key"]}


def writes(seed: dict) -> list[Scenario]:
    """Link creation (no email) and consent recording (two purposes, a new user each time)."""
    t = seed["truconsent"]
    headers = {**_headers(t), "Content-Type": "application/json"}
    link = Scenario(LINK, method="POST", path="/api/consent/consent-links", headers=headers,
                    body=json.dumps({"collection_point_id": t["collection_point_display_id"],
                                     "asset_id": t["asset_id"], "phone": "+919876543210",
                                     "expiry_hours": 24}))
    first, second = t["purpose_ids"][:2]  # two purposes of the demo collection point
    template = ('{"userId":"bench-user-{n}","action":"approved","collectionPointId":"'
                + t["collection_point_display_id"] + '","purposes":[{"id":"' + first
                + '"},{"id":"' + second + '"}]}')
    record = Scenario(RECORD, method="POST", path="/api/v1/external/consents/record",
                      headers=headers, body=template.replace("{n}", "0"),
                      lua=counter_body(template))
    return [link, record]


def reads(seed: dict, records: int, subjects: int, purposes: int) -> list[Scenario]:
    headers = _headers(seed["truconsent"])
    return [
        Scenario("truconsent history by dp_id",
                 path="/api/v1/external/consents/history?dp_id=s0", headers=headers,
                 lua=random_path("/api/v1/external/consents/history?dp_id=s{r}", 0,
                                 subjects - 1)),
        Scenario("truconsent user-status",
                 path="/api/v1/external/consents/user-status?dp_id=s0", headers=headers,
                 lua=random_path("/api/v1/external/consents/user-status?dp_id=s{r}", 0,
                                 subjects - 1)),
    ]


def _key(environ):
    from consent.core import auth

    cred = auth.find_credential(environ.get("HTTP_X_API_KEY"), kind="api_key")
    if cred is None or environ.get("HTTP_X_ORG_ID") not in (cred.org_slug, cred.org_id):
        raise PermissionError()
    return cred


def floor_link(environ, raw: bytes, match, config):
    cred = _key(environ)
    data = json.loads(raw)
    org = cred.org
    cp = points.find_cp(org, data["collection_point_id"])
    issued = links.create(config["SECRET_KEY"], config["CONSENT_PUBLIC_URL"], org, cp,
                          normalise_phone(data["phone"]), data["expiry_hours"], None,
                          f"credential:{cred.id}")
    return 200, {"request_id": issued.request.id, "event_id": issued.event.id,
                 "consent_link": issued.url, "expires_at": str(issued.event.expires_at)}


def floor_record(environ, raw: bytes, match, config):
    cred = _key(environ)
    data = json.loads(raw)
    with transaction():
        written = logs.record(cred.org, data, f"credential:{cred.id}")
    return 200, {"success": True, "consent_logs": [log.row._asdict() for log in written]}


# -- crash ----------------------------------------------------------------------------------

class TruConsentRecord(CrashKind):
    name, keyed = "truconsent-record", True

    def headers(self):
        return _headers(self.seed["truconsent"])

    def build(self, n):
        marker = f"crash-tc-{n}"
        t = self.seed["truconsent"]
        return self._json("POST", "/api/v1/external/consents/record",
                          {**self.headers(), "Content-Type": "application/json"},
                          {"userId": marker, "action": "approved", "requestId": f"req-{marker}",
                           "collectionPointId": t["collection_point_display_id"],
                           "purposes": [{"id": pid} for pid in t["purpose_ids"][:2]]}, marker)

    def ids(self, body):
        return tuple(log["id"] for log in body["consent_logs"])

    def counts(self, db, sent):
        logs_of_subject = (TcLog.select(fn.COUNT(TcLog.consent))
                           .join(Consent, on=(Consent.seq == TcLog.consent))
                           .join(Subject, on=(Subject.id == Consent.recorded_subject))
                           .where(Subject.identifier == sent.marker))
        return (db.count(consents_of_subject(sent.marker)),
                db.count(consents_of_subject(sent.marker, audited=True)),
                db.count(logs_of_subject),
                db.count(IdempotencyRecord.select(fn.COUNT(IdempotencyRecord.id))
                         .where(IdempotencyRecord.key == f"req-{sent.marker}")))

    def read_back(self, http, sent, cache):
        from urllib.parse import quote

        status, body = http.get("/api/v1/external/consents/history?dp_id="
                                + quote(sent.marker), self.headers())
        if status != 200 or sorted(i["id"] for i in body["items"]) != sorted(sent.ids):
            return f"truConsent history of {sent.marker} -> {status} {body}"
        return None


class TruConsentLink(CrashKind):
    name = "truconsent-link"

    def headers(self):
        return _headers(self.seed["truconsent"])

    def build(self, n):
        t = self.seed["truconsent"]
        marker = f"+919{n % 10**9:09d}"
        return self._json("POST", "/api/consent/consent-links",
                          {**self.headers(), "Content-Type": "application/json"},
                          {"collection_point_id": t["collection_point_display_id"],
                           "asset_id": t["asset_id"], "phone": marker, "expiry_hours": 24},
                          marker)

    def ids(self, body):
        return (body["request_id"], body["event_id"])

    def counts(self, db, sent):
        requests = TcConsentRequest.select(fn.COUNT(TcConsentRequest.id)).where(
            TcConsentRequest.phone == sent.marker)
        with_link = (TcConsentRequest.select(fn.COUNT(TcConsentRequest.id))
                     .join(TcLinkEvent, on=(TcLinkEvent.id == TcConsentRequest.current_event_id))
                     .where(TcConsentRequest.phone == sent.marker))
        return db.count(requests), db.count(with_link)

    def read_back(self, http, sent, cache):
        status, body = http.get(f"/api/consent/consent-links/status/{sent.ids[0]}",
                                self.headers())
        if status != 200 or body.get("event_id") != sent.ids[1]:
            return f"truConsent link status {sent.ids[0]} -> {status} {body}"
        return None


# -- query plans ----------------------------------------------------------------------------

def plans(org_id) -> list[Plan]:
    return [
        Plan("history by dp_id", queries.log_page(("subject_id",)), (org_id, 10_001, 50, 0),
             "consent_subject_id_seq"),
        Plan("history", queries.log_page(()), (org_id, 50, 0), "consent_org_id_seq"),
        Plan("user-status", queries.LOGS_OF_SUBJECT, (org_id, 10_001), "consent_subject_id_seq"),
        Plan("link history", queries.LINKS_OF_ORG, (org_id, 50, 0),
             "truconsent_request_org_id_created_at", sorted_in_memory=True),
    ]


TESTING = DialectTesting(
    name="truconsent",
    isolation=Isolation(
        kinds=(TC_LINK, TC_KEY, TC_ADMIN), routes=ROUTES, setup=setup,
        by_id=("{request_id}", "{asset_id}", "{cp_id}", "{nominee_id}", "{ticket_id}"),
        shift_clock=shift_clock,
        checks=(collector_refuses_another_links_token, collector_expired_link, outbox_page)),
    fuzz=Fuzz(headers=fuzz_headers, known=fuzz_known),
    bench=Bench(writes=writes, reads=reads, mechanisms=(RECORD,), floor=(
        FloorRoute(r"^/api/consent/consent-links$", floor_link),
        FloorRoute(r"^/api/v1/external/consents/record$", floor_record))),
    crash=(TruConsentRecord, TruConsentLink),
    plans=plans,
    big_tables=("truconsent_log", "truconsent_request"),
)
