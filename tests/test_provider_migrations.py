"""The providers' migration 2, from a database at version 1: Veriff (media bytes and attempts, the
session's request, watchlist screenings) and Avacy (the v4 ``versions``), then migration 3, which
covers their rows (``consent.core.covered``: attested in the shape migration 2 gave them), and
Avacy's 4 (a decision's ``consent_id`` renamed ``consent_seq``, hashed under its old name). What
version 1 wrote is kept and keeps working; what it could not know answers as documented (a file
from before is not downloadable)."""
from __future__ import annotations

import base64

import pytest

from consent.core import covered, ledger, migrate, storage
from consent.dialects.avacy import archive
from tests.avacy_helpers import DOCUMENTED, Tenant
from tests.veriff_helpers import FAIL_NOT_FOUND, JPEG, Integration

pytestmark = pytest.mark.upgrade


def back_to_version_1() -> None:
    """Make the database what version 1 of the Veriff and Avacy components made."""
    sql = storage.db.execute_sql
    for table, column in (("veriff_media", "content"), ("veriff_media", "attempt_id"),
                          ("veriff_session_state", "request"), ("avacy_consent", "versions"),
                          ("avacy_consent", "pd_salt")):
        sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    sql('DROP TABLE "veriff_screening"')
    # nor was the state's status indexed (migration 4: the expiry sweep)
    sql('DROP INDEX "veriff_session_state_status"')
    # nor were their rows covered yet (migration 3)
    for cov in covered.tables():
        if cov.table.startswith(("veriff_", "avacy_")) and cov.table != "veriff_screening":
            sql(f'ALTER TABLE "{cov.table}" DROP COLUMN "{covered.POINTER}"')
    sql('ALTER TABLE "veriff_session_state" DROP COLUMN "pd_salt"')
    # nor were sessions found by their subject's lookup, nor salted (migration 5)
    sql('DROP INDEX "veriff_session_org_id_subject_lookup"')
    for column in ("subject_lookup", "pd_salt"):
        sql(f'ALTER TABLE "veriff_session" DROP COLUMN "{column}"')
    # and a decision's consent_seq had its old name (migration 4)
    sql('ALTER TABLE "avacy_decision" RENAME COLUMN "consent_seq" TO "consent_id"')
    sql('UPDATE "schema_migration" SET "version" = 1 WHERE "component" IN (?, ?)'.replace(
        "?", "%s" if storage.is_postgres() else "?"), ("veriff", "avacy"))


def columns(table: str) -> set[str]:
    return {c.name for c in storage.db.get_columns(table)}


def test_version_1_databases_get_migration_2_and_keep_their_data(app, client, org):
    integ, tenant = Integration(org.org), Tenant(org.org)
    sid = integ.create_session(client)
    old_media = integ.post(client, f"/v1/sessions/{sid}/media", {"image": {
        "context": "face", "content": base64.b64encode(JPEG).decode()}}).json["image"]["id"]
    entry = tenant.post_json(client, "domains_groups", DOCUMENTED).json["data"]["id"]
    back_to_version_1()
    states = {s.name: s for s in migrate.status()}
    assert states["veriff"].current == 1 and states["avacy"].current == 1
    assert states["veriff"].latest == 6 and states["avacy"].latest == 5
    assert "older than this code" in migrate.problem()
    applied = migrate.upgrade()
    assert {(a.component, a.version) for a in applied} == {
        ("veriff", 2), ("avacy", 2), ("veriff", 3), ("avacy", 3), ("avacy", 4), ("veriff", 4),
        ("avacy", 5), ("veriff", 5), ("veriff", 6)}
    assert migrate.problem() is None
    assert {"consent_seq"} == columns("avacy_decision") & {"consent_id", "consent_seq"}
    assert {"content", "attempt_id"} <= columns("veriff_media")
    assert "request" in columns("veriff_session_state")
    assert {"versions", "pd_salt"} <= columns("avacy_consent")
    assert storage.db.table_exists("veriff_screening")
    assert "veriff_session_state_status" in {
        i.name for i in storage.db.get_indexes("veriff_session_state")}
    # what version 1 kept still reads; its file was never kept, so it is not found
    listed = integ.get(client, f"/v1/sessions/{sid}/media", sid).json["images"]
    assert [m["id"] for m in listed] == [old_media]
    response = integ.get(client, f"/v1/media/{old_media}", old_media)
    assert response.status_code == 404 and response.json == FAIL_NOT_FOUND
    archived = archive.describe(archive.entry(org.org, entry))
    assert archived["intact"] is True and archived["versions"] is None
    # and the new things work on the migrated database
    new_media = integ.post(client, f"/v1/sessions/{sid}/media", {"image": {
        "context": "face", "content": base64.b64encode(JPEG).decode()}}).json["image"]["id"]
    assert integ.get(client, f"/v1/media/{new_media}", new_media).get_data() == JPEG
    r = integ.post(client, f"/v1/sessions/{sid}", {"verification": {"status": "submitted"}},
                   method="patch")
    assert r.status_code == 200
    assert integ.get(client, f"/v1/sessions/{sid}/watchlist-screening", sid).status_code == 200
    r = tenant.post_json(client, "v4", {
        "ip_address": "203.0.113.7", "consent_type": "form", "optin": "accepted",
        "identifier": "m@example.it", "consent_features": ["privacy_policy"],
        "versions": [{"slug": "privacy_policy", "date": "2024-05-01"}]})
    assert r.status_code == 201 and r.json["data"]["versions"] == [
        {"slug": "privacy_policy", "link": None, "date": "2024-05-01"}]
    # the rows version 1 wrote were attested as migration 2 left them: verify passes
    assert ledger.verify(org.org.id)["ok"]
