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
