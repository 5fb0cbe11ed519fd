"""The console's consents view: the list with the ledger API's filters and cursor pages, one
consent with its events (each linked to its audit event) and evidence, and a subject's timeline
(decisions, withdrawals, mappings, uses) in time order; each error path's page and status; and
another organisation's records never shown."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from consent.core import audit, ledger
from tests.console_helpers import page_of, walk_pages, make_operator, sign_in


def consent(client, org, subject, purpose="marketing", status="granted", **extra) -> dict:
    r = client.post("/ledger/v1/consents", headers=org.headers(),
                    json={"subject": subject, "purpose": purpose, "status": status, **extra})
    assert r.status_code == 201, r.json
    return r.json



@pytest.fixture
def history(client, org, other_org):
    """In acme: alice granted marketing (evidence), then withdrew it; bob denied analytics from
    truconsent's source; anon-7's grant of newsletter mapped into alice, then used. In globex:
    a consent of its own that acme must never see."""
    grant = consent(client, org, "alice", evidence={"ip": "198.51.100.7", "form": "signup-v2"},
                    notice_version="n-3")
    denial = ledger.record_one(org.org.id, ledger.Decision(
        subject="bob", purpose="analytics", status="denied", source="truconsent"))
    withdrawal = client.post(f"/ledger/v1/consents/{grant['id']}/withdraw",
                             headers=org.headers(), json={})
    assert withdrawal.status_code == 201
    anon = consent(client, org, "anon-7", purpose="newsletter")
    moved, link = ledger.map_identity(org.org.id, "anon-7", "alice", actor="test")
    assert moved == 1
    used = client.post("/ledger/v1/checks", headers=org.headers(),
                       json={"consent_id": anon["id"], "operation": "send", "use": True})
    assert used.status_code == 200 and used.json["allowed"] is True
    theirs = consent(client, other_org, "zz-globex-subject", purpose="zz-globex-purpose")
    return {"grant": grant, "denial": denial, "withdrawal": withdrawal.json,
            "anon": anon, "link": link, "theirs": theirs}



def ids_in(text: str) -> list[str]:
    return re.findall(r'/consents/([0-9a-f-]{36})"', text)


# -- sign-in ---------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/console/o/acme/consents", "/console/o/acme/timeline?subject=x",
                                  "/console/o/acme/consents/0b0e5a2c-0000-4000-8000-000000000000"])
def test_not_signed_in_goes_to_the_sign_in_page(client, org, path):
    r = client.get(path)
    assert r.status_code == 303 and urlsplit(r.headers["Location"]).path == "/console/sign-in"


# -- the list --------------------------------------------------------------------------------

def test_the_list_shows_the_organisation_s_consents_newest_first(signed_in, history):
    r = signed_in.get("/console/o/acme/consents")
    assert r.status_code == 200
    text = page_of(r)
    h = history
    assert ids_in(text) == [h["anon"]["id"], h["withdrawal"]["id"], h["denial"].id,
                            h["grant"]["id"]]
    # each row's values, and its links: the consent and the subject's timeline
    row = text.split(h["denial"].id)[0].rsplit("<tr>", 1)[1]
    assert "bob" in row and "analytics" in row and ">denied<" in row and "truconsent" in row
    assert "/console/o/acme/timeline?subject=alice" in text
    assert "zz-globex" not in text and h["theirs"]["id"] not in text


@pytest.mark.parametrize("query, expected", [
    ("subject=alice", ["anon", "withdrawal", "grant"]),
    ("subject=bob&status=denied", ["denial"]),
    ("purpose=analytics", ["denial"]),
    ("status=withdrawn", ["withdrawal"]),
    ("source=truconsent", ["denial"]),
    ("source=ledger&purpose=marketing", ["withdrawal", "grant"]),
    ("subject=nobody", []),
    ("purpose=zz-globex-purpose", []),
    ("subject=zz-globex-subject", []),
    ("from=2000-01-01&to=2999-12-31", ["anon", "withdrawal", "denial", "grant"]),
    ("to=2000-01-01", []),
    ("from=2999-01-01T00:00:00Z", []),
    ("subject=&purpose=&status=&source=&from=&to=", ["anon", "withdrawal", "denial", "grant"]),
])
def test_filters_match_the_ledger_api(signed_in, history, org, query, expected):
    r = signed_in.get(f"/console/o/acme/consents?{query}")
    assert r.status_code == 200
    h = history
    named = {"anon": h["anon"]["id"], "withdrawal": h["withdrawal"]["id"],
             "denial": h["denial"].id, "grant": h["grant"]["id"]}
    assert ids_in(page_of(r)) == [named[n] for n in expected]
    # the same filters through the API (a day alone is the whole day in the console)
    api_query = query.replace("to=2999-12-31", "to=3000-01-01T00:00:00Z").replace(
        "from=2000-01-01&", "from=2000-01-01T00:00:00Z&").replace(
        "to=2000-01-01", "to=2000-01-02T00:00:00Z")
    api_query = "&".join(p for p in api_query.split("&") if not p.endswith("="))
    api = signed_in.get(f"/ledger/v1/consents?{api_query}", headers=org.headers())
    assert [c["id"] for c in api.json["items"]] == [named[n] for n in expected]


def test_the_filters_are_kept_in_the_form(signed_in, history):
    text = page_of(signed_in.get("/console/o/acme/consents?subject=alice&status=granted"
                                 "&from=2020-02-03"))
    assert 'id="f-subject" name="subject" type="search" value="alice"' in text
    assert '<option value="granted" selected>' in text
    assert 'name="from" type="date" value="2020-02-03"' in text


def test_cursor_pages_walk_every_consent_once(signed_in, history):
    seen, pages = [], 0
    for text, url in walk_pages(signed_in, "/console/o/acme/consents?limit=3&subject=alice",
                                "Older consents"):
        seen += ids_in(text)
        pages += 1
        if url:
            query = parse_qs(urlsplit(url).query)
            assert query["subject"] == ["alice"] and query["limit"] == ["3"] and query["cursor"]
        else:
            assert pages == 1 or "Newest</a>" in text
    assert pages == 1
    seen, pages = [], 0
    for text, _next in walk_pages(signed_in, "/console/o/acme/consents?limit=1",
                                  "Older consents"):
        seen += ids_in(text)
        pages += 1
    h = history
    assert seen == [h["anon"]["id"], h["withdrawal"]["id"], h["denial"].id, h["grant"]["id"]]
    assert pages == 4


@pytest.mark.parametrize("query", [
    "cursor=not-a-cursor", "cursor=Yzox%00", "cursor=YzotMQ", "limit=0", "limit=501",
    "limit=99999999999999999999999", "limit=ten", "from=yesterday", "to=2026-13-40",
    "from=10000-01-01", "to=9999-12-31", "status=maybe", "subject=%00", "purpose=a%00b",
    "source=" + "s" * 33, "subject=" + "x" * 256,
])
def test_bad_parameters_are_a_4xx_page(signed_in, history, query):
    r = signed_in.get(f"/console/o/acme/consents?{query}")
    assert r.status_code == 422, (query, r.status_code)
    assert "Cannot do that" in page_of(r) and r.headers["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("query", ["subject=%ED%A0%80", "purpose=%F0%9F%98%80",
                                   "source=%FF%FE"])
def test_odd_text_is_no_5xx(signed_in, history, query):
    r = signed_in.get(f"/console/o/acme/consents?{query}")
    assert r.status_code == 200 and ids_in(page_of(r)) == []


# -- one consent ----------------------------------------------------------------------------

def test_a_consent_with_its_events_and_evidence(signed_in, history, org):
    h = history
    r = signed_in.get(f"/console/o/acme/consents/{h['grant']['id']}")
    assert r.status_code == 200
    text = page_of(r)
    assert "alice" in text and "marketing" in text and "n-3" in text
    assert '"ip": "198.51.100.7"' in text and '"form": "signup-v2"' in text
    assert f"superseded by" in text and h["withdrawal"]["id"] in text
    detail = signed_in.get(f"/ledger/v1/consents/{h['grant']['id']}", headers=org.headers()).json
    assert [e["type"] for e in detail["events"]] == ["recorded", "withdrawn"]
    behind = audit.events_by_id(org.org.id, [e["audit_event_id"] for e in detail["events"]])
    assert [behind[e["audit_event_id"]].action for e in detail["events"]] == [
        "consent.recorded", "consent.recorded"]       # the withdrawal's own recording
    for event in detail["events"]:
        # each event links to its audit event's page, which names it
        seq = behind[event["audit_event_id"]].seq
        assert f'href="/console/o/acme/audit/{seq}">#{seq} consent.recorded' in text
        page = page_of(signed_in.get(f"/console/o/acme/audit/{seq}"))
        assert event["audit_event_id"] in page and behind[event["audit_event_id"]].hash in page
    record = ledger.get_consent(org.org.id, h["grant"]["id"])
    assert record.record_hash in text


def test_a_used_consent_shows_its_use(signed_in, history):
    text = page_of(signed_in.get(f"/console/o/acme/consents/{history['anon']['id']}"))
    assert ">send<" in text and ">used<" in text and ">mapped<" in text
    use = re.search(r'href="/console/o/acme/audit/event/([0-9a-f-]{36})"', text)
    assert use
    moved = signed_in.get(f"/console/o/acme/audit/event/{use.group(1)}")
    assert moved.status_code == 303
    assert "consent.used" in page_of(signed_in.get(moved.headers["Location"]))


@pytest.mark.parametrize("consent_id", ["theirs", "0b0e5a2c-0000-4000-8000-000000000000",
                                        "x%00y", "a" * 300, "%ED%A0%80"])
def test_another_organisation_s_or_no_consent_is_a_404(signed_in, history, consent_id):
    consent_id = history["theirs"]["id"] if consent_id == "theirs" else consent_id
    r = signed_in.get(f"/console/o/acme/consents/{consent_id}")
    assert r.status_code == 404
    assert "zz-globex" not in page_of(r)


# -- a subject's timeline ---------------------------------------------------------------------

def test_the_timeline_of_a_subject_in_time_order(signed_in, history, org):
    h = history
    r = signed_in.get("/console/o/acme/timeline?subject=alice")
    assert r.status_code == 200
    text = page_of(r)
    kinds = re.findall(r'<li class="entry (\w+)">', text)
    assert kinds == ["decision", "withdrawal", "decision", "mapping", "use"]
    entries = text.split('<li class="entry ')[1:]
    assert "granted marketing" in entries[0] and h["grant"]["id"][:8] in entries[0]
    assert "withdrew marketing" in entries[1] and h["withdrawal"]["id"][:8] in entries[1]
    assert "granted newsletter" in entries[2]       # anon-7's, now alice's
    assert "anon-7 mapped to alice (1 moved)" in entries[3]
    assert "used for send" in entries[4]
    times = re.findall(r'<time datetime="([^"]+)"', "".join(entries))
    assert times == sorted(times)
    # every entry links to its audit event, and that event is the one that recorded it
    expected = ["consent.recorded", "consent.recorded", "consent.recorded", "subject.mapped",
                "consent.used"]
    assert "used for send" in entries[4] and h["anon"]["id"][:8] in entries[4]
    for entry, action in zip(entries, expected):
        seq = re.search(r'href="/console/o/acme/audit/(\d+)"', entry)
        assert seq, entry
        event = ledger.audit_events(org.org.id, from_seq=int(seq.group(1)),
                                    to_seq=int(seq.group(1)))[0]
        assert event.action == action
    assert "zz-globex" not in text


def test_the_timeline_includes_every_dialect_s_decisions(signed_in, history):
    text = page_of(signed_in.get("/console/o/acme/timeline?subject=bob"))
    assert re.findall(r'<li class="entry (\w+)">', text) == ["decision"]
    assert "denied analytics" in text and "via truconsent" in text


def test_the_timeline_without_a_subject_asks_for_one(signed_in, history):
    r = signed_in.get("/console/o/acme/timeline")
    assert r.status_code == 200
    text = page_of(r)
    assert 'name="subject"' in text and '<li class="entry' not in text


@pytest.mark.parametrize("subject", ["nobody", "zz-globex-subject", "%ED%A0%80"])
def test_an_unknown_subject_is_a_404(signed_in, history, subject):
    r = signed_in.get(f"/console/o/acme/timeline?subject={subject}")
    assert r.status_code == 404
    text = page_of(r)
    assert "No subject with this identifier" in text and "zz-globex-purpose" not in text


@pytest.mark.parametrize("subject", ["a%00b", "x" * 256])
def test_a_bad_subject_is_a_422(signed_in, history, subject):
    assert signed_in.get(f"/console/o/acme/timeline?subject={subject}").status_code == 422


def test_a_second_organisation_s_operator_sees_only_theirs(client, app, history, other_org):
    make_operator(other_org.org.id, "ops@globex.example")
    sign_in(client, app, "ops@globex.example")
    text = page_of(client.get("/console/o/globex/consents"))
    assert ids_in(text) == [history["theirs"]["id"]] and "alice" not in text
    assert client.get("/console/o/acme/consents").status_code == 404
    assert client.get(f"/console/o/globex/consents/{history['grant']['id']}").status_code == 404
    assert client.get("/console/o/globex/timeline?subject=alice").status_code == 404
