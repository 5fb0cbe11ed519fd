"""Files that hold secrets or personal data are owner-only: the instance folder (0700, even when
it already exists with another mode, as a fresh clone's does) and what ``flask --app app export
-o FILE`` writes (0600, like the database, with no moment at which it is readable by others)."""
from __future__ import annotations

import json
import os
import stat

import pytest
from flask import Flask

from consent import settings
from consent.core import ledger
from consent.dialects.ledger import export as exports


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask_022():
    old = os.umask(0o022)  # what a usual login shell has: new files 0644, folders 0755
    yield
    os.umask(old)


@pytest.mark.parametrize("existing", [None, 0o755, 0o777, 0o750])
def test_the_instance_folder_is_0700_at_start(tmp_path, monkeypatch, umask_022, existing):
    monkeypatch.delenv("CONSENT_SECRET_KEY", raising=False)
    instance = tmp_path / "instance"
    if existing is not None:
        instance.mkdir()
        os.chmod(instance, existing)  # e.g. a fresh clone's instance/ (git keeps no modes)
    app = Flask("probe", instance_path=str(instance), instance_relative_config=True)
    settings.load(app)
    assert mode(instance) == 0o700
    assert mode(instance / "secret_key") == 0o600


def test_the_services_own_instance_folder_is_0700(app):
    assert mode(app.instance_path) == 0o700


def _record(org, n=3):
    ledger.record(org.org.id, [ledger.Decision(subject=f"s{i}", purpose="p", status="granted")
                            for i in range(n)])


@pytest.fixture
def folder(tmp_path):
    """A folder of the exports' own (tmp_path holds the database)."""
    path = tmp_path / "exports"
    path.mkdir()
    return path


def test_export_writes_its_file_0600(runner, org, folder, umask_022):
    _record(org)
    out = folder / "consents.jsonl"
    result = runner.invoke(args=["export", "--org", "acme", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert mode(out) == 0o600
    assert [json.loads(line)["subject"] for line in out.read_text().splitlines()] == [
        "s0", "s1", "s2"]
    assert sorted(p.name for p in folder.iterdir()) == ["consents.jsonl"]


def test_export_replaces_a_readable_file_with_an_owner_only_one(runner, org, folder, umask_022):
    _record(org)
    out = folder / "consents.csv"
    out.write_text("old\n")
    os.chmod(out, 0o644)
    result = runner.invoke(args=["export", "--org", "acme", "--format", "csv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert mode(out) == 0o600
    assert out.read_text().splitlines()[0].startswith("id,subject")


def test_export_is_never_readable_by_others_while_it_is_written(runner, org, folder,
                                                               monkeypatch, umask_022):
    """While the export is being written the path does not exist yet (the data goes to a 0600
    temporary file beside it), and an export that fails leaves the old file as it was."""
    _record(org)
    out = folder / "consents.jsonl"
    out.write_text("the previous export\n")
    os.chmod(out, 0o600)
    seen = []
    real = exports.lines

    def watched(org_row, fmt):
        for chunk in real(org_row, fmt):
            others = [p for p in folder.iterdir() if p != out]
            seen.append((out.read_text(), [(p.name, mode(p)) for p in others]))
            yield chunk
        raise RuntimeError("the database went away")

    monkeypatch.setattr(exports, "lines", watched)
    result = runner.invoke(args=["export", "--org", "acme", "-o", str(out)])
    assert result.exit_code != 0 and isinstance(result.exception, RuntimeError)
    assert seen, "the export wrote nothing"
    for content, others in seen:
        assert content == "the previous export\n"
        assert len(others) == 1 and others[0][1] == 0o600, others
    assert out.read_text() == "the previous export\n"
    assert sorted(p.name for p in folder.iterdir()) == ["consents.jsonl"]


def test_export_to_stdout_still_works(runner, org):
    _record(org, 2)
    result = runner.invoke(args=["export", "--org", "acme"])
    assert result.exit_code == 0
    assert [json.loads(line)["subject"] for line in result.output.splitlines()] == ["s0", "s1"]
