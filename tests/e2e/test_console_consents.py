"""The consents view in headless Chromium: the list filtered through its form (by keyboard),
its cursor pages, a consent's page and its audit event, a subject's timeline; axe-core finds no
serious or critical violation, and the pages hold on a phone (screenshots of each)."""
from __future__ import annotations

import re

import pytest

from consent.core import ledger, usage
from tests.console_helpers import make_operator
from tests.e2e.console import axe_violations, no_horizontal_scroll, screenshot, signed_in_page


@pytest.fixture
def seeded(app, org, other_org):
    make_operator(org.org.id)
    made = []
    for n, (subject, purpose, status, source) in enumerate([
            ("alice@example.com", "marketing", "granted", "ledger"),
            ("bob@example.com", "analytics", "denied", "truconsent"),
            ("carol@example.com", "marketing", "granted", "avacy"),
            ("anon-42", "newsletter", "granted", "veriff"),
            ("dave@example.com", "analytics", "granted", "attestr")]):
        made.append(ledger.record_one(org.org.id, ledger.Decision(
            subject=subject, purpose=purpose, status=status, source=source,
            evidence={"ip": f"198.51.100.{n}", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"
                      " AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"})))
    withdrawal = ledger.withdraw(org.org.id, made[0].id, actor="test")
    ledger.map_identity(org.org.id, "anon-42", "alice@example.com", actor="test")
    usage.check(org.org.id, "send", consent_id=made[3].id, use=True, actor="test")
    ledger.record_one(other_org.org.id, ledger.Decision(
        subject="zz-globex@example.com", purpose="zz-globex", status="granted"))
    return {"made": made, "withdrawal": withdrawal}


def rows(page) -> list[str]:
    return page.locator("table.consents tbody tr").all_inner_texts()


def test_consents_list_filters_pages_and_detail(app, org, live_server, browser, seeded):
    page = signed_in_page(browser, app, live_server)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Consents").click()
    page.wait_for_url("**/console/o/acme/consents")
    assert page.get_by_role("heading", level=1).inner_text() == "Consents"
    assert len(rows(page)) == 6 and "zz-globex" not in page.content()
    assert axe_violations(page) == []
    screenshot(page, "consents-desktop")

    # filter by keyboard: type a subject, choose a status, Enter submits
    page.get_by_label("Subject", exact=True).focus()
    page.keyboard.type("alice@example.com")
    page.get_by_label("Status").select_option("granted")
    page.get_by_label("Subject", exact=True).focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "subject=alice%40example.com" in page.url and "status=granted" in page.url
    found = rows(page)
    assert len(found) == 2 and all("granted" in r for r in found)   # hers and anon-42's
    assert axe_violations(page) == []

    # cursor pages of two
    page.goto(f"{live_server}/console/o/acme/consents?limit=2")
    seen = []
    while True:
        seen += [link.inner_text() for link in page.locator("table.consents a.id").all()]
        older = page.get_by_role("link", name="Older consents")
        if older.count() == 0:
            break
        with page.expect_navigation():
            older.click()
        assert "cursor=" in page.url
    assert len(seen) == 6 and len(set(seen)) == 6

    # a consent, its events and its audit event
    grant = seeded["made"][0]
    page.goto(f"{live_server}/console/o/acme/consents?subject=alice@example.com&status=withdrawn")
    page.locator("table.consents a.id").first.click()
    page.wait_for_url(f"**/consents/{seeded['withdrawal'].id}")
    page.get_by_role("link", name=grant.id).first.click()        # what it supersedes
    page.wait_for_url(f"**/consents/{grant.id}")
    assert page.get_by_role("heading", level=1).inner_text() == f"Consent {grant.id}"
    assert "198.51.100.0" in page.locator("pre").inner_text()
    assert page.locator("section[aria-labelledby=events-h] tbody tr").count() == 2
    assert axe_violations(page) == []
    screenshot(page, "consent-desktop")
    page.locator("section[aria-labelledby=events-h] tbody tr").first.get_by_role("link").click()
    page.wait_for_url(re.compile(r".*/audit/\d+$"))
    assert "consent.recorded" in page.content() and grant.id in page.content()


def test_subject_timeline(app, org, live_server, browser, seeded):
    page = signed_in_page(browser, app, live_server)
    page.goto(f"{live_server}/console/o/acme/consents")
    page.get_by_role("searchbox", name="Subject's timeline").fill("alice@example.com")
    with page.expect_navigation():
        page.get_by_role("button", name="Show timeline").click()
    assert "/console/o/acme/timeline?subject=alice%40example.com" in page.url
    kinds = page.locator("ol.timeline li .kind").all_inner_texts()
    assert kinds == ["decision", "decision", "withdrawal", "mapping", "use"]
    assert axe_violations(page) == []
    screenshot(page, "timeline-desktop")
    page.locator("ol.timeline li").nth(3).get_by_role("link", name=re.compile("Audit event"))\
        .click()
    page.wait_for_url(re.compile(r".*/audit/\d+$"))
    assert "subject.mapped" in page.content()
    page.goto(f"{live_server}/console/o/acme/timeline?subject=nobody")
    assert "No subject with this identifier" in page.content()
    assert axe_violations(page) == []


def test_consents_on_a_phone(app, org, live_server, browser, seeded):
    page = signed_in_page(browser, app, live_server, size="phone")
    grant = seeded["made"][0]
    for path, name in ((f"consents", "consents-phone"),
                       (f"consents/{grant.id}", "consent-phone"),
                       ("timeline?subject=alice@example.com", "timeline-phone")):
        page.goto(f"{live_server}/console/o/acme/{path}")
        assert page.get_by_role("heading", level=1).is_visible()
        assert no_horizontal_scroll(page), path
        assert axe_violations(page) == []
        screenshot(page, name)
