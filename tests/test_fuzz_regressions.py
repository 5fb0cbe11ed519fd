"""Inputs schemathesis found (tests/test_fuzz.py, make fuzz), each kept as a plain test."""
from __future__ import annotations

from urllib.parse import quote

import pytest


@pytest.mark.parametrize("subject", ["a\nb", "\U0006b6ea?Dd\xf9\xde\n\xbd", "/leading-slash",
                                     "a//b", "a/state", "?x"])
def test_state_of_any_recorded_subject_is_reachable(client, org, subject):
    """A subject with a line break (Werkzeug's path converter stopped there: 404, undocumented),
    or starting with a slash or holding two (a 308 redirect), has its state at its URL."""
    r = client.post("/ledger/v1/consents", headers=org.headers(),
                    json={"subject": subject, "purpose": "p", "status": "granted"})
    assert r.status_code == 201, r.json
    r = client.get(f"/ledger/v1/subjects/{quote(subject, safe='')}/state", headers=org.headers())
    assert r.status_code == 200, r.get_data()
    assert r.json["subject"] == subject
    assert [p["purpose"] for p in r.json["purposes"]] == ["p"]


@pytest.mark.parametrize("subject", ["%0A", "%20", "x" * 256])
def test_blank_or_long_subject_state_is_a_documented_422(client, org, subject):
    """422 (blank or over 255 characters) is in the document (the contract client checks it)."""
    r = client.get(f"/ledger/v1/subjects/{subject}/state", headers=org.headers())
    assert r.status_code == 422
    assert r.json["code"] == 422


@pytest.mark.parametrize("path", ["/ledger/v1/audit/verifications/188853676351482294907699200",
                                  "/ledger/v1/webhooks/188853676351482294907699200",
                                  "/ledger/v1/webhooks/9223372036854775808"])
def test_ids_beyond_64_bits_in_the_path_are_404(client, org, path):
    """An integer id past 2**63 - 1 was handed to the database (500); now it matches nothing."""
    r = client.get(path, headers=org.headers())
    assert r.status_code == 404 and r.json["code"] == 404


def test_replay_of_an_id_beyond_64_bits_is_404(client, org):
    r = client.post("/ledger/v1/webhooks/188853676351482294907699200/replay",
                    headers=org.headers())
    assert r.status_code == 404 and r.json["code"] == 404


def test_idempotency_key_longer_than_documented_is_422(client, org):
    """The document says maxLength 255; a longer key reached the 255-wide column (PostgreSQL: a
    500) and now is a 422, on every database."""
    body = {"subject": "s", "purpose": "p", "status": "granted"}
    r = client.post("/ledger/v1/consents", json=body,
                    headers=org.headers(**{"Idempotency-Key": "k" * 256}))
    assert r.status_code == 422 and "idempotency key" in r.json["message"]
    r = client.post("/ledger/v1/consents", json=body,
                    headers=org.headers(**{"Idempotency-Key": "k" * 255}))
    assert r.status_code == 201


def _nul_answer(status_on_sqlite_ok: set, response, database_url: str, on_postgresql=422):
    if database_url.startswith("postgresql"):
        assert response.status_code == on_postgresql, response.get_data()
    else:
        assert response.status_code in status_on_sqlite_ok, response.get_data()


def test_nul_characters_never_reach_postgresql_as_a_500(client, org, database_url):
    """PostgreSQL's text holds no NUL (psycopg2 raised a bare ValueError: a 500 in truConsent's
    record, collection points, and the ledger's list filters). On PostgreSQL any value with one
    is a 422 in the dialect's shape; SQLite stores it."""
    from tests.truconsent_helpers import make_cp

    cpf = make_cp(org.org)
    r = client.post("/api/v1/external/consents/record", headers=org.headers(org.consent_key),
                    json={"userId": "u", "action": "approved",
                          "purposes": [{"id": "p\u0000x"}]})
    _nul_answer({200, 404, 422}, r, database_url)
    # a subject is looked up by its keyed hash: no NUL reaches the database in a read, on
    # either backend (nobody has it); a NUL in a subject written is refused by PostgreSQL
    r = client.get("/ledger/v1/consents?subject=a%00b", headers=org.headers())
    assert (r.status_code, r.json["items"]) == (200, [])
    r = client.post("/ledger/v1/consents", headers=org.headers(),
                    json={"subject": "a\u0000b", "purpose": "p", "status": "granted"})
    _nul_answer({201}, r, database_url)
    r = client.get("/ledger/v1/webhooks?reference=a%00b", headers=org.headers())
    _nul_answer({200}, r, database_url)
    r = client.post("/ledger/v1/truconsent/collection-points", headers=org.headers(),
                    json={"asset_id": cpf.asset.id, "title": "t\u0000", "notice_text": "n",
                          "purposes": [{"name": "n", "description": "d"}]})
    _nul_answer({201}, r, database_url)


def test_nul_characters_on_postgresql_get_the_dialects_own_validation_status(client, org,
                                                                          database_url):
    """Veriff and Attestr answer invalid input with 400 in their own shapes: so does a NUL
    that only PostgreSQL refuses."""
    import json

    from consent.dialects.veriff.service import create_integration
    from tests.veriff_helpers import sign

    integration = create_integration(org.org)
    raw = json.dumps({"verification": {"vendorData": "a\u0000b"}}).encode()
    r = client.post("/v1/sessions", data=raw, headers={
        "X-AUTH-CLIENT": integration.key, "Content-Type": "application/json",
        "X-HMAC-SIGNATURE": sign(integration.shared_secret, raw)})
    _nul_answer({201}, r, database_url, on_postgresql=400)
    if database_url.startswith("postgresql"):
        assert r.json["status"] == "fail"

