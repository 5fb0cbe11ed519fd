"""A client project's tests against the Consent Ledger stub (the README's "Using it as a stub
in your tests"): the clock, a fault and the journal, over plain HTTP. Run with the plugin
installed and CONSENT_LEDGER_CHECKOUT (or CONSENT_LEDGER_URL) set."""
import urllib.parse
import pytest

pytestmark = pytest.mark.consent_ledger_reset     # every test starts from an empty organisation

def test_a_consent_link_expires_when_the_clock_moves(consent_ledger):
    tc = consent_ledger["truconsent"]
    made = consent_ledger.request("POST", "/api/consent/consent-links",
                                  headers={"X-Org-Id": tc["org_id"], "X-API-Key": tc["api_key"]},
                                  json_body={"collection_point_id": tc["collection_point_id"],
                                             "asset_id": tc["asset_id"],
                                             "phone": "+919876543210", "expiry_hours": 1})
    link = urllib.parse.urlsplit(made.json()["consent_link"])
    assert consent_ledger.request("GET", link.path + "?" + link.query).status == 200
    consent_ledger.advance(hours=2)                          # no sleeping
    assert consent_ledger.request("GET", link.path + "?" + link.query).status == 410

def test_my_retry_path_sees_attestrs_429(consent_ledger):
    at = consent_ledger["attestr"]
    consent_ledger.fault("/api/v3/public/consent/data-categories", 429, count=1)
    ask = lambda: consent_ledger.request(
        "POST", "/api/v3/public/consent/data-categories",
        headers={"Authorization": at["authorization"]},
        json_body={"type": "kyc_verification", "services": [{"service": "PAN"}]})
    first = ask()
    assert first.status == 429 and first.headers["Retry-After"]
    assert first.json()["httpStatusCode"] == 429            # Attestr's own error object
    assert ask().status == 200                               # the fault fired once

def test_the_journal_shows_what_my_app_sent(consent_ledger):
    av = consent_ledger["avacy"]
    body = ("subject%5Bemail%5D=mario%40example.it&identifier=email&ip_address=203.0.113.7"
            "&proofs=%5Bacceptance+privacy%5D"
            "&preferences%5B0%5D%5Bname%5D=newsletter&preferences%5B0%5D%5Baccepted%5D=1")
    consent_ledger.request("POST", f"/{av['tenant']}/v2/webspaces/{av['webspace_id']}/consents",
                           data=body, headers={"Authorization": f"Bearer {av['token']}",
                                               "Content-Type": "application/x-www-form-urlencoded"})
    [entry] = consent_ledger.requests(method="POST", path="/*/v2/webspaces/*")
    assert entry["body"] == body and entry["headers"]["Authorization"] == "Bearer ***"


def test_each_test_starts_empty(consent_ledger):
    assert consent_ledger.requests() == []
    assert consent_ledger.state()["records"]["core"]["consent"] == []
