"""Every field Avacy's clients send is stored or refused, never ignored: one row per field of seed
002 (the documented request, JSON, to ``domains_groups``) and of what Avacy's WordPress plugin
(jump-group/avacy-wp) sends, form-encoded by PHP's ``http_build_query``: its earlier
FormSubmission (subject, identifier, ip_address, proofs, legal_notices, preferences; to ``v2``)
and its v4 FormSubmission::getPayload (ip_address, consent_type, optin, consent_data,
identifier, source, consent_features, html_form or proofs, versions). Each row sends a body with
that field set to a marker and reads the marker back from where the table says it is kept.

Avacy's API is a Laravel application: fields no client sends are ignored there as here (its
validator passes only the rules' keys on); no client of this table sends one.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable

import pytest

from consent.core.storage import Consent, Notice
from consent.dialects.avacy.models import AvacyConsent, AvacyDecision
from tests.avacy_helpers import DOCUMENTED, Tenant, plugin_body


@pytest.fixture
def tenant(org):
    return Tenant(org.org)


@dataclass(frozen=True)
class Field:
    source: str
    path: str               # dotted; list items by index
    value: object
    kept: str
    read: Callable          # (entry) -> what is stored there
    expect: object = None   # default: the marker


def _entry() -> AvacyConsent:
    return AvacyConsent.get()


def _decisions() -> list:
    return list(AvacyDecision.select().order_by(AvacyDecision.consent))


def _consents() -> list:
    return list(Consent.select().order_by(Consent.seq))


V2 = {"subject": {"your-name": "Mario Rossi", "your-email": "mario@example.it"},
      "identifier": "your-email", "ip_address": "203.0.113.7",
      "proofs": '"[text* your-name] [email* your-email]"',
      "legal_notices": [{"name": "privacy_policy"}, {"name": "cookie_policy"}],
      "preferences": [{"name": "newsletter", "accepted": True},
                      {"name": "updates", "accepted": True}]}
V4 = {"ip_address": "203.0.113.7", "consent_type": "form", "optin": "accepted",
      "consent_data": [{"label": "your-email", "value": "mario@example.it"}],
      "identifier": "mario@example.it", "source": "plugin",
      "consent_features": ["privacy_policy", "cookie_policy"],
      "html_form": "<form>x</form>",
      "versions": [{"slug": "privacy_policy", "link": "https://shop.example.it/privacy/",
                    "date": "2024-05-01 10:00:00"}]}

DOCUMENTED_FIELDS = [
    Field("seed 002", "subject.email", "zmarker@example.it",
          "avacy_consent.request.subject.email (and avacy_consent.identifier)",
          lambda e: (e.request["subject"]["email"], e.identifier),
          ("zmarker@example.it", "zmarker@example.it")),
    Field("seed 002", "subject.first_name", "Zmarkerfirst",
          "avacy_consent.request.subject.first_name",
          lambda e: e.request["subject"]["first_name"]),
    Field("seed 002", "subject.last_name", "Zmarkerlast",
          "avacy_consent.request.subject.last_name",
          lambda e: e.request["subject"]["last_name"]),
    Field("seed 002", "subject.age", 77, "avacy_consent.request.subject.age",
          lambda e: e.request["subject"]["age"]),
    Field("seed 002", "subject.address", "1 Zmarker Street",
          "avacy_consent.request.subject.address", lambda e: e.request["subject"]["address"]),
    Field("seed 002", "identifier", "first_name",
          "avacy_consent.request.identifier; the value it names: avacy_consent.identifier and "
          "every decision's subject",
          lambda e: (e.request["identifier"], e.identifier, _consents()[0].subject.identifier),
          ("first_name", "Mario", "Mario")),
    Field("seed 002", "ip_address", "198.51.100.77",
          "avacy_consent.ip_address (and every decision's evidence)",
          lambda e: (e.ip_address, _consents()[0].evidence["ip_address"]),
          ("198.51.100.77", "198.51.100.77")),
    Field("seed 002", "proofs", "  <html><p>zmarker proof</p></html>\n",
          "avacy_consent.proofs (byte for byte; its SHA-256 in the evidence)",
          lambda e: e.proofs),
    Field("seed 002", "legal_notices.0.name", "zmarker_policy",
          "avacy_consent.request.legal_notices, the decisions' evidence, a ledger notice",
          lambda e: (e.request["legal_notices"][0]["name"],
                     _consents()[0].evidence["legal_notices"][0]["name"],
                     Notice.get(Notice.code == "zmarker_policy").code),
          ("zmarker_policy",) * 3),
    Field("seed 002", "preferences.0.name", "zmarker_pref",
          "avacy_decision.name and the decision's purpose",
          lambda e: (_decisions()[0].name, _consents()[0].purpose.code),
          ("zmarker_pref", "zmarker_pref")),
    Field("seed 002", "preferences.0.accepted", False,
          "avacy_decision.accepted and the decision's status",
          lambda e: (_decisions()[0].accepted, _consents()[0].status), (False, "denied")),
]

V2_FIELDS = [
    Field("plugin v2", "subject.zmarker-field", "zmarker value",
          "avacy_consent.request.subject.<field>",
          lambda e: e.request["subject"]["zmarker-field"]),
    Field("plugin v2", "identifier", "your-name",
          "avacy_consent.request.identifier; the value it names: avacy_consent.identifier",
          lambda e: (e.request["identifier"], e.identifier), ("your-name", "Mario Rossi")),
    Field("plugin v2", "ip_address", "198.51.100.78", "avacy_consent.ip_address",
          lambda e: e.ip_address),
    Field("plugin v2", "proofs", '"[zmarker-form] ~ 100%"', "avacy_consent.proofs",
          lambda e: e.proofs),
    Field("plugin v2", "legal_notices.1.name", "zmarker_cookies",
          "avacy_consent.request.legal_notices",
          lambda e: e.request["legal_notices"][1]["name"]),
    Field("plugin v2", "preferences.1.name", "zmarker_updates", "avacy_decision.name",
          lambda e: _decisions()[1].name),
    Field("plugin v2", "preferences.1.accepted", False, "avacy_decision.accepted",
          lambda e: _decisions()[1].accepted),
]

V4_FIELDS = [
    Field("plugin v4", "ip_address", "198.51.100.79",
          "avacy_consent.ip_address (and every decision's evidence)", lambda e: e.ip_address),
    Field("plugin v4", "consent_type", "banner", "avacy_consent.request.consent_type",
          lambda e: e.request["consent_type"]),
    Field("plugin v4", "optin", "rejected",
          "avacy_consent.request.optin (and every decision's status)",
          lambda e: (e.request["optin"], {c.status for c in _consents()}),
          ("rejected", {"denied"})),
    Field("plugin v4", "consent_data.0.label", "zmarker-label",
          "avacy_consent.request.consent_data", lambda e: e.request["consent_data"][0]["label"]),
    Field("plugin v4", "consent_data.0.value", "zmarker value",
          "avacy_consent.request.consent_data", lambda e: e.request["consent_data"][0]["value"]),
    Field("plugin v4", "identifier", "zmarker@example.it",
          "avacy_consent.identifier (and every decision's subject)",
          lambda e: (e.identifier, _consents()[0].subject.identifier),
          ("zmarker@example.it", "zmarker@example.it")),
    Field("plugin v4", "source", "zmarker-source", "avacy_consent.request.source",
          lambda e: e.request["source"]),
    Field("plugin v4", "consent_features.1", "zmarker_feature",
          "avacy_decision.name and the decision's purpose",
          lambda e: (_decisions()[1].name, _consents()[1].purpose.code),
          ("zmarker_feature", "zmarker_feature")),
    Field("plugin v4", "html_form", '<form id="zmarker">&amp; ~</form>',
          "avacy_consent.proofs (byte for byte)", lambda e: e.proofs),
    Field("plugin v4", "versions.0.slug", "zmarker_policy",
          "avacy_consent.versions (as sent), the decisions' notices, a ledger notice",
          lambda e: (e.versions[0]["slug"], _consents()[0].evidence["legal_notices"][0]["name"],
                     Notice.get(Notice.code == "zmarker_policy").current_version),
          ("zmarker_policy", "zmarker_policy", "2024-05-01 10:00:00")),
    Field("plugin v4", "versions.0.link", "https://zmarker.example/privacy?v=2",
          "avacy_consent.versions (as sent) and the decisions' evidence",
          lambda e: (e.versions[0]["link"], _consents()[0].evidence["legal_notices"][0]["link"]),
          ("https://zmarker.example/privacy?v=2",) * 2),
    Field("plugin v4", "versions.0.date", "2099-12-31 23:59:59",
          "avacy_consent.versions (as sent), the decisions' notice version",
          lambda e: (e.versions[0]["date"], _consents()[0].evidence["legal_notices"][0]["version"],
                     Notice.get(Notice.code == "privacy_policy").current_version),
          ("2099-12-31 23:59:59",) * 3),
]
# Releases of the plugin whose getPayload names the form's HTML ``proofs``.
V4_PROOFS = Field("plugin v4 (proofs)", "proofs", "<form>zmarker proofs</form>",
                  "avacy_consent.proofs (byte for byte)", lambda e: e.proofs)


def _set(body: dict, path: str, value) -> dict:
    body = copy.deepcopy(body)
    *parents, last = path.split(".")
    node = body
    for name in parents:
        node = node[int(name)] if isinstance(node, list) else node.setdefault(name, {})
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return body


def _check(field, response):
    assert response.status_code == 201, response.json
    assert AvacyConsent.select().count() == 1
    expect = field.expect if field.expect is not None else field.value
    assert field.read(_entry()) == expect, field.kept


@pytest.mark.parametrize("field", DOCUMENTED_FIELDS, ids=lambda f: f.path)
def test_documented_request_fields_are_kept(client, tenant, field):
    _check(field, tenant.post_json(client, "domains_groups",
                                   _set(DOCUMENTED, field.path, field.value)))


@pytest.mark.parametrize("field", V2_FIELDS, ids=lambda f: f.path)
def test_plugin_v2_fields_are_kept(client, tenant, field):
    body = plugin_body(_set(V2, field.path, field.value))
    _check(field, tenant.post_form(client, "v2", body))


@pytest.mark.parametrize("field", V4_FIELDS + [V4_PROOFS], ids=lambda f: f.source + f.path)
def test_plugin_v4_fields_are_kept(client, tenant, field):
    base = V4 if field is not V4_PROOFS else {k: v for k, v in V4.items() if k != "html_form"}
    body = plugin_body(_set(base, field.path, field.value))
    _check(field, tenant.post_form(client, "v4", body))


def test_the_table_covers_every_field_of_the_schemas():
    from schemas import avacy

    def paths(schema):
        out = set()
        for name, f in schema().fields.items():
            inner = getattr(getattr(f, "inner", None), "nested", None) or getattr(f, "nested",
                                                                                  None)
            if isinstance(inner, type):
                out |= {f"{name}.{sub}" for sub in paths(inner)}
            else:
                out.add(name)
        return out

    def generic(path):  # legal_notices.0.name -> legal_notices.name
        return ".".join(p for p in path.split(".") if not p.isdigit())

    documented = {generic(f.path) for f in DOCUMENTED_FIELDS}
    assert paths(avacy.DomainsGroupConsentSchema) <= documented
    v4 = {generic(f.path) for f in V4_FIELDS + [V4_PROOFS]}
    assert paths(avacy.WebspaceV4ConsentSchema) <= v4
    v2 = {generic(f.path).split(".")[0] for f in V2_FIELDS}
    assert {p.split(".")[0] for p in paths(avacy.WebspaceV2ConsentSchema)} <= v2
