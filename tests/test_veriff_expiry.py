"""Veriff sessions expire: 7 days after creation, on the organisation's clock, a session never
started is decided ``expired`` and one started but not submitted ``abandoned`` (both 9104), with
the signed decision webhook at a real receiver on loopback, exactly once; a session within its
lifetime is unchanged; the page says it expired; writes answer as for a finished session; the
audit chain verifies. With control mode (``POST /_control/clock``) and without it (the process's
own clock, :func:`consent.core.clock.offset`). Runs on SQLite, and on PostgreSQL with
CONSENT_TEST_DATABASE_URL."""
from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time

import pytest

from consent.core import clock, outbox, storage
from consent.core.storage import AuditEvent, WebhookDelivery
from consent.dialects.veriff import lifecycle
from consent.dialects.veriff.service import create_integration
from tests.concurrency import together
from tests.receiver import Receiver
from tests.veriff_helpers import CONSENT, JPEG, Integration, fail, sign

DAY = 24 * 3600
SUBMITTED_MEDIA = fail("Media cannot be uploaded to a submitted session.")
SUBMITTED_CONSENT = fail("Consent cannot be uploaded to a submitted session.")


@pytest.fixture(autouse=True)
def fast(app, monkeypatch):
    monkeypatch.setattr(outbox, "POLICY", outbox.Policy(
        max_attempts=3, backoff_base=0.05, backoff_cap=0.2, timeout=2, poll_interval=0.05))


@pytest.fixture
def receiver():
    with Receiver() as rx:
        yield rx


class Hooked(Integration):
    """An integration whose event and decision webhooks go to the receiver."""

    def __init__(self, org, rx):
        issued = create_integration(org, name="hooked", event_url=rx.url + "/events",
                                    decision_url=rx.url + "/decisions")
        self.key, self.secret, self.id = issued.key, issued.shared_secret, issued.credential.id

    def decision(self, client, sid):
        response = self.get(client, f"/v1/sessions/{sid}/decision", sid)
        assert response.status_code == 200, response.json
        self.assert_signed(response)
        return response

    def received_decisions(self, rx) -> dict:
        """session id -> the decision webhooks received about it (each signature checked)."""
        out: dict = {}
        for got in rx.received:
            if got.path != "/decisions":
                continue
            assert got.headers["x-auth-client"] == got.headers["vrf-auth-client"] == self.key
            expected = sign(self.secret, got.body)
            assert got.headers["x-hmac-signature"] == got.headers["vrf-hmac-signature"] == expected
            assert got.headers["vrf-integration-id"] == self.id
            body = json.loads(got.body)
            out.setdefault(body["verification"]["id"], []).append(got)
        return out


def wait_until(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.02)


def outbox_idle():
    """Every delivery written is delivered (nothing more is going to be sent)."""
    rows = list(WebhookDelivery.select())
    return rows and all(r.status == "delivered" for r in rows)


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def create(integ, client, **verification) -> tuple[str, str]:
    body = {"verification": {"vendorData": "user-1", "callback": "https://app.example/cb",
                             **verification}}
    r = integ.post(client, "/v1/sessions", body)
    assert r.status_code == 201, r.json
    return r.json["verification"]["id"], token_of(r.json["verification"]["url"])


def start(client, token):
    page = client.get(f"/v/{token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="expired"' not in html
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def move(client, org, seconds):
    r = client.post("/_control/clock", json={"advance_seconds": seconds}, headers=org.headers())
    assert r.status_code == 200, r.json
    return r


def created_at(sid) -> dt.datetime:
    from consent.dialects.veriff.models import VeriffSession
    return VeriffSession.get_by_id(sid).created_at


def veriff_time(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def assert_ended(integ, client, rx, sid, status):
    """GET /decision gives ``status`` 9104 at the end of the lifetime, and the decision webhook
    received about it is that same body, exactly once."""
    response = integ.decision(client, sid)
    v = response.json["verification"]
    assert (v["id"], v["status"], v["code"], v["reason"], v["reasonCode"]) == (
        sid, status, 9104, None, None)
    assert v["decisionTime"] == veriff_time(created_at(sid) + dt.timedelta(days=7))
    got = integ.received_decisions(rx).get(sid, [])
    assert len(got) == 1
    assert json.loads(got[0].body) == response.json
    return response.json


# -- control mode: the organisation's clock -------------------------------------------------------

@pytest.mark.control_mode
def test_moving_the_clock_8_days_expires_and_abandons_once(client, org, receiver):
    integ = Hooked(org.org, receiver)
    never, _ = create(integ, client)
    started, token = create(integ, client, vendorData="user-2")
    start(client, token)
    move(client, org, 6 * DAY)
    young, young_token = create(integ, client, vendorData="user-3")   # 2 days old at the end
    move(client, org, 2 * DAY)
    # the clock's move expired them at once (the hook): both webhooks arrive without a read
    wait_until(lambda: len(integ.received_decisions(receiver)) == 2)
    wait_until(outbox_idle)
    assert_ended(integ, client, receiver, never, "expired")
    assert_ended(integ, client, receiver, started, "abandoned")
    # the attempt that was in progress is the one abandoned
    attempts = integ.get(client, f"/v1/sessions/{started}/attempts", started).json
    assert [a["status"] for a in attempts["verifications"]] == ["abandoned"]
    # within its lifetime: unchanged
    assert integ.decision(client, young).json["verification"] is None
    assert start(client, young_token)
    # more sweeps and reads change nothing and send nothing again
    assert lifecycle.expire_all(org.org.id) == 0
    move(client, org, 60)
    integ.decision(client, never)
    wait_until(outbox_idle)
    got = integ.received_decisions(receiver)
    assert {sid: len(v) for sid, v in got.items()} == {never: 1, started: 1}
    # each expiry is one audit event of the expiry's actor
    events = list(AuditEvent.select().where((AuditEvent.action == "veriff.session.decided")
                                            & (AuditEvent.actor == lifecycle.EXPIRY_ACTOR)))
    assert sorted((e.entity_id, e.payload["status"], e.payload["via"]) for e in events) == sorted(
        [(never, "expired", "lifetime"), (started, "abandoned", "lifetime")])
    assert client.get("/ledger/v1/audit/verify", headers=org.headers()).json["ok"] is True


@pytest.mark.control_mode
def test_a_session_one_second_short_of_its_lifetime_is_not_expired(client, org, receiver):
    integ = Hooked(org.org, receiver)
    sid, token = create(integ, client)
    age = (clock.real_utcnow() - created_at(sid)).total_seconds()
    move(client, org, 7 * DAY - age - 60)
    assert integ.decision(client, sid).json["verification"] is None
    assert client.get("/_control/state", headers=org.headers()).json["records"]["veriff"][
        "veriff_session_state"][0]["status"] == "created"
    move(client, org, 120)
    wait_until(lambda: len(integ.received_decisions(receiver)) == 1)
    assert_ended(integ, client, receiver, sid, "expired")


@pytest.mark.control_mode
def test_the_page_of_an_expired_session_says_so_and_starts_nothing(client, org, receiver):
    integ = Hooked(org.org, receiver)
    sid, token = create(integ, client)
    move(client, org, 8 * DAY)
    page = client.get(f"/v/{token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="expired"' in html and "This verification session has expired." in html
    assert '<strong id="decision-status">expired</strong>' in html
    assert 'value="submit"' not in html   # no flow to go through
    wait_until(outbox_idle)
    assert [r.path for r in receiver.received] == ["/decisions"]   # no "started" event
    assert integ.decision(client, sid).json["verification"]["status"] == "expired"


@pytest.mark.control_mode
def test_writes_to_an_expired_session_answer_as_for_a_finished_one(client, org, receiver):
    integ = Hooked(org.org, receiver)
    never, _ = create(integ, client)
    started, token = create(integ, client, vendorData="user-2")
    form = start(client, token)
    move(client, org, 8 * DAY)
    # PATCH submitted: a finished session is answered as it is
    r = integ.post(client, f"/v1/sessions/{never}", {"verification": {"status": "submitted"}},
                   method="patch")
    assert r.status_code == 200 and r.json["verification"]["status"] == "expired"
    integ.assert_signed(r)
    # media and consent uploads refused
    image = {"image": {"context": "face", "content": base64.b64encode(JPEG).decode()}}
    r = integ.post(client, f"/v1/sessions/{started}/media", image)
    assert (r.status_code, r.json) == (409, SUBMITTED_MEDIA)
    r = integ.upload(client, never)
    assert (r.status_code, r.json) == (400, SUBMITTED_CONSENT)
    # a decision through the ledger API: the decision is final
    r = client.post(f"/ledger/v1/veriff/sessions/{started}/decision", json={"status": "approved"},
                    headers=org.headers())
    assert r.status_code == 409 and "already abandoned" in r.json["message"]
    # the test page's form, shown while the session was started, meets it as it now is
    r = client.post(f"/v/{token}", data={"csrf_token": form, "action": "submit"},
                    headers={"Origin": "http://localhost"})
    assert r.status_code == 409
    assert '<strong id="decision-status">abandoned</strong>' in r.get_data(as_text=True)
    # nothing was written: no media, no consent, the decisions as the lifetime left them
    assert integ.get(client, f"/v1/sessions/{started}/media", started).json["images"] == []
    assert integ.get(client, f"/v1/sessions/{never}/consents", never).json["consents"] == []
    wait_until(outbox_idle)
    assert_ended(integ, client, receiver, never, "expired")
    assert_ended(integ, client, receiver, started, "abandoned")
    assert client.get("/ledger/v1/audit/verify", headers=org.headers()).json["ok"] is True


@pytest.mark.control_mode
def test_another_organisations_clock_expires_nothing_here(client, org, other_org, receiver):
    integ = Hooked(org.org, receiver)
    sid, _ = create(integ, client)
    move(client, other_org, 8 * DAY)
    assert integ.decision(client, sid).json["verification"] is None


# -- without control mode: the process's own clock ----------------------------------------------

def test_a_read_past_the_lifetime_expires_it_before_any_sweep(client, org, receiver):
    lifecycle.SWEEPER.enabled = False
    try:
        integ = Hooked(org.org, receiver)
        never, _ = create(integ, client)
        started, token = create(integ, client, vendorData="user-2")
        start(client, token)
        with clock.offset(8 * DAY):
            decided = integ.decision(client, never).json["verification"]
            assert decided["status"] == "expired"
            r = integ.post(client, f"/v1/sessions/{started}",
                           {"verification": {"status": "submitted"}}, method="patch")
            assert r.status_code == 200 and r.json["verification"]["status"] == "abandoned"
            wait_until(lambda: len(integ.received_decisions(receiver)) == 2)
            wait_until(outbox_idle)
            assert_ended(integ, client, receiver, never, "expired")
            assert_ended(integ, client, receiver, started, "abandoned")
            assert lifecycle.expire_due() == 0
    finally:
        lifecycle.SWEEPER.enabled = True


def test_the_sweep_expires_without_anyone_asking(client, org, receiver):
    integ = Hooked(org.org, receiver)
    sid, _ = create(integ, client)
    assert lifecycle.expire_due() == 0            # within its lifetime
    later = storage.utcnow() + dt.timedelta(days=8)
    assert lifecycle.expire_due(now=later) == 1
    assert lifecycle.expire_due(now=later) == 0
    wait_until(lambda: len(integ.received_decisions(receiver)) == 1)
    wait_until(outbox_idle)
    with clock.offset(8 * DAY):
        assert_ended(integ, client, receiver, sid, "expired")


def test_each_expiry_is_claimed_once_across_sweepers(app, client, org):
    lifecycle.SWEEPER.enabled = False
    try:
        integ = Integration(org.org)
        sids = [create(integ, client, vendorData=f"user-{n}")[0] for n in range(6)]
        later = storage.utcnow() + dt.timedelta(days=8)
        counts = together(4, lambda: lifecycle.expire_due(now=later))
        assert sum(counts) == 6
        decided = list(AuditEvent.select().where(AuditEvent.action == "veriff.session.decided"))
        assert sorted(e.entity_id for e in decided) == sorted(sids)
        assert lifecycle.expire_due(now=later) == 0
    finally:
        lifecycle.SWEEPER.enabled = True


def test_the_background_sweep_runs_on_its_own(app, client, org, receiver, monkeypatch):
    integ = Hooked(org.org, receiver)
    sid, _ = create(integ, client)
    # its lifetime shortened to a second (CONSENT_VERIFF_SESSION_LIFETIME), the loop woken often
    monkeypatch.setattr(lifecycle, "LIFETIME", dt.timedelta(seconds=1))
    monkeypatch.setattr(lifecycle, "SWEEP_INTERVAL", 0.05)
    lifecycle.SWEEPER.wake()
    wait_until(lambda: len(integ.received_decisions(receiver)) == 1)
    body = json.loads(integ.received_decisions(receiver)[sid][0].body)
    assert (body["verification"]["status"], body["verification"]["code"]) == ("expired", 9104)


def test_the_lifetime_is_a_setting(app, monkeypatch):
    from flask import Flask

    from consent import settings

    assert lifecycle.LIFETIME == dt.timedelta(days=7)       # the default, configured by the app
    monkeypatch.setenv("CONSENT_VERIFF_SESSION_LIFETIME", "3600")
    bare = Flask("lifetime", instance_path=str(app.instance_path))
    settings.load(bare)
    assert bare.config["CONSENT_VERIFF_SESSION_LIFETIME"] == 3600.0
