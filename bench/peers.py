"""The tools a user would otherwise run, served on loopback beside the service for ``make bench``:

* Prism (npm ``@stoplight/prism-cli``) mocking this service's own ``/openapi.json``: it checks
  each request against the document and answers an example built from the response schema,
  storing nothing;
* json-server (npm ``json-server``) storing the same JSON bodies in a JSON file, empty or
  prefilled with 50,000 records.

Both are pinned in bench/node/package.json (and its lock file) and installed with ``npm ci``.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from .report import ROOT
from .wrk import Scenario, free_port

NODE = ROOT / "bench" / "node"
BIN = NODE / "node_modules" / ".bin"


def ensure_installed() -> None:
    if (BIN / "prism").exists() and (BIN / "json-server").exists():
        return
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE,
                   check=True, timeout=600)


class _Process:
    def __init__(self, args: list[str]):
        self.port = free_port()
        self.args = [a.replace("{port}", str(self.port)) for a in args]
        self.proc = None

    def __enter__(self):
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    time.sleep(0.5)
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.args[0]} did not start")

    def __exit__(self, *exc):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)


class Prism(_Process):
    """``prism mock`` of a saved OpenAPI document."""

    def __init__(self, document: Path):
        super().__init__([str(BIN / "prism"), "mock", str(document), "-h", "127.0.0.1", "-p",
                          "{port}"])


def collection(scenario: Scenario) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in scenario.name.lower()).strip("_")


class JsonServer(_Process):
    """json-server on a JSON file holding one collection per write scenario, each with
    ``records`` records shaped like the scenario's body."""

    def __init__(self, path: Path, scenarios: list[Scenario], records: int = 0):
        data = {}
        for s in scenarios:
            body = json.loads(s.body)
            data[collection(s)] = [{**body, "id": i + 1} for i in range(records)]
        path.write_text(json.dumps(data))
        super().__init__([str(BIN / "json-server"), "--port", "{port}", "--host", "127.0.0.1",
                          "--quiet", str(path)])


def for_json_server(s: Scenario) -> Scenario:
    """The same write aimed at json-server: the same body (and per-request Lua), POSTed to the
    scenario's collection."""
    return Scenario(f"{s.name} (json-server)", method="POST", path="/" + collection(s),
                    headers={"Content-Type": "application/json"}, body=s.body, lua=s.lua,
                    expect_status=201)


def for_prism(s: Scenario) -> Scenario:
    """The same request aimed at Prism (mocking the service's document)."""
    return Scenario(f"{s.name} (Prism)", method=s.method, path=s.path, headers=s.headers,
                    body=s.body, lua=s.lua, expect_status=s.expect_status)
