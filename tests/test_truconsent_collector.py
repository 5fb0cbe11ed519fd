"""The collector page a consent link opens."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from consent.core import ledger
from consent.core.storage import AuditEvent, Consent
from consent.dialects.truconsent.models import TcConsentRequest, TcLinkEvent, TcLog
from tests.truconsent_helpers import create_link, link_path, make_cp, move_clock


@pytest.fixture
def cpf(org):
    return make_cp(org.org)


@pytest.fixture
def link(client, org, cpf):
    return create_link(client, org, cpf, expiry_hours=2)


def open_form(client, link):
    resp = client.get(link_path(link["consent_link"]))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    html = resp.get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    return html, csrf


def submit(client, link, csrf, **form):
    return client.post(link_path(link["consent_link"]), data={"csrf_token": csrf, **form})


def test_page_shows_org_notice_and_labelled_choices(client, org, cpf, link):
    html, _ = open_form(client, link)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "Org acme" in html and "We use your phone number." in html and "Sign-up" in html
    for i, p in enumerate(cpf.cp.purposes, 1):
        assert f"<legend id=\"purpose-{i}-name\">{p['name']}</legend>" in html
        for choice in ("accept", "decline"):
            assert f'<label for="p{i}-{choice}"><input type="radio" id="p{i}-{choice}" ' \
                   f'name="purpose_{p["id"]}"' in html
    for value in ("accept_all", "decline_all", "custom"):
        assert f'name="decision" value="{value}"' in html
    assert "<script" not in html
    resp = client.get(link_path(link["consent_link"]))
    assert resp.headers["Referrer-Policy"] == "same-origin"
    assert "form-action 'self'" in resp.headers["Content-Security-Policy"]
    assert "tc_csrf=" in resp.headers["Set-Cookie"] and "HttpOnly" in resp.headers["Set-Cookie"]


def test_accept_all_records_one_log_per_purpose(client, org, cpf, link):
    _, csrf = open_form(client, link)
    resp = submit(client, link, csrf, decision="accept_all")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    req = TcConsentRequest.get_by_id(link["request_id"])
    assert req.reference and f'<strong id="reference">{req.reference}</strong>' in html
    assert "Thank you. Your decision has been recorded." in html
    assert html.count("Accepted") == 2
    consents = list(Consent.select().order_by(Consent.seq))
    assert len(consents) == 2
    for c, p in zip(consents, cpf.cp.purposes):
        assert (c.status, c.source, c.purpose_version, c.notice_version) == (
            "granted", "consent_link", p["version"], "3")
        assert c.evidence["event_id"] == link["event_id"]
        assert c.subject.identifier == "+919876543210"
    assert TcLog.select().where(TcLog.event_id == link["event_id"]).count() == 2
    assert "truconsent.link.completed" in [e.action for e in AuditEvent.select()]
    assert ledger.verify(org.org.id)["ok"]
    status = client.get(f"/api/consent/consent-links/status/{link['request_id']}",
                        headers=org.headers()).get_json()
    assert (status["status"], status["consent_action"], status["reference"]) == (
        "complete", "approved", req.reference)
    assert status["completed_at"].endswith("+00:00") and len(status["consent_logs"]) == 2
    history = client.get("/api/v1/external/consents/history?source=consent_link",
                         headers=org.headers(org.consent_key)).get_json()
    assert history["total"] == 2
    assert {i["event_id"] for i in history["items"]} == {link["event_id"]}
    assert {i["dp_id"] for i in history["items"]} == {"+919876543210"}
    listing = client.get("/api/consent/consent-links/history", headers=org.headers()).get_json()
    assert listing["items"][0]["is_completed"] is True


def test_per_purpose_choices(client, org, cpf, link):
    p1, p2 = cpf.purpose_ids
    _, csrf = open_form(client, link)
    resp = submit(client, link, csrf, decision="custom", **{f"purpose_{p1}": "decline",
                                                            f"purpose_{p2}": "accept"})
    assert resp.status_code == 200
    got = {c.purpose.code: c.status for c in Consent.select()}
    assert got == {p1: "denied", p2: "granted"}
    assert TcConsentRequest.get_by_id(link["request_id"]).consent_action == "partial_consent"


def test_decline_all(client, org, cpf, link):
    _, csrf = open_form(client, link)
    assert submit(client, link, csrf, decision="decline_all").status_code == 200
    assert {c.status for c in Consent.select()} == {"denied"}
    assert TcConsentRequest.get_by_id(link["request_id"]).consent_action == "declined"


def test_incomplete_choices_rerender(client, org, cpf, link):
    p1, _ = cpf.purpose_ids
    _, csrf = open_form(client, link)
    resp = submit(client, link, csrf, decision="custom", **{f"purpose_{p1}": "accept"})
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Please choose Accept or Decline for every purpose" in html
    assert re.search(rf'name="purpose_{p1}" value="accept" checked', html)
    assert Consent.select().count() == 0


def test_completed_link_shows_decision_and_refuses_second_submit(client, org, cpf, link):
    _, csrf = open_form(client, link)
    submit(client, link, csrf, decision="accept_all")
    events = AuditEvent.select().count()
    resp = client.get(link_path(link["consent_link"]))
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "Your decision for this request has been recorded." in html and "<form" not in html
    resp = submit(client, link, csrf, decision="decline_all")
    assert resp.status_code == 409
    assert "already recorded" in resp.get_data(as_text=True)
    assert Consent.select().count() == 2 and AuditEvent.select().count() == events


def test_expired_link_is_410_and_records_nothing(client, org, cpf, link, monkeypatch):
    _, csrf = open_form(client, link)
    move_clock(monkeypatch, hours=2, seconds=5)
    resp = client.get(link_path(link["consent_link"]))
    assert resp.status_code == 410
    assert "This link has expired" in resp.get_data(as_text=True)
    resp = submit(client, link, csrf, decision="accept_all")
    assert resp.status_code == 410
    assert Consent.select().count() == 0


def test_db_expiry_applies_even_if_token_fresh(client, org, cpf, link, monkeypatch):
    # Only the service's clock moves: the stored expiry still closes the link.
    from consent.dialects.truconsent import models
    import datetime as dt

    monkeypatch.setattr(models, "CLOCK_OFFSET", dt.timedelta(hours=3))
    assert client.get(link_path(link["consent_link"])).status_code == 410


@pytest.mark.parametrize("mangle", [
    lambda p: p[:-3] + ("aaa" if not p.endswith("aaa") else "bbb"),   # signature
    lambda p: p.split("?")[0],                                           # no token
    lambda p: p.replace("/CP001/", "/CP002/"),                            # other cp in path
    lambda p: p.replace("/acme/", "/globex/"),                            # other org in path
    lambda p: re.sub(r"/[0-9a-f-]{36}\?", "/00000000-0000-4000-8000-000000000000?", p),
])
def test_tampered_link_is_400(client, org, other_org, cpf, link, mangle):
    path = mangle(link_path(link["consent_link"]))
    resp = client.get(path)
    assert resp.status_code == 400
    assert "This link is not valid" in resp.get_data(as_text=True)
    assert client.post(path, data={"decision": "accept_all"}).status_code == 400
    assert Consent.select().count() == 0


def test_unknown_organisation_in_path_is_not_a_collector_url(client, org, cpf, link):
    """The collector answers only for an existing organisation's subdomain; any other first
    segment is an ordinary 404 (it never answers for, say, /v1/sessions/<uuid>)."""
    path = link_path(link["consent_link"]).replace("/acme/", "/nobody/")
    for resp in (client.get(path), client.post(path, data={"decision": "accept_all"})):
        assert resp.status_code == 404 and resp.is_json
        assert "This link is not valid" not in resp.get_data(as_text=True)
    assert Consent.select().count() == 0


def test_token_of_another_link_is_400(client, org, cpf, link):
    other = create_link(client, org, cpf)
    token = other["consent_link"].split("?t=")[1]
    path = link_path(link["consent_link"]).split("?")[0] + "?t=" + token
    assert client.get(path).status_code == 400


def test_regenerated_link_replaces_the_old_one(client, org, cpf, link, monkeypatch):
    move_clock(monkeypatch, hours=3)
    new = client.post(f"/api/consent/consent-links/regenerate/{link['request_id']}",
                      headers=org.headers()).get_json()
    resp = client.get(link_path(link["consent_link"]))
    assert resp.status_code == 410 and "replaced" in resp.get_data(as_text=True)
    html, csrf = open_form(client, new)
    assert submit(client, new, csrf, decision="accept_all").status_code == 200
    assert {c.evidence["event_id"] for c in Consent.select()} == {new["event_id"]}
    assert TcLinkEvent.get_by_id(link["event_id"]).superseded_at is not None


def test_cross_site_submission_refused(client, org, cpf, link):
    _, csrf = open_form(client, link)
    path = link_path(link["consent_link"])
    resp = client.post(path, data={"csrf_token": csrf, "decision": "accept_all"},
                       headers={"Origin": "https://evil.example"})
    assert resp.status_code == 403
    resp = client.post(path, data={"csrf_token": csrf, "decision": "accept_all"},
                       headers={"Sec-Fetch-Site": "cross-site"})
    assert resp.status_code == 403
    resp = client.post(path, data={"csrf_token": csrf + "x", "decision": "accept_all"})
    assert resp.status_code == 403
    fresh = client.application.test_client()  # no cookie: a forged form from elsewhere
    resp = fresh.post(path, data={"csrf_token": csrf, "decision": "accept_all"})
    assert resp.status_code == 403
    assert Consent.select().count() == 0
    resp = client.post(path, data={"csrf_token": csrf, "decision": "accept_all"},
                       headers={"Origin": "http://localhost"})
    assert resp.status_code == 200


def test_a_grant_on_the_collector_lasts_its_purposes_expiry_period(client, org):
    """A purpose's expiry_period bounds the grant the collector records, as the SDK's do."""
    cpf = make_cp(org.org, purposes=[
        {"id": "short", "name": "Short", "expiry_period": "2 weeks"},
        {"id": "open", "name": "Open"}])
    link = create_link(client, org, cpf, expiry_hours=2)
    _, csrf = open_form(client, link)
    assert submit(client, link, csrf, decision="accept_all").status_code == 200
    rows = {c.purpose.code: c for c in Consent.select()}
    assert rows["short"].valid_until - rows["short"].valid_from == dt.timedelta(days=14)
    assert rows["open"].valid_until is None
