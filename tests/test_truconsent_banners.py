"""What a collection point shows as a banner, managed through the admin API and the CLI; the
public API's assets and collection points; the data principal timeline; and migration 2 of the
truconsent component (a database from version 1 gets the new columns and table, its rows kept)."""
from __future__ import annotations

import json

import pytest

from consent.core import migrate, storage
from consent.core.storage import Consent
from consent.dialects.truconsent.models import SCHEMA, TcCollectionPoint
from tests.truconsent_helpers import make_cp

ADMIN = "/ledger/v1/truconsent"
PUBLIC = "/api/v1/external/public"
EMPTY_PURPOSE = {"is_mandatory": False, "is_legitimate": False, "expiry_period": "",
                 "data_elements": [], "processing_activities": [], "legal_entities": [],
                 "tools": []}


def asset(client, org, **body):
    r = client.post(f"{ADMIN}/assets", headers=org.headers(), json={"name": "App", **body})
    assert r.status_code == 201, r.json
    return r.json


def cp(client, org, asset_id, **body):
    payload = {"asset_id": asset_id, "title": "Sign-up", "notice_text": "Notice",
               "purposes": [{"id": "p1", "name": "One"}], **body}
    return client.post(f"{ADMIN}/collection-points", headers=org.headers(), json=payload)


def invalid(message):
    return {"code": 422, "status": "Unprocessable Entity", "message": message}


# -- the admin API -----------------------------------------------------------------------------------

def test_an_asset_with_its_origins(client, org):
    made = asset(client, org, asset_type="website", description="Shop",
                 allowed_origins=["https://shop.example.com", "http://localhost:*"])
    assert made == {"id": made["id"], "display_id": "AS001", "name": "App",
                    "asset_type": "website", "description": "Shop",
                    "allowed_origins": ["https://shop.example.com", "http://localhost:*"],
                    "created_at": made["created_at"]}
    plain = asset(client, org)
    assert (plain["asset_type"], plain["description"], plain["allowed_origins"]) == (
        None, None, None)
    r = client.patch(f"{ADMIN}/assets/AS002", headers=org.headers(),
                     json={"name": "Renamed", "allowed_origins": ["*"]})
    assert r.status_code == 200 and (r.json["name"], r.json["allowed_origins"]) == (
        "Renamed", ["*"])
    listed = client.get(f"{ADMIN}/assets", headers=org.headers()).json
    assert [(a["display_id"], a["allowed_origins"]) for a in listed] == [
        ("AS001", ["https://shop.example.com", "http://localhost:*"]), ("AS002", ["*"])]
    for body, answer in (
            ({"name": "X", "allowed_origins": ["ftp://files.example"]},
             invalid("not an origin source: 'ftp://files.example' (use "
                     "scheme://host[:port|:*])")),
            ({"name": "X", "display_id": "user"},
             invalid("'user' cannot be a asset display id (a path of the SDK API)"))):
        r = client.post(f"{ADMIN}/assets", headers=org.headers(), json=body)
        assert (r.status_code, r.json) == (422, answer)
    r = client.patch(f"{ADMIN}/assets/AS404", headers=org.headers(), json={"name": "X"})
    assert (r.status_code, r.json) == (404, {"code": 404, "status": "Not Found",
                                             "message": "Asset not found"})
    r = client.patch(f"{ADMIN}/assets/AS001", headers=org.headers(), json={"colour": "red"})
    assert r.status_code == 422 and r.json["errors"] == {"json": {"colour": ["Unknown field."]}}


def test_a_collection_point_with_what_its_banner_shows(client, org):
    a = asset(client, org)
    r = cp(client, org, a["id"], consent_type="general", purposes=[
        {"id": "p1", "name": "One", "is_mandatory": True, "expiry_period": "30 days",
         "data_elements": [{"name": "Email", "description": "Your address",
                            "display_id": "DE9"}]},
        {"name": "Two", "is_legitimate": True}],
        banner_settings={"primary_color": "#123", "logo_url": "https://cdn.example/logo.png",
                         "h_case_logging_strategy": "hard_immediate"})
    assert r.status_code == 201, r.json
    made = r.json
    [one, two] = made["purposes"]
    element = one["data_elements"][0]
    assert one == {"id": "p1", "name": "One", "description": "", "version": "1",
                   "is_mandatory": True, "is_legitimate": False, "expiry_period": "30 days",
                   "data_elements": [{"id": element["id"], "name": "Email",
                                      "description": "Your address", "display_id": "DE9"}],
                   "processing_activities": [], "legal_entities": [], "tools": []}
    assert {**two, "id": None} == {"id": None, "name": "Two", "description": "",
                                   "version": "1", **EMPTY_PURPOSE, "is_legitimate": True}
    assert (made["consent_type"], made["banner_settings"]) == ("general", {
        "primary_color": "#123", "logo_url": "https://cdn.example/logo.png",
        "h_case_logging_strategy": "hard_immediate"})
    assert client.get(f"{ADMIN}/collection-points/CP001", headers=org.headers()).json == made
    r = client.patch(f"{ADMIN}/collection-points/{made['id']}", headers=org.headers(),
                     json={"banner_settings": {"default_selection": "all"},
                           "consent_type": "cookie_consent"})
    assert r.status_code == 200
    assert (r.json["banner_settings"], r.json["consent_type"]) == (
        {"default_selection": "all"}, "cookie_consent")
    r = client.patch(f"{ADMIN}/collection-points/CP001", headers=org.headers(),
                     json={"banner_settings": None})
    assert r.status_code == 200 and r.json["banner_settings"] is None
    r = client.get(f"{ADMIN}/collection-points/CP404", headers=org.headers())
    assert (r.status_code, r.json["message"]) == (404, "Collection point not found")


@pytest.mark.parametrize("change,errors", [
    ({"banner_settings": {"favourite_colour": "red"}},
     {"json": {"banner_settings": {"favourite_colour": ["Unknown field."]}}}),
    ({"banner_settings": {"primary_color": "blue"}},
     {"json": {"banner_settings": {"primary_color": [
         "Not a hex colour (#rgb, #rrggbb or #rrggbbaa)."]}}}),
    ({"banner_settings": {"general_notice_template": "fancy"}},
     {"json": {"banner_settings": {"general_notice_template": [
         "Must be one of: tabbed_banner, center_modal, preferences_modal, floating_card, "
         "notice_only, inline_single_row, general_compact_list, general_split_pane."]}}}),
    ({"banner_settings": {"defaultSelection": "all"}},
     {"json": {"banner_settings": {"defaultSelection": ["Unknown field."]}}}),
    ({"consent_type": "vibes"},
     {"json": {"consent_type": ["Must be one of: standard_consent, cookie_consent, "
                                "general."]}}),
])
def test_banner_settings_are_checked(client, org, change, errors):
    a = asset(client, org)
    r = cp(client, org, a["id"], **change)
    assert r.status_code == 422 and r.json["errors"] == errors


@pytest.mark.parametrize("change,message", [
    ({"purposes": [{"name": "One", "expiry_period": "forever"}]},
     "expiry_period 'forever' is not a period: use a number of days or "
     "'N days|weeks|months|years'"),
    ({"purposes": [{"name": "One", "expiry_period": "0"}]},
     "expiry_period '0' is not a period: use a number of days or 'N days|weeks|months|years'"),
    ({"purposes": [{"name": "One", "is_legitimate": True, "expiry_period": "1 year"}]},
     "purpose 'One' is a legitimate interest: it has no consent to expire"),
    ({"purposes": [{"name": "One"}], "banner_settings": {"general_notice_template":
                                                          "notice_only"}},
     "the notice_only template is for collection points whose purposes are all legitimate "
     "interests"),
    ({"display_id": "suppression"},
     "'suppression' cannot be a collection point display id (a path of the SDK API)"),
    ({"purposes": [{"id": "x", "name": "A"}, {"id": "x", "name": "B"}]},
     "purpose ids must be unique"),
])
def test_purposes_are_checked(client, org, change, message):
    a = asset(client, org)
    r = cp(client, org, a["id"], **change)
    assert (r.status_code, r.json) == (422, invalid(message))


def test_notice_only_needs_legitimate_interests_only(client, org):
    a = asset(client, org)
    made = cp(client, org, a["id"], purposes=[{"id": "li", "name": "LI", "is_legitimate": True}],
              banner_settings={"general_notice_template": "notice_only"})
    assert made.status_code == 201
    other = cp(client, org, a["id"]).json
    r = client.patch(f"{ADMIN}/collection-points/{other['id']}", headers=org.headers(),
                     json={"banner_settings": {"general_notice_template": "notice_only"}})
    assert (r.status_code, r.json) == (422, invalid(
        "the notice_only template is for collection points whose purposes are all legitimate "
        "interests"))


# -- the CLI ---------------------------------------------------------------------------------------

def test_cli_manages_banners(runner, org):
    out = runner.invoke(args=["truconsent", "asset", "create", "--org", "acme", "--name", "App",
                              "--type", "mobile_app", "--origin", "https://a.example",
                              "--origin", "http://localhost:*"])
    assert out.exit_code == 0, out.output
    made = json.loads(out.output)
    assert made["allowed_origins"] == ["https://a.example", "http://localhost:*"]
    out = runner.invoke(args=["truconsent", "asset", "origins", "--org", "acme", "AS001",
                              "--default"])
    assert out.exit_code == 0 and json.loads(out.output)["allowed_origins"] is None
    out = runner.invoke(args=["truconsent", "asset", "origins", "--org", "acme", "AS001"])
    assert out.exit_code == 1 and "give --origin" in out.output
    out = runner.invoke(args=["truconsent", "asset", "list", "--org", "acme"])
    assert out.output == f"AS001\t{made['id']}\tApp\t(default)\n"
    purposes = json.dumps([{"id": "m", "name": "Mandatory", "is_mandatory": True,
                            "expiry_period": "1 year"}, {"name": "Notice",
                                                         "is_legitimate": True}])
    out = runner.invoke(args=["truconsent", "cp", "create", "--org", "acme", "--asset", "AS001",
                              "--title", "T", "--notice", "N", "--purposes-json", purposes,
                              "--settings-json", '{"banner_title": "Hello"}'])
    assert out.exit_code == 0, out.output
    created = json.loads(out.output)
    assert (created["purposes"][0]["is_mandatory"], created["purposes"][0]["expiry_period"],
            created["purposes"][1]["is_legitimate"], created["banner_settings"]) == (
        True, "1 year", True, {"banner_title": "Hello"})
    out = runner.invoke(args=["truconsent", "cp", "banner", "--org", "acme", "CP001",
                              "--settings-json", '{"primary_color": "#000"}',
                              "--consent-type", "general"])
    assert out.exit_code == 0, out.output
    assert (json.loads(out.output)["banner_settings"], json.loads(out.output)["consent_type"]) == (
        {"primary_color": "#000"}, "general")
    bad = runner.invoke(args=["truconsent", "cp", "banner", "--org", "acme", "CP001",
                              "--settings-json", '{"primary_color": "black"}'])
    assert bad.exit_code == 1 and "Not a hex colour" in bad.output
    bad = runner.invoke(args=["truconsent", "cp", "create", "--org", "acme", "--asset", "AS001",
                              "--title", "T", "--notice", "N", "--purposes-json", "[{"])
    assert bad.exit_code == 1 and "--purposes-json is not JSON" in bad.output


# -- the public API --------------------------------------------------------------------------------

def test_public_assets_and_collection_points(client, org, other_org):
    first = asset(client, org, asset_type="website", allowed_origins=["https://a.example"])
    second = asset(client, org)
    assert cp(client, org, second["id"], banner_settings={"banner_title": "B"}).status_code == 201
    make_cp(other_org.org, title="zz-other")
    h = org.headers(org.consent_key)
    page = client.get(f"{PUBLIC}/assets?limit=1&offset=1", headers=h).json
    assert page == {"total": 2, "limit": 1, "offset": 1, "items": [{
        "id": second["id"], "display_id": "AS002", "name": "App", "asset_type": None,
        "description": None, "allowed_origins": None, "created_at": second["created_at"]}]}
    one = client.get(f"{PUBLIC}/assets/AS001", headers=h)
    assert one.status_code == 200 and one.json == {k: first[k] for k in one.json}
    assert client.get(f"{PUBLIC}/assets/{first['id']}", headers=h).json["display_id"] == "AS001"
    r = client.get(f"{PUBLIC}/assets/AS404", headers=h)
    assert (r.status_code, r.json) == (404, {"detail": "Asset not found"})
    points = client.get(f"{PUBLIC}/collection-points?asset_id=AS002", headers=h).json
    [item] = points["items"]
    assert points["total"] == 1 and item["display_id"] == "CP001"
    assert item["purposes"] == [{"id": "p1", "name": "One", "description": "", "version": "1",
                                 **EMPTY_PURPOSE}]
    assert (item["banner_settings"], item["consent_type"], item["asset_id"]) == (
        {"banner_title": "B"}, "standard_consent", second["id"])
    assert client.get(f"{PUBLIC}/collection-points?asset_id=AS001",
                      headers=h).json["total"] == 0
    everything = client.get(f"{PUBLIC}/collection-points", headers=h).json
    assert everything["total"] == 1 and "zz-other" not in json.dumps(everything)
    r = client.get(f"{PUBLIC}/collection-points?asset_id=nope", headers=h)
    assert (r.status_code, r.json) == (404, {"detail": "Asset not found"})
    r = client.get(f"{PUBLIC}/assets?limit=0", headers=h)
    assert r.status_code == 422 and r.json["detail"][0]["loc"] == ["query", "limit"]


# -- the data principal timeline ---------------------------------------------------------------------

def test_dp_timeline(client, org):
    cpf = make_cp(org.org)
    marketing, analytics = cpf.purpose_ids
    h = org.headers(org.consent_key)
    r = client.post("/api/v1/external/consents/record", headers=h, json={
        "userId": "anon-1", "action": "approved", "collectionPointId": "CP001",
        "requestId": "req-1", "purposes": [{"id": marketing}, {"id": analytics}]})
    assert r.status_code == 200
    granted = r.json["consent_logs"][0]["id"]
    client.post("/api/v1/external/consents/map-user", headers=org.headers(), json={
        "anonymousId": "anon-1", "authenticatedUserId": "user-1", "metadata": {"via": "login"}})
    assert client.post(f"/ledger/v1/consents/{granted}/withdraw", headers=org.headers(),
                       json={}).status_code == 201
    assert client.post("/api/v1/internal/consent/suppression", headers=h, json={
        "userId": "user-1", "declinedPurposeIds": [marketing]}).status_code == 200
    body = client.get("/api/v1/external/consents/dp-timeline?user_id=user-1", headers=h).json
    assert (body["dp_id"], body["total"], body["limit"], body["offset"]) == ("user-1", 7, 100, 0)
    steps = [(e["event"], e["purpose_id"], e["status"], e["source"]) for e in body["items"]]
    assert steps == [
        ("recorded", marketing, "granted", "api"), ("recorded", analytics, "granted", "api"),
        ("mapped", marketing, "granted", "api"), ("mapped", analytics, "granted", "api"),
        ("recorded", marketing, "withdrawn", "ledger"),
        ("withdrawn", marketing, "granted", "api"),
        ("suppressed", marketing, None, "sdk")]
    first = body["items"][0]
    assert first == {"at": first["at"], "event": "recorded", "consent_log_id": granted,
                     "purpose_id": marketing, "purpose_name": "Marketing messages",
                     "status": "granted", "action": "approved",
                     "collection_point_id": cpf.cp.id, "collection_point_display_id": "CP001",
                     "source": "api", "request_id": "req-1", "data": {
                         "dp_id": "user-1", "recorded_dp_id": "anon-1",
                         "valid_from": first["at"], "valid_until": None, "metadata": None}}
    assert body["items"][2]["data"] == {"from": "anon-1", "to": "user-1",
                                        "metadata": {"via": "login"}}
    assert [e["at"] for e in body["items"]] == sorted(e["at"] for e in body["items"])
    # The anonymous id keeps what was recorded under it.
    anon = client.get("/api/v1/external/consents/dp-timeline?user_id=anon-1", headers=h).json
    assert [e["event"] for e in anon["items"]] == ["recorded", "recorded", "mapped", "mapped",
                                                  "withdrawn"]
    page = client.get("/api/v1/external/consents/dp-timeline?user_id=user-1&limit=2&offset=5",
                      headers=h).json
    assert [e["event"] for e in page["items"]] == ["withdrawn", "suppressed"]
    none = client.get("/api/v1/external/consents/dp-timeline?user_id=nobody", headers=h).json
    assert none == {"dp_id": "nobody", "total": 0, "limit": 100, "offset": 0, "items": []}
    r = client.get("/api/v1/external/consents/dp-timeline", headers=h)
    assert (r.status_code, r.json) == (422, {"detail": [{
        "loc": ["query", "user_id"], "msg": "Field required", "type": "missing"}]})


# -- migration 2 -------------------------------------------------------------------------------------

NEW_COLUMNS = {"truconsent_asset": ("asset_type", "description", "allowed_origins"),
               "truconsent_collection_point": ("consent_type", "settings"),
               "truconsent_log": ("consented",)}


def test_a_version_1_database_migrates_to_banners(client, org):
    """The truconsent component at version 1 (its tables without the banner columns, no
    suppression table): migration 2 adds them and keeps every row; the banner then works."""
    cpf = make_cp(org.org)
    r = client.post("/api/v1/external/consents/record", headers=org.headers(org.consent_key),
                    json={"userId": "u", "action": "approved", "collectionPointId": "CP001",
                          "purposes": [{"id": cpf.purpose_ids[0]}]})
    assert r.status_code == 200
    db = storage.db
    old_purposes = [{k: p[k] for k in ("id", "name", "description", "version")}
                    for p in cpf.cp.purposes]  # as version 1 kept them
    TcCollectionPoint.update(purposes=old_purposes).execute()
    for table, columns in NEW_COLUMNS.items():
        for column in columns:
            db.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    db.execute_sql('DROP TABLE "truconsent_suppression"')
    for table in ("truconsent_asset", "truconsent_collection_point", "truconsent_request",
                  "truconsent_link_event", "truconsent_log"):   # not covered yet (migration 3)
        db.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "audit_seq"')
    # and a log's consent_seq had its old name (migration 4)
    db.execute_sql('ALTER TABLE "truconsent_log" RENAME COLUMN "consent_seq" TO "consent_id"')
    # nor was personal data erasable (migration 5)
    db.execute_sql('DROP INDEX "truconsent_request_org_id_subject_id"')
    for table, column in (("truconsent_request", "subject_id"), ("truconsent_request", "pd_salt"),
                          ("truconsent_log", "pd_salt")):
        db.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    db.execute_sql('DROP TABLE "truconsent_personal_ref"')
    db.execute_sql('DELETE FROM "schema_migration" WHERE "component" = ?'.replace(
        "?", "%s" if storage.is_postgres() else "?"), ("truconsent",))
    migrate.SchemaMigration.create(component="truconsent", version=1, description="baseline")
    latest = SCHEMA.latest   # 6: 5 personal data erasable, 6 the rights center
    assert f"truconsent 1 < {latest}" in migrate.problem()
    applied = migrate.upgrade()
    assert [(a.component, a.version) for a in applied] == [
        ("truconsent", v) for v in range(2, latest + 1)]
    assert migrate.problem() is None
    assert "consent_seq" in {c.name for c in db.get_columns("truconsent_log")}
    for table, columns in NEW_COLUMNS.items():
        assert set(columns) <= {c.name for c in db.get_columns(table)}
    assert "truconsent_suppression" in db.get_tables()
    h = org.headers(org.consent_key)
    banner = client.get(f"/api/v1/internal/consent/{cpf.asset.id}/CP001?userId=u", headers=h)
    assert banner.status_code == 200, banner.json
    assert (banner.json["consent_type"], banner.json["banner_settings"],
            [p["consented"] for p in banner.json["purposes"]]) == (
        "standard_consent", {}, ["accepted", "pending"])
    assert banner.json["purposes"][0]["is_mandatory"] is False
    assert Consent.select().count() == 1
    assert client.post("/api/v1/internal/consent/suppression", headers=h, json={
        "userId": "u", "declinedPurposeIds": [cpf.purpose_ids[1]]}).status_code == 200
    # A collection point from before keeps its purposes as they were and gets a banner.
    r = client.patch(f"{ADMIN}/collection-points/CP001", headers=org.headers(),
                     json={"banner_settings": {"general_notice_template": "notice_only"}})
    assert r.status_code == 422
    r = client.patch(f"{ADMIN}/collection-points/CP001", headers=org.headers(),
                     json={"banner_settings": {"banner_title": "Hello"}})
    assert r.status_code == 200 and r.json["banner_settings"] == {"banner_title": "Hello"}
    assert r.json["purposes"] == old_purposes
