"""The durable webhook outbox, against a real HTTP receiver on loopback: queued in the change's
transaction, sent after the commit, retried with backoff, every attempt logged, replayable; sent
concurrently with per-destination fairness (a receiver that hangs delays nobody else), on a pool
that stops with its app; secrets masked in every view and log."""
from __future__ import annotations

import datetime as dt
import json
import logging
import re
import socket
import threading
import time

import pytest

from consent.core import outbox, queries, storage
from consent.core.storage import WebhookAttempt, WebhookDelivery
from tests.receiver import Receiver


@pytest.fixture(autouse=True)
def fast_retries(app, monkeypatch):
    monkeypatch.setattr(outbox, "POLICY", outbox.Policy(
        max_attempts=3, backoff_base=0.05, backoff_cap=0.2, timeout=2, poll_interval=0.05))


def queue(org, url, body='{"event":"x"}', reference="ref-1", **headers):
    with storage.transaction():
        return outbox.enqueue(org.org.id, topic="test.event", url=url + "/hook", body=body,
                              headers={"Content-Type": "application/json", **headers},
                              reference=reference)


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
        now = storage.utcnow()
        due = queries.due_deliveries(0).all((now, now, outbox.EPOCH, outbox.EPOCH, 0, 10))
        assert [d.id for d in due] == [delivery_id]
        claim = (now + dt.timedelta(seconds=60), delivery_id, now, now)
        with storage.transaction():
            assert queries.CLAIM_DELIVERY.execute(claim).rowcount == 1
        with storage.transaction():  # a second sender finds it leased
            assert queries.CLAIM_DELIVERY.execute(claim).rowcount == 0
        assert queries.due_deliveries(0).all((now, now, outbox.EPOCH, outbox.EPOCH, 0, 10)) == []
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


# -- concurrency and fairness ------------------------------------------------------------------------

@pytest.fixture
def patient(monkeypatch):
    """Attempts wait a minute for an answer: a receiver that hangs hangs until released."""
    monkeypatch.setattr(outbox, "POLICY", outbox.Policy(
        max_attempts=3, backoff_base=0.05, backoff_cap=0.2, timeout=60, poll_interval=0.05))


def pool_threads():
    return [t for t in threading.enumerate() if re.fullmatch(r"webhook-\d+", t.name)]


def test_a_hanging_receiver_delays_nobody_else(app, org, other_org, patient):
    """Ten deliveries of one organisation to a receiver that hangs; another organisation's
    webhook to a fast receiver arrives while they are still hanging."""
    with Receiver(hang=True) as slow, Receiver() as fast:
        hanging = [queue(org, slow.url, reference=f"a-{i}") for i in range(10)]
        slow.wait_hanging(2)
        other = queue(other_org, fast.url, reference="b-1")
        [got] = fast.wait_for(1)
        assert got.body == b'{"event":"x"}'
        wait_status(other, "delivered")
        # Meanwhile A's receiver still holds its two, and got no more than two at once.
        assert (slow.in_progress, len(slow.received)) == (2, 2)
        assert [WebhookDelivery.get_by_id(i).status for i in hanging] == ["pending"] * 10
        slow.release()
        for delivery_id in hanging:
            assert wait_status(delivery_id, "delivered").attempts == 1
        assert slow.most_at_once == 2 and len(slow.received) == 10


def test_one_entitys_webhooks_go_one_at_a_time_in_order(app, org, patient):
    with Receiver(hang=True) as rx:
        ids = [queue(org, rx.url, body=f'{{"n":{i}}}', reference="session-1") for i in range(3)]
        rx.wait_hanging(1)
        rx.release()
        received = rx.wait_for(3)
        for delivery_id in ids:
            wait_status(delivery_id, "delivered")
    assert [r.body for r in received] == [b'{"n":0}', b'{"n":1}', b'{"n":2}']
    assert rx.most_at_once == 1


def test_the_pool_stops_with_the_apps_runner(app, org, patient):
    """Stopping the app's background (a new app, a test's end) ends the attempts in flight at
    once, recorded as failed and retried later; nothing outlives the app."""
    with Receiver(hang=True) as slow:
        ids = [queue(org, slow.url, reference=f"r-{i}") for i in range(3)]
        slow.wait_hanging(2)
        threads = pool_threads()
        assert len(threads) == outbox.POLICY.workers
        app.extensions["consent.background"].stop()
        assert [t for t in threads if t.is_alive()] == [] and pool_threads() == []
        rows = [WebhookDelivery.get_by_id(i) for i in ids]
    assert sorted(r.attempts for r in rows) == [0, 1, 1]      # the third never left
    assert all(r.status == "pending" and r.lease_until is None for r in rows)
    ended = [a.error for a in WebhookAttempt.select()]
    assert ended == ["aborted: the sender stopped before an answer came"] * 2


def test_the_cli_sends_fairly_and_waits(app, runner, org, other_org):
    outbox.SENDER.enabled = False
    try:
        with Receiver() as a, Receiver() as b:
            for i in range(3):
                queue(org, a.url, reference=f"a-{i}")
            queue(other_org, b.url, reference="b")
            sent = runner.invoke(args=["webhooks", "send"])
            assert sent.exit_code == 0 and sent.output == "4 delivery(ies) attempted\n"
            assert (len(a.received), len(b.received)) == (3, 1)
        assert pool_threads() == []
    finally:
        outbox.SENDER.enabled = True


# -- secrets in what the operator sees ----------------------------------------------------------------

SECRETS = {"Authorization": "Bearer tok-7Hq2-very-secret", "X-AUTH-CLIENT": "key-9Zx-secret",
           "X-Api-Key": "apikey-secret-1", "Cookie": "session=cookie-secret"}


def test_secrets_are_masked_in_every_view_and_log(app, client, runner, org, caplog):
    caplog.set_level(logging.INFO, logger="consent")
    with Receiver(statuses=[500, 500, 500]) as rx:
        delivery_id = queue(org, rx.url, **SECRETS, **{"X-HMAC-SIGNATURE": "ab12",
                                                        "vrf-integration-id": "int-1"})
        got = rx.wait_for(1)[0]
        wait_status(delivery_id, "failed")
    assert got.headers["authorization"] == SECRETS["Authorization"]   # sent as they are
    detail = client.get(f"/ledger/v1/webhooks/{delivery_id}", headers=org.headers())
    assert detail.json["headers"] == {
        "Content-Type": "application/json", "Authorization": "Bearer ***",
        "X-AUTH-CLIENT": "***", "X-Api-Key": "***", "Cookie": "***",
        "X-HMAC-SIGNATURE": "ab12", "vrf-integration-id": "int-1"}
    shown = runner.invoke(args=["webhooks", "show", "--org", "acme", str(delivery_id)])
    assert "  Authorization: Bearer ***\n" in shown.output
    assert "  X-HMAC-SIGNATURE: ab12\n" in shown.output
    listed = client.get("/ledger/v1/webhooks", headers=org.headers())
    replayed = client.post(f"/ledger/v1/webhooks/{delivery_id}/replay", headers=org.headers())
    assert replayed.status_code == 202
    assert "attempt 3 failed (HTTP 500)" in caplog.text   # the log line is there...
    for text in (detail.get_data(as_text=True), shown.output, listed.get_data(as_text=True),
                 replayed.get_data(as_text=True), caplog.text):
        for secret in SECRETS.values():                   # ...without any secret
            assert secret.split("=")[-1] not in text and secret.split()[-1] not in text


def test_a_url_with_credentials_is_shown_redacted_and_never_sent(app, client, runner, org,
                                                                  caplog):
    """Set before URLs were checked: never sent, its password never shown or logged."""
    caplog.set_level(logging.INFO, logger="consent")
    delivery_id = queue(org, "http://hook-user:pa55word@127.0.0.1:9")
    row = wait_status(delivery_id, "failed")
    assert row.last_error == ("refused, nothing sent: a webhook URL may not carry a user name or "
                              "password")
    detail = client.get(f"/ledger/v1/webhooks/{delivery_id}", headers=org.headers()).json
    listed = client.get("/ledger/v1/webhooks", headers=org.headers()).json["items"]
    assert detail["url"] == listed[0]["url"] == "http://***@127.0.0.1:9/hook"
    listed_cli = runner.invoke(args=["webhooks", "list", "--org", "acme"]).output
    shown = runner.invoke(args=["webhooks", "show", "--org", "acme", str(delivery_id)]).output
    assert "http://***@127.0.0.1:9/hook" in caplog.text
    for text in (listed_cli, shown, caplog.text):
        assert "pa55word" not in text and "hook-user" not in text
