"""Load from wrk: a scenario (method, path, headers, body, per-request Lua), one measurement of it
against a server on loopback, and one request by hand before any load."""
from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass

# What a dialect declares (consent.testing): one request, sent over and over.
from consent.testing import Scenario, counter_body, lua_string  # noqa: F401  (re-exported)


@dataclass
class Result:
    name: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


CEILING = Scenario("no-op GET /healthz (ceiling)")
# bench/floor.py serves each write's floor twin under this prefix.
FLOOR_PREFIX = "/__floor"
UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk from Debian's packages ...", file=sys.stderr)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True,
                   env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    return shutil.which("wrk")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lua_script(s: Scenario) -> str:
    lines = [f'wrk.method = "{s.method}"', f"wrk.path = {json.dumps(s.path)}"]
    for key, value in s.headers.items():
        lines.append(f"wrk.headers[{json.dumps(key)}] = {json.dumps(value)}")
    if s.body is not None:
        lines.append(f"wrk.body = {lua_string(s.body)}")
    lines.append(s.lua)
    return "\n".join(lines) + "\n"


def run(wrk: str, port: int, s: Scenario, duration: int, connections: int) -> Result:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(lua_script(s))
        script = fh.name
    try:
        out = subprocess.run(
            [wrk, "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "5s", "--latency",
             "-s", script, f"http://127.0.0.1:{port}"],
            capture_output=True, text=True, check=True, timeout=duration + 60).stdout
    finally:
        os.unlink(script)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(x) for x in sock.groups())

    def pct(label):
        value, unit = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s|m)\b", out).groups()
        return float(value) * UNIT[unit]

    return Result(s.name, rps, pct("50"), pct("99"), total, errors)


def check_once(port: int, s: Scenario) -> bytes:
    """One request by hand first: a scenario that answers errors measures nothing."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = s.body.encode() if s.body is not None else None
    conn.request(s.method, s.path, body=body, headers=s.headers)
    response = conn.getresponse()
    data = response.read()
    if response.status != s.expect_status:
        raise SystemExit(f"scenario {s.name}: {s.method} {s.path} answered {response.status}: "
                         f"{data[:300]!r}")
    return data
