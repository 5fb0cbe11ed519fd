"""The standalone verifier (``python -m auditchain``): no Flask, no peewee, no database; the same
hash rules as the service; every way an export or a checkpoint can fail."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from auditchain import hashing
from consent.core import audit, checkpoints, ledger, storage
from tests.checkpoint_helpers import ROOT, standalone, write_json

SERVICE_MODULES = ("flask", "peewee", "playhouse", "psycopg2", "sqlite3", "consent", "werkzeug",
                   "marshmallow", "schemas", "flask_smorest")


def test_the_verifier_imports_nothing_of_the_service():
    probe = ("import sys, auditchain, auditchain.hashing, auditchain.checkpoint, "
             "auditchain.verifier\n"
             f"print(sorted(m for m in sys.modules if m.split('.')[0] in {SERVICE_MODULES!r}))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_service_hashes_with_the_verifiers_functions():
    """One definition: nothing the service hashes with can drift from what the verifier uses."""
    assert storage.canonical_json is hashing.canonical_json
    assert audit._hash is hashing.content_hash
    assert audit.GENESIS == hashing.GENESIS


@pytest.fixture
def exported(client, runner, org, other_org, tmp_path):
    """An export of acme's chain, a checkpoint of its head, and the public key."""
    for subject in ("alice", "bob", "carol"):
        ledger.record_one(org.org.id, ledger.Decision(subject=subject, purpose="p",
                                                   status="granted", evidence={"n": 1.5}))
    cp = client.get("/ledger/v1/audit/checkpoint", headers=org.headers()).json
    export = tmp_path / "export.jsonl"
    assert checkpoints.write_export(org.org.id, str(export)) == cp["seq"]
    key = tmp_path / "key.pem"
    key.write_text(runner.invoke(args=["audit", "key", "show"]).output)
    other_cp = client.get("/ledger/v1/audit/checkpoint", headers=other_org.headers()).json
    return {"export": export, "cp": write_json(tmp_path / "cp.json", cp), "key": key,
            "checkpoint": cp, "other_cp": write_json(tmp_path / "other.json", other_cp),
            "lines": export.read_text().splitlines(), "dir": tmp_path}


def run(ex, export=None, *cps, key=True):
    args = ["--export", str(export or ex["export"])]
    if key:
        args += ["--public-key", str(ex["key"])]
    for cp in cps or (ex["cp"],):
        args += ["--checkpoint", str(cp)]
    return standalone(*args)


def test_a_whole_run_with_the_service_unimportable(exported):
    """The documented command, in a process where Flask, peewee and the database drivers (and
    this service's own packages) cannot be imported at all."""
    blocker = ("import sys, runpy\n"
               f"for name in {SERVICE_MODULES!r}:\n"
               "    sys.modules[name] = None\n"
               "sys.argv = ['auditchain'] + sys.argv[1:]\n"
               "runpy.run_module('auditchain', run_name='__main__')\n")
    out = subprocess.run([sys.executable, "-c", blocker, "--export", str(exported["export"]),
                          "--public-key", str(exported["key"]), "--checkpoint",
                          str(exported["cp"])], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    cp = exported["checkpoint"]
    assert out.stdout.splitlines() == [
        f"OK: export {exported['export']}: {cp['seq']} events of organisation {cp['org']} "
        f"verify; head seq {cp['seq']} hash {cp['head_hash']}",
        f"OK: checkpoint {exported['cp']} (org {cp['org']} seq {cp['seq']} at {cp['at']} "
        f"(key {cp['key_id']})): the chain extends it",
        "VERIFIED"]


def edited(ex, name, lines):
    path = ex["dir"] / name
    path.write_text("".join(line + "\n" for line in lines))
    return path


def test_an_edited_export_line_is_the_first_bad_event(exported):
    lines = exported["lines"]
    record = json.loads(lines[3])
    record["payload"]["status"] = "denied"
    path = edited(exported, "edited.jsonl", [*lines[:3], json.dumps(record), *lines[4:]])
    out = run(exported, path)
    assert out.returncode == 1
    assert out.stdout.splitlines()[0] == (f"BROKEN: export {path}: event seq 4 "
                                          f"({record['event_id']}): stored hash does not match "
                                          "the event's content")
    assert "the chain does not verify from seq 4 on, before the checkpoint's seq" in out.stdout


def test_a_rehashed_export_still_fails_the_checkpoint(exported):
    lines = [json.loads(line) for line in exported["lines"]]
    lines[3]["payload"]["status"] = "denied"
    prev = lines[2]["hash"]
    for record in lines[3:]:
        record["prev_hash"] = prev
        record["hash"] = prev = hashing.event_hash(record)
    path = edited(exported, "rehashed.jsonl", [json.dumps(r) for r in lines])
    out = run(exported, path)
    assert out.returncode == 1
    assert out.stdout.startswith(f"OK: export {path}: ")
    cp = exported["checkpoint"]
    assert (f"BROKEN: checkpoint {exported['cp']} (org {cp['org']} seq {cp['seq']} at {cp['at']} "
            f"(key {cp['key_id']})): the chain's event {cp['seq']} has the hash {prev}, the "
            f"checkpoint says {cp['head_hash']}: the chain was rewritten") in out.stdout


def test_gaps_cuts_and_junk(exported):
    lines = exported["lines"]
    gap = run(exported, edited(exported, "gap.jsonl", [*lines[:2], *lines[3:]]))
    assert gap.returncode == 1 and "event seq 3" in gap.stdout \
        and "sequence gap: expected 3, found 4" in gap.stdout
    cut = run(exported, edited(exported, "cut.jsonl", lines[:-1]))
    assert cut.returncode == 1
    assert f"the chain ends at seq {len(lines) - 1}, before the checkpoint's seq {len(lines)}: " \
           "events were removed" in cut.stdout
    junk = run(exported, edited(exported, "junk.jsonl", [*lines[:2], "{oops"]))
    assert junk.returncode == 1 and "event seq 3: line 3 is not JSON" in junk.stdout
    partial = json.loads(lines[0])
    del partial["prev_hash"]
    missing = run(exported, edited(exported, "missing.jsonl", [json.dumps(partial)]))
    assert missing.returncode == 1 and "line 1 is not an exported event" in missing.stdout


def test_a_checkpoint_of_another_organisation_or_key(exported):
    out = run(exported, None, exported["other_cp"])
    assert out.returncode == 1
    other = json.loads(exported["other_cp"].read_text())
    assert (f"the checkpoint is of organisation {other['org']}, the chain of "
            f"{exported['checkpoint']['org']}") in out.stdout
    cp = exported["checkpoint"]
    bad = write_json(exported["dir"] / "bad.json", {**cp, "seq": cp["seq"] - 1})
    unsigned = write_json(exported["dir"] / "unsigned.json", {**cp, "signature": "%%%"})
    out = run(exported, None, bad, unsigned)
    assert out.returncode == 1
    assert f"REFUSED: checkpoint {bad} " in out.stdout and "bad signature" in out.stdout
    assert f"REFUSED: checkpoint {unsigned} " in out.stdout \
        and "the signature is not base64" in out.stdout
    assert out.stdout.splitlines()[-1] == "FAILED: 2 finding(s)"


def test_usage_errors_exit_2(exported):
    assert run(exported, exported["dir"] / "nope.jsonl").returncode == 2
    no_key = run(exported, key=False)
    assert no_key.returncode == 2 and "--public-key is needed" in no_key.stderr
    not_pem = exported["dir"] / "not.pem"
    not_pem.write_text("hello")
    out = standalone("--export", str(exported["export"]), "--public-key", str(not_pem),
                     "--checkpoint", str(exported["cp"]))
    assert out.returncode == 2 and out.stdout.startswith("ERROR: no PEM public key")


def test_an_export_alone_is_verified_without_checkpoints(exported):
    out = standalone("--export", str(exported["export"]))
    assert out.returncode == 0 and out.stdout.splitlines()[-1] == "VERIFIED"
