"""The console's audit view: the chain in keyset pages (newest first), one event by seq or by
event id, "verify now" (the background pass, its progress fragment polled until complete, its
verdict: intact, or the first bad event of a tampered chain named) and the checkpoints (listed
with their signatures, one signed now). Each error path's status; another organisation's
chain, verifications and checkpoints never shown."""
from __future__ import annotations

import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from consent.core import checkpoints, ledger, verify
from consent.core.storage import AuditEvent
from tests.console_helpers import page_of, walk_pages, csrf_of, make_operator, sign_in



@pytest.fixture
def chain(org, other_org):
    """Five consents in acme (so the chain has events to page through), one in globex."""
    for n in range(5):
        ledger.record_one(org.org.id, ledger.Decision(
            subject=f"person-{n}", purpose="marketing", status="granted",
            evidence={"n": n}))
    ledger.record_one(other_org.org.id, ledger.Decision(
        subject="zz-globex-subject", purpose="zz-globex-purpose", status="granted"))
    return ledger.audit_newest(org.org.id, limit=1000)[0]



def seqs_in(text: str) -> list[int]:
    return [int(s) for s in re.findall(r'<td data-label="Seq"><a href="/console/o/acme/audit/'
                                       r'(\d+)">', text)]


def test_not_signed_in_goes_to_the_sign_in_page(client, org):
    for path in ("/console/o/acme/audit", "/console/o/acme/audit/1",
                 "/console/o/acme/audit/verifications/1/status"):
        r = client.get(path)
        assert r.status_code == 303 and urlsplit(r.headers["Location"]).path == "/console/sign-in"
    assert client.post("/console/o/acme/audit/verifications").status_code == 303


# -- the chain --------------------------------------------------------------------------------

def test_the_chain_newest_first_with_every_field(signed_in, chain, org):
    r = signed_in.get("/console/o/acme/audit")
    assert r.status_code == 200
    text = page_of(r)
    events = ledger.audit_newest(org.org.id, limit=1000)[0]   # signing in added events too
    assert seqs_in(text) == [e.seq for e in events]
    assert seqs_in(text) == sorted(seqs_in(text), reverse=True)
    recorded = [e for e in events if e.action == "consent.recorded"][0]
    row = text.split(f'<td data-label="Seq"><a href="/console/o/acme/audit/{recorded.seq}">')[1] \
        .split("</tr>")[0]
    assert recorded.at.strftime("%Y-%m-%d %H:%M:%S") in row
    assert recorded.actor in row and "consent.recorded" in row and recorded.entity_id in row
    # hashes shortened, the whole value there to open
    assert f"{recorded.hash[:12]}…" in row and f'<code class="full">{recorded.hash}</code>' in row
    assert f'<code class="full">{recorded.prev_hash}</code>' in row
    assert f'"record_hash": "{recorded.payload["record_hash"]}"' in row
    head_seq, head_hash = checkpoints.head(org.org.id)
    assert head_hash in text and f'<p class="big">{head_seq}</p>' in text
    assert "zz-globex" not in text


def test_keyset_pages_walk_the_chain_once(signed_in, chain, org):
    everything = [e.seq for e in ledger.audit_newest(org.org.id, limit=1000)[0]]
    seen, pages = [], 0
    for text, url in walk_pages(signed_in, "/console/o/acme/audit?limit=4", "Older events"):
        seen += seqs_in(text)
        pages += 1
        if url:
            query = parse_qs(urlsplit(url).query)
            assert query["limit"] == ["4"] and int(query["before"][0]) == seen[-1]
    assert seen == everything and pages == -(-len(everything) // 4)


@pytest.mark.parametrize("query", ["before=0", "before=-1", "before=abc", "before=%00",
                                   "before=99999999999999999999", "limit=0", "limit=501",
                                   "limit=1.5", "before=%EF%BC%91"])
def test_bad_page_parameters_are_a_422(signed_in, chain, query):
    r = signed_in.get(f"/console/o/acme/audit?{query}")
    assert r.status_code == 422, query
    assert "Cannot do that" in page_of(r)


def test_an_event_by_seq_and_by_id(signed_in, chain, org):
    event = [e for e in chain if e.action == "consent.recorded"][-1]
    r = signed_in.get(f"/console/o/acme/audit/{event.seq}")
    assert r.status_code == 200
    text = page_of(r)
    for value in (event.event_id, event.hash, event.prev_hash, event.actor, event.action,
                  event.entity_id, f'"record_hash": "{event.payload["record_hash"]}"'):
        assert value in text
    assert f'href="/console/o/acme/consents/{event.entity_id}"' in text
    moved = signed_in.get(f"/console/o/acme/audit/event/{event.event_id}")
    assert moved.status_code == 303
    assert urlsplit(moved.headers["Location"]).path == f"/console/o/acme/audit/{event.seq}"


def test_another_organisation_s_or_no_event_is_a_404(signed_in, chain, other_org):
    theirs = ledger.audit_newest(other_org.org.id, limit=1)[0][0]
    head = checkpoints.head(ledger.get_org("acme").id)[0]
    for path in (f"/console/o/acme/audit/event/{theirs.event_id}",
                 f"/console/o/acme/audit/{head + 1}", "/console/o/acme/audit/0",
                 "/console/o/acme/audit/99999999999999999999999",
                 "/console/o/acme/audit/event/nope", "/console/o/acme/audit/event/a%00b",
                 "/console/o/acme/audit/event/" + "e" * 40):
        r = signed_in.get(path)
        assert r.status_code == 404, path
        assert "zz-globex" not in page_of(r) and theirs.hash not in page_of(r)


# -- verify now ---------------------------------------------------------------------------------

def start(client) -> tuple[int, str]:
    page = client.get("/console/o/acme/audit")
    r = client.post("/console/o/acme/audit/verifications", data={"csrf": csrf_of(page.data)})
    assert r.status_code == 303
    found = re.fullmatch(r"/console/o/acme/audit/verifications/(\d+)",
                         urlsplit(r.headers["Location"]).path)
    assert found
    return int(found.group(1)), r.headers["Location"]


def poll(client, vid: int) -> str:
    """The progress fragment, polled the way htmx does, until it stops asking to be polled."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = client.get(f"/console/o/acme/audit/verifications/{vid}/status")
        assert r.status_code == 200
        text = page_of(r)
        assert text.lstrip().startswith('<div id="verification"')    # the partial alone
        assert "<html" not in text
        if 'hx-trigger="every 1s"' not in text:
            return text
        assert f'hx-get="/console/o/acme/audit/verifications/{vid}/status"' in text
        assert "<progress" in text and "Refresh</a>" in text
        time.sleep(0.05)
    raise AssertionError("the verification never completed")


def test_verify_now_runs_the_background_pass_and_says_intact(signed_in, chain, org):
    head_before = checkpoints.head(org.org.id)
    vid, location = start(signed_in)
    page = signed_in.get(location)
    assert page.status_code == 200 and "<h1>Verification #" in page_of(page)
    done = poll(signed_in, vid)
    assert '<progress id="verify-progress" max="100" value="100">' in done
    assert "intact" in done and "The chain is intact" in done and "Progress: finished" in done
    api = signed_in.get(f"/ledger/v1/audit/verifications/{vid}", headers=org.headers()).json
    assert api["complete"] and api["ok"] and api["kind"] == "background"
    assert f"{api['checked']} events, {api['consents_checked']} consents" in done
    assert api["head_hash"] in done
    # the whole page says the same, polls no more, and the audit page shows it as the last
    text = page_of(signed_in.get(location))
    assert "The chain is intact" in text and 'hx-trigger' not in text
    audit = page_of(signed_in.get("/console/o/acme/audit"))
    assert f'href="/console/o/acme/audit/verifications/{vid}"' in audit and "Intact" in audit
    # starting a verification writes nothing to the chain
    assert checkpoints.head(org.org.id) == head_before


def test_a_running_pass_polls_and_without_js_refreshes(signed_in, chain, org, monkeypatch):
    monkeypatch.setattr(verify.RUNNER, "enabled", False)      # hold the loop still
    vid, location = start(signed_in)
    text = page_of(signed_in.get(location))
    assert 'hx-trigger="every 1s"' in text and "running" in text
    assert f'<a href="/console/o/acme/audit/verifications/{vid}">Refresh</a>' in text
    assert '<progress id="verify-progress" max="100" value="0">' in text
    assert verify.run_due()          # one slice of the pass, here
    # a slice of the pass later: the fragment says how far it came
    fragment = page_of(signed_in.get(f"/console/o/acme/audit/verifications/{vid}/status"))
    described = verify.get(org.org.id, vid)
    if described["complete"]:
        assert "The chain is intact" in fragment
    else:
        assert f"through event #{described['verified_through_seq']}" in fragment


@pytest.mark.tampered
def test_a_tampered_chain_names_the_first_bad_event(signed_in, chain, org):
    target = [e for e in chain if e.action == "consent.recorded"][2]
    AuditEvent.update(payload={**target.payload, "status": "denied"}).where(
        (AuditEvent.org == org.org.id) & (AuditEvent.seq == target.seq)).execute()
    expected = verify.full(org.org.id)
    assert expected["ok"] is False and expected["first_bad_seq"] == target.seq
    vid, location = start(signed_in)
    done = poll(signed_in, vid)
    assert "broken" in done and "The chain is intact" not in done
    assert "Progress: stopped at the first fault" in done
    assert (f'The first bad event is <a href="/console/o/acme/audit/{target.seq}">'
            f'#{target.seq}</a>') in done
    assert target.event_id in done and expected["reason"] in done
    page = page_of(signed_in.get(location))
    assert f"#{target.seq}</a>" in page and expected["reason"] in page
    audit = page_of(signed_in.get("/console/o/acme/audit"))
    assert "Broken" in audit


def test_verify_now_needs_its_csrf_token(signed_in, chain, org):
    for data in ({}, {"csrf": "forged"}):
        r = signed_in.post("/console/o/acme/audit/verifications", data=data)
        assert r.status_code == 403
    assert verify.last_finished(org.org.id) is None
    r = signed_in.post("/console/o/acme/audit/checkpoints", data={"csrf": "forged"})
    assert r.status_code == 403 and checkpoints.listing(org.org.id) == []


def test_another_organisation_s_verification_is_a_404(signed_in, chain, other_org):
    theirs = verify.start_full(other_org.org.id).id
    for path in (f"/console/o/acme/audit/verifications/{theirs}",
                 f"/console/o/acme/audit/verifications/{theirs}/status",
                 "/console/o/acme/audit/verifications/999999",
                 "/console/o/acme/audit/verifications/99999999999999999999999/status"):
        assert signed_in.get(path).status_code == 404, path


# -- checkpoints ---------------------------------------------------------------------------------

def test_sign_a_checkpoint_now_and_see_it_listed(signed_in, chain, org, other_org):
    checkpoints.issue(other_org.org.id)
    text = page_of(signed_in.get("/console/o/acme/audit"))
    assert "No checkpoint has been signed yet." in text
    r = signed_in.post("/console/o/acme/audit/checkpoints", data={"csrf": csrf_of(text)})
    assert r.status_code == 303
    assert r.headers["Location"].endswith("/console/o/acme/audit#checkpoints")
    [kept] = checkpoints.listing(org.org.id)
    described = checkpoints.describe(kept)
    assert (kept.seq, kept.head_hash) == checkpoints.head(org.org.id)
    # the API hands out the same checkpoint (the head has not moved)
    api = signed_in.get("/ledger/v1/audit/checkpoint", headers=org.headers()).json
    assert api == {k: described[k] for k in api}
    text = page_of(signed_in.get("/console/o/acme/audit"))
    table = text.split('<table class="stack checkpoints">')[1].split("</table>")[0]
    assert f'href="/console/o/acme/audit/{kept.seq}">#{kept.seq}</a>' in table
    for value in (kept.head_hash, described["at"], kept.key_id, kept.signature, "console"):
        assert value in table
    theirs = checkpoints.listing(other_org.org.id)[0]
    assert theirs.signature not in text


def test_a_second_organisation_s_operator_sees_only_their_chain(client, app, chain, org,
                                                                other_org):
    make_operator(other_org.org.id, "ops@globex.example")
    sign_in(client, app, "ops@globex.example")
    text = page_of(client.get("/console/o/globex/audit"))
    ours = {e.event_id for e in ledger.audit_newest(org.org.id, limit=1000)[0]}
    assert not any(event_id in text for event_id in ours)
    assert client.get("/console/o/acme/audit").status_code == 404
