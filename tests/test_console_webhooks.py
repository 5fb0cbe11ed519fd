"""The console's webhooks view (Flask test client): deliveries by status with their counts, the
filters and keyset pages, one delivery's exact request with its secrets masked and every attempt,
replay (its audit event, the receiver getting the request again), CSRF, bad parameters, and
another organisation's deliveries never shown."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from consent.core import outbox, sql
from consent.core.storage import AuditEvent, WebhookDelivery, transaction, utcnow
from tests.helpers import delivery_settled
from tests.console_helpers import csrf_of
from tests.receiver import Receiver

SECRET = "sk_live_zz-very-secret-token"


@pytest.fixture(autouse=True)
def fast(app, monkeypatch):
    monkeypatch.setattr(outbox, "POLICY", outbox.Policy(
        max_attempts=2, backoff_base=0.05, backoff_cap=0.1, timeout=2, poll_interval=0.05))



def enqueue(org, url, topic="decision", body=None, headers=None, reference=None,
            later=False) -> int:
    """Queue a delivery; ``later``: due in an hour (it stays pending, unsent, in the test)."""
    with transaction():
        d = outbox.enqueue(
            org.org.id, topic=topic, url=url, reference=reference,
            body=body or json.dumps({"topic": topic}),
            headers=headers or {"Content-Type": "application/json"})
        if later:
            sql.update(WebhookDelivery, d, {"next_attempt_at": utcnow() + dt.timedelta(hours=1)})
    return d




def events(org, action):
    return list(AuditEvent.select().where((AuditEvent.org == org.org.id)
                                          & (AuditEvent.action == action))
                .order_by(AuditEvent.seq))


def page(client, org, query=""):
    r = client.get(f"/console/o/{org.slug}/webhooks{query}")
    return r, r.get_data(as_text=True)


def test_not_signed_in_goes_to_sign_in(client, org):
    for path in (f"/console/o/{org.slug}/webhooks", f"/console/o/{org.slug}/webhooks/1"):
        r = client.get(path)
        assert r.status_code == 303 and r.headers["Location"].endswith("/console/sign-in")
    r = client.post(f"/console/o/{org.slug}/webhooks/1/replay")
    assert r.status_code == 303


def test_list_counts_filters_and_other_org(app, signed_in, org, other_org):
    with Receiver() as ok, Receiver(statuses=[500] * 10) as bad:
        delivered = enqueue(org, ok.url + "/ok", topic="decision")
        failed = enqueue(org, bad.url + "/bad", topic="event")
        delivery_settled(delivered, "delivered")
        delivery_settled(failed, "failed")
    pending = enqueue(org, "http://127.0.0.1:9/later", topic="event", later=True)
    theirs = enqueue(other_org, "http://127.0.0.1:9/theirs", topic="zz-globex-topic", later=True)

    r, html = page(signed_in, org)
    assert r.status_code == 200
    assert 'id="count-pending">1<' in html
    assert 'id="count-delivered">1<' in html
    assert 'id="count-failed">1<' in html
    for d in (delivered, failed, pending):
        assert f'/webhooks/{d}"' in html
    assert f"/webhooks/{theirs}\"" not in html and "zz-globex-topic" not in html
    # newest first
    assert html.index(f"#{pending}<") < html.index(f"#{failed}<") < html.index(f"#{delivered}<")
    assert "HTTP 500" in html and "HTTP 200" in html

    r, html = page(signed_in, org, "?status=failed")
    assert r.status_code == 200
    assert f"#{failed}<" in html and f"#{delivered}<" not in html and f"#{pending}<" not in html
    r, html = page(signed_in, org, "?topic=decision")
    assert f"#{delivered}<" in html and f"#{failed}<" not in html and f"#{pending}<" not in html
    r, html = page(signed_in, org, "?topic=event&status=pending")
    assert f"#{pending}<" in html and f"#{failed}<" not in html
    r, html = page(signed_in, org, "?topic=zz-globex-topic")
    assert r.status_code == 200 and "No deliveries match" in html and f"#{theirs}<" not in html


def test_keyset_pages(app, signed_in, org):
    ids = [enqueue(org, f"http://127.0.0.1:9/p{i}", topic="paged", later=True) for i in range(5)]
    r, html = page(signed_in, org, "?topic=paged&limit=2")
    assert r.status_code == 200
    assert f"#{ids[4]}<" in html and f"#{ids[3]}<" in html and f"#{ids[2]}<" not in html
    assert f"before={ids[3]}" in html
    r, html = page(signed_in, org, f"?topic=paged&limit=2&before={ids[3]}")
    assert f"#{ids[2]}<" in html and f"#{ids[1]}<" in html and f"#{ids[4]}<" not in html
    r, html = page(signed_in, org, f"?topic=paged&limit=2&before={ids[1]}")
    assert f"#{ids[0]}<" in html and "Older deliveries" not in html


@pytest.mark.parametrize("query", [
    "?status=bogus", "?limit=0", "?limit=201", "?limit=abc", "?limit=-1", "?before=0",
    "?before=99999999999999999999999", "?before=1e3", "?topic=%00", "?topic=" + "x" * 65,
    "?topic=%ED%A0%80", "?status=%00", "?limit=%EF%BC%91",
])
def test_bad_parameters_are_4xx(signed_in, org, query):
    r, html = page(signed_in, org, query)
    assert r.status_code == 422, (query, r.status_code)
    assert "Cannot do that" in html


def test_delivery_page_shows_the_exact_request_masked_and_every_attempt(app, signed_in, org):
    with Receiver(statuses=[503], body=b'{"zz": "answer excerpt"}') as rx:
        d = enqueue(org, rx.url + "/hook?x=1", topic="decision", reference="sess-1",
                    body='{"exact": "body \\u00e9", "n": 1}',
                    headers={"Content-Type": "application/json",
                             "Authorization": f"Bearer {SECRET}", "X-API-Key": SECRET,
                             "X-HMAC-SIGNATURE": "abc123signature"})
        delivery_settled(d, "delivered")
    r = signed_in.get(f"/console/o/{org.slug}/webhooks/{d}")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert SECRET not in html
    shown = outbox.get(org.org.id, d)
    assert shown.headers["Authorization"] == "Bearer ***"
    assert ">Authorization</th><td class=\"mono\">Bearer ***<" in html
    assert ">X-API-Key</th><td class=\"mono\">***<" in html
    assert ">X-HMAC-SIGNATURE</th><td class=\"mono\">abc123signature<" in html
    assert f"{rx.url}/hook?x=1" in html
    assert "{&#34;exact&#34;: &#34;body \\u00e9&#34;, &#34;n&#34;: 1}" in html
    assert "sess-1" in html
    attempts = outbox.attempts(shown)
    assert len(attempts) == 2
    for a in attempts:
        assert f"{a.duration_ms} ms" in html
        assert a.at.strftime("%Y-%m-%d %H:%M:%S") in html
    assert html.count('failed">HTTP 503</span>') == 1
    assert html.count('delivered">HTTP 200</span>') == 1
    assert "answer excerpt" in html


def test_delivery_url_with_credentials_is_redacted(signed_in, org):
    d = enqueue(org, "http://user:zz-url-password@127.0.0.1:9/h", later=True)
    html = signed_in.get(f"/console/o/{org.slug}/webhooks/{d}").get_data(as_text=True)
    assert "zz-url-password" not in html and "http://***@127.0.0.1:9/h" in html
    html = page(signed_in, org)[1]
    assert "zz-url-password" not in html and "http://***@127.0.0.1:9/h" in html


def test_another_orgs_delivery_is_404(signed_in, org, other_org):
    theirs = enqueue(other_org, "http://127.0.0.1:9/zz", topic="zz-globex-topic", later=True)
    for path in (f"/webhooks/{theirs}", "/webhooks/999999", "/webhooks/99999999999999999999",
                 "/webhooks/abc"):
        r = signed_in.get(f"/console/o/{org.slug}{path}")
        assert r.status_code == 404, path
        assert "zz-globex-topic" not in r.get_data(as_text=True)
    csrf = csrf_of(signed_in.get(f"/console/o/{org.slug}/webhooks").data)
    before = WebhookDelivery.get_by_id(theirs)
    r = signed_in.post(f"/console/o/{org.slug}/webhooks/{theirs}/replay", data={"csrf": csrf})
    assert r.status_code == 404
    assert WebhookDelivery.get_by_id(theirs).attempts == before.attempts
    assert events(other_org, "webhook.replayed") == []


def test_replay_sends_again_with_its_audit_event(app, signed_in, org):
    with Receiver(statuses=[500, 500]) as rx:
        d = enqueue(org, rx.url + "/again", body='{"n": 1}')
        delivery_settled(d, "failed")
        assert len(rx.received) == 2
        path = f"/console/o/{org.slug}/webhooks/{d}"
        html = signed_in.get(path).get_data(as_text=True)
        assert 'id="delivery-status">failed<' in html
        # CSRF: none, a wrong one, another session's: 403 and nothing replayed
        assert signed_in.post(path + "/replay").status_code == 403
        assert signed_in.post(path + "/replay", data={"csrf": "nope"}).status_code == 403
        assert events(org, "webhook.replayed") == []
        r = signed_in.post(path + "/replay", data={"csrf": csrf_of(html)})
        assert r.status_code == 303 and r.headers["Location"].endswith(f"{path}?replayed=1")
        (event,) = events(org, "webhook.replayed")
        assert event.actor == "console:ops@example.com" and event.entity_id == str(d)
        assert event.payload["previous_status"] == "failed"
        got = rx.wait_for(3)
        assert got[2].path == "/again" and got[2].body == b'{"n": 1}'
        delivery_settled(d, "delivered")
    html = signed_in.get(r.headers["Location"]).get_data(as_text=True)
    assert "Replayed" in html and 'id="delivery-status">delivered<' in html
    assert html.count('failed">HTTP 500</span>') == 2
    assert html.count('delivered">HTTP 200</span>') == 1


def test_delivered_is_counted_up_to_a_cap(app, signed_in, org, monkeypatch):
    from consent.console.views import webhooks as view

    monkeypatch.setattr(view, "COUNT_CAP", 2)
    with Receiver() as rx:
        ids = [enqueue(org, rx.url + f"/{i}") for i in range(3)]
        for d in ids:
            delivery_settled(d, "delivered")
    assert 'id="count-delivered">2+<' in page(signed_in, org)[1]
    monkeypatch.setattr(view, "COUNT_CAP", 3)
    assert 'id="count-delivered">3<' in page(signed_in, org)[1]
    assert outbox.count_up_to(org.org.id, "delivered", 2) == 2


def test_the_capped_count_walks_the_organisations_index(app, org):
    from consent.core import queries
    from consent.core.storage import db, is_postgres

    if is_postgres():
        pytest.skip("the plan checked is SQLite's (PostgreSQL's depends on its statistics)")
    text = queries.DELIVERIES_WITH_STATUS_UP_TO.text
    plan = " ".join(str(row[-1]) for row in db.execute_sql(
        "EXPLAIN QUERY PLAN " + text, (org.org.id, "delivered", 10)).fetchall())
    assert "USING INDEX" in plan and "org_id_id" in plan.replace('"', ""), plan
