"""Control mode (CONSENT_CONTROL=1, consent.control): the service as a stub in a client's test
suite. Reset, the clock, faults, the request journal, the state, at the HTTP level, as a client's
test would call them; webhooks reach real receivers on loopback. Runs on SQLite, and on
PostgreSQL with CONSENT_TEST_DATABASE_URL."""
from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from consent import create_app
from consent.core import outbox, storage, verify
from consent.core.storage import AuditEvent, Consent, WebhookAttempt
from consent.dialects.attestr import worker
from consent.dialects.attestr.models import AttestrConsent
from tests.attestr_helpers import Client as AttestrClient
from tests.attestr_helpers import body as attestr_body
from tests.helpers import OrgFixture
from tests.receiver import Receiver
from tests.truconsent_helpers import bearer, create_link, link_path, make_cp

pytestmark = pytest.mark.control_mode   # the conftest's app, with /_control

GRANT = {"subject": "user-1", "purpose": "marketing", "status": "granted"}


@pytest.fixture(autouse=True)
def fast(app, monkeypatch):
    monkeypatch.setattr(outbox, "POLICY", outbox.Policy(
        max_attempts=4, backoff_base=3600, backoff_cap=3600, timeout=2, poll_interval=0.05))
    monkeypatch.setattr(worker, "INTERVAL", 0.05)


def wait_until(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.02)


def control(client, org, method, path, **kwargs):
    return client.open(f"/_control{path}", method=method, headers=org.headers(), **kwargs)


def record(client, org, **over):
    r = client.post("/ledger/v1/consents", json={**GRANT, **over}, headers=org.headers())
    assert r.status_code == 201, r.json
    return r.json


# -- control mode off -----------------------------------------------------------------------------

def test_every_control_path_is_404_and_undocumented_when_off(database_url, tmp_path):
    application = create_app({"TESTING": True, "CONSENT_DATABASE_URL": database_url,
                              "CONSENT_CHECKPOINT_KEY_DIR": str(tmp_path / "keys"),
                              "CONSENT_SECRET_KEY": "k" * 40})
    try:
        with application.app_context():
            storage.create_tables()
            orgf = OrgFixture("acme")
        client = application.test_client()
        for method, path in (("POST", "/reset"), ("GET", "/clock"), ("POST", "/clock"),
                             ("DELETE", "/clock"), ("GET", "/requests"), ("DELETE", "/requests"),
                             ("GET", "/faults"), ("POST", "/faults"), ("DELETE", "/faults/1"),
                             ("GET", "/state"), ("GET", "")):
            r = client.open("/_control" + path, method=method, headers=orgf.headers(),
                            json={"advance_seconds": 5})
            assert r.status_code == 404, (method, path)
            assert r.json == {"code": 404, "status": "Not Found", "message": "Not Found"}
        spec = client.get("/openapi.json").json
        assert not [p for p in spec["paths"] if p.startswith("/_control")]
        r = client.post("/ledger/v1/consents", json=GRANT,
                        headers=orgf.headers(**{"X-Consent-Fault": "503"}))
        assert r.status_code == 201   # the header means nothing when control mode is off
    finally:
        application.extensions["consent.background"].stop()
        storage.db.close()


def test_documented_when_on(client):
    from openapi_spec_validator import validate
    spec = client.get("/openapi.json").json
    validate(spec)
    reset = spec["paths"]["/_control/reset"]["post"]
    assert reset["security"] == [{"ApiKey": [], "OrgId": []}]      # the admin API key
    assert sorted(reset["responses"]) == ["200", "400", "401", "403", "413", "500", "503"]
    assert {p for p in spec["paths"] if p.startswith("/_control")} == {
        "/_control/reset", "/_control/clock", "/_control/faults", "/_control/faults/{fault_id}",
        "/_control/requests", "/_control/state"}


# -- reset ---------------------------------------------------------------------------------------

def test_reset_removes_records_keeps_credentials_and_the_chain_verifies(app, client, org,
                                                                         other_org):
    cpf = make_cp(org.org)
    record(client, org)
    record(client, org, subject="user-2")
    create_link(client, org, cpf)
    record(client, other_org)
    head_before = client.get("/ledger/v1/audit/verify", headers=org.headers()).json
    r = control(client, org, "POST", "/reset")
    assert r.status_code == 200
    assert r.json["seq"] == 1 and r.json["removed"]["consent"] == 2
    assert r.json["previous_head"]["seq"] >= 3
    assert r.json["removed"]["truconsent_request"] == 1
    # the records are gone; the chain restarts with the reset event and verifies
    assert client.get("/ledger/v1/consents", headers=org.headers()).json["items"] == []
    events = list(AuditEvent.select().where(AuditEvent.org == org.org.id))
    assert [(e.seq, e.action) for e in events] == [(1, "reset")]
    assert events[0].payload["previous_head"] == r.json["previous_head"]
    assert verify.full(org.org.id)["ok"] is True
    assert client.get("/ledger/v1/audit/verify", headers=org.headers()).json["ok"] is True
    assert head_before["ok"] is True
    # the same credentials and configuration work: a new link on the kept collection point
    record(client, org)
    link = create_link(client, org, cpf)
    assert link["consent_link"].startswith("http://consent.test/")
    # the other organisation was not touched
    assert Consent.select().where(Consent.org == other_org.org.id).count() == 1
    assert verify.full(org.org.id)["ok"] is True


def test_reset_keeps_each_dialects_configuration(app, client, org):
    from tests.avacy_helpers import DOCUMENTED, Tenant
    from tests.veriff_helpers import Integration
    attestr, integ, tenant, cpf = (AttestrClient(org.org), Integration(org.org),
                                   Tenant(org.org), make_cp(org.org))

    def use_every_dialect():
        r = client.post("/api/v3/public/consent/register", json=attestr_body(),
                        headers=attestr.headers())
        assert r.status_code == 200, r.json
        integ.create_session(client)
        assert tenant.post_json(client, "domains_groups", DOCUMENTED).status_code == 201
        create_link(client, org, cpf)

    use_every_dialect()
    removed = control(client, org, "POST", "/reset").json["removed"]
    assert {"attestr_consent", "veriff_session", "avacy_consent", "truconsent_request",
            "consent", "audit_event"} <= set(removed)
    state = control(client, org, "GET", "/state").json["records"]
    assert [e["action"] for e in state["core"].pop("audit_event")] == ["reset"]
    assert all(rows == [] for tables in state.values() for rows in tables.values()), state
    use_every_dialect()      # the same clients, integrations, webspaces and collection points


def test_reset_is_the_organisations_own(client, org, other_org):
    record(client, other_org)
    r = client.post("/_control/reset", headers=org.headers(org.consent_key))
    assert r.status_code == 403
    r = client.post("/_control/reset", headers={"X-Org-Id": other_org.slug,
                                                "X-API-Key": org.admin_key})
    assert r.status_code == 401
    assert control(client, org, "POST", "/reset").status_code == 200
    assert Consent.select().where(Consent.org == other_org.org.id).count() == 1


# -- the clock -----------------------------------------------------------------------------------

def test_clock_get_set_advance_and_back(client, org, other_org):
    r = control(client, org, "GET", "/clock")
    assert r.status_code == 200 and r.json["moved"] is False
    r = control(client, org, "POST", "/clock", json={"now": "2031-05-01T10:00:00Z"})
    assert r.status_code == 200 and r.json["now"].startswith("2031-05-01T10:00:0")
    r = control(client, org, "POST", "/clock", json={"advance_seconds": 3600})
    assert r.json["now"].startswith("2031-05-01T11:00:0")
    assert record(client, org)["created_at"].startswith("2031-05-01T11:00")
    # another organisation's clock and records are its own
    assert control(client, other_org, "GET", "/clock").json["moved"] is False
    assert not record(client, other_org)["created_at"].startswith("2031")
    r = control(client, org, "DELETE", "/clock")
    assert r.json["moved"] is False and not r.json["now"].startswith("2031")


def test_backwards_clock_keeps_the_chain_ordered_and_verifying(client, org):
    record(client, org)
    control(client, org, "POST", "/clock", json={"advance_seconds": -86400 * 30})
    record(client, org, subject="user-2")
    events = list(AuditEvent.select().where(AuditEvent.org == org.org.id)
                  .order_by(AuditEvent.seq))
    assert events[-1].at < events[0].at      # recorded as the clock said
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert client.get("/ledger/v1/audit/verify", headers=org.headers()).json["ok"] is True


def test_clock_moves_a_truconsent_link_to_410(client, org):
    cpf = make_cp(org.org)
    link = create_link(client, org, cpf, expiry_hours=1)
    page = link_path(link["consent_link"])
    assert client.get(page).status_code == 200
    control(client, org, "POST", "/clock", json={"advance_seconds": 2 * 3600})
    assert client.get(page).status_code == 410


def test_clock_moves_an_operator_token_past_max_age(app, client, org):
    """A bearer session token issued for an hour: two hours later on the organisation's clock
    (its itsdangerous timestamp and its row's expiry both read it) it is refused."""
    token = bearer(app, org.org, "op2@x.test")          # lifetime 3600 s
    headers = {"Authorization": f"Bearer {token}", "X-Org-Id": org.slug}
    path = "/api/consent/consent-links/history"
    before = client.get(path, headers=headers)
    assert before.status_code == 200, before.json
    control(client, org, "POST", "/clock", json={"advance_seconds": 2 * 3600})
    assert client.get(path, headers=headers).status_code == 401
    control(client, org, "DELETE", "/clock")
    assert client.get(path, headers=headers).status_code == 200


def test_clock_expires_an_attestr_consent_and_its_webhook_fires(client, org):
    with Receiver() as rx:
        c = AttestrClient(org.org, webhook_url=rx.url + "/attestr")
        now = storage.utcnow().replace(microsecond=0)
        r = client.post("/api/v3/public/consent/register", headers=c.headers(), json=attestr_body(
            webhook=True, consentValidTill=(now + dt.timedelta(hours=2)).strftime(
                "%Y-%m-%dT%H:%M:%S+0000")))
        assert r.status_code == 200, r.json
        consent_id = r.json["_id"]
        rx.wait_for(1)
        control(client, org, "POST", "/clock", json={"advance_seconds": 3 * 3600})
        got = rx.wait_for(2)
        assert json.loads(got[1].body)["event"] == "consent.expired" or \
            "expired" in got[1].body.decode()
        r = client.get(f"/api/v3/public/consent/{consent_id}", headers=c.headers())
        assert r.json["status"] == "expired"


# -- faults --------------------------------------------------------------------------------------

def test_fault_answers_in_the_service_shape_then_stops_and_writes_nothing(client, org):
    r = control(client, org, "POST", "/faults",
                json={"method": "POST", "path": "/ledger/v1/consents*", "status": 503,
                      "count": 2})
    assert r.status_code == 201
    fault_id = r.json["id"]
    for _ in range(2):
        r = client.post("/ledger/v1/consents", json=GRANT, headers=org.headers())
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        assert r.json == {"code": 503, "status": "Service Unavailable",
                          "message": "Injected fault: 503 Service Unavailable"}
    assert Consent.select().count() == 0
    assert record(client, org)["status"] == "granted"
    listed = control(client, org, "GET", "/faults").json["items"]
    assert [(f["id"], f["fired"], f["remaining"]) for f in listed] == [(fault_id, 2, 0)]
    journal = control(client, org, "GET", "/requests").json["items"]
    assert [(e["status"], e["injected"]) for e in journal] == [
        (201, False), (503, True), (503, True)]
    assert control(client, org, "DELETE", f"/faults/{fault_id}").json == {"deleted": 1}
    assert control(client, org, "DELETE", f"/faults/{fault_id}").status_code == 404


def test_truconsent_fault_shape(client, org):
    cpf = make_cp(org.org)
    control(client, org, "POST", "/faults", json={"path": "/api/consent/*", "status": 503})
    r = client.post("/api/consent/consent-links", json={"collection_point_id": cpf.cp.id,
                                                         "phone": "+919876543210"},
                    headers=org.headers(org.consent_key))
    assert r.status_code == 503 and r.json == {"detail": "Injected fault: 503 Service Unavailable"}


def test_attestr_429_in_its_shape_with_retry_after(client, org):
    c = AttestrClient(org.org)
    control(client, org, "POST", "/faults",
            json={"path": "/api/v3/public/consent/register", "status": 429, "count": 1})
    r = client.post("/api/v3/public/consent/register", json=attestr_body(), headers=c.headers())
    assert r.status_code == 429 and r.headers["Retry-After"]
    assert r.json["httpStatusCode"] == 429 and r.json["code"] // 10 == 429
    assert r.json["appError"] is True
    assert AttestrConsent.select().count() == 0
    r = client.post("/api/v3/public/consent/register", json=attestr_body(), headers=c.headers())
    assert r.status_code == 200


def test_fault_header_per_request(client, org):
    r = client.post("/ledger/v1/consents", json=GRANT,
                    headers=org.headers(**{"X-Consent-Fault": "503"}))
    assert r.status_code == 503
    r = client.post("/ledger/v1/consents", json=GRANT,
                    headers=org.headers(**{"X-Consent-Fault": "nope"}))
    assert r.status_code == 400
    assert Consent.select().count() == 0


def test_delivery_fault_makes_the_receiver_see_a_retry(client, org):
    with Receiver() as rx:
        c = AttestrClient(org.org, webhook_url=rx.url + "/attestr")
        control(client, org, "POST", "/faults",
                json={"target": "delivery", "path": rx.url + "/*", "status": 500, "count": 1})
        r = client.post("/api/v3/public/consent/register", json=attestr_body(webhook=True),
                        headers=c.headers())
        assert r.status_code == 200
        first = rx.wait_for(1)[0]
        wait_until(lambda: WebhookAttempt.select().count() == 1)   # the failure is recorded
        # the retry waits out its back-off (an hour here): the organisation's clock skips it
        control(client, org, "POST", "/clock", json={"advance_seconds": 3601})
        second = rx.wait_for(2)[1]
        assert first.body == second.body
        listed = control(client, org, "GET", "/faults").json["items"]
        assert listed[0]["fired"] == 1


# -- the journal ---------------------------------------------------------------------------------

def test_journal_masks_credentials_and_filters(client, org, other_org):
    record(client, org)
    client.get("/ledger/v1/consents?subject=user-1", headers=org.headers())
    record(client, other_org)
    items = control(client, org, "GET", "/requests").json["items"]
    assert [(e["method"], e["path"]) for e in items] == [
        ("GET", "/ledger/v1/consents"), ("POST", "/ledger/v1/consents")]
    assert items[0]["query"] == "subject=user-1"
    assert items[1]["headers"]["X-Api-Key"] == "***"
    assert json.loads(items[1]["body"]) == GRANT and items[1]["status"] == 201
    assert org.admin_key not in json.dumps(items)
    only_posts = control(client, org, "GET", "/requests?method=POST&path=/ledger/*").json["items"]
    assert [e["method"] for e in only_posts] == ["POST"]
    assert control(client, org, "GET", "/requests?path=/api/*").json["items"] == []
    assert control(client, org, "DELETE", "/requests").json == {"deleted": 2}
    assert control(client, org, "GET", "/requests").json["items"] == []
    assert len(control(client, other_org, "GET", "/requests").json["items"]) == 1


def test_an_erasure_deletes_the_journal_entries_that_name_the_person(client, org):
    who = "journal.person+1@example.com"
    record(client, org, subject=who)
    client.get(f"/ledger/v1/subjects/{who.replace('@', '%40')}/state", headers=org.headers())
    client.get("/ledger/v1/consents", query_string={"subject": who}, headers=org.headers())
    record(client, org, subject="someone-else")
    assert len(control(client, org, "GET", "/requests").json["items"]) == 4
    erased = client.post(f"/ledger/v1/subjects/{who}/erasure", headers=org.headers()).json
    assert erased["tables"]["control_request"] == 3
    left = control(client, org, "GET", "/requests").json["items"]
    # left: the other person's request, and the erasure's own, which names the person and
    # is journaled once it has answered (the client's own record of what it asked)
    assert [e["path"] for e in left] == [f"/ledger/v1/subjects/{who}/erasure",
                                         "/ledger/v1/consents"]
    assert who not in json.dumps(left[1:]) and "journal.person" not in json.dumps(left[1:])


def test_moving_the_clock_applies_the_retention_policy_under_it(client, org, other_org):
    """Retention reads the organisation's clock: moved past the policy's days, the subject
    with no grant left is erased at once (the ledger's Stub.clock_moved), with its request and
    audit event; another organisation's identical subject is not."""
    for who in (org, other_org):
        record(client, who, subject="lapsed-user", status="denied")
        assert client.put("/ledger/v1/retention", headers=who.headers(), json={
            "subject_days": 30, "evidence_days": None}).status_code == 200
    control(client, org, "POST", "/clock", json={"advance_seconds": 31 * 86400})
    assert client.get("/ledger/v1/subjects/lapsed-user/report",
                      headers=org.headers()).status_code == 404
    done = client.get("/ledger/v1/rights-requests?source=retention",
                      headers=org.headers()).json["items"]
    assert [(r["kind"], r["status"]) for r in done] == [("erasure", "completed")]
    assert client.get("/ledger/v1/subjects/lapsed-user/report",
                      headers=other_org.headers()).status_code == 200
    assert client.get("/ledger/v1/audit/verify", headers=org.headers()).json["ok"] is True


def test_journal_keeps_a_bounded_body(client, org):
    big = "x" * (70 * 1024)
    client.post("/ledger/v1/consents", json={**GRANT, "evidence": {"blob": big}},
                headers=org.headers())
    entry = control(client, org, "GET", "/requests").json["items"][0]
    assert entry["body_truncated"] is True and len(entry["body"]) == 64 * 1024
    assert entry["body_size"] > 70 * 1024


# -- state ----------------------------------------------------------------------------------------

def test_state_is_the_organisations_records(client, org, other_org):
    mine = record(client, org)
    record(client, other_org)
    state = control(client, org, "GET", "/state").json
    consents = state["records"]["core"]["consent"]
    assert [c["id"] for c in consents] == [mine["id"]]
    assert state["audit_head"]["seq"] >= 1


# -- hostile input -------------------------------------------------------------------------------

@pytest.mark.parametrize("path,body", [
    ("/clock", {}), ("/clock", {"now": "yesterday"}), ("/clock", {"advance_seconds": "x"}),
    ("/clock", {"advance_seconds": 1e300}), ("/clock", {"now": "2020-01-01T00:00:00Z",
                                                        "advance_seconds": 1}),
    ("/clock", {"now": "9999-12-31T23:59:59Z"}),
    ("/faults", {}), ("/faults", {"path": "/x", "status": 200}),
    ("/faults", {"path": "/x", "status": 503, "count": 0}),
    ("/faults", {"path": "/x", "status": 503, "percent": 101}),
    ("/faults", {"path": "", "status": 503}), ("/faults", {"path": "/x"}),
    ("/faults", {"path": "/x", "status": 503, "extra": 1}),
    ("/faults", {"path": "/x", "status": 503, "count": 1, "percent": 5}),
    ("/faults", {"target": "delivery", "path": "/x", "drop": True}),
    ("/faults", [1, 2]),
])
def test_hostile_input_is_a_4xx(client, org, path, body):
    r = control(client, org, "POST", path, json=body)
    assert 400 <= r.status_code < 500, r.json
    assert control(client, org, "GET", "/faults").json["items"] == []


def test_hostile_query_and_ids(client, org):
    for query in ("limit=0", "limit=abc", "since=never", "limit=99999999999999999999999"):
        assert control(client, org, "GET", f"/requests?{query}").status_code == 422
    assert control(client, org, "DELETE", "/faults/99999999999999999999").status_code == 404
    assert control(client, org, "DELETE", "/faults/abc").status_code == 404
    assert client.get("/_control/state").status_code == 400
    assert client.get("/_control/state", headers={"X-Org-Id": org.slug,
                                                  "X-API-Key": "nope"}).status_code == 401


def test_veriff_fault_is_in_its_shape_and_signed_then_stops(client, org):
    from tests.veriff_helpers import CONSENT, Integration, sign
    integ = Integration(org.org)
    session_id = integ.create_session(client)
    control(client, org, "POST", "/faults", json={"method": "POST", "status": 503, "count": 1,
                                                  "path": "/v1/sessions/*/consents"})
    r = integ.post(client, f"/v1/sessions/{session_id}/consents", CONSENT)
    assert r.status_code == 503
    assert r.json["status"] == "fail" and "Injected fault" in r.json["message"]
    assert r.headers["x-hmac-signature"] == sign(integ.secret, r.get_data())
    assert r.headers["x-auth-client"] == integ.key
    r = integ.post(client, f"/v1/sessions/{session_id}/consents", CONSENT)
    assert r.status_code == 200 and r.headers["x-hmac-signature"]


def test_avacy_fault_shape(client, org):
    from tests.avacy_helpers import DOCUMENTED, Tenant
    tenant = Tenant(org.org)
    control(client, org, "POST", "/faults", json={"path": f"/{org.slug}/domains_groups/*",
                                                  "status": 503, "count": 1})
    r = tenant.post_json(client, "domains_groups", DOCUMENTED)
    assert r.status_code == 503 and r.json["message"].startswith("Injected fault")
    assert set(r.json) <= {"message", "errors"}
    assert tenant.post_json(client, "domains_groups", DOCUMENTED).status_code == 201
    [entry, faulted] = control(client, org, "GET", "/requests?dialect=avacy").json["items"]
    assert (faulted["injected"], entry["injected"]) == (True, False)
    assert faulted["headers"]["Authorization"] == "Bearer ***"


def test_another_organisations_key_sees_nothing_of_this_one(client, org, other_org):
    record(client, org)
    control(client, org, "POST", "/clock", json={"advance_seconds": 86400})
    control(client, org, "POST", "/faults", json={"path": "/x", "status": 503})
    cross = {"X-Org-Id": org.slug, "X-API-Key": other_org.admin_key}
    for method, path in (("GET", "/requests"), ("DELETE", "/requests"), ("GET", "/clock"),
                         ("DELETE", "/clock"), ("GET", "/state"), ("GET", "/faults"),
                         ("DELETE", "/faults"), ("POST", "/reset")):
        assert client.open("/_control" + path, method=method, headers=cross).status_code == 401
    # its own key acts on its own organisation only
    assert control(client, other_org, "GET", "/requests").json["items"] == []
    assert control(client, other_org, "GET", "/faults").json["items"] == []
    assert control(client, other_org, "GET", "/state").json["records"]["core"]["consent"] == []
    assert control(client, org, "GET", "/clock").json["moved"] is True
    assert len(control(client, org, "GET", "/faults").json["items"]) == 1
    assert len(control(client, org, "GET", "/requests").json["items"]) == 1


def test_fuzz_every_control_operation(app, runner):
    """Schemathesis over the control API's operations (tests/fuzz.py): zero 5xx, every answer
    as documented, whatever the input."""
    from tests import fuzz
    seeded = runner.invoke(args=["seed-demo", "--json"])
    assert seeded.exit_code == 0, seeded.output
    credentials = fuzz.Credentials(json.loads(seeded.output))
    schema = fuzz.load_wsgi(app).include(path_regex="^/_control/")
    outcome = fuzz.run(schema, credentials, examples=6, deadline_s=60)
    assert outcome.operations == 11
    assert not outcome.failures, "\n\n".join(outcome.failures)


def test_state_masks_webhook_credentials_and_link_tokens(client, org):
    with Receiver() as rx:
        c = AttestrClient(org.org, webhook_url=rx.url + "/attestr")
        r = client.post("/api/v3/public/consent/register", json=attestr_body(webhook=True),
                        headers=c.headers())
        assert r.status_code == 200
        rx.wait_for(1)
    cpf = make_cp(org.org)
    link = create_link(client, org, cpf)
    text = json.dumps(control(client, org, "GET", "/state").json)
    assert c.issued.webhook_token not in text
    assert link["consent_link"].split("t=")[-1] not in text
    deliveries = control(client, org, "GET", "/state").json["records"]["core"]["webhook_delivery"]
    assert deliveries[0]["headers"]["Authorization"] == "Basic ***"


def test_percent_and_latency_rules(client, org):
    # percent 100: every match; a latency-only rule lets the request through, and counts
    always = control(client, org, "POST", "/faults", json={
        "path": "/ledger/v1/consents", "method": "GET", "status": 503, "percent": 100}).json["id"]
    for _ in range(3):
        assert client.get("/ledger/v1/consents", headers=org.headers()).status_code == 503
    control(client, org, "DELETE", f"/faults/{always}")
    control(client, org, "POST", "/faults", json={"path": "/ledger/v1/consents",
                                                  "method": "POST", "latency_ms": 1,
                                                  "count": 1})
    assert record(client, org)["status"] == "granted"
    [rule] = control(client, org, "GET", "/faults").json["items"]
    assert (rule["fired"], rule["remaining"], rule["status"]) == (1, 0, None)
    assert control(client, org, "DELETE", "/faults").json == {"deleted": 1}
    [entry] = control(client, org, "GET", "/requests?method=POST").json["items"]
    assert entry["status"] == 201 and entry["injected"] is True


def test_journal_shows_the_avacy_plugins_form_body_as_sent(client, org):
    """What the WordPress plugin sends (a form-encoded v4 body, its exact headers) is in the
    journal byte for byte, with the bearer token masked."""
    from tests.avacy_helpers import Tenant, plugin_body
    from tests.test_avacy_plugin import V4_PAYLOAD
    tenant = Tenant(org.org)
    body = plugin_body(V4_PAYLOAD)
    r = client.post(tenant.path("v4"), data=body.encode(), headers={
        "Accept": "application/json", "Authorization": f"Bearer {tenant.token}",
        "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
        "User-Agent": "WordPress/6.6; https://shop.example.it"})
    assert r.status_code == 201
    [entry] = control(client, org, "GET", "/requests?dialect=avacy").json["items"]
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", tenant.path("v4"), 201)
    assert entry["body"] == body and entry["body_truncated"] is False
    assert entry["headers"]["Content-Type"] == "application/x-www-form-urlencoded; charset=UTF-8"
    assert entry["headers"]["Authorization"] == "Bearer ***"
    assert tenant.token not in json.dumps(entry)


def test_truconsent_sdk_reads_a_faulted_429_as_its_rate_limit(client, org):
    """truKIT's fetchBanner stops on a 429 (it throws "Rate limit exceeded"): a fault on the
    banner path gives it one in truConsent's shape with Retry-After, and nothing else; the next
    fetch answers the banner."""
    from tests import truconsent_sdk_requests as req
    from tests.test_truconsent_sdk import Banner
    banner = Banner(client, org)
    control(client, org, "POST", "/faults", json={
        "method": "GET", "path": "/api/v1/internal/consent/*", "status": 429, "count": 1})
    urls = req.rn_fetch_banner_urls(banner.cp["display_id"], banner.asset["id"], "u1")
    [limited] = req.rn_fetch_banner(client, banner.rn(), urls)   # the SDK stops at the 429
    assert limited.status_code == 429
    assert limited.json == {"detail": "Injected fault: 429 Too Many Requests"}
    assert int(limited.headers["Retry-After"]) >= 1
    [answered] = req.rn_fetch_banner(client, banner.rn(), urls)
    assert answered.status_code == 200 and answered.json["banner_id"] == banner.cp["display_id"]
