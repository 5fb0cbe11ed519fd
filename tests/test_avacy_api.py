"""Avacy's Consent Solution API at the HTTP level: the documented request and response, the
webspace forms (v2, v4), every error with its exact body, hostile bodies, what lands on the
ledger (decisions, notices, evidence, audit), tenants kept apart, and routes that catch nothing
of another dialect's."""
from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from consent.core import auth, ledger
from consent.core.storage import AuditEvent, Consent, Notice, NoticeVersion
from consent.dialects.avacy.models import AvacyConsent, AvacyDecision
from consent.dialects.avacy.routes import owns
from tests.avacy_helpers import DOCUMENTED, TIMESTAMP, UNAUTHENTICATED, Tenant

TENANT_NOT_FOUND = {"message": "Tenant not found."}


@pytest.fixture
def tenant(org):
    return Tenant(org.org)


def body(**changes) -> dict:
    out = json.loads(json.dumps(DOCUMENTED))
    out.update(changes)
    return out


def counts() -> tuple:
    return (AvacyConsent.select().count(), AvacyDecision.select().count(),
            Consent.select().count(), Notice.select().count())


def state(client, org, subject) -> dict:
    r = client.get(f"/ledger/v1/subjects/{subject}/state", headers=org.headers())
    assert r.status_code == 200, r.json
    return {p["purpose"]: p["status"] for p in r.json["purposes"]}


# -- POST /{tenant}/domains_groups/{id}/consents --------------------------------------------------

def test_documented_request_answers_the_documented_resource(client, tenant):
    r = tenant.post_json(client, "domains_groups", DOCUMENTED)
    assert r.status_code == 201, r.json
    data = r.json["data"]
    assert TIMESTAMP.match(data["created_at"]) and data["updated_at"] == data["created_at"]
    entry = AvacyConsent.get()
    subject = ledger.find_subject(tenant.org.id, "test@email.it")
    assert r.json == {"data": {
        "id": entry.id,
        "subject_id": subject.id,
        "domains_group_id": 1,
        "ip_address": "12.64.193.89",
        "proofs": "<html></html>",
        "legal_notices": [{"name": "privacy_policy"}, {"name": "cookie_policy"}],
        "created_at": data["created_at"],
        "updated_at": data["created_at"],
        "consent_data": [{"name": "newsletter", "accepted": True},
                         {"name": "updates", "accepted": True}],
        "subject_data": {"email": "test@email.it", "first_name": "Mario", "last_name": "Rossi",
                         "age": 33, "address": "Example Street 123", "identifier": "email"},
    }}
    assert list(data) == ["id", "subject_id", "domains_group_id", "ip_address", "proofs",
                          "legal_notices", "created_at", "updated_at", "consent_data",
                          "subject_data"]
    assert data["created_at"] == entry.created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_each_preference_is_a_ledger_decision_with_its_evidence(client, org, tenant):
    proofs = '<form><input name="email"><script>alert("x")</script></form>'
    r = tenant.post_json(client, "domains_groups", body(
        proofs=proofs, preferences=[{"name": "newsletter", "accepted": True},
                                    {"name": "profiling", "accepted": False}]))
    assert r.status_code == 201
    entry_id = r.json["data"]["id"]
    listed = client.get("/ledger/v1/consents?subject=test@email.it", headers=org.headers()).json
    decisions = {c["purpose"]: c for c in listed["items"]}
    assert {p: c["status"] for p, c in decisions.items()} == {"newsletter": "granted",
                                                             "profiling": "denied"}
    sha = hashlib.sha256(proofs.encode()).hexdigest()
    for c in decisions.values():
        assert c["source"] == "avacy"
        assert c["subject"] == "test@email.it"
        assert c["notice_version"] == "privacy_policy@1+cookie_policy@1"
        assert c["evidence"] == {
            "avacy_consent_id": entry_id, "webspace_id": 1, "channel": "domains_groups",
            "ip_address": "12.64.193.89", "proofs_sha256": sha,
            "legal_notices": [{"name": "privacy_policy", "version": "1"},
                              {"name": "cookie_policy", "version": "1"}]}
    # the legal notices are ledger notices, version 1
    assert sorted((n.code, n.current_version) for n in Notice.select()) == [
        ("cookie_policy", "1"), ("privacy_policy", "1")]
    assert NoticeVersion.select().count() == 2
    # the entry keeps the proofs byte for byte; its audit event names it and its subject (by
    # id), and records its salted hash, which covers the proofs, the IP and the identifier; no
    # personal value is in the event
    entry = AvacyConsent.get_by_id(entry_id)
    assert entry.proofs == proofs and entry.proofs_sha256 == sha and entry.pd_salt
    event = AuditEvent.get(AuditEvent.event_id == entry.audit_event_id)
    assert event.action == "avacy.consent.archived"
    assert event.payload["avacy_consent_id"] == entry_id
    assert event.payload["subject_ref"] == entry.subject_id
    assert sorted(event.payload["consents"]) == sorted(c["id"] for c in decisions.values())
    assert set(event.payload["rows"]["avacy_consent"]) == {str(entry_id)}
    text = json.dumps(event.payload)
    for value in ("12.64.193.89", sha, "test@email.it", "Mario"):
        assert value not in text
    verify = client.get("/ledger/v1/audit/verify", headers=org.headers()).json
    assert verify["ok"] is True and verify["consents_checked"] == 2


def test_the_same_person_again_adds_an_entry_and_the_latest_binds(client, org, tenant):
    first = tenant.post_json(client, "domains_groups", DOCUMENTED)
    second = tenant.post_json(client, "domains_groups", body(preferences=[
        {"name": "newsletter", "accepted": False}]))
    assert first.status_code == second.status_code == 201
    assert second.json["data"]["id"] == first.json["data"]["id"] + 1
    assert second.json["data"]["subject_id"] == first.json["data"]["subject_id"]
    assert AvacyConsent.select().count() == 2 and Consent.select().count() == 3
    assert state(client, org, "test@email.it") == {"newsletter": "denied", "updates": "granted"}
    # notices already known are not created again
    assert Notice.select().count() == 2


def test_a_longer_notice_list_is_labelled_by_its_hash(client, org, tenant):
    notices = [{"name": f"policy_number_{i}"} for i in range(6)]
    assert tenant.post_json(client, "domains_groups",
                            body(legal_notices=notices)).status_code == 201
    label = "+".join(f"policy_number_{i}@1" for i in range(6))
    assert Consent.select().first().notice_version == hashlib.sha256(label.encode()).hexdigest()


def test_legal_notices_are_optional(client, tenant):
    payload = body()
    del payload["legal_notices"]
    r = tenant.post_json(client, "domains_groups", payload)
    assert r.status_code == 201 and r.json["data"]["legal_notices"] == []
    assert Consent.select().first().notice_version is None


def test_address_is_optional_and_numbers_as_strings_are_integers(client, tenant):
    subject = {"email": " test@email.it ", "first_name": "Mario", "last_name": "Rossi",
               "age": "33"}
    r = tenant.post_json(client, "domains_groups", body(subject=subject, preferences=[
        {"name": "newsletter", "accepted": "1"}, {"name": "updates", "accepted": 0}]))
    assert r.status_code == 201, r.json
    assert r.json["data"]["subject_data"] == {"email": "test@email.it", "first_name": "Mario",
                                              "last_name": "Rossi", "age": 33,
                                              "identifier": "email"}
    assert r.json["data"]["consent_data"] == [{"name": "newsletter", "accepted": True},
                                              {"name": "updates", "accepted": False}]


def test_ipv6_and_another_identifier_field(client, org, tenant):
    r = tenant.post_json(client, "domains_groups", body(ip_address="2001:db8::1",
                                                        identifier="last_name"))
    assert r.status_code == 201
    assert state(client, org, "Rossi") == {"newsletter": "granted", "updates": "granted"}


# -- authentication and not found -----------------------------------------------------------------

@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer nonsense", "Basic abc",
                                           "Token {token}", "bearer-{token}"])
def test_missing_or_invalid_token_is_401(client, tenant, authorization):
    headers = {"Accept": "application/json"}
    if authorization:
        headers["Authorization"] = authorization.format(token=tenant.token)
    before = counts()
    r = client.post(tenant.path(), json=DOCUMENTED, headers=headers)
    assert r.status_code == 401 and r.json == UNAUTHENTICATED
    assert counts() == before


def test_token_as_x_api_key_is_not_avacys_401(client, tenant):
    r = client.post(tenant.path(), json=DOCUMENTED, headers={"X-API-Key": tenant.token})
    assert r.status_code == 401 and r.json == UNAUTHENTICATED


def test_revoked_token_is_401(client, tenant):
    cred = auth.find_credential(tenant.token)
    auth.revoke_credential(tenant.org.id, cred.id)
    r = tenant.post_json(client, "domains_groups", DOCUMENTED)
    assert r.status_code == 401 and r.json == UNAUTHENTICATED


def test_token_of_another_tenant_is_401(client, tenant, other_org):
    other = Tenant(other_org.org)
    r = tenant.post_json(client, "domains_groups", DOCUMENTED, token=other.token)
    assert r.status_code == 401 and r.json == UNAUTHENTICATED
    assert AvacyConsent.select().count() == 0


def test_a_key_without_the_consent_scope_is_403(client, tenant):
    admin_only = auth.create_credential(tenant.org.id, scopes=("admin",)).key
    r = tenant.post_json(client, "domains_groups", DOCUMENTED, token=admin_only)
    assert r.status_code == 403 and r.json == {"message": "This action is unauthorized."}


def test_unknown_tenant_is_404_after_the_token(client, tenant):
    path = "/no-such-team/domains_groups/1/consents"
    r = client.post(path, json=DOCUMENTED, headers=tenant.headers())
    assert r.status_code == 404 and r.json == TENANT_NOT_FOUND
    r = client.post(path, json=DOCUMENTED)
    assert r.status_code == 401 and r.json == UNAUTHENTICATED
    for path in ("/no-such-team/v2/webspaces/1/consents", "/no-such-team/v4/webspaces/1/consents"):
        r = client.post(path, json={}, headers=tenant.headers())
        assert r.status_code == 404 and r.json == TENANT_NOT_FOUND


def test_unknown_domains_group_or_webspace_is_404_and_writes_nothing(client, tenant):
    before = counts()
    r = client.post(tenant.path("domains_groups", 2), json=DOCUMENTED, headers=tenant.headers())
    assert r.status_code == 404 and r.json == {"message": "Domains group not found."}
    for channel in ("v2", "v4"):
        r = client.post(tenant.path(channel, 7), json={}, headers=tenant.headers())
        assert r.status_code == 404 and r.json == {"message": "Webspace not found."}
    assert counts() == before


def test_another_tenants_webspace_number_is_not_found(client, tenant, other_org):
    other = Tenant(other_org.org)
    archive_two = other.webspace.number  # both have webspace 1; tenant has no webspace 2
    assert archive_two == 1
    from consent.dialects.avacy import archive
    archive.create_webspace(other_org.org, "second")
    r = client.post(tenant.path("domains_groups", 2), json=DOCUMENTED, headers=tenant.headers())
    assert r.status_code == 404 and r.json == {"message": "Domains group not found."}


def test_unmatched_urls_answer_in_avacys_shape_after_the_token(client, tenant):
    r = client.post(f"/{tenant.slug}/domains_groups/1/other", headers=tenant.headers())
    assert r.status_code == 404
    assert r.json == {"message": f"The route {tenant.slug}/domains_groups/1/other could not be "
                                 "found."}
    assert client.post(f"/{tenant.slug}/domains_groups/1/other").json == UNAUTHENTICATED
    huge = f"/{tenant.slug}/domains_groups/{2 ** 63}/consents"
    r = client.post(huge, json=DOCUMENTED, headers=tenant.headers())
    assert r.status_code == 404 and r.json["message"].startswith("The route ")
    r = client.post(f"/{tenant.slug}/v4/webspaces/abc/consents", headers=tenant.headers())
    assert r.status_code == 404 and r.json["message"].startswith("The route ")


@pytest.mark.parametrize("rest", ["v3/webspaces/1/consents", "v4/other", "anything",
                                  "v2/webspaces/1/consents/extra/deeper"])
def test_any_path_under_a_known_tenant_is_avacys(client, tenant, other_org, rest):
    """``/{tenant}/...`` with a tenant that exists: Avacy's 401 without its token, another
    tenant's token is 401 too, and with the tenant's token Laravel's 404 naming the route."""
    path = f"/{tenant.slug}/{rest}"
    for method in ("get", "post", "put"):
        r = getattr(client, method)(path)
        assert r.status_code == 401 and r.json == UNAUTHENTICATED, (method, r.json)
        r = getattr(client, method)(path, headers=tenant.headers(Tenant(other_org.org).token))
        assert r.status_code == 401 and r.json == UNAUTHENTICATED
        r = getattr(client, method)(path, headers=tenant.headers())
        assert r.status_code == 404
        assert r.json == {"message": f"The route {path[1:]} could not be found."}
    if rest.startswith(("v2/webspaces", "v4/webspaces")):
        return   # Avacy's own shapes are Avacy's under any first segment (tested above)
    # a first segment that is no tenant is nobody's: the service's own 404
    r = client.get(f"/no-such-tenant/{rest}", headers=tenant.headers())
    assert r.status_code == 404 and r.json["status"] == "Not Found"
    # an organisation's id is not its tenant name
    r = client.get(f"/{tenant.org.id}/{rest}", headers=tenant.headers())
    assert r.status_code == 404 and r.json["status"] == "Not Found"


def test_wrong_method_is_405_in_avacys_shape(client, tenant):
    r = client.get(tenant.path(), headers=tenant.headers())
    assert r.status_code == 405
    assert r.json == {"message": f"The GET method is not supported for route "
                                 f"{tenant.slug}/domains_groups/1/consents. Supported methods: "
                                 "POST."}
    assert "POST" in r.headers["Allow"]
    assert client.get(tenant.path()).json == UNAUTHENTICATED


def test_unexpected_error_is_500_without_trace(client, tenant, monkeypatch):
    from consent.dialects.avacy import archive

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(archive, "record", boom)
    r = tenant.post_json(client, "domains_groups", DOCUMENTED)
    assert r.status_code == 500 and r.json == {"message": "Server Error"}


def test_a_failed_write_leaves_nothing(client, tenant, monkeypatch):
    from consent.core import audit

    real = audit.append

    def fail_on_archive(org_id, **kwargs):
        if kwargs.get("action") == "avacy.consent.archived":
            raise RuntimeError("disk full")
        return real(org_id, **kwargs)

    before = counts()
    monkeypatch.setattr(audit, "append", fail_on_archive)
    assert tenant.post_json(client, "domains_groups", DOCUMENTED).status_code == 500
    assert counts() == before


# -- validation (Laravel's 422) -------------------------------------------------------------------

def test_empty_body_lists_every_required_field(client, tenant):
    before = counts()
    r = tenant.post_json(client, "domains_groups", {})
    assert r.status_code == 422
    assert r.json == {
        "message": "The subject field is required. (and 4 more errors)",
        "errors": {
            "subject": ["The subject field is required."],
            "identifier": ["The identifier field is required."],
            "ip_address": ["The ip address field is required."],
            "proofs": ["The proofs field is required."],
            "preferences": ["The preferences field is required."],
        }}
    assert counts() == before


@pytest.mark.parametrize("change, errors", [
    ({"subject": {**DOCUMENTED["subject"], "email": "not-an-email"}},
     {"subject.email": ["The subject.email field must be a valid email address."]}),
    ({"subject": {**DOCUMENTED["subject"], "age": -1}},
     {"subject.age": ["The subject.age field must be at least 0."]}),
    ({"subject": {**DOCUMENTED["subject"], "age": "thirty"}},
     {"subject.age": ["The subject.age field must be an integer."]}),
    ({"subject": {**DOCUMENTED["subject"], "age": 33.5}},
     {"subject.age": ["The subject.age field must be an integer."]}),
    ({"subject": {**DOCUMENTED["subject"], "first_name": "  "}},
     {"subject.first_name": ["The subject.first name field is required."]}),
    ({"subject": "test@email.it"}, {"subject": ["The subject field must be an array."]}),
    ({"identifier": "phone"}, {"identifier": ["The selected identifier is invalid."]}),
    ({"identifier": "address", "subject": {k: v for k, v in DOCUMENTED["subject"].items()
                                           if k != "address"}},
     {"identifier": ["The selected identifier is invalid."]}),
    ({"ip_address": "12.64.193.300"},
     {"ip_address": ["The ip address field must be a valid IP address."]}),
    ({"proofs": ""}, {"proofs": ["The proofs field is required."]}),
    ({"proofs": ["<html>"]}, {"proofs": ["The proofs field must be a string."]}),
    ({"preferences": []}, {"preferences": ["The preferences field is required."]}),
    ({"preferences": [{"name": "newsletter", "accepted": "yes"}]},
     {"preferences.0.accepted": ["The preferences.0.accepted field must be true or false."]}),
    ({"preferences": [{"name": "newsletter", "accepted": 2}]},
     {"preferences.0.accepted": ["The preferences.0.accepted field must be true or false."]}),
    ({"preferences": [{"accepted": True}]},
     {"preferences.0.name": ["The preferences.0.name field is required."]}),
    ({"preferences": [{"name": "n", "accepted": True}, {"name": "n", "accepted": False}]},
     {"preferences.1.name": ["The preferences.1.name field has a duplicate value."]}),
    ({"preferences": [{"name": "x" * 101, "accepted": True}]},
     {"preferences.0.name": ["The preferences.0.name field must not be greater than 100 "
                             "characters."]}),
    ({"legal_notices": "privacy_policy"},
     {"legal_notices": ["The legal notices field must be an array."]}),
    ({"legal_notices": [{}]},
     {"legal_notices.0.name": ["The legal notices.0.name field is required."]}),
])
def test_each_rule_answers_laravels_422(client, tenant, change, errors):
    before = counts()
    r = tenant.post_json(client, "domains_groups", body(**change))
    assert r.status_code == 422
    first = next(iter(errors.values()))[0]
    assert r.json == {"message": first, "errors": errors}
    assert counts() == before


def test_several_errors_are_counted_in_the_message(client, tenant):
    r = tenant.post_json(client, "domains_groups", body(ip_address="x", proofs=None,
                                                        identifier=""))
    assert r.status_code == 422
    assert r.json["message"] == "The identifier field is required. (and 2 more errors)"
    assert list(r.json["errors"]) == ["identifier", "ip_address", "proofs"]


def test_an_identifier_field_that_is_empty_is_required(client, tenant):
    subject = {"your-email": "", "your-name": "Mario"}
    r = tenant.post_json(client, "v2", body(subject=subject, identifier="your-email"))
    assert r.status_code == 422
    assert r.json["errors"] == {"subject.your-email": ["The subject.your-email field is "
                                                       "required."]}


# -- hostile bodies: always a 4xx in Avacy's shape, nothing written -------------------------------

def _deep(levels: int):
    value = "x"
    for _ in range(levels):
        value = {"a": value}
    return value


HOSTILE_JSON = [
    json.dumps({**DOCUMENTED, "preferences": _deep(70)}),
    json.dumps(DOCUMENTED).replace('"age": 33', '"age": ' + "9" * 5000),
    json.dumps(DOCUMENTED).replace('"Mario"', '"\\ud800"'),
    json.dumps(DOCUMENTED).replace('"age": 33', '"age": NaN'),
    json.dumps(DOCUMENTED).replace('"age": 33', '"age": 1e400'),
    '{"subject": ',
    b"\xff\xfe{}",
]


@pytest.mark.parametrize("raw", HOSTILE_JSON)
def test_hostile_json_is_422_on_body(client, tenant, raw):
    before = counts()
    r = client.post(tenant.path(), data=raw, headers=tenant.headers(
        **{"Content-Type": "application/json"}))
    assert r.status_code == 422
    assert list(r.json) == ["message", "errors"] and list(r.json["errors"]) == ["body"]
    assert r.json["message"].startswith("The request body could not be read: ")
    assert counts() == before


def test_an_integer_beyond_64_bits_in_a_string_is_not_an_integer(client, tenant):
    subject = {**DOCUMENTED["subject"], "age": "9" * 5000}
    r = tenant.post_json(client, "domains_groups", body(subject=subject))
    assert r.status_code == 422
    assert r.json["errors"] == {"subject.age": ["The subject.age field must be an integer."]}


def test_unknown_fields_are_ignored_as_laravel_does(client, tenant):
    r = tenant.post_json(client, "domains_groups", body(extra={"anything": 1},
                                                        subject={**DOCUMENTED["subject"],
                                                                 "phone": "123"}))
    assert r.status_code == 201
    assert "phone" not in r.json["data"]["subject_data"]


def test_a_body_that_is_no_object_misses_every_field(client, tenant):
    r = tenant.post_json(client, "domains_groups", [1, 2, 3])
    assert r.status_code == 422 and "subject" in r.json["errors"]


def test_too_large_a_body_is_413_in_avacys_shape(app, client, tenant):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    r = tenant.post_json(client, "domains_groups", body(proofs="x" * 2000))
    assert r.status_code == 413 and r.json == {"message": "The request body is too large."}


# -- POST /{tenant}/v2/webspaces/{id}/consents ----------------------------------------------------

def test_v2_takes_the_sites_own_fields_as_subject(client, org, tenant):
    subject = {"your-name": "Mario Rossi", "your-email": "mario@example.it", "age": 40}
    r = tenant.post_json(client, "v2", body(subject=subject, identifier="your-email"))
    assert r.status_code == 201, r.json
    data = r.json["data"]
    assert data == {
        "id": data["id"], "subject_id": ledger.find_subject(org.org.id, "mario@example.it").id,
        "webspace_id": 1, "ip_address": "12.64.193.89", "proofs": "<html></html>",
        "legal_notices": [{"name": "privacy_policy"}, {"name": "cookie_policy"}],
        "created_at": data["created_at"], "updated_at": data["created_at"],
        "consent_data": [{"name": "newsletter", "accepted": True},
                         {"name": "updates", "accepted": True}],
        "subject_data": {**subject, "identifier": "your-email"}}
    assert state(client, org, "mario@example.it") == {"newsletter": "granted",
                                                      "updates": "granted"}
    assert Consent.select().first().evidence["channel"] == "v2"


def test_v2_subject_values_must_be_scalars(client, tenant):
    r = tenant.post_json(client, "v2", body(subject={"email": "a@b.it", "x": {"y": 1}}))
    assert r.status_code == 422
    assert r.json["errors"] == {"subject.x": ["The subject.x field must be a string."]}


def test_v2_identifier_must_name_a_field_of_the_subject(client, tenant):
    r = tenant.post_json(client, "v2", body(subject={"your-email": "a@b.it"},
                                            identifier="email"))
    assert r.status_code == 422
    assert r.json == {"message": "The selected identifier is invalid.",
                      "errors": {"identifier": ["The selected identifier is invalid."]}}


# -- POST /{tenant}/v4/webspaces/{id}/consents ----------------------------------------------------

V4 = {"ip_address": "203.0.113.7", "consent_type": "form", "optin": "accepted",
      "consent_data": [{"label": "your-email", "value": "mario@example.it"},
                       {"label": "your-name", "value": "Mario Rossi"}],
      "identifier": "mario@example.it", "source": "plugin",
      "consent_features": ["privacy_policy", "cookie_policy"],
      "html_form": '<form method="post"><input name="your-email"></form>',
      "versions": [{"slug": "privacy_policy", "link": "https://shop.example.it/privacy/",
                    "date": "2024-05-01 10:00:00"},
                   {"slug": "cookie_policy", "link": "https://shop.example.it/cookie/",
                    "date": "2024-02-11 08:30:00"}]}


def test_v4_json_answers_its_resource(client, org, tenant):
    r = tenant.post_json(client, "v4", V4)
    assert r.status_code == 201, r.json
    data = r.json["data"]
    assert TIMESTAMP.match(data["created_at"])
    assert data == {"id": data["id"], "webspace_id": 1,
                    "subject_id": ledger.find_subject(org.org.id, "mario@example.it").id,
                    **V4, "created_at": data["created_at"], "updated_at": data["created_at"]}
    assert state(client, org, "mario@example.it") == {"cookie_policy": "granted",
                                                      "privacy_policy": "granted"}


@pytest.mark.parametrize("optin, status", [("accepted", "granted"), ("partial", "granted"),
                                           ("rejected", "denied")])
def test_v4_optin_decides_each_feature(client, org, tenant, optin, status):
    assert tenant.post_json(client, "v4", {**V4, "optin": optin}).status_code == 201
    assert state(client, org, "mario@example.it") == {"cookie_policy": status,
                                                      "privacy_policy": status}


def test_v4_without_features_archives_without_decisions(client, org, tenant):
    payload = {k: v for k, v in V4.items() if k not in ("consent_features", "consent_data")}
    r = tenant.post_json(client, "v4", payload)
    assert r.status_code == 201
    # a person the ledger has no decision of, but a subject all the same: the entry (their IP
    # address, their form) names them by its id, so the archive finds it and erasure erases it
    subject_id = r.json["data"]["subject_id"]
    assert subject_id == ledger.find_subject(org.org.id, V4["identifier"]).id
    assert r.json["data"]["consent_features"] == [] and r.json["data"]["consent_data"] == []
    assert Consent.select().count() == 0 and AvacyConsent.select().count() == 1
    found = client.get(f"/ledger/v1/avacy/consents?identifier={V4['identifier']}",
                       headers=org.headers()).json["items"]
    assert [e["id"] for e in found] == [r.json["data"]["id"]]


def test_v4_takes_proofs_for_html_form(client, tenant):
    payload = {k: v for k, v in V4.items() if k != "html_form"}
    r = tenant.post_json(client, "v4", {**payload, "proofs": "<form>p</form>"})
    assert r.status_code == 201 and r.json["data"]["html_form"] == "<form>p</form>"


@pytest.mark.parametrize("change, errors", [
    ({"consent_type": "popup"}, {"consent_type": ["The selected consent type is invalid."]}),
    ({"optin": "yes"}, {"optin": ["The selected optin is invalid."]}),
    ({"identifier": None}, {"identifier": ["The identifier field is required."]}),
    ({"ip_address": "localhost"}, {"ip_address": ["The ip address field must be a valid IP "
                                                  "address."]}),
    ({"consent_data": [{"value": "x"}]},
     {"consent_data.0.label": ["The consent data.0.label field is required."]}),
    ({"consent_features": ["a", "a"]},
     {"consent_features.1": ["The consent features.1 field has a duplicate value."]}),
    ({"consent_features": "privacy_policy"},
     {"consent_features": ["The consent features field must be an array."]}),
])
def test_v4_rules(client, tenant, change, errors):
    r = tenant.post_json(client, "v4", {**V4, **change})
    assert r.status_code == 422
    assert r.json == {"message": next(iter(errors.values()))[0], "errors": errors}
    assert AvacyConsent.select().count() == 0


# -- tenants never meet, and routes catch nothing of another dialect's ----------------------------

def test_each_tenant_writes_to_its_own_ledger(client, org, other_org):
    acme, globex = Tenant(org.org), Tenant(other_org.org)
    assert acme.post_json(client, "domains_groups", DOCUMENTED).status_code == 201
    assert globex.post_json(client, "domains_groups", body(preferences=[
        {"name": "newsletter", "accepted": False}])).status_code == 201
    assert state(client, org, "test@email.it") == {"newsletter": "granted", "updates": "granted"}
    assert state(client, other_org, "test@email.it") == {"newsletter": "denied"}
    entries = client.get("/ledger/v1/avacy/consents", headers=other_org.headers()).json["items"]
    assert len(entries) == 1 and entries[0]["preferences"][0]["accepted"] is False


def test_routes_match_only_their_own_urls(client, org, tenant):
    from tests.truconsent_helpers import make_cp

    make_cp(org.org)
    # truConsent's collector (a known organisation's three segments) is still truConsent's
    r = client.get(f"/{org.org.subdomain}/CP001/{uuid.uuid4()}")
    assert 400 <= r.status_code < 500 and r.mimetype == "text/html"
    # an unknown organisation's three segments are nobody's
    r = client.get(f"/nobody/CP001/{uuid.uuid4()}")
    assert r.status_code == 404 and "Avacy" not in r.get_data(as_text=True)
    assert "route" not in (r.json or {}).get("message", "")
    # Avacy's shapes, whatever the tenant
    for path in ("/x/domains_groups", "/x/domains_groups/1/consents", "/x/v2/webspaces/1",
                 "/x/v4/webspaces/1/consents", "/wp/validate", "/wp/validate/a/b/c/d"):
        assert owns(path), path
    for path in ("/x/CP001/0b7e0c4e-0000-4000-8000-000000000000", "/x/v2/other",
                 "/api/v1/external/consents/record", "/v1/sessions", "/ledger/v1/consents",
                 "/x/v3/webspaces/1/consents", "/avacy/archive"):
        assert not owns(path), path


# -- OpenAPI --------------------------------------------------------------------------------------

def test_openapi_documents_avacys_operations_in_its_own_shapes(client):
    spec = client.get("/openapi.json").json
    schemas = spec["components"]["schemas"]

    def props(ref_holder) -> set:
        return set(schemas[ref_holder["schema"]["$ref"].rsplit("/", 1)[-1]]["properties"])

    for path in ("/{tenant}/domains_groups/{group_id}/consents",
                 "/{tenant}/v2/webspaces/{webspace_id}/consents",
                 "/{tenant}/v4/webspaces/{webspace_id}/consents"):
        op = spec["paths"][path]["post"]
        body = op["requestBody"]["content"]
        assert set(body) == {"application/json", "application/x-www-form-urlencoded"}
        assert body["application/json"] == body["application/x-www-form-urlencoded"]
        assert "http_build_query" in op["requestBody"]["description"]
        responses = op["responses"]
        assert set(responses) == {"201", "401", "403", "404", "413", "422", "500", "503"}
        assert props(responses["201"]["content"]["application/json"]) == {"data"}
        for status in ("401", "403", "404", "413", "500"):
            assert props(responses[status]["content"]["application/json"]) == {"message"}
        assert props(responses["422"]["content"]["application/json"]) == {"message", "errors"}
        assert op["security"] == [{"AvacyToken": []}]
    assert spec["components"]["securitySchemes"]["AvacyToken"] == {
        "type": "http", "scheme": "bearer", "description": "An API token of the organisation"}
    resource = schemas["DomainsGroupResource"]["properties"]
    assert list(resource) == ["id", "subject_id", "domains_group_id", "ip_address", "proofs",
                              "legal_notices", "created_at", "updated_at", "consent_data",
                              "subject_data"]
    for path in ("/wp/validate/{tenant}/{webspace_key}",
                 "/wp/validate/{tenant}/{webspace_key}/{token}"):
        op = spec["paths"][path]["get"]
        assert op["security"] == [{}]
        assert props(op["responses"]["404"]["content"]["application/json"]) == {"message"}
        ref = op["responses"]["404"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/AvacyWpError")


def test_nul_characters_are_422_not_a_database_error(client, tenant):
    """No text column holds a NUL (PostgreSQL refuses one): a 422, wherever it comes from."""
    r = tenant.post_json(client, "domains_groups", body(proofs="<html>\u0000</html>"))
    assert r.status_code == 422
    assert r.json["errors"] == {"proofs": ["The proofs field must not contain NUL characters."]}
    r = tenant.post_form(client, "v4", "ip_address=1.2.3.4&consent_type=form&optin=accepted&"
                                       "identifier=a%00b&consent_features%5B0%5D=x%00")
    assert r.status_code == 422 and r.json["errors"] == {
        "identifier": ["The identifier field must not contain NUL characters."],
        "consent_features.0": ["The consent features.0 field must not contain NUL characters."]}
    r = tenant.post_json(client, "v2", body(subject={"email": "a\u0000@b.it"}))
    assert r.status_code == 422 and r.json["errors"] == {
        "subject.email": ["The subject.email field must not contain NUL characters."]}
    r = client.post("/a%00b/domains_groups/1/consents", json=DOCUMENTED,
                    headers=tenant.headers())
    assert r.status_code == 404 and r.json == TENANT_NOT_FOUND
    r = client.get(f"/wp/validate/a%00b/{tenant.webspace.key}")
    assert r.status_code == 404 and r.json == {"message": {"error": "team_not_found"}}
    r = client.get(f"/wp/validate/{tenant.slug}/a%00b")
    assert r.status_code == 404 and r.json == {"message": {"error": "webspace_not_found"}}
    assert AvacyConsent.select().count() == 0
