"""The console's webhooks view in headless Chromium: deliveries by status with their counts, a
delivery's exact request and attempts, replay by the keyboard against a real loopback receiver
(the attempt arrives, the page shows it delivered), a form without its CSRF token refused, axe on
every state, screenshots at desktop and phone size."""
from __future__ import annotations

import json

import pytest

from consent.core import outbox
from consent.core.storage import WebhookDelivery, transaction
from tests.helpers import delivery_settled
from tests.console_helpers import make_operator
from tests.e2e.console import axe_violations, no_horizontal_scroll, screenshot, signed_in_page
from tests.receiver import Receiver

SECRET = "zz-webhook-bearer-secret"


@pytest.fixture(autouse=True)
def fast(app, monkeypatch):
    monkeypatch.setattr(outbox, "POLICY", outbox.Policy(
        max_attempts=2, backoff_base=0.05, backoff_cap=0.1, timeout=2, poll_interval=0.05))




def enqueue(org, url, topic):
    with transaction():
        return outbox.enqueue(org.org.id, topic=topic, url=url, reference="sess-e2e",
                              body=json.dumps({"status": "approved", "topic": topic}),
                              headers={"Content-Type": "application/json",
                                       "Authorization": f"Bearer {SECRET}",
                                       "X-HMAC-SIGNATURE": "e2e-signature"})


def tab_to(page, name: str, most: int = 80) -> None:
    """Press Tab until the focused element's text is ``name`` (bounded)."""
    for _ in range(most):
        page.keyboard.press("Tab")
        if page.evaluate("() => (document.activeElement.innerText || '').trim()") == name:
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_webhooks_list_delivery_and_replay(app, org, live_server, browser):
    make_operator(org.org.id)
    with Receiver() as ok, Receiver(statuses=[500, 500]) as rx:
        good = enqueue(org, ok.url + "/hooks", "veriff.decision")
        bad = enqueue(org, rx.url + "/hooks", "veriff.event")
        delivery_settled(good, "delivered")
        delivery_settled(bad, "failed")

        for size in ("desktop", "phone"):
            page = signed_in_page(browser, app, live_server, size=size)
            page.get_by_role("navigation", name="Console").get_by_role("link", name="Webhooks").click()
            page.wait_for_url("**/webhooks")
            assert page.locator("#count-failed").inner_text() == "1"
            assert page.locator("#count-delivered").inner_text() == "1"
            rows = page.locator("table.deliveries tbody tr")
            assert rows.count() == 2
            assert f"#{bad}" in rows.nth(0).inner_text() and "HTTP 500" in rows.nth(0).inner_text()
            assert axe_violations(page) == []
            screenshot(page, f"webhooks-{size}")
            if size == "phone":
                assert no_horizontal_scroll(page)
            # filter by status with the form
            page.get_by_label("Status", exact=True).select_option("failed")
            page.get_by_role("button", name="Filter").click()
            page.wait_for_url("**status=failed**")
            assert page.locator("table.deliveries tbody tr").count() == 1
            page.get_by_role("link", name=f"#{bad}").click()
            page.wait_for_url(f"**/webhooks/{bad}")
            text = page.locator("main").inner_text()
            assert SECRET not in page.content()
            assert "Bearer ***" in text and "e2e-signature" in text and rx.url in text
            assert page.locator("table.attempts tbody tr").count() == 2
            assert axe_violations(page) == []
            screenshot(page, f"webhook-delivery-{size}")
            if size == "phone":
                assert no_horizontal_scroll(page)
            page.context.close()

        # CSRF: the form's token tampered with: refused, nothing replayed
        page = signed_in_page(browser, app, live_server)
        page.goto(f"{live_server}/console/o/{org.slug}/webhooks/{bad}")
        page.evaluate("() => document.querySelector('form.replay input[name=csrf]').value = 'x'")
        page.get_by_role("button", name="Replay this delivery").click()
        page.wait_for_load_state()
        assert page.get_by_role("heading", level=1).inner_text() == "Not allowed"
        assert WebhookDelivery.get_by_id(bad).status == "failed" and len(rx.received) == 2
        assert axe_violations(page) == []

        # replay by the keyboard: the receiver gets the request again, the page shows it
        page.goto(f"{live_server}/console/o/{org.slug}/webhooks/{bad}")
        tab_to(page, "Replay this delivery")
        page.keyboard.press("Enter")
        page.wait_for_url("**replayed=1")
        assert "Replayed" in page.get_by_role("status").inner_text()
        got = rx.wait_for(3)
        assert got[2].body == got[0].body and got[2].headers["authorization"] == f"Bearer {SECRET}"
        delivery_settled(bad, "delivered")
        page.reload()
        assert page.locator("#delivery-status").inner_text() == "delivered"
        assert page.locator("table.attempts tbody tr").count() == 3
        assert "HTTP 200" in page.locator("table.attempts tbody tr").nth(2).inner_text()
        assert axe_violations(page) == []
        screenshot(page, "webhook-replayed-desktop")
        page.context.close()
