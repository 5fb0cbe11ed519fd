"""The console's providers view in headless Chromium: each provider's page with the
organisation's real records (seeded through the dialects' APIs), axe-core finding no serious
or critical violation, screenshots at desktop and phone size without sideways scrolling; the
Veriff decide button clicked (and one pressed from the keyboard) decides a session and a
loopback receiver gets the decision webhook; the Attestr export button creates the job; the
truConsent asset form creates an asset."""
from __future__ import annotations

import json

import pytest

from consent.core import outbox
from consent.dialects.attestr import queries as attestr_queries
from consent.dialects.truconsent import points
from consent.dialects.veriff.service import create_integration
from tests.attestr_helpers import Client as AttestrClient, register
from tests.avacy_helpers import DOCUMENTED, Tenant
from tests.console_helpers import make_operator
from tests.e2e.console import axe_violations, no_horizontal_scroll, screenshot, signed_in_page
from tests.receiver import Receiver
from tests.truconsent_helpers import create_link, make_cp
from tests.veriff_helpers import Integration

PAGES = ("", "/truconsent", "/veriff", "/avacy", "/attestr")


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    monkeypatch.setattr(outbox, "POLICY", outbox.Policy(
        max_attempts=3, backoff_base=0.05, backoff_cap=0.2, timeout=2, poll_interval=0.05))


class Hooked(Integration):
    def __init__(self, org, url):
        issued = create_integration(org, name="Shop KYC", decision_url=url)
        self.key, self.secret, self.id = issued.key, issued.shared_secret, issued.credential.id


def seed(client, org, other_org, decision_url="http://127.0.0.1:9/decisions"):
    """Records of every provider in the organisation (and one of another's, never shown)."""
    cpf = make_cp(org.org, title="Sign-up banner")
    points.update_asset(org.org, cpf.asset.id, {"allowed_origins": ["https://shop.example"]})
    link = create_link(client, org, cpf)
    integ = Hooked(org.org, decision_url)
    sessions = [integ.create_session(client) for _ in range(3)]
    tenant = Tenant(org.org)
    for email in ("ada@example.com", "bob@example.com"):
        body = {**DOCUMENTED, "subject": {**DOCUMENTED["subject"], "email": email}}
        assert tenant.post_json(client, "domains_groups", body).status_code == 201
    attestr = AttestrClient(org.org)
    consent_ids = [register(client, attestr).json["_id"] for _ in range(2)]
    their = Integration(other_org.org, name="Globex KYC").create_session(client)
    return {"cp": cpf, "link": link, "integ": integ, "sessions": sessions, "tenant": tenant,
            "attestr": attestr, "consents": consent_ids, "their_session": their}


def test_every_provider_page_desktop_and_phone(app, client, org, other_org, live_server,
                                               browser):
    make_operator(org.org.id)
    data = seed(client, org, other_org)
    base = f"{live_server}/console/o/{org.slug}/providers"
    expected = {
        "": ["truConsent", "Veriff", "Avacy", "Attestr"],
        "/truconsent": [data["cp"].cp.display_id, "Sign-up banner", "https://shop.example",
                        data["link"]["request_id"], "Marketing messages"],
        "/veriff": ["Shop KYC", *data["sessions"]],
        "/avacy": ["ada@example.com", "bob@example.com", "site", "newsletter"],
        "/attestr": ["test client", *data["consents"]],
    }
    for size in ("desktop", "phone"):
        page = signed_in_page(browser, app, live_server, size=size)
        for sub in PAGES:
            page.goto(base + sub)
            text = page.inner_text("main")
            for value in expected[sub]:
                assert value in text, (sub, value)
            assert data["their_session"] not in text
            assert page.locator("h1").count() == 1
            assert axe_violations(page) == [], (sub, size)
            name = "providers" + (sub.replace("/", "-") or "-index")
            screenshot(page, f"{name}-{size}")
            if size == "phone":
                assert no_horizontal_scroll(page), sub
        page.context.close()


def test_veriff_decide_buttons_send_the_decision_webhook(app, client, org, other_org,
                                                         live_server, browser):
    make_operator(org.org.id)
    with Receiver() as rx:
        data = seed(client, org, other_org, decision_url=rx.url + "/decisions")
        first, second = data["sessions"][0], data["sessions"][1]
        page = signed_in_page(browser, app, live_server)
        page.goto(f"{live_server}/console/o/{org.slug}/providers/veriff")
        # a click: approve
        page.get_by_role("button", name=f"Approve session {first}").click()
        page.wait_for_url("**/providers/veriff?decided=*")
        assert "decided: approved" in page.inner_text("main")
        assert axe_violations(page) == []
        screenshot(page, "providers-veriff-decided-desktop")
        [got] = rx.wait_for(1)
        # the keyboard: Tab to "Decline" of the second session, Enter
        button = page.get_by_role("button", name=f"Decline session {second}")
        page.get_by_role("button", name=f"Approve session {second}").focus()
        page.keyboard.press("Tab")
        assert button.evaluate("b => b === document.activeElement")
        page.keyboard.press("Enter")
        page.wait_for_url(f"**decided={second}*")
        got = rx.wait_for(2)
    bodies = {json.loads(r.body)["verification"]["id"]: json.loads(r.body) for r in got}
    assert all(r.path == "/decisions" for r in got)
    assert bodies[first]["verification"]["status"] == "approved"
    assert bodies[first]["verification"]["code"] == 9001
    assert bodies[second]["verification"]["status"] == "declined"
    text = page.inner_text("main")
    assert "approved" in text and "9102" in text
    assert page.get_by_role("button", name=f"Approve session {first}").count() == 0


def test_attestr_export_button_and_truconsent_asset_form(app, client, org, other_org,
                                                         live_server, browser):
    make_operator(org.org.id)
    data = seed(client, org, other_org)
    consent_id = data["consents"][0]
    page = signed_in_page(browser, app, live_server)
    page.goto(f"{live_server}/console/o/{org.slug}/providers/attestr")
    page.get_by_role("button", name=f"Export the audit trail of consent {consent_id}").click()
    page.wait_for_url("**/providers/attestr?exported=*")
    [job] = attestr_queries.JOBS_OF_ORG.all((org.org.id, 10))
    assert job.attestr_consent_id == consent_id
    exports = page.locator("section[aria-labelledby=exports-h]").inner_text()
    assert job.number in exports and consent_id in exports
    assert axe_violations(page) == []
    screenshot(page, "providers-attestr-exported-desktop")

    page.goto(f"{live_server}/console/o/{org.slug}/providers/truconsent")
    page.get_by_text("Create an asset").click()
    page.get_by_label("Name").fill("Mobile app")
    page.get_by_label("Allowed origins").fill("https://m.example")
    assert axe_violations(page) == []
    page.get_by_role("button", name="Create asset").click()
    page.wait_for_url("**/providers/truconsent?created=*")
    asset = [a for a in points.assets(org.org) if a.name == "Mobile app"]
    assert len(asset) == 1 and asset[0].allowed_origins == ["https://m.example"]
    assert f"Asset {asset[0].display_id} created." in page.inner_text("main")
    screenshot(page, "providers-truconsent-created-desktop")
