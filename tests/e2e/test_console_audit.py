"""The audit view in headless Chromium: the chain and its pages, an event, "Verify now" clicked
and its progress followed by htmx until the verdict (intact; on a tampered chain the first bad
event named, linked), a checkpoint signed by keyboard; axe-core finds no serious or critical
violation, and the pages hold on a phone (screenshots of each)."""
from __future__ import annotations

import re

import pytest

from consent.core import checkpoints, ledger
from consent.core.storage import AuditEvent
from tests.console_helpers import make_operator
from tests.e2e.console import axe_violations, no_horizontal_scroll, screenshot, signed_in_page


@pytest.fixture
def seeded(app, org, other_org):
    make_operator(org.org.id)
    for n in range(8):
        ledger.record_one(org.org.id, ledger.Decision(
            subject=f"person-{n}@example.com", purpose=("marketing", "analytics")[n % 2],
            status="granted", source=("ledger", "truconsent", "avacy", "veriff")[n % 4],
            evidence={"ip": f"203.0.113.{n}"}))
    ledger.record_one(other_org.org.id, ledger.Decision(
        subject="zz-globex@example.com", purpose="zz-globex", status="granted"))
    return org


def test_the_chain_verify_now_and_checkpoints(app, org, live_server, browser, seeded):
    page = signed_in_page(browser, app, live_server)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Audit").click()
    page.wait_for_url("**/console/o/acme/audit")
    head_seq, head_hash = checkpoints.head(org.org.id)
    seqs = page.locator("table.chain td[data-label=Seq]").all_inner_texts()
    assert seqs[0] == f"#{head_seq}" and len(seqs) == head_seq        # under one page
    assert "zz-globex" not in page.content()
    # a shortened hash opens to the whole value
    first_hash = page.locator("table.chain td[data-label=Hash] details").first
    assert not first_hash.locator("code.full").is_visible()
    first_hash.locator("summary").click()
    assert first_hash.locator("code.full").inner_text() == head_hash
    assert axe_violations(page) == []
    screenshot(page, "audit-desktop")

    # an event's page
    page.get_by_role("link", name=f"#{head_seq - 1}", exact=True).first.click()
    page.wait_for_url(f"**/console/o/acme/audit/{head_seq - 1}")
    assert page.get_by_role("heading", level=1).inner_text() == f"Audit event #{head_seq - 1}"
    assert axe_violations(page) == []
    screenshot(page, "audit-event-desktop")

    # verify now: the progress swapped in by htmx until the verdict
    page.goto(f"{live_server}/console/o/acme/audit")
    page.get_by_role("button", name="Verify now").click()
    page.wait_for_url(re.compile(r".*/audit/verifications/\d+$"))
    verdict = page.locator("#verification .verdict")
    verdict.filter(has_text="intact").wait_for(timeout=30_000)
    assert page.locator("#verify-progress").get_attribute("value") == "100"
    assert page.locator("#verification").get_attribute("hx-trigger") is None   # polling ends
    assert axe_violations(page) == []
    screenshot(page, "audit-verified-desktop")

    # sign a checkpoint, by keyboard
    page.goto(f"{live_server}/console/o/acme/audit")
    assert "No checkpoint has been signed yet." in page.content()
    page.get_by_role("button", name="Sign a checkpoint now").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    [kept] = checkpoints.listing(org.org.id)
    row = page.locator("table.checkpoints tbody tr")
    assert row.count() == 1
    assert row.locator("td[data-label=Seq]").inner_text() == f"#{kept.seq}"
    assert row.locator("td[data-label='Key id']").inner_text() == kept.key_id
    row.locator("td[data-label=Signature] summary").click()
    assert row.locator("td[data-label=Signature] code.full").inner_text() == kept.signature
    assert axe_violations(page) == []
    screenshot(page, "audit-checkpoints-desktop")


@pytest.mark.tampered
def test_verify_now_names_the_first_bad_event(app, org, live_server, browser, seeded):
    events = ledger.audit_newest(org.org.id, limit=100)[0]
    target = [e for e in events if e.action == "consent.recorded"][3]
    AuditEvent.update(actor="someone-else").where(
        (AuditEvent.org == org.org.id) & (AuditEvent.seq == target.seq)).execute()
    page = signed_in_page(browser, app, live_server)
    page.goto(f"{live_server}/console/o/acme/audit")
    page.get_by_role("button", name="Verify now").click()
    page.wait_for_url(re.compile(r".*/audit/verifications/\d+$"))
    page.locator("#verification .verdict.broken").wait_for(timeout=30_000)
    bad = page.locator("#verification .verdict.broken a")
    assert bad.inner_text() == f"#{target.seq}"
    assert target.event_id in page.locator("#verification").inner_text()
    assert axe_violations(page) == []
    screenshot(page, "audit-broken-desktop")
    bad.click()
    page.wait_for_url(f"**/console/o/acme/audit/{target.seq}")
    assert "someone-else" in page.content()


def test_audit_on_a_phone(app, org, live_server, browser, seeded):
    page = signed_in_page(browser, app, live_server, size="phone")
    checkpoints.issue(org.org.id, origin="request")
    page.goto(f"{live_server}/console/o/acme/audit")
    page.locator("table.chain td[data-label=Payload] summary").first.click()
    assert no_horizontal_scroll(page)
    assert axe_violations(page) == []
    screenshot(page, "audit-phone")
    page.get_by_role("button", name="Verify now").click()
    page.locator("#verification .verdict.intact").wait_for(timeout=30_000)
    assert no_horizontal_scroll(page) and axe_violations(page) == []
    screenshot(page, "audit-verified-phone")
    page.goto(f"{live_server}/console/o/acme/audit/3")
    assert no_horizontal_scroll(page) and axe_violations(page) == []
    screenshot(page, "audit-event-phone")
