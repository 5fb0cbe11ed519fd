"""What Avacy's WordPress plugin (jump-group/avacy-wp) sends, byte for byte: its payload arrays
form-encoded by PHP's http_build_query (built here from PHP's documented rules, and checked
against php itself where php-cli is installed), its headers, and its set-up checks
(``/wp/validate/...``) with the answers it reads."""
from __future__ import annotations

import pytest

from consent.core import auth, ledger, verify
from consent.core.storage import Consent
from consent.dialects.avacy import archive
from consent.dialects.avacy.models import AvacyConsent
from tests.avacy_helpers import (
    FORM,
    PHP,
    DOCUMENTED,
    Tenant,
    http_build_query,
    plugin_body,
)

CF7_HTML = ('<div class="wpcf7" id="wpcf7-f12-o1"><form action="/contatti/#wpcf7-f12-o1" '
            'method="post" class="wpcf7-form"><p><label> Il tuo nome<br><input size="40" '
            'name="your-name" value="" type="text"></label></p><p><label> La tua email<br>'
            '<input name="your-email" type="email"></label></p><p><input type="checkbox" '
            'name="privacy" value="1"> Accetto la <a href="/privacy-policy/">privacy '
            'policy</a> &amp; i termini ~ 100%</p><script>document.title="x"</script>'
            '<input type="submit" value="Invia"></form></div>')

# FormSubmission::getPayload() of the plugin's Contact Form 7 integration (v4): consent_data is
# json_decode(wp_json_encode([['label' => field, 'value' => posted value], ...]), true).
V4_PAYLOAD = {
    "ip_address": "203.0.113.7",
    "consent_type": "form",
    "optin": "accepted",
    "consent_data": [{"label": "your-name", "value": "Mario Rossi"},
                     {"label": "your-email", "value": "mario.rossi+cf7@example.it"}],
    "identifier": "mario.rossi+cf7@example.it",
    "source": "plugin",
    "consent_features": ["privacy_policy", "cookie_policy"],
    "html_form": CF7_HTML,
    "versions": [{"slug": "privacy_policy", "link": "https://shop.example.it/privacy-policy/",
                  "date": "2024-05-01 10:00:00"},
                 {"slug": "cookie_policy", "link": "https://shop.example.it/cookie-policy/",
                  "date": "2024-02-11 08:30:00"}],
}

# The same submission from the plugin's earlier release (v2): the site's chosen fields keyed by
# name, an unselected field mapped to the key "" (getFields() gives null for it), the identifier
# option (a field name), proofs as sanitize_text_field(wp_json_encode($form)) and the hard-coded
# legal notices and preferences.
V2_PAYLOAD = {
    "subject": {"your-name": "Mario Rossi", "your-email": "mario.rossi+cf7@example.it",
                "": ""},
    "identifier": "your-email",
    "ip_address": "203.0.113.7",
    "proofs": '"[text* your-name] [email* your-email] [acceptance privacy]"',
    "legal_notices": [{"name": "privacy_policy"}, {"name": "cookie_policy"}],
    "preferences": [{"name": "newsletter", "accepted": True},
                    {"name": "updates", "accepted": False}],
}


@pytest.fixture
def tenant(org):
    return Tenant(org.org)


def test_the_encoder_follows_phps_rules():
    """Independent of php: the literal bytes PHP documents for these values."""
    assert http_build_query({"a": [{"b": True, "c": False, "d": None}], "e": [], "f": 0,
                             "g": "x~ y/é&=+", "": {"h": "1"}}) == (
        "a%5B0%5D%5Bb%5D=1&a%5B0%5D%5Bc%5D=0&f=0&g=x%7E+y%2F%C3%A9%26%3D%2B&%5Bh%5D=1")


@pytest.mark.skipif(PHP is None, reason="php-cli is not installed (the encoder is tested above)")
def test_the_encoder_agrees_with_php():
    for payload in (V4_PAYLOAD, V2_PAYLOAD, DOCUMENTED):
        assert plugin_body(payload)  # asserts equality with php's own output


def test_v4_form_body_from_the_plugin(client, org, tenant):
    body = plugin_body(V4_PAYLOAD)
    assert body.startswith(
        "ip_address=203.0.113.7&consent_type=form&optin=accepted&"
        "consent_data%5B0%5D%5Blabel%5D=your-name&consent_data%5B0%5D%5Bvalue%5D=Mario+Rossi&"
        "consent_data%5B1%5D%5Blabel%5D=your-email&"
        "consent_data%5B1%5D%5Bvalue%5D=mario.rossi%2Bcf7%40example.it&"
        "identifier=mario.rossi%2Bcf7%40example.it&source=plugin&"
        "consent_features%5B0%5D=privacy_policy&consent_features%5B1%5D=cookie_policy&"
        "html_form=%3Cdiv+class%3D%22wpcf7%22")
    r = tenant.post_form(client, "v4", body)
    assert r.status_code == 201, r.json
    data = r.json["data"]
    assert data == {"id": data["id"], "webspace_id": 1,
                    "subject_id": ledger.find_subject(org.org.id,
                                                      "mario.rossi+cf7@example.it").id,
                    **V4_PAYLOAD, "created_at": data["created_at"],
                    "updated_at": data["created_at"]}
    # the form's HTML is kept byte for byte, script included, and its hash is in the evidence
    entry = AvacyConsent.get_by_id(data["id"])
    assert entry.proofs == CF7_HTML and entry.channel == "v4"
    consents = list(Consent.select().order_by(Consent.seq))
    assert [(c.status, c.source) for c in consents] == [("granted", "avacy")] * 2
    assert {c.evidence["proofs_sha256"] for c in consents} == {entry.proofs_sha256}


def test_v4_form_body_with_charset_and_the_plugins_exact_headers(client, tenant):
    r = client.post(tenant.path("v4"), data=plugin_body(V4_PAYLOAD).encode(), headers={
        "Accept": "application/json", "Authorization": f"Bearer {tenant.token}",
        "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
        "User-Agent": "WordPress/6.6; https://shop.example.it"})
    assert r.status_code == 201 and r.json["data"]["html_form"] == CF7_HTML


def test_v4_form_body_of_a_latin1_blog(client, tenant):
    body = http_build_query({**V4_PAYLOAD, "consent_data": [{"label": "città",
                                                             "value": "Forlì"}]})
    latin1 = body.replace("%C3%A0", "%E0").replace("%C3%AC", "%EC")
    r = tenant.post_form(client, "v4", latin1,
                         content_type="application/x-www-form-urlencoded; charset=ISO-8859-1")
    assert r.status_code == 201
    assert r.json["data"]["consent_data"] == [{"label": "città", "value": "Forlì"}]


def test_v4_form_with_rejected_optin_and_no_fields(client, org, tenant):
    # the plugin's arrays may be empty: http_build_query then sends nothing for them
    payload = {**V4_PAYLOAD, "optin": "rejected", "consent_data": []}
    body = plugin_body(payload)
    assert "consent_data" not in body
    r = tenant.post_form(client, "v4", body)
    assert r.status_code == 201 and r.json["data"]["consent_data"] == []
    r = client.get("/ledger/v1/subjects/mario.rossi+cf7@example.it/state",
                   headers=org.headers())
    assert {p["purpose"]: p["status"] for p in r.json["purposes"]} == {
        "cookie_policy": "denied", "privacy_policy": "denied"}


def test_v4_form_without_identifier_is_laravels_422(client, tenant):
    # the plugin sends $posted_data[$identifierKey] ?? null: null is left out of the body
    body = plugin_body({**V4_PAYLOAD, "identifier": None})
    assert "identifier=" not in body
    r = tenant.post_form(client, "v4", body)
    assert r.status_code == 422
    assert r.json == {"message": "The identifier field is required.",
                      "errors": {"identifier": ["The identifier field is required."]}}


def test_v2_form_body_from_the_plugin(client, org, tenant):
    body = plugin_body(V2_PAYLOAD)
    assert "subject%5B%5D=&" in body  # the unselected field
    assert "preferences%5B0%5D%5Baccepted%5D=1" in body
    assert "preferences%5B1%5D%5Baccepted%5D=0" in body
    r = tenant.post_form(client, "v2", body)
    assert r.status_code == 201, r.json
    data = r.json["data"]
    assert data["subject_data"] == {"your-name": "Mario Rossi",
                                    "your-email": "mario.rossi+cf7@example.it", "0": None,
                                    "identifier": "your-email"}
    assert data["consent_data"] == [{"name": "newsletter", "accepted": True},
                                    {"name": "updates", "accepted": False}]
    assert data["proofs"] == V2_PAYLOAD["proofs"]
    r = client.get("/ledger/v1/subjects/mario.rossi+cf7@example.it/state",
                   headers=org.headers())
    assert {p["purpose"]: p["status"] for p in r.json["purposes"]} == {
        "newsletter": "granted", "updates": "denied"}


def test_documented_request_form_encoded_to_domains_groups(client, tenant):
    """The plugin's first release posted this payload, form-encoded, to domains_groups."""
    r = tenant.post_form(client, "domains_groups", plugin_body(DOCUMENTED))
    assert r.status_code == 201, r.json
    assert r.json["data"]["subject_data"]["age"] == 33
    assert r.json["data"]["consent_data"] == DOCUMENTED["preferences"]


def test_form_keys_php_keeps_as_its_own_are_a_list(client, tenant):
    body = http_build_query({**V2_PAYLOAD, "preferences": {
        "x": {"name": "newsletter", "accepted": "1"}, "7": {"name": "updates",
                                                          "accepted": "0"}}})
    r = tenant.post_form(client, "v2", body)
    assert r.status_code == 201
    assert r.json["data"]["consent_data"] == [{"name": "newsletter", "accepted": True},
                                              {"name": "updates", "accepted": False}]


def test_a_repeated_form_key_keeps_its_last_value_as_php_does(client, tenant):
    body = plugin_body(V4_PAYLOAD) + "&source=theme&source=plugin-2"
    r = tenant.post_form(client, "v4", body)
    assert r.status_code == 201 and r.json["data"]["source"] == "plugin-2"


@pytest.mark.parametrize("raw, reason", [
    ("a" + "%5Bx%5D" * 70 + "=1", "nested deeper than 64 levels"),
    ("identifier=%ED%A0%80", "a form field is not valid UTF-8 once percent-decoded"),
    ("identifier=%FF", "a form field is not valid UTF-8 once percent-decoded"),
    ("&".join(f"f{i}=1" for i in range(1001)), "more than 1000 form variables"),
])
def test_hostile_form_bodies_are_422_on_body(client, tenant, raw, reason):
    r = tenant.post_form(client, "v4", raw)
    assert r.status_code == 422
    message = f"The request body could not be read: {reason}."
    assert r.json == {"message": message, "errors": {"body": [message]}}
    assert AvacyConsent.select().count() == 0


def test_raw_non_utf8_form_body_is_422(client, tenant):
    r = tenant.post_form(client, "v4", b"identifier=\xff")
    assert r.status_code == 422 and r.json["errors"] == {
        "body": ["The request body could not be read: the body is not valid UTF-8."]}


def test_a_form_integer_beyond_64_bits_is_not_an_integer(client, tenant):
    body = plugin_body({**DOCUMENTED, "subject": {**DOCUMENTED["subject"], "age": "9" * 5000}})
    r = tenant.post_form(client, "domains_groups", body)
    assert r.status_code == 422
    assert r.json["errors"] == {"subject.age": ["The subject.age field must be an integer."]}


def test_form_without_token_is_401_before_the_body_is_read(client, tenant):
    r = client.post(tenant.path("v4"), data="a" + "%5Bx%5D" * 70 + "=1",
                    headers={"Content-Type": FORM, "Accept": "application/json"})
    assert r.status_code == 401 and r.json == {"message": "Unauthenticated"}


# -- the plugin's set-up checks -------------------------------------------------------------------

def test_account_check_gives_the_webspace_id(client, tenant):
    r = client.get(f"/wp/validate/{tenant.slug}/{tenant.webspace.key}")
    assert r.status_code == 200 and r.json == {"id": 1}
    second = archive.create_webspace(tenant.org, "blog")
    assert client.get(f"/wp/validate/{tenant.slug}/{second.key}").json == {"id": 2}


def test_account_check_errors(client, tenant, other_org):
    other = Tenant(other_org.org)
    r = client.get(f"/wp/validate/nobody/{tenant.webspace.key}")
    assert r.status_code == 404 and r.json == {"message": {"error": "team_not_found"}}
    r = client.get(f"/wp/validate/{tenant.slug}/00000000-0000-4000-8000-000000000000")
    assert r.status_code == 404 and r.json == {"message": {"error": "webspace_not_found"}}
    # another tenant's webspace key is not this tenant's
    r = client.get(f"/wp/validate/{tenant.slug}/{other.webspace.key}")
    assert r.status_code == 404 and r.json == {"message": {"error": "webspace_not_found"}}
    # an organisation's id is not its tenant name
    r = client.get(f"/wp/validate/{tenant.org.id}/{tenant.webspace.key}")
    assert r.status_code == 404 and r.json == {"message": {"error": "team_not_found"}}


def test_token_check(client, tenant):
    base = f"/wp/validate/{tenant.slug}/{tenant.webspace.key}"
    r = client.get(f"{base}/{tenant.token}")
    assert r.status_code == 200 and r.json == {"valid": True, "webspace_id": 1}


def test_token_check_errors(client, tenant, other_org):
    other = Tenant(other_org.org)
    base = f"/wp/validate/{tenant.slug}/{tenant.webspace.key}"
    for bad in ("abc", "12|" + "x" * 40, "ck_short"):
        r = client.get(f"{base}/{bad}")
        assert r.status_code == 422 and r.json == {"message": {"error": "invalid_token"}}
    expired = {"message": {"error": "token_not_found_or_expired"}}
    r = client.get(f"{base}/ck_{'A' * 43}")
    assert r.status_code == 401 and r.json == expired
    assert client.get(f"{base}/{other.token}").json == expired
    admin_only = auth.create_credential(tenant.org.id, scopes=("admin",)).key
    assert client.get(f"{base}/{admin_only}").json == expired
    auth.revoke_credential(tenant.org.id, auth.find_credential(tenant.token).id)
    r = client.get(f"{base}/{tenant.token}")
    assert r.status_code == 401 and r.json == expired
    r = client.get(f"/wp/validate/nobody/{tenant.webspace.key}/{tenant.token}")
    assert r.status_code == 404 and r.json == {"message": {"error": "team_not_found"}}


def test_unmatched_validate_urls_are_avacys_404_without_a_token(client):
    r = client.get("/wp/validate/a/b/c/d")
    assert r.status_code == 404
    assert r.json == {"message": "The route wp/validate/a/b/c/d could not be found."}
    r = client.post("/wp/validate/a/b")
    assert r.status_code == 405 and r.json["message"].startswith("The POST method is not")


def test_the_plugins_set_up_then_a_submission(client, org, tenant):
    """checkSaasAccount keeps data['id'] as avacy_webspace_id; the token is checked; the form
    then posts to /{tenant}/v4/webspaces/{that id}/consents."""
    webspace_id = client.get(f"/wp/validate/{tenant.slug}/{tenant.webspace.key}").json["id"]
    assert client.get(f"/wp/validate/{tenant.slug}/{tenant.webspace.key}/"
                      f"{tenant.token}").status_code == 200
    r = tenant.post_form(client, "v4", plugin_body(V4_PAYLOAD))
    assert r.status_code == 201 and r.json["data"]["webspace_id"] == webspace_id


def test_v4_versions_become_the_notices_versions_and_are_kept_as_sent(client, org, tenant):
    """The plugin's ``versions`` (which version of each policy the person accepted): each ledger
    decision names them (notice = slug, version = date, the link in its evidence), the ledger's
    notices get those versions, and the entry keeps them exactly as sent."""
    import hashlib

    from consent.core.storage import Notice, NoticeVersion

    body = plugin_body(V4_PAYLOAD)
    assert ("versions%5B0%5D%5Bslug%5D=privacy_policy&versions%5B0%5D%5Blink%5D="
            "https%3A%2F%2Fshop.example.it%2Fprivacy-policy%2F&"
            "versions%5B0%5D%5Bdate%5D=2024-05-01+10%3A00%3A00") in body
    r = tenant.post_form(client, "v4", body)
    assert r.status_code == 201, r.json
    assert r.json["data"]["versions"] == V4_PAYLOAD["versions"]
    accepted = [{"name": "privacy_policy", "version": "2024-05-01 10:00:00",
                 "link": "https://shop.example.it/privacy-policy/"},
                {"name": "cookie_policy", "version": "2024-02-11 08:30:00",
                 "link": "https://shop.example.it/cookie-policy/"}]
    label = "privacy_policy@2024-05-01 10:00:00+cookie_policy@2024-02-11 08:30:00"
    consents = list(Consent.select().order_by(Consent.seq))
    assert len(consents) == 2
    for consent in consents:
        assert consent.notice_version == hashlib.sha256(label.encode()).hexdigest()
        assert consent.evidence["legal_notices"] == accepted
    entry = AvacyConsent.get_by_id(r.json["data"]["id"])
    assert entry.versions == V4_PAYLOAD["versions"]
    assert entry.request["legal_notices"] == accepted
    notices = {n.code: n.current_version for n in Notice.select()}
    assert notices == {"privacy_policy": "2024-05-01 10:00:00",
                       "cookie_policy": "2024-02-11 08:30:00"}
    # the archive shows them, and the entry is intact against its audit event
    archived = client.get(f"/ledger/v1/avacy/consents/{entry.id}", headers=org.headers()).json
    assert archived["legal_notices"] == accepted and archived["intact"] is True
    assert archived["versions"] == V4_PAYLOAD["versions"]
    # a newer version of the privacy policy: a new notice version, the newest binds
    newer = {**V4_PAYLOAD, "versions": [{"slug": "privacy_policy", "link": None,
                                         "date": "2025-01-01 00:00:00"}]}
    r = tenant.post_form(client, "v4", plugin_body(newer))
    assert r.status_code == 201, r.json
    assert r.json["data"]["versions"] == [{"slug": "privacy_policy", "link": None,
                                           "date": "2025-01-01 00:00:00"}]
    versions = sorted(v.version for v in NoticeVersion.select().join(Notice).where(
        Notice.code == "privacy_policy"))
    assert versions == ["2024-05-01 10:00:00", "2025-01-01 00:00:00"]
    assert Consent.select().order_by(Consent.seq.desc()).first().notice_version == \
        "privacy_policy@2025-01-01 00:00:00"


@pytest.mark.tampered
def test_v4_versions_are_kept_byte_for_byte_and_checked(client, org, tenant):
    spaced = {"slug": " privacy_policy ", "link": "  https://x.example/p?a=1&b=%20  ",
              "date": " 2024-05-01 "}
    r = tenant.post_json(client, "v4", {**V4_PAYLOAD, "versions": [spaced]})
    assert r.status_code == 201, r.json
    assert r.json["data"]["versions"] == [spaced]
    entry = AvacyConsent.get_by_id(r.json["data"]["id"])
    assert entry.versions == [spaced]
    assert entry.request["legal_notices"] == [{"name": "privacy_policy", "version": "2024-05-01",
                                               "link": spaced["link"]}]
    # tampering with the kept versions shows in the archive
    AvacyConsent.update(versions=[{**spaced, "date": "2020-01-01"}]).where(
        AvacyConsent.id == entry.id).execute()
    archived = client.get(f"/ledger/v1/avacy/consents/{entry.id}", headers=org.headers()).json
    assert archived["intact"] is False
    # and verify names the entry (the audit chain covers its row, versions included)
    verdict = verify.full(org.org.id)
    assert (verdict["ok"], verdict["first_bad_table"], verdict["first_bad_row"]) == (
        False, "avacy_consent", str(entry.id))


@pytest.mark.parametrize("versions, errors", [
    ([{"link": "https://x.example/"}], {
        "versions.0.slug": ["The versions.0.slug field is required."],
        "versions.0.date": ["The versions.0.date field is required."]}),
    ([{"slug": "p", "date": "d" * 33}], {
        "versions.0.date": ["The versions.0.date field must not be greater than 32 "
                            "characters."]}),
    ([{"slug": "p", "date": "1"}, {"slug": " p", "date": "2"}], {
        "versions.1.slug": ["The versions.1.slug field has a duplicate value."]}),
    ("privacy_policy", {"versions": ["The versions field must be an array."]}),
])
def test_v4_versions_refused_in_laravels_words(client, tenant, versions, errors):
    r = tenant.post_json(client, "v4", {**V4_PAYLOAD, "versions": versions})
    assert r.status_code == 422
    assert r.json["errors"] == errors
    assert AvacyConsent.select().count() == 0
