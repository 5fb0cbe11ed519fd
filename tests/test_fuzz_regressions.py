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
