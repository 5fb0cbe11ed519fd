"""Published npm packages for the browser tests, fetched at test time with ``npm pack`` into
``.cache/npm/`` (git-ignored) and reused after that. Without npm, or when the registry cannot be
reached, the test is skipped outside CI and fails under ``CI=true``."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

CACHE = Path(__file__).resolve().parent.parent / ".cache" / "npm"
TIMEOUT = 120  # seconds for one npm pack


def unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI=true: this is a failure)")
    pytest.skip(f"{reason} (CI=true makes this a failure)")


def npm_package(name: str, version: str) -> Path:
    """The unpacked ``package/`` directory of ``name@version``."""
    target = CACHE / f"{name.replace('/', '__')}-{version}"
    manifest = target / "package" / "package.json"
    if manifest.exists():
        return manifest.parent
    npm = shutil.which("npm")
    if npm is None:
        unavailable("npm is not installed")
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        try:
            done = subprocess.run([npm, "pack", f"{name}@{version}", "--pack-destination", tmp,
                                   "--silent"], capture_output=True, text=True, timeout=TIMEOUT,
                                  cwd=tmp)
        except subprocess.TimeoutExpired:
            unavailable(f"npm pack {name}@{version} took more than {TIMEOUT} s")
        tarballs = list(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or len(tarballs) != 1:
            unavailable(f"npm pack {name}@{version} failed: {done.stderr.strip()[-300:]}")
        unpacked = Path(tmp) / "unpacked"
        with tarfile.open(tarballs[0]) as archive:
            archive.extractall(unpacked, filter="data")
        meta = json.loads((unpacked / "package" / "package.json").read_text())
        if (meta.get("name"), meta.get("version")) != (name, version):
            raise AssertionError(f"npm pack gave {meta.get('name')}@{meta.get('version')}")
        try:
            os.replace(unpacked, target)
        except OSError:  # another run got there first; its copy is whole
            pass
    return manifest.parent
