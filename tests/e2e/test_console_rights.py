"""The console's rights requests view in headless Chromium: the queue with an overdue request,
a request recorded from the form (by keyboard), started and completed by clicking (an erasure
that erases), an access request completed into its report, a refusal with its reason, a wrong
step's 409 page; axe-core on every page and state, screenshots at desktop and phone size."""
from __future__ import annotations

import datetime as dt

import pytest

from consent.core import clock, ledger, rights
from tests.console_helpers import make_operator
from tests.e2e.console import axe_violations, no_horizontal_scroll, screenshot, signed_in_page

ALICE = "alice.e2e@example.com"
BOB = "bob.e2e@example.com"


@pytest.fixture
def queue(app, org):
    make_operator(org.org.id)
    with app.app_context():
        with clock.frozen(dt.datetime.utcnow() - dt.timedelta(days=45)):
            late = rights.create_request(org.org.id, "access", "late@example.com",
                                         actor="test", reason="by letter")
        ledger.record_one(org.org.id, ledger.Decision(subject=ALICE, purpose="marketing",
                                                      status="granted", source="avacy"))
        ledger.record_one(org.org.id, ledger.Decision(subject=BOB, purpose="newsletter",
                                                      status="granted"))
        access = rights.create_request(org.org.id, "access", BOB, actor="test")
        refused = rights.create_request(org.org.id, "erasure", "nobody@example.com",
                                        actor="test")
        rights.refuse_request(org.org.id, refused.id, actor="test", reason="Not verified")
    return {"late": late, "access": access, "refused": refused}


def check(page, name: str) -> None:
    assert axe_violations(page) == [], name
    screenshot(page, name)


def test_the_queue_and_a_request_at_both_sizes(app, org, live_server, browser, queue):
    for size in ("desktop", "phone"):
        page = signed_in_page(browser, app, live_server, size=size)
        page.get_by_role("navigation", name="Console").get_by_role(
            "link", name="Rights requests").click()
        page.wait_for_url("**/rights")
        assert page.get_by_role("heading", level=1).inner_text() == "Rights requests"
        late_row = page.locator("tr", has_text=queue["late"].id[:8])
        assert "Overdue" in late_row.inner_text()
        assert queue["late"].due_at.strftime("%Y-%m-%d") in late_row.inner_text()
        assert queue["refused"].id[:8] not in page.content()     # open ones by default
        check(page, f"rights-queue-{size}")
        if size == "phone":
            assert no_horizontal_scroll(page)
        page.select_option("#f-status", "all")
        page.get_by_role("button", name="Filter").click()
        page.wait_for_url("**status=all**")
        assert queue["refused"].id[:8] in page.content()
        page.get_by_role("link", name=queue["late"].id[:8]).click()
        page.wait_for_url(f"**/rights/{queue['late'].id}")
        assert "Overdue: it was due on" in page.content()
        assert "late@example.com" in page.content() and "by letter" in page.content()
        check(page, f"rights-request-{size}")
        if size == "phone":
            assert no_horizontal_scroll(page)
        page.context.close()


def test_record_start_and_complete_an_erasure(app, org, live_server, browser, queue):
    page = signed_in_page(browser, app, live_server)
    page.goto(f"{live_server}/console/o/{org.slug}/rights")
    # by keyboard: fill the form, then Enter on the button
    page.select_option("#n-kind", "erasure")
    page.fill("#n-identifier", ALICE)
    page.fill("#n-reason", "asked by e-mail")
    page.focus("#n-reason")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Record the request"
    page.keyboard.press("Enter")
    page.wait_for_url("**done=created")
    assert "Request recorded." in page.content() and ALICE in page.content()
    check(page, "rights-recorded-desktop")
    request_id = page.url.split("/rights/")[1].split("?")[0]
    page.get_by_role("button", name="Start").click()
    page.wait_for_url("**done=started")
    assert rights.get_request(org.org.id, request_id).status == "in_progress"
    page.get_by_role("button", name="Complete: erase this person now").click()
    page.wait_for_url("**done=completed")
    assert "Erased: 2 consent record(s)" in page.content()
    assert ALICE not in page.content()
    with app.app_context():
        assert ledger.find_subject(org.org.id, ALICE) is None
    history = page.locator("#hist-h + table").inner_text()
    for step in ("Received", "Started", "Completed"):
        assert step in history
    check(page, "rights-erased-desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    assert no_horizontal_scroll(page)
    screenshot(page, "rights-erased-phone")


def test_complete_an_access_request_into_its_report(app, org, live_server, browser, queue):
    page = signed_in_page(browser, app, live_server, size="phone")
    page.goto(f"{live_server}/console/o/{org.slug}/rights/{queue['access'].id}")
    page.get_by_role("link", name="See the access report").click()
    page.wait_for_url("**/report")
    assert BOB in page.content() and "newsletter" in page.content()
    check(page, "rights-report-phone")
    assert no_horizontal_scroll(page)
    page.go_back()
    page.get_by_role("button", name="Complete: produce the report").click()
    page.wait_for_load_state()
    assert "Request completed. This is the report" in page.content()
    assert BOB in page.content()
    check(page, "rights-report-completed-phone")
    page.set_viewport_size({"width": 1280, "height": 800})
    screenshot(page, "rights-report-completed-desktop")
    assert rights.get_request(org.org.id, queue["access"].id).status == "completed"


def test_refuse_with_a_reason_then_a_wrong_step_is_a_409_page(app, org, live_server, browser,
                                                                queue):
    page = signed_in_page(browser, app, live_server)
    page.goto(f"{live_server}/console/o/{org.slug}/rights/{queue['late'].id}")
    page.fill("#refusal", "We could not confirm your identity.")
    page.get_by_role("button", name="Refuse").click()
    page.wait_for_url("**done=refused")
    assert "We could not confirm your identity." in page.content()
    assert rights.get_request(org.org.id, queue["late"].id).status == "refused"
    check(page, "rights-refused-desktop")
    # the same form again from a stale tab: a clear 409 page
    page.go_back()
    page.reload()
    page.goto(f"{live_server}/console/o/{org.slug}/rights/{queue['access'].id}")
    page.evaluate("""(id) => { const f = document.querySelector('form.refuse');
                                f.action = f.action.replace(/rights\\/[^/]+\\/refuse/,
                                                            'rights/' + id + '/complete'); }""",
                  queue["late"].id)
    page.fill("#refusal", "x")
    page.get_by_role("button", name="Refuse").click()
    page.wait_for_load_state()
    assert "cannot be completed: it is already refused" in page.content()
    assert page.get_by_role("heading", level=1).inner_text() == "Cannot do that"
    check(page, "rights-409-desktop")
