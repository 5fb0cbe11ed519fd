"""The hosted flow page (/v/<session token>) driven as a browser without JavaScript would: open,
submit, decide, cancel; the redirect to the callback, the framed answers and the messages each
page posts to the InContext SDK, the form tokens and cross-site checks, and the headers (CSP
with frame-ancestors from the settings, one script from the service itself)."""
from __future__ import annotations

import re

import pytest

from consent.core import outbox
from consent.core.storage import AuditEvent
from consent.dialects.veriff.models import VeriffAttempt
from tests.veriff_helpers import Integration

CALLBACK = "https://app.example.com/verified?step=2"
SAME_ORIGIN = {"Origin": "http://localhost"}


@pytest.fixture(autouse=True)
def no_sending(monkeypatch):
    monkeypatch.setattr(outbox.SENDER, "enabled", False)  # no webhook is configured here


@pytest.fixture
def integ(org):
    return Integration(org.org)


class Flow:
    """A session and its page, as the end-user's browser sees them."""

    def __init__(self, client, integ, callback=CALLBACK, first_name="Ada"):
        verification = {"vendorData": "user-7", "person": {"firstName": first_name,
                                                           "lastName": "Lovelace"}}
        if callback:
            verification["callback"] = callback
        created = integ.post(client, "/v1/sessions", {"verification": verification})
        assert created.status_code == 201
        self.client, self.integ = client, integ
        self.id = created.json["verification"]["id"]
        self.path = created.json["verification"]["url"].removeprefix("http://consent.test")
        self.page = None

    def open(self):
        self.page = self.client.get(self.path)
        return self.page

    @property
    def html(self) -> str:
        return self.page.get_data(as_text=True)

    def token(self) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', self.html).group(1)

    def post(self, headers=SAME_ORIGIN, token=None, **form):
        form.setdefault("csrf_token", token if token is not None else self.token())
        self.page = self.client.post(self.path, data=form, headers=headers)
        return self.page

    def events(self) -> str:
        return re.search(r'<body data-veriff-events="([^"]*)">', self.html).group(1)

    def status(self) -> str:
        return re.search(r'<td id="session-status">([^<]+)</td>', self.html).group(1)


def test_opening_starts_the_session_once(client, integ):
    flow = Flow(client, integ)
    page = flow.open()
    assert page.status_code == 200 and flow.status() == "started"
    assert flow.events() == "VERIFF_STARTED"
    assert '<td id="person-name">Ada Lovelace</td>' in flow.html
    assert 'name="action" value="submit"' in flow.html
    assert "Approve, Decline, Resubmit" in flow.html  # the test-mode names are explained
    flow.open()
    assert flow.status() == "started"
    assert VeriffAttempt.select().where(VeriffAttempt.session == flow.id).count() == 1
    started = AuditEvent.select().where(AuditEvent.action == "veriff.session.started")
    assert started.count() == 1 and started.get().actor == "veriff-flow-page"
    assert client.head(flow.path).status_code == 200


def test_submit_then_decide_redirects_to_the_callback(client, integ):
    flow = Flow(client, integ)
    flow.open()
    page = flow.post(action="submit", framed="0")
    assert page.status_code == 200 and flow.status() == "submitted"
    assert flow.events() == "VERIFF_SUBMITTED"
    for decision in ("approved", "declined", "resubmission_requested", "review", "expired",
                     "abandoned"):
        assert f'name="status" value="{decision}"' in flow.html
    assert '<option value="113">113 · Suspicious behaviour - Identity Farming</option>' in \
        flow.html
    assert '<option value="207">207 · Document expired</option>' in flow.html
    page = flow.post(action="decide", status="declined", decline_reason="106",
                     resubmission_reason="204", framed="0")
    assert page.status_code == 303 and page.headers["Location"] == CALLBACK
    v = flow.integ.get(client, f"/v1/sessions/{flow.id}/decision", flow.id).json["verification"]
    assert (v["status"], v["code"], v["reasonCode"], v["reason"]) == (
        "declined", 9102, 106, "Known fraud")
    flow.open()  # the link again: the result, nothing to post
    assert flow.status() == "declined" and flow.events() == ""
    assert '<strong id="decision-status">declined</strong> (9102): 106 · Known fraud' in flow.html
    assert "csrf_token" not in flow.html


def test_framed_pages_answer_and_tell_the_parent(client, integ):
    flow = Flow(client, integ)
    flow.open()
    flow.post(action="submit", framed="1")
    page = flow.post(action="decide", status="resubmission_requested",
                     resubmission_reason="205", framed="1")
    assert page.status_code == 200 and flow.events() == "VERIFF_FINISHED"
    assert '<strong id="decision-status">resubmission_requested</strong>' in flow.html
    assert "Open the verification link again" in flow.html
    flow.open()  # a new attempt
    assert flow.status() == "started" and flow.events() == "VERIFF_STARTED"
    assert VeriffAttempt.select().where(VeriffAttempt.session == flow.id).count() == 2


def test_fetch_metadata_also_says_framed(client, integ):
    flow = Flow(client, integ)
    flow.open()
    flow.post(action="submit")
    page = flow.post(headers={**SAME_ORIGIN, "Sec-Fetch-Dest": "iframe"}, action="decide",
                     status="approved")
    assert page.status_code == 200 and flow.events() == "VERIFF_FINISHED"


def test_without_callback_the_result_is_shown(client, integ):
    flow = Flow(client, integ, callback=None)
    flow.open()
    flow.post(action="submit")
    page = flow.post(action="decide", status="review")
    assert page.status_code == 200 and flow.status() == "review"
    # The end-user's part is over; the tester may resolve the review from the same page.
    assert flow.events() == "VERIFF_FINISHED" and 'value="decide"' in flow.html
    page = flow.post(action="decide", status="approved")
    assert page.status_code == 200 and flow.status() == "approved"
    assert flow.events() == "VERIFF_FINISHED" and 'id="callback"' not in flow.html


@pytest.mark.parametrize("name, framed, status", [
    ("Approve", "0", "approved"), ("Decline", "1", "declined"),
    ("Resubmit", "1", "resubmission_requested"),
])
def test_test_mode_names_on_the_page(client, integ, name, framed, status):
    flow = Flow(client, integ, first_name=name)
    flow.open()
    page = flow.post(action="submit", framed=framed)
    if framed == "0":
        assert page.status_code == 303 and page.headers["Location"] == CALLBACK
    else:
        assert page.status_code == 200 and flow.status() == status
        assert flow.events() == "VERIFF_SUBMITTED VERIFF_FINISHED"


def test_cancel(client, integ):
    flow = Flow(client, integ)
    flow.open()
    page = flow.post(action="cancel", framed="1")
    assert page.status_code == 200 and flow.events() == "VERIFF_CANCELED"
    assert "You left the verification" in flow.html
    flow.open()
    page = flow.post(action="cancel", framed="0")
    assert page.status_code == 303 and page.headers["Location"] == CALLBACK
    flow.open()
    assert flow.status() == "started"  # cancelling changes nothing


def test_invalid_decision_is_shown_again(client, integ):
    flow = Flow(client, integ)
    flow.open()
    flow.post(action="submit")
    for form in ({"status": "declined", "decline_reason": "201"},
                 {"status": "declined", "decline_reason": "9" * 5000},
                 {"status": "resubmission_requested", "resubmission_reason": "-1"},
                 {"status": "maybe"}, {}):
        page = flow.post(action="decide", **form)
        assert page.status_code == 422 and flow.status() == "submitted"
        assert 'id="form-error"' in flow.html
    assert AuditEvent.select().where(AuditEvent.action == "veriff.session.decided").count() == 0


def test_cross_site_and_forged_forms_are_refused(client, integ, org):
    flow = Flow(client, integ)
    flow.open()
    token = flow.token()
    for headers, form_token in (({"Origin": "https://evil.example"}, token),
                                ({"Sec-Fetch-Site": "cross-site"}, token),
                                (SAME_ORIGIN, ""), (SAME_ORIGIN, token[:-2] + "xx")):
        page = flow.post(headers=headers, token=form_token, action="submit")
        assert page.status_code == 403
        assert "This form could not be accepted." in flow.html
    other = Flow(client, Integration(org.org, "other"))
    other.open()
    assert flow.post(token=other.token(), action="submit").status_code == 403
    # "Origin: null" (privacy-preserving browsers): the token decides.
    assert flow.post(headers={"Origin": "null"}, token=token, action="submit").status_code == 200
    assert flow.status() == "submitted"


def test_a_stale_form_meets_the_page_as_it_is(client, runner, integ):
    flow = Flow(client, integ)
    flow.open()
    flow.post(action="submit")
    stale = flow.token()
    assert runner.invoke(args=["veriff", "decide", flow.id, "approved"]).exit_code == 0
    page = flow.post(token=stale, action="decide", status="declined")
    assert page.status_code == 409 and flow.status() == "approved"
    assert "This session changed in the meantime." in flow.html
    # A second click on the same form is no second decision either.
    again = Flow(client, integ)
    again.open()
    again.post(action="submit")
    token = again.token()
    assert again.post(token=token, action="decide", status="approved").status_code == 303
    assert again.post(token=token, action="decide", status="declined").status_code == 409


def test_an_action_the_status_does_not_allow(client, integ):
    flow = Flow(client, integ)
    flow.open()
    page = flow.post(action="decide", status="approved")
    assert page.status_code == 400 and flow.status() == "started"
    assert flow.post(action="explode").status_code == 400


def test_unknown_and_deleted_sessions(client, integ):
    page = client.get("/v/not-a-session-token")
    assert page.status_code == 404 and "This verification link is not valid." in \
        page.get_data(as_text=True)
    assert client.post("/v/not-a-session-token", data={}).status_code == 404
    flow = Flow(client, integ)
    assert integ.get(client, f"/v1/sessions/{flow.id}", flow.id,
                     method="delete").status_code == 200
    assert flow.open().status_code == 404


def test_headers_and_script(client, integ):
    flow = Flow(client, integ)
    page = flow.open()
    csp = page.headers["Content-Security-Policy"]
    assert csp == ("default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; "
                   "form-action 'self' https://app.example.com; "
                   "frame-ancestors 'self' http://localhost:* http://127.0.0.1:*; "
                   "base-uri 'none'")
    assert "X-Frame-Options" not in page.headers
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert page.headers["Cache-Control"] == "no-store"
    scripts = re.findall(r"<script[^>]*>", flow.html)
    assert scripts == ['<script src="/v/assets/flow.js">']
    assert "<script>" not in flow.html and "onclick" not in flow.html
    script = client.get("/v/assets/flow.js")
    assert script.status_code == 200 and script.mimetype == "text/javascript"
    source = script.get_data(as_text=True)
    for name in ("VERIFF_HANDSHAKE", "VERIFF_RENDER", "event.source !== parent"):
        assert name in source


def test_frame_ancestors_come_from_the_settings(app, client, integ):
    app.config["CONSENT_FRAME_ANCESTORS"] = "https://shop.example.com, https://*.example.org"
    flow = Flow(client, integ, callback=None)
    csp = flow.open().headers["Content-Security-Policy"]
    assert "frame-ancestors https://shop.example.com https://*.example.org;" in csp
    assert "form-action 'self';" in csp
