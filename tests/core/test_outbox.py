"""The durable webhook outbox, against a real HTTP receiver on loopback: queued in the change's
transaction, sent after the commit, retried with backoff, every attempt logged, replayable."""
from __future__ import annotations

import datetime as dt
import json
import socket
import time

import pytest

from consent.core import outbox, storage
from consent.core.storage import WebhookAttempt, WebhookDelivery
from tests.receiver import Receiver


@pytest.fixture(autouse=True)
def fast_retries(app, monkeypatch):
    monkeypatch.setattr(outbox, "POLICY", outbox.Policy(
        max_attempts=3, backoff_base=0.05, backoff_cap=0.2, timeout=2, poll_interval=0.05))


def queue(org, url, body='{"event":"x"}', **headers):
    with storage.transaction():
        return outbox.enqueue(org.org.id, topic="test.event", url=url + "/hook", body=body,
                              headers={"Content-Type": "application/json", **headers},
                              reference="ref-1")


def wait_status(delivery_id, status, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = WebhookDelivery.get_by_id(delivery_id)
        if row.status == status:
            return row
        time.sleep(0.02)
    raise AssertionError(f"delivery {delivery_id} is {row.status}, not {status}")


def test_sent_after_commit_with_exact_bytes_and_headers(app, org):
    body = '{"b":1,"a":"é"}'
    with Receiver() as rx:
        delivery_id = queue(org, rx.url, body, **{"X-Signature": "abc"})
        got = rx.wait_for(1)[0]
        assert got.method == "POST" and got.path == "/hook"
        assert got.body == body.encode("utf-8")
        assert got.headers["x-signature"] == "abc"
        row = wait_status(delivery_id, "delivered")
        assert row.attempts == 1 and row.last_status_code == 200
        assert WebhookAttempt.select().where(WebhookAttempt.delivery == delivery_id).count() == 1


def test_nothing_is_sent_for_a_rolled_back_change(app, org):
    with Receiver() as rx:
        with pytest.raises(RuntimeError):
            with storage.transaction():
                outbox.enqueue(org.org.id, topic="t", url=rx.url, body="{}", headers={})
                raise RuntimeError("the change failed")
        time.sleep(0.3)
        assert rx.received == [] and WebhookDelivery.select().count() == 0


def test_retried_with_backoff_after_a_500_then_delivered(app, org):
    with Receiver(statuses=[500]) as rx:
        delivery_id = queue(org, rx.url)
        first, second = rx.wait_for(2)
        assert first.body == second.body
        row = wait_status(delivery_id, "delivered")
        assert row.attempts == 2
    log = list(WebhookAttempt.select().where(WebhookAttempt.delivery == delivery_id)
               .order_by(WebhookAttempt.id))
    assert [a.status_code for a in log] == [500, 200]
    assert log[0].error == "HTTP 500" and log[1].error is None
    assert (log[1].at - log[0].at).total_seconds() >= 0.04  # waited for the backoff


def test_gives_up_after_max_attempts_and_replay_sends_again(app, client, org):
    with Receiver(statuses=[503, 503, 503]) as rx:
        delivery_id = queue(org, rx.url)
        row = wait_status(delivery_id, "failed")
        assert row.attempts == 3 and row.last_status_code == 503
        listed = client.get("/ledger/v1/webhooks?status=failed", headers=org.headers()).json
        assert [d["id"] for d in listed["items"]] == [delivery_id]
        replayed = client.post(f"/ledger/v1/webhooks/{delivery_id}/replay",
                               headers=org.headers())
        assert replayed.status_code == 202 and replayed.json["status"] == "pending"
        rx.wait_for(4)
        wait_status(delivery_id, "delivered")
        detail = client.get(f"/ledger/v1/webhooks/{delivery_id}", headers=org.headers()).json
        assert [a["status_code"] for a in detail["attempt_log"]] == [503, 503, 503, 200]
        assert detail["body"] == '{"event":"x"}' and detail["reference"] == "ref-1"


def test_an_unreachable_receiver_is_an_attempt_with_an_error(app, org):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    delivery_id = queue(org, f"http://127.0.0.1:{port}")
    row = wait_status(delivery_id, "failed")
    assert row.last_status_code is None and "Error" in row.last_error


def test_one_claim_per_due_attempt(app, org):
    outbox.SENDER.enabled = False
    try:
        with storage.transaction():
            delivery_id = outbox.enqueue(org.org.id, topic="t", url="http://127.0.0.1:9/x",
                                         body="{}", headers={})
        due = outbox.DUE.all(("pending", storage.utcnow(), storage.utcnow(), 10))
        assert [d.id for d in due] == [delivery_id]
        now = storage.utcnow()
        claim = (now + dt.timedelta(seconds=60), delivery_id, now, now)
        with storage.transaction():
            assert outbox.CLAIM.execute(claim).rowcount == 1
        with storage.transaction():  # a second sender finds it leased
            assert outbox.CLAIM.execute(claim).rowcount == 0
    finally:
        outbox.SENDER.enabled = True


def test_tenants_never_see_each_others_deliveries(app, client, org, other_org):
    outbox.SENDER.enabled = False
    try:
        delivery_id = queue(org, "http://127.0.0.1:9")
    finally:
        outbox.SENDER.enabled = True
    assert client.get(f"/ledger/v1/webhooks/{delivery_id}",
                      headers=other_org.headers()).status_code == 404
    assert client.post(f"/ledger/v1/webhooks/{delivery_id}/replay",
                       headers=other_org.headers()).status_code == 404
    assert client.get("/ledger/v1/webhooks", headers=other_org.headers()).json["items"] == []


def test_cli_lists_shows_and_replays(app, runner, org):
    with Receiver(statuses=[500, 500, 500]) as rx:
        delivery_id = queue(org, rx.url)
        wait_status(delivery_id, "failed")
        listed = runner.invoke(args=["webhooks", "list", "--org", "acme"])
        assert listed.exit_code == 0
        assert json.loads(listed.output.splitlines()[0])["status"] == "failed"
        shown = runner.invoke(args=["webhooks", "show", "--org", "acme", str(delivery_id)])
        assert "3 attempt(s)" in shown.output and "500" in shown.output
        replayed = runner.invoke(args=["webhooks", "replay", "--org", "acme", str(delivery_id)])
        assert replayed.exit_code == 0
        wait_status(delivery_id, "delivered")
