"""The checkpoint signing key: made once, owner-only and whole (racing processes all read the
same key), rotated with old public keys kept, never printed."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import pytest

from consent.core import checkpoints, ledger
from consent.core.signing import KeyStore
from tests.checkpoint_helpers import ROOT, signature_holds, standalone, write_json


def invoke(runner, *args):
    return runner.invoke(args=list(args), catch_exceptions=False)


def test_the_key_is_made_on_first_use_owner_only(tmp_path):
    store = KeyStore(tmp_path / "keys")
    assert not (tmp_path / "keys").exists()
    key_id, key = store.current()
    directory = tmp_path / "keys"
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        ["current", f"{key_id}.key", f"{key_id}.json"])
    for path in directory.iterdir():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path.name
    assert (directory / "current").read_text() == f"{key_id}\n"
    assert (directory / f"{key_id}.key").read_text().startswith("-----BEGIN PRIVATE KEY-----")
    info = json.loads((directory / f"{key_id}.json").read_text())
    assert info["key_id"] == key_id and info["algorithm"] == "Ed25519"
    assert info["retired_at"] is None and "PRIVATE" not in info["public_key"]
    # Read again, the same key.
    again_id, again = KeyStore(directory).current()
    assert again_id == key_id and again.sign(b"x") == key.sign(b"x")


RACER = """
import sys, time
from pathlib import Path
from consent.core.signing import KeyStore
go = Path(sys.argv[2])
Path(sys.argv[3]).touch()   # ready
while not go.exists():
    time.sleep(0.001)
key_id, key = KeyStore(sys.argv[1]).current()
print(key_id, key.sign(b"probe").hex())
"""


@pytest.mark.slow
def test_racing_processes_make_one_key_and_all_read_it(tmp_path):
    directory, go = tmp_path / "keys", tmp_path / "go"
    ready = [tmp_path / f"ready-{i}" for i in range(8)]
    procs = [subprocess.Popen([sys.executable, "-c", RACER, str(directory), str(go), str(r)],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in ready]
    # Every process imports and waits on the start file, then they all look for the key at once.
    deadline = time.monotonic() + 120
    while not all(r.exists() for r in ready):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.01)
    go.touch()
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    results = {out.strip() for out, _ in outputs}
    assert len(results) == 1, results          # one key id and the same signature everywhere
    key_id = results.pop().split()[0]
    names = sorted(p.name for p in directory.iterdir() if not p.name.startswith("."))
    assert names == sorted(["current", f"{key_id}.key", f"{key_id}.json"])
    assert not [p for p in directory.iterdir() if p.name.startswith(".tmp.")]


def test_rotation_keeps_old_checkpoints_verifiable(client, runner, org, tmp_path):
    path = "/ledger/v1/audit/checkpoint"
    ledger.record_one(org.org.id, ledger.Decision(subject="a", purpose="p", status="granted"))
    old_cp = client.get(path, headers=org.headers()).json
    old_pem = invoke(runner, "audit", "key", "show").output

    rotated = invoke(runner, "audit", "key", "rotate")
    assert rotated.exit_code == 0
    store = checkpoints.store()
    new_id = store.current_id()
    assert rotated.output == (f"checkpoints are signed with key {new_id} now; key "
                              f"{old_cp['key_id']} is retired\n")
    assert new_id != old_cp["key_id"]
    assert not (store.dir / f"{old_cp['key_id']}.key").exists()   # never signs again
    listed = [json.loads(line) for line in invoke(runner, "audit", "key", "list").output.splitlines()]
    assert [(k["key_id"], k["current"], k["retired_at"] is None) for k in listed] == [
        (old_cp["key_id"], False, False), (new_id, True, True)]

    # The same head, signed again by the new key; the old checkpoint still verifies.
    new_cp = client.get(path, headers=org.headers()).json
    assert new_cp["key_id"] == new_id and new_cp["seq"] == old_cp["seq"]
    new_pem = invoke(runner, "audit", "key", "show").output
    assert new_pem != old_pem and signature_holds(new_cp, new_pem)
    assert invoke(runner, "audit", "key", "show", "--all").output == old_pem + new_pem
    files = [str(write_json(tmp_path / "old.json", old_cp)),
             str(write_json(tmp_path / "new.json", new_cp))]
    verified = runner.invoke(args=["audit", "verify", "--checkpoint", files[0],
                                   "--checkpoint", files[1]])
    assert verified.exit_code == 0 and verified.output.count("the chain extends it") == 2

    # The standalone verifier needs every key that signed: with only the new one, the old
    # checkpoint's key is unknown.
    export = tmp_path / "export.jsonl"
    invoke(runner, "audit", "export", "--org", "acme", "-o", str(export))
    (tmp_path / "all.pem").write_text(old_pem + new_pem)
    (tmp_path / "new.pem").write_text(new_pem)
    ok = standalone("--export", str(export), "--public-key", str(tmp_path / "all.pem"),
                    "--checkpoint", *files)
    assert ok.returncode == 0, ok.stdout
    partial = standalone("--export", str(export), "--public-key", str(tmp_path / "new.pem"),
                         "--checkpoint", *files)
    assert partial.returncode == 1
    assert f"REFUSED: checkpoint {files[0]} " in partial.stdout
    assert f"signed by an unknown key {old_cp['key_id']}" in partial.stdout


def test_no_command_prints_the_private_key(runner, org):
    store = checkpoints.store()
    key_id, _ = store.current()
    private = (store.dir / f"{key_id}.key").read_text()
    body = "".join(private.splitlines()[1:-1])
    outputs = [invoke(runner, "audit", "key", *args).output
               for args in (("show",), ("show", "--all"), ("list",))]
    outputs.append(invoke(runner, "audit", "checkpoint", "--org", "acme").output)
    outputs.append(invoke(runner, "audit", "key", "rotate").output)
    for out in outputs:
        assert "PRIVATE" not in out and body not in out


def test_a_described_key_that_is_not_its_own_is_ignored(tmp_path):
    store = KeyStore(tmp_path / "keys")
    key_id, _ = store.current()
    other = KeyStore(tmp_path / "other")
    other_id, _ = other.current()
    info = json.loads((other.dir / f"{other_id}.json").read_text())
    # A description naming our key id but holding another public key: ignored.
    (store.dir / "fake.json").write_text(json.dumps({**info, "key_id": key_id}))
    (store.dir / "junk.json").write_text("{")
    assert list(store.public_keys()) == [key_id]
