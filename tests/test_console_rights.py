"""The console's rights requests view over HTTP (test client): the queue (open first, due dates,
overdue said in words, filters, keyset pages), a request's page with its history, the actions
(start, complete: erasure erases, access gives the report; refuse with a reason), a request
recorded from the form; errors (409 for a wrong step, 404 for another organisation's request,
403 without CSRF, 422 for bad parameters)."""
from __future__ import annotations

import datetime as dt
import html
import re

import pytest

from consent.core import clock, ledger, rights
from consent.core.storage import AuditEvent
from tests.console_helpers import csrf_of, make_operator, sign_in

ALICE = "alice.rights@example.com"
BOB = "bob.rights@example.com"


@pytest.fixture
def ops(app, org):
    return make_operator(org.org.id)


@pytest.fixture
def signed(client, app, ops):
    sign_in(client, app, ops.email)
    return client


def base(org) -> str:
    return f"/console/o/{org.slug}/rights"


def text(response) -> str:
    return html.unescape(response.data.decode())


def csrf(client, org) -> str:
    return csrf_of(client.get(base(org)).data)


def post(client, org, path: str, **data):
    return client.post(path, data={"csrf": csrf(client, org), **data})


def row_of(page: str, request_id: str) -> str:
    rows = [row for row in page.split("<tr")[1:] if request_id in row]
    assert len(rows) == 1
    return rows[0].split("</tr>")[0]


def events_of(org, request_id: str) -> list:
    return [e.action for e in AuditEvent.select().where(
        (AuditEvent.org == org.org.id) & (AuditEvent.entity_type == "rights_request")
        & (AuditEvent.entity_id == request_id)).order_by(AuditEvent.seq)]


def test_not_signed_in_goes_to_sign_in(client, org):
    r = rights.create_request(org.org.id, "access", ALICE, actor="test")
    for path in (base(org), f"{base(org)}/{r.id}", f"{base(org)}/{r.id}/report"):
        got = client.get(path)
        assert got.status_code == 303 and got.headers["Location"].endswith("/console/sign-in")
    got = client.post(f"{base(org)}/{r.id}/start", data={"csrf": "x"})
    assert got.status_code == 303
    assert rights.get_request(org.org.id, r.id).status == "received"


def test_the_queue_shows_open_first_with_due_dates_and_overdue_in_words(signed, org):
    old = dt.datetime.utcnow() - dt.timedelta(days=40)
    with clock.frozen(old):
        late = rights.create_request(org.org.id, "erasure", ALICE, actor="test")
    fresh = rights.create_request(org.org.id, "access", BOB, actor="test")
    done = rights.create_request(org.org.id, "access", "carol@example.com", actor="test")
    rights.refuse_request(org.org.id, done.id, actor="test", reason="not verified")
    r = signed.get(base(org))
    assert r.status_code == 200
    page = text(r)
    assert late.id[:8] in page and fresh.id[:8] in page
    assert done.id[:8] not in page               # the default is the open ones
    assert late.due_at.strftime("%Y-%m-%d") in page
    assert fresh.due_at.strftime("%Y-%m-%d") in page
    late_row, fresh_row = row_of(page, late.id), row_of(page, fresh.id)
    assert 'class="overdue"' in late_row and "Overdue" in late_row   # in words, not colour
    assert "Overdue" not in fresh_row
    assert "<strong>1</strong> open request overdue" in page
    everything = text(signed.get(base(org) + "?status=all"))
    # open ones (received) before the closed (refused)
    assert everything.index(late.id[:8]) < everything.index(done.id[:8])
    assert everything.index(fresh.id[:8]) < everything.index(done.id[:8])
    refused = text(signed.get(base(org) + "?status=refused"))
    assert done.id[:8] in refused and late.id[:8] not in refused
    overdue = text(signed.get(base(org) + "?status=overdue"))
    assert late.id[:8] in overdue and fresh.id[:8] not in overdue
    access = text(signed.get(base(org) + "?status=all&kind=access"))
    assert fresh.id[:8] in access and done.id[:8] in access and late.id[:8] not in access


def test_keyset_pages_walk_every_request_once(signed, org):
    made = {rights.create_request(org.org.id, "access", f"p{i}@example.com", actor="t").id
            for i in range(5)}
    for r in list(made)[:2]:
        rights.start_request(org.org.id, r, actor="t")
    seen, url, pages = [], base(org) + "?status=all&limit=2", 0
    while url:
        page = text(signed.get(url))
        pages += 1
        seen += re.findall(r'/rights/([0-9a-f-]{36})"', page)
        nxt = re.search(r'href="([^"]*cursor=[^"]*)">Next page', page)
        url = html.unescape(nxt.group(1)) if nxt else None
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))
    assert pages == 3


def test_the_queue_is_soonest_due_first_page_after_page(signed, org):
    """Requests received on different days (so due on different days), made in an order their
    ids do not follow: each status lists them soonest due first, across pages, and the overdue
    filter keeps those due before now."""
    now = clock.utcnow()
    made = []
    for days in (3, 40, 12, 35, 1):      # received that many days ago
        with clock.frozen(now - dt.timedelta(days=days)):
            made.append((days, rights.create_request(org.org.id, "access",
                                                     f"d{days}@example.com", actor="t").id))
    soonest_due = [rid for _, rid in sorted(made, key=lambda m: -m[0])]
    seen, url = [], base(org) + "?limit=2"
    while url:
        page = text(signed.get(url))
        seen += re.findall(r'/rights/([0-9a-f-]{36})"', page)
        nxt = re.search(r'href="([^"]*cursor=[^"]*)">Next page', page)
        url = html.unescape(nxt.group(1)) if nxt else None
    assert seen == soonest_due
    overdue = re.findall(r'/rights/([0-9a-f-]{36})"', text(signed.get(base(org) +
                                                                      "?status=overdue")))
    assert overdue == soonest_due[:2]     # received 40 and 35 days ago: due before now


@pytest.mark.parametrize("query", [
    "?cursor=nope", "?cursor=9.abc", "?status=open&cursor=2.abc", "?cursor=0.1.abc%00",
    "?cursor=0.999999999999999999.abc", "?limit=0", "?limit=201",
    "?limit=99999999999999999999", "?limit=-1", "?status=lost", "?kind=x", "?kind=%00",
    "?cursor=%ED%A0%80", "?status=%00"])
def test_bad_parameters_are_a_4xx_page(signed, org, query):
    r = signed.get(base(org) + query)
    assert r.status_code == 422, (query, r.status_code)
    assert "text/html" in r.content_type


def test_a_request_page_shows_its_facts_and_history(signed, org):
    r = rights.create_request(org.org.id, "access", ALICE, actor="test", reason="by letter")
    rights.start_request(org.org.id, r.id, actor="test")
    page = text(signed.get(f"{base(org)}/{r.id}"))
    assert r.id in page and ALICE in page and "by letter" in page
    assert "In progress" in page
    assert r.due_at.strftime("%Y-%m-%d %H:%M") in page
    history = page[page.index('id="hist-h"'):]
    assert history.index("Received") < history.index("Started")
    assert "test" in history
    assert "See the access report" in page


def test_start_then_refuse_needs_a_reason(signed, org, app):
    r = rights.create_request(org.org.id, "erasure", ALICE, actor="test")
    got = post(signed, org, f"{base(org)}/{r.id}/start")
    assert got.status_code == 303
    assert got.headers["Location"].endswith(f"/rights/{r.id}?done=started")
    assert rights.get_request(org.org.id, r.id).status == "in_progress"
    assert events_of(org, r.id) == ["rights.received", "rights.in_progress"]
    actor = AuditEvent.get((AuditEvent.entity_id == r.id)
                           & (AuditEvent.action == "rights.in_progress")).actor
    assert actor == "console:ops@example.com"
    blank = post(signed, org, f"{base(org)}/{r.id}/refuse", reason="   ")
    assert blank.status_code == 422 and "needs a reason" in text(blank)
    assert rights.get_request(org.org.id, r.id).status == "in_progress"
    got = post(signed, org, f"{base(org)}/{r.id}/refuse", reason="We hold a legal duty")
    assert got.status_code == 303
    after = rights.get_request(org.org.id, r.id)
    assert after.status == "refused" and after.refusal == "We hold a legal duty"
    page = text(signed.get(got.headers["Location"]))
    assert "Request refused." in page and "We hold a legal duty" in page
    # a wrong step: completing a refused request is a clear 409 page, nothing changes
    wrong = post(signed, org, f"{base(org)}/{r.id}/complete")
    assert wrong.status_code == 409
    assert "cannot be completed: it is already refused" in text(wrong)
    again = post(signed, org, f"{base(org)}/{r.id}/start")
    assert again.status_code == 409 and "already refused" in text(again)
    assert events_of(org, r.id) == ["rights.received", "rights.in_progress", "rights.refused"]


def test_completing_an_erasure_erases_the_person(signed, org):
    grant = ledger.record_one(org.org.id, ledger.Decision(subject=ALICE, purpose="marketing",
                                                          status="granted"))
    r = rights.create_request(org.org.id, "erasure", ALICE, actor="test")
    got = post(signed, org, f"{base(org)}/{r.id}/complete")
    assert got.status_code == 303
    assert ledger.find_subject(org.org.id, ALICE) is None
    done = rights.get_request(org.org.id, r.id)
    assert done.status == "completed" and done.result["erased"] is True
    assert done.identifier is None
    erased = AuditEvent.get((AuditEvent.org == org.org.id)
                            & (AuditEvent.action == "subject.erased"))
    assert erased.payload["request_id"] == r.id
    assert erased.actor == "console:ops@example.com"
    assert not ledger.get_consent(org.org.id, grant.id).subject   # identifier gone
    assert done.result["consents"] == 2          # the grant, and its withdrawal by erasure
    page = text(signed.get(got.headers["Location"]))
    assert "Request completed." in page and "Erased: 2 consent record" in page
    assert ALICE not in page


def test_completing_an_access_request_gives_the_report(signed, org):
    c = ledger.record_one(org.org.id, ledger.Decision(subject=BOB, purpose="newsletter",
                                                      status="granted", source="avacy"))
    r = rights.create_request(org.org.id, "access", BOB, actor="test")
    before = text(signed.get(f"{base(org)}/{r.id}/report"))
    assert BOB in before and "newsletter" in before and c.record_hash[:16] in before
    got = post(signed, org, f"{base(org)}/{r.id}/complete")
    assert got.status_code == 200 and got.headers["Cache-Control"] == "no-store"
    page = text(got)
    assert "Request completed." in page and BOB in page and "newsletter" in page
    assert c.record_hash[:16] in page and "avacy" in page
    done = rights.get_request(org.org.id, r.id)
    assert done.status == "completed" and done.identifier is None
    assert events_of(org, r.id)[-1] == "rights.completed"
    gone = signed.get(f"{base(org)}/{r.id}/report")
    assert gone.status_code == 409 and "no longer be made" in text(gone)


def test_an_erasure_has_no_report(signed, org):
    r = rights.create_request(org.org.id, "erasure", ALICE, actor="test")
    assert signed.get(f"{base(org)}/{r.id}/report").status_code == 409


def test_record_a_request_from_the_form(signed, org):
    got = post(signed, org, base(org), kind="access", identifier=" Alice.Rights@Example.com ",
               reason="phoned in")
    assert got.status_code == 303
    request_id = re.search(r"/rights/([0-9a-f-]{36})\?done=created",
                           got.headers["Location"]).group(1)
    r = rights.get_request(org.org.id, request_id)
    assert (r.kind, r.status, r.source, r.reason) == ("access", "received", "console",
                                                      "phoned in")
    assert r.due_at - r.created_at == dt.timedelta(days=30)
    assert events_of(org, request_id) == ["rights.received"]
    page = text(signed.get(got.headers["Location"]))
    assert "Request recorded." in page and "phoned in" in page


@pytest.mark.parametrize("data, message", [
    ({"kind": "access", "identifier": "  "}, "identifier is required"),
    ({"kind": "rectification", "identifier": ALICE}, "access or erasure"),
    ({"kind": "erasure", "identifier": "x" * 300}, "at most 255"),
])
def test_a_bad_form_is_a_422_page_and_writes_nothing(signed, org, data, message):
    got = post(signed, org, base(org), **data)
    assert got.status_code == 422 and message in text(got)
    assert rights.list_requests(org.org.id) == []


def test_posts_without_or_with_a_wrong_csrf_are_refused(signed, org):
    r = rights.create_request(org.org.id, "erasure", ALICE, actor="test")
    for path in (f"{base(org)}/{r.id}/start", f"{base(org)}/{r.id}/complete",
                 f"{base(org)}/{r.id}/refuse", base(org)):
        assert signed.post(path, data={"reason": "x", "kind": "access",
                                       "identifier": BOB}).status_code == 403
        assert signed.post(path, data={"csrf": "wrong", "reason": "x", "kind": "access",
                                       "identifier": BOB}).status_code == 403
    assert rights.get_request(org.org.id, r.id).status == "received"
    assert len(rights.list_requests(org.org.id)) == 1


def test_another_organisations_requests_never_appear(signed, org, other_org):
    theirs = rights.create_request(other_org.org.id, "erasure", "zed@example.com", actor="t")
    mine = rights.create_request(org.org.id, "access", ALICE, actor="t")
    page = text(signed.get(base(org) + "?status=all"))
    assert mine.id[:8] in page and theirs.id[:8] not in page
    for path in (f"{base(org)}/{theirs.id}", f"{base(org)}/{theirs.id}/report"):
        got = signed.get(path)
        assert got.status_code == 404 and "zed@example.com" not in text(got)
    for step in ("start", "complete", "refuse"):
        got = post(signed, org, f"{base(org)}/{theirs.id}/{step}", reason="x")
        assert got.status_code == 404
    assert rights.get_request(other_org.org.id, theirs.id).status == "received"
    # their console address is a 404 for our operator
    assert signed.get(f"/console/o/{other_org.slug}/rights").status_code == 404


def test_an_unknown_or_odd_request_id_is_a_4xx(signed, org):
    assert signed.get(f"{base(org)}/no-such-id").status_code == 404
    assert signed.get(f"{base(org)}/" + "a" * 100).status_code == 422
    assert signed.get(f"{base(org)}/%ED%A0%80").status_code in (404, 422)
