"""Every field of seed 003 (Attestr's ``POST /api/v3/public/consent/register``) is stored or
refused, never ignored: one row per documented field (and the service object's and data category
object's fields). Each row registers a consent with that field set to a marker and reads it back
from where the table says it is kept; any field Attestr does not document is refused (400 4001
naming it). Every field is also kept in ``attestr_consent.data`` exactly as provided and, in
normalised form, in the ledger consent's evidence (checked for every row)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

import pytest

from consent.core.storage import Consent
from consent.core.usage import ConsentTerms
from consent.dialects.attestr.models import AttestrConsent
from tests.attestr_helpers import MALFORMED, Client, body, iso


@pytest.fixture
def attestr(org):
    return Client(org.org, services=("BANK_ACC", "PAN"))


@dataclass(frozen=True)
class Field:
    path: str
    value: object
    kept: str
    read: Callable | None = None   # (attestr row, ledger consent) -> what is stored there
    expect: object = None


FROM = dt.datetime(2031, 1, 2, 3, 4, 5)
TILL = dt.datetime(2031, 2, 3, 4, 5, 6)


def _terms(c):
    return ConsentTerms.get(ConsentTerms.consent == c.id)


FIELDS = [
    Field("consentPurpose", "background_verification",
          "consent.purpose (attestr:<purpose>:<_id>) and its name",
          lambda a, c: (c.purpose.name, c.purpose.code.split(":")[1]),
          ("background_verification",) * 2),
    Field("consentPurposeDesc", "Zmarker purpose description", "consent.evidence.attestr"),
    Field("services.0.service", "PAN", "consent.evidence.attestr.services",
          lambda a, c: c.evidence["attestr"]["services"][0]["service"]),
    Field("services.0.options", {"zmarker": "option"}, "consent.evidence.attestr.services",
          lambda a, c: c.evidence["attestr"]["services"][0]["options"]),
    Field("consentDataCategories.0.category", "financial",
          "consent.evidence.attestr.consentDataCategories",
          lambda a, c: c.evidence["attestr"]["consentDataCategories"][0]["category"]),
    Field("consentDataCategories.0.values", ["ifsc"],
          "consent.evidence.attestr.consentDataCategories",
          lambda a, c: c.evidence["attestr"]["consentDataCategories"][0]["values"]),
    Field("consentType", "single_use",
          "attestr_consent.single_use and consent_terms.single_use",
          lambda a, c: (a.single_use, _terms(c).single_use), (True, True)),
    Field("consentMode", "digilocker", "consent.evidence.attestr.consentMode"),
    Field("consentModeDesc", "Zmarker mode description", "consent.evidence.attestr"),
    Field("consentTimestamp", "2030-12-31T23:00:00+0000", "consent.evidence.attestr",
          lambda a, c: c.evidence["attestr"]["consentTimestamp"], "2030-12-31T23:00:00"),
    Field("consentValidFrom", iso(FROM),
          "consent.valid_from and attestr_consent.valid_from",
          lambda a, c: (c.valid_from, a.valid_from), (FROM, FROM)),
    Field("consentValidTill", iso(TILL),
          "consent.valid_until and attestr_consent.valid_till",
          lambda a, c: (c.valid_until, a.valid_till), (TILL, TILL)),
    Field("consentReferenceId", "zmarker-ref-1", "attestr_consent.reference_id",
          lambda a, c: a.reference_id),
    Field("consentPrincipalUserId", "ZMARKER#7", "consent.subject",
          lambda a, c: c.subject.identifier),
    Field("clientPrivacyPolicyUrl", "https://zmarker.example/privacy",
          "consent.evidence.attestr"),
    Field("clientPrivacyPolicyVersion", "zmarker-v9", "consent.notice_version",
          lambda a, c: c.notice_version),
    Field("clientDeclaration", True, "consent.evidence.attestr.clientDeclaration"),
    Field("clientObtainedBy", "zmarker-app", "consent.evidence.attestr.clientObtainedBy"),
    Field("consentOperations", ["EXPORT", "SHARE"], "consent_terms.operations",
          lambda a, c: _terms(c).operations),
    Field("webhook", True, "attestr_consent.webhook", lambda a, c: a.webhook),
    Field("zmarkerUnknown", "x", "refused with 400 4001"),
    Field("services.0.zmarkerUnknown", "x", "refused with 400 4001"),
    Field("consentDataCategories.0.zmarkerUnknown", "x", "refused with 400 4001"),
]


def _set(sent: dict, path: str, value) -> dict:
    *parents, last = path.split(".")
    node = sent
    for name in parents:
        node = node[int(name)] if isinstance(node, list) else node[name]
    node[last] = value
    return sent


def _get(sent: dict, path: str):
    node = sent
    for name in path.split("."):
        node = node[int(name)] if isinstance(node, list) else node[name]
    return node


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f.path)
def test_every_register_field_is_kept_or_refused(client, attestr, field):
    sent = body()
    if field.path.startswith("services.0") and field.path != "services.0.zmarkerUnknown":
        sent["services"] = [{"service": "PAN"}]
        sent["consentDataCategories"] = [{"category": "identity", "values": ["pan"]}]
    if field.path == "consentDataCategories.0.values":
        sent["consentDataCategories"] = [{"category": "financial", "values": ["x"]}]
    if field.path == "consentDataCategories.0.category":
        sent["consentDataCategories"] = [{"category": "x", "values": ["ifsc"]}]
    if field.path == "consentValidFrom":
        sent["consentValidTill"] = iso(TILL)
    _set(sent, field.path, field.value)
    response = client.post("/api/v3/public/consent/register", json=sent,
                           headers=attestr.headers())
    if field.kept.startswith("refused"):
        assert response.status_code == 400
        assert response.json["code"] == 4001 and field.path in response.json["details"]
        assert {k: response.json[k] for k in MALFORMED} == MALFORMED
        assert AttestrConsent.select().count() == 0
        return
    assert response.status_code == 200, response.json
    row = AttestrConsent.get_by_id(response.json["_id"])
    consent = Consent.get(Consent.id == row.consent_id)
    # kept as provided, whatever else keeps it
    assert _get(row.data, field.path) == field.value
    assert row.data == sent
    if field.read is None:
        assert _get(consent.evidence["attestr"], field.path) == field.value
    else:
        expect = field.expect if field.expect is not None else field.value
        assert field.read(row, consent) == expect, field.kept


def test_the_table_covers_every_documented_field():
    """Seed 003's request body parameters, the service object's and the data category
    object's: each has a row."""
    seed_fields = {
        "consentPurpose", "consentPurposeDesc", "services", "consentDataCategories",
        "consentType", "consentMode", "consentModeDesc", "consentTimestamp",
        "consentValidFrom", "consentValidTill", "consentReferenceId", "consentPrincipalUserId",
        "clientPrivacyPolicyUrl", "clientPrivacyPolicyVersion", "clientDeclaration",
        "clientObtainedBy", "consentOperations", "webhook"}
    rows = {f.path.split(".")[0] for f in FIELDS}
    assert seed_fields <= rows
    assert {"services.0.service", "services.0.options", "consentDataCategories.0.category",
            "consentDataCategories.0.values"} <= {f.path for f in FIELDS}
    from schemas.attestr import AttestrRegisterSchema
    assert set(AttestrRegisterSchema().fields) == seed_fields
