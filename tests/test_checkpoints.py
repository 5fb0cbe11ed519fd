"""Signed checkpoints of the audit chain (issue 16 §5): the HTTP route and the CLI, and the
attack they exist for: an edit re-hashed with the project's own functions passes plain verify,
and is caught by any checkpoint issued before it."""
from __future__ import annotations

import json
import os
import re
import stat

import pytest

from consent.core import checkpoints, ledger
from consent.core.storage import AuditEvent, Consent
from tests.checkpoint_helpers import (
    rewrite_consent,
    rewrite_event,
    signature_holds,
    standalone,
    write_json,
)

AT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
PATH = "/ledger/v1/audit/checkpoint"


def invoke(runner, *args):
    return runner.invoke(args=list(args), catch_exceptions=False)


def head(org):
    event = (AuditEvent.select().where(AuditEvent.org == org.org.id)
             .order_by(AuditEvent.seq.desc()).first())
    return event.seq, event.hash


def record(org, subject, status="granted", purpose="marketing"):
    return ledger.record_one(org.org.id, ledger.Decision(subject=subject, purpose=purpose,
                                                      status=status))


def public_pem(runner, *flags):
    shown = invoke(runner, "audit", "key", "show", *flags)
    assert shown.exit_code == 0
    return shown.output


# -- the route -------------------------------------------------------------------------------------

def test_checkpoint_signs_the_current_head(client, runner, org):
    record(org, "alice")
    r = client.get(PATH, headers=org.headers())
    assert r.status_code == 200
    cp = r.json
    seq, head_hash = head(org)
    assert set(cp) == {"org", "seq", "head_hash", "at", "key_id", "signature"}
    assert (cp["org"], cp["seq"], cp["head_hash"]) == (org.org.id, seq, head_hash)
    assert AT.fullmatch(cp["at"])
    pem = public_pem(runner)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----") and "PRIVATE" not in pem
    # Verifiable with any Ed25519 library from the documented message alone.
    assert signature_holds(cp, pem)
    assert not signature_holds({**cp, "seq": seq - 1}, pem)
    keys = [json.loads(line) for line in
            invoke(runner, "audit", "key", "list").output.splitlines()]
    assert [k["key_id"] for k in keys] == [cp["key_id"]] and keys[0]["current"] is True


def test_the_same_head_answers_the_same_checkpoint_and_a_new_head_a_new_one(client, org):
    record(org, "alice")
    first = client.get(PATH, headers=org.headers()).json
    assert client.get(PATH, headers=org.headers()).json == first
    record(org, "bob")
    second = client.get(PATH, headers=org.headers()).json
    assert second["seq"] == first["seq"] + 1 and second["head_hash"] != first["head_hash"]
    # Issuing is bookkeeping: the chain did not move.
    assert client.get(PATH, headers=org.headers()).json == second
    assert head(org)[0] == second["seq"]
    assert [r.seq for r in checkpoints.listing(org.org.id)] == [second["seq"], first["seq"]]


def test_a_checkpoint_edited_in_the_database_is_never_handed_out(client, org):
    record(org, "alice")
    first = client.get(PATH, headers=org.headers()).json
    checkpoints.AuditCheckpoint.update(signature="A" * 88).execute()
    again = client.get(PATH, headers=org.headers()).json
    assert again["signature"] != "A" * 88 and again["head_hash"] == first["head_hash"]
    assert checkpoints.rules.check_signature(
        checkpoints.rules.parse(again), checkpoints.store().public_keys()) is None


@pytest.mark.parametrize("headers,status,message", [
    ({}, 400, "X-Org-Id header is required"),
    ({"X-Org-Id": "acme"}, 401, "X-API-Key header is required"),
    ({"X-Org-Id": "acme", "X-API-Key": "ck_wrong"}, 401, "Invalid API key for this organisation"),
])
def test_checkpoint_auth_failures(client, org, headers, status, message):
    r = client.get(PATH, headers=headers)
    assert r.status_code == status
    assert r.json == {"code": status, "status": r.json["status"], "message": message}


def test_checkpoint_needs_the_admin_scope_and_the_orgs_own_key(client, org, other_org):
    r = client.get(PATH, headers=org.headers(org.consent_key))
    assert r.status_code == 403
    assert r.json == {"code": 403, "status": "Forbidden",
                      "message": "This API key does not have the 'admin' scope"}
    r = client.get(PATH, headers={"X-Org-Id": org.slug, "X-API-Key": other_org.admin_key})
    assert r.status_code == 401
    assert r.json["message"] == "Invalid API key for this organisation"
    # Each organisation gets its own chain's head.
    mine = client.get(PATH, headers=other_org.headers()).json
    assert mine["org"] == other_org.org.id and mine["seq"] == head(other_org)[0]


def test_cli_checkpoint_prints_what_the_route_answers(client, runner, org):
    record(org, "alice")
    printed = invoke(runner, "audit", "checkpoint", "--org", "acme")
    assert printed.exit_code == 0
    cp = json.loads(printed.output)
    assert client.get(PATH, headers=org.headers()).json == cp
    listed = [json.loads(line) for line in
              invoke(runner, "audit", "checkpoints", "--org", "acme").output.splitlines()]
    assert listed == [{**cp, "origin": "cli", "witnessed": False, "witness_file": None}]
    assert runner.invoke(args=["audit", "checkpoint", "--org", "nope"]).exit_code == 1


# -- the attack --------------------------------------------------------------------------------------

@pytest.fixture
def history(client, org, tmp_path):
    """A ledger with checkpoints kept outside the database at three moments."""
    grant = record(org, "alice")                        # events: org.created, recorded
    before = write_json(tmp_path / "before.json", client.get(PATH, headers=org.headers()).json)
    record(org, "bob", purpose="analytics")
    ledger.withdraw(org.org.id, grant.id)
    middle = write_json(tmp_path / "middle.json", client.get(PATH, headers=org.headers()).json)
    target = record(org, "carol")                      # the consent the attack changes
    record(org, "dave")
    latest = write_json(tmp_path / "latest.json", client.get(PATH, headers=org.headers()).json)
    return {"before": before, "middle": middle, "latest": latest, "target": target}


@pytest.mark.tampered
def test_a_rehashed_rewrite_passes_plain_verify_and_is_caught_by_every_earlier_checkpoint(
        runner, org, history):
    files = [str(history[k]) for k in ("before", "middle", "latest")]
    ok = invoke(runner, "audit", "verify", "--org", "acme", *sum([["--checkpoint", f]
                                                                 for f in files], []))
    assert ok.exit_code == 0, ok.output
    assert ok.output.count("the chain extends it") == 3
    # the organisation's verdict (a JSON line) first, then a line per checkpoint
    lines = ok.stdout.splitlines()
    assert json.loads(lines[0])["org"] == "acme" and json.loads(lines[0])["ok"] is True
    assert len(lines) == 4 and all(line.startswith("OK: checkpoint ") for line in lines[1:])

    edited = rewrite_consent(org.org.id, history["target"].id, "denied")
    assert Consent.get(Consent.id == history["target"].id).status == "denied"
    plain = invoke(runner, "audit", "verify", "--org", "acme")
    assert plain.exit_code == 0 and json.loads(plain.output)["ok"] is True   # nothing to see

    caught = runner.invoke(args=["audit", "verify", "--org", "acme", "--checkpoint", files[2]])
    assert caught.exit_code == 1
    latest = json.loads(history["latest"].read_text())
    assert latest["seq"] >= edited
    assert f"BROKEN: checkpoint {files[2]} (org acme seq {latest['seq']}" in caught.stderr
    assert "the chain was rewritten" in caught.stderr
    # Checkpoints from before the edited event are still extended: the damage starts there.
    earlier = runner.invoke(args=["audit", "verify", "--org", "acme",
                                  "--checkpoint", files[0], "--checkpoint", files[1]])
    assert earlier.exit_code == 0 and earlier.output.count("the chain extends it") == 2


@pytest.mark.tampered
def test_an_edited_event_is_caught_by_any_checkpoint_after_it(runner, org, history):
    rewrite_event(org.org.id, 1, name="Somebody Else")   # the org.created event
    assert invoke(runner, "audit", "verify", "--org", "acme").exit_code == 0
    for name in ("before", "middle", "latest"):
        path = str(history[name])
        caught = runner.invoke(args=["audit", "verify", "--checkpoint", path])
        assert caught.exit_code == 1, name
        assert f"BROKEN: checkpoint {path} (org acme" in caught.stderr
        assert "the chain was rewritten" in caught.stderr


@pytest.mark.tampered
def test_removing_the_newest_events_is_caught(runner, org, history):
    latest = json.loads(history["latest"].read_text())
    AuditEvent.delete().where(AuditEvent.org == org.org.id,
                              AuditEvent.seq == latest["seq"]).execute()
    caught = runner.invoke(args=["audit", "verify", "--checkpoint", str(history["latest"])])
    assert caught.exit_code == 1
    assert (f"the chain ends at seq {latest['seq'] - 1}, before the checkpoint's seq "
            f"{latest['seq']}: events were removed") in caught.stderr


def test_checkpoints_the_key_never_signed_are_refused(runner, org, history, tmp_path):
    latest = json.loads(history["latest"].read_text())
    forged = write_json(tmp_path / "forged.json", {**latest, "head_hash": "ab" * 32})
    other_key = checkpoints.KeyStore(tmp_path / "another-installation")
    _, key = other_key.current()
    foreign = checkpoints.rules.sign(key, latest["org"], latest["seq"], latest["head_hash"],
                                     latest["at"]).as_dict()
    foreign_file = write_json(tmp_path / "foreign.json", foreign)
    junk = tmp_path / "junk.jsonl"
    junk.write_text(json.dumps(latest) + "\n{not json\n" + json.dumps({"seq": 1}) + "\n")
    out = runner.invoke(args=["audit", "verify", "--org", "acme", "--checkpoint", str(forged),
                              "--checkpoint", str(foreign_file), "--checkpoint", str(junk)])
    assert out.exit_code == 1
    assert f"REFUSED: checkpoint {forged} (org {latest['org']} seq {latest['seq']} at " \
           f"{latest['at']} (key {latest['key_id']})): bad signature (key {latest['key_id']})" \
        in out.stderr
    assert f"REFUSED: checkpoint {foreign_file} " in out.stderr
    assert f"signed by an unknown key {foreign['key_id']}" in out.stderr
    assert f"OK: checkpoint {junk}:1 (org acme" in out.output
    assert f"REFUSED: checkpoint {junk}:2: not JSON" in out.stderr
    assert f"REFUSED: checkpoint {junk}:3: not a checkpoint: missing field(s): org, head_hash" \
        in out.stderr
    binary = tmp_path / "binary.bin"
    binary.write_bytes(b"\xff\xfe\x00")
    out = runner.invoke(args=["audit", "verify", "--checkpoint", str(binary)])
    assert out.exit_code == 1 and f"REFUSED: checkpoint {binary}: not UTF-8 text" in out.stderr


def test_a_checkpoint_of_an_organisation_that_is_not_here(runner, org, history, tmp_path):
    latest = json.loads(history["latest"].read_text())
    _, key = checkpoints.store().current()
    elsewhere = checkpoints.rules.sign(key, "no-such-org", latest["seq"], latest["head_hash"],
                                       latest["at"]).as_dict()
    out = runner.invoke(args=["audit", "verify", "--checkpoint",
                              str(write_json(tmp_path / "x.json", elsewhere))])
    assert out.exit_code == 1 and "no organisation no-such-org here" in out.stderr


# -- the export and the standalone verifier ---------------------------------------------------------

def test_export_then_standalone_verify_catches_the_rewrite(runner, org, history, tmp_path):
    keys = tmp_path / "keys.pem"
    keys.write_text(public_pem(runner, "--all"))
    cps = [str(history[k]) for k in ("before", "middle", "latest")]
    args = ["--public-key", str(keys), "--checkpoint", *cps]

    good = tmp_path / "good.jsonl"
    exported = invoke(runner, "audit", "export", "--org", "acme", "-o", str(good))
    assert exported.exit_code == 0
    assert stat.S_IMODE(os.stat(good).st_mode) == 0o600
    lines = [json.loads(line) for line in good.read_text().splitlines()]
    assert [e["seq"] for e in lines] == list(range(1, head(org)[0] + 1))
    assert set(lines[0]) == {"event_id", "org", "seq", "at", "actor", "action", "entity_type",
                             "entity_id", "payload", "prev_hash", "hash"}
    assert invoke(runner, "audit", "export", "--org", "acme").output == good.read_text()
    nowhere = runner.invoke(args=["audit", "export", "--org", "acme", "-o",
                                  str(tmp_path / "missing" / "x.jsonl")])
    assert nowhere.exit_code == 1 and "Error: cannot write" in nowhere.stderr
    ok = standalone("--export", str(good), *args)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.splitlines()[-1] == "VERIFIED"

    rewrite_consent(org.org.id, history["target"].id, "denied")
    bad = tmp_path / "rewritten.jsonl"
    assert invoke(runner, "audit", "export", "--org", "acme", "-o", str(bad)).exit_code == 0
    caught = standalone("--export", str(bad), *args)
    assert caught.returncode == 1, caught.stdout
    out = caught.stdout
    assert out.startswith(f"OK: export {bad}: {len(lines)} events")   # the chain itself holds
    assert f"BROKEN: checkpoint {cps[2]} " in out and "the chain was rewritten" in out
    assert f"OK: checkpoint {cps[0]} " in out and f"OK: checkpoint {cps[1]} " in out
    assert out.splitlines()[-1] == "FAILED: 1 finding(s)"


# -- the schema ---------------------------------------------------------------------------------------

def test_a_database_at_core_version_1_gets_the_checkpoint_table(app, client, org):
    """Core migration 2 creates ``audit_checkpoint`` on a database from before checkpoints."""
    from consent.core import components, migrate, storage

    core = components.get("core")
    mine = next(m.version for m in core.migrations if m.description.startswith("audit_checkpoint"))
    storage.db.execute_sql('DROP TABLE "audit_checkpoint"')
    migrate.SchemaMigration.update(version=mine - 1).where(
        migrate.SchemaMigration.component == "core").execute()
    assert "core" in migrate.problem()
    assert [(a.component, a.version) for a in migrate.upgrade()] == [
        ("core", v) for v in range(mine, core.latest + 1)]
    assert migrate.problem() is None
    record(org, "alice")
    assert client.get(PATH, headers=org.headers()).json["seq"] == head(org)[0]
