"""The operator CLI, run through Flask's CLI runner against the test database."""
from __future__ import annotations

import pytest

import json

from consent.core import auth, ledger
from consent.web.dialect import registry
from consent.core.storage import AuditEvent, Consent, Credential, User


def invoke(runner, *args):
    return runner.invoke(args=list(args), catch_exceptions=False)


def test_init_db_is_repeatable(runner):
    assert invoke(runner, "init-db").exit_code == 0
    assert "Database ready" in invoke(runner, "init-db").output


def test_seed_demo_json_twice_prints_working_credentials(runner, client):
    outputs = []
    for _ in range(2):
        result = invoke(runner, "seed-demo", "--json")
        assert result.exit_code == 0
        data = json.loads(result.output)  # exactly one JSON object
        outputs.append(data)
        # One section per registered dialect that seeds; the core names none of them.
        seeding = {d.name for d in registry(client.application).dialects if d.seed_demo}
        assert {"truconsent", "veriff"} <= seeding
        assert set(data) == {"base_url", "org", "ledger"} | seeding
        assert data["org"] == {"slug": "demo", "subdomain": "demo"}
        assert data["base_url"] == "http://consent.test"
    for data in outputs:
        r = client.get("/ledger/v1/consents", headers={
            "X-Org-Id": "demo", "X-API-Key": data["ledger"]["admin_api_key"]})
        assert r.status_code == 200
    assert outputs[0]["ledger"]["admin_api_key"] != outputs[1]["ledger"]["admin_api_key"]


def test_seed_demo_human_output(runner):
    result = invoke(runner, "seed-demo")
    assert result.exit_code == 0
    assert "Demo organisation: demo" in result.output and "admin_api_key" in result.output


def test_org_create_and_list(runner):
    result = invoke(runner, "org", "create", "initech", "--name", "Initech",
                    "--subdomain", "initech-sub")
    assert result.exit_code == 0
    assert json.loads(result.output)["subdomain"] == "initech-sub"
    assert "initech\tinitech-sub\tInitech" in invoke(runner, "org", "list").output
    dup = runner.invoke(args=["org", "create", "initech", "--name", "Again"])
    assert dup.exit_code == 1 and "exists" in dup.output
    bad = runner.invoke(args=["org", "create", "Not A Slug", "--name", "x"])
    assert bad.exit_code == 1 and "slug" in bad.output


def test_user_member_token_flow(runner, app, org):
    assert invoke(runner, "user", "create", "Ops@Example.com", "--name", "Ops").exit_code == 0
    assert User.get(User.email == "ops@example.com").name == "Ops"
    assert "is a admin of acme" in invoke(runner, "member", "add", "--org", "acme", "--email",
                                          "ops@example.com").output
    token = invoke(runner, "token", "create", "--email", "ops@example.com", "--lifetime",
                   "60").output.strip()
    user = auth.user_for_session_token(app.config["SECRET_KEY"], token,
                                       app.config["CONSENT_SESSION_MAX_AGE"])
    assert user.email == "ops@example.com"
    too_long = runner.invoke(args=["token", "create", "--email", "ops@example.com",
                                   "--lifetime", str(10 ** 9)])
    assert too_long.exit_code == 1
    missing = runner.invoke(args=["token", "create", "--email", "nobody@example.com"])
    assert missing.exit_code == 1 and "no user" in missing.output


def test_key_create_shows_secret_once_and_revoke(runner, client, org):
    result = invoke(runner, "key", "create", "--org", "acme", "--scope", "admin", "--name", "ci")
    issued = json.loads(result.output)
    assert issued["scopes"] == ["admin"] and issued["key"].startswith("ck_")
    row = Credential.get_by_id(issued["id"])
    assert issued["key"] not in (row.key_hash, row.key_prefix)  # only the hash is stored
    headers = {"X-Org-Id": "acme", "X-API-Key": issued["key"]}
    assert client.get("/ledger/v1/consents", headers=headers).status_code == 200
    assert invoke(runner, "key", "revoke", "--org", "acme", issued["id"]).exit_code == 0
    assert client.get("/ledger/v1/consents", headers=headers).status_code == 401
    unknown = runner.invoke(args=["key", "revoke", "--org", "acme", "nope"])
    assert unknown.exit_code == 1


def test_key_create_hmac_and_basic(runner):
    ledger.create_org("hm", "HM")
    hmac_key = json.loads(invoke(runner, "key", "create", "--org", "hm", "--kind", "hmac").output)
    assert len(hmac_key["shared_secret"]) == 64 and hmac_key["key"].startswith("ik_")
    basic = json.loads(invoke(runner, "key", "create", "--org", "hm", "--kind", "basic").output)
    assert basic["client_id"].startswith("cl_")
    assert auth.find_basic_client(basic["client_id"], basic["key"]) is not None
    assert auth.find_basic_client("cl_other", basic["key"]) is None


@pytest.mark.tampered
def test_audit_verify_exit_codes(runner, org):
    c = ledger.record_one(org.org.id, ledger.Decision(subject="s", purpose="p", status="granted"))
    ok = invoke(runner, "audit", "verify", "--org", "acme")
    assert ok.exit_code == 0
    verdict = json.loads(ok.output)
    assert verdict["org"] == "acme" and verdict["ok"] is True and verdict["reason"] is None
    assert verdict["consents_checked"] == 1 and verdict["head_hash"]
    Consent.update(status="denied").where(Consent.id == c.id).execute()
    bad = runner.invoke(args=["audit", "verify", "--org", "acme"])
    assert bad.exit_code == 1
    recorded_by = AuditEvent.get((AuditEvent.org == org.org.id)
                                 & (AuditEvent.seq == c.audit_seq)).event_id
    verdict = json.loads(bad.output)
    assert verdict["ok"] is False and verdict["first_bad_event"] == recorded_by
    assert verdict["first_bad_seq"] == c.audit_seq
    assert verdict["first_bad_consent"] == c.id
    assert verdict["reason"] == "consent row does not match its record hash"


def test_export(runner, org, tmp_path):
    ledger.record(org.org.id, [ledger.Decision(subject=f"s{i}", purpose="p", status="granted")
                            for i in range(3)])
    out = tmp_path / "out.jsonl"
    assert invoke(runner, "export", "--org", "acme", "-o", str(out)).exit_code == 0
    assert [json.loads(line)["subject"] for line in out.read_text().splitlines()] == \
        ["s0", "s1", "s2"]
    csv_out = invoke(runner, "export", "--org", "acme", "--format", "csv").output
    assert csv_out.splitlines()[0].startswith("id,subject")
    assert len(csv_out.splitlines()) == 4


@pytest.mark.tampered
def test_audit_verify_without_org_checks_every_organisation(runner, org, other_org):
    ledger.record_one(org.org.id, ledger.Decision(subject="s", purpose="p", status="granted"))
    bad = ledger.record_one(other_org.org.id, ledger.Decision(subject="s", purpose="p",
                                                           status="granted"))
    ok = invoke(runner, "audit", "verify")
    assert ok.exit_code == 0
    assert [(v["org"], v["ok"]) for v in map(json.loads, ok.output.splitlines())] == [
        ("acme", True), ("globex", True)]
    Consent.update(status="denied").where(Consent.id == bad.id).execute()
    broken = runner.invoke(args=["audit", "verify"])
    assert broken.exit_code == 1
    verdicts = {v["org"]: v for v in map(json.loads, broken.output.splitlines())}
    assert verdicts["acme"]["ok"] is True
    assert verdicts["globex"]["ok"] is False and verdicts["globex"]["first_bad_consent"] == bad.id


def test_links_follow_the_served_host_when_no_public_url_is_set(app, runner, org):
    """``make run PORT=8080`` hands out :8080 links: with CONSENT_PUBLIC_URL unset, a request's
    links use the host and port it reached, and seed-demo prints the URL make passes it."""
    from tests.truconsent_helpers import link_body, make_cp

    app.config["CONSENT_PUBLIC_URL"] = ""
    cpf = make_cp(org.org)
    client = app.test_client()
    resp = client.post("/api/consent/consent-links", json=link_body(cpf),
                       headers=org.headers(org.consent_key), base_url="http://127.0.0.1:8080")
    assert resp.status_code == 200
    assert resp.json["consent_link"].startswith("http://127.0.0.1:8080/acme/CP001/")
    seeded = json.loads(invoke(runner, "seed-demo", "--json", "--url",
                               "http://127.0.0.1:8080").output)
    assert seeded["base_url"] == "http://127.0.0.1:8080"


def test_make_run_passes_its_port_to_seed_demo():
    import subprocess
    from pathlib import Path

    out = subprocess.run(["make", "-n", "run", "PORT=8080", "HOST=127.0.0.1"],
                         cwd=Path(__file__).resolve().parents[1], capture_output=True,
                         text=True, check=True).stdout
    assert "seed-demo --url http://127.0.0.1:8080" in out
    assert "--bind 127.0.0.1:8080" in out
