"""The service under test: gunicorn instances on loopback, each in its own process group, killed
whole (SIGKILL to the group: arbiter and workers at once), restarted, and their ``flask --app
app`` commands."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from ..server import SECRET, VENV_BIN
from ..report import ROOT
from ..wrk import free_port
from .client import call


class Instance:
    """One service instance: gunicorn on a fixed loopback port, in its own process group (so one
    SIGKILL takes the arbiter and every worker), its output appended to ``log``."""

    def __init__(self, url: str, workers: int, log: Path, env: dict | None = None):
        self.url, self.workers, self.log = url, workers, log
        self.port = free_port()
        self.env = {**os.environ, "CONSENT_DATABASE_URL": url, "CONSENT_SECRET_KEY": SECRET,
                    "CONSENT_PUBLIC_URL": f"http://127.0.0.1:{self.port}", **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.killed = False
        self.starts = 0

    def flask(self, *args, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run([str(VENV_BIN / "flask"), "--app", "app", *args], cwd=ROOT,
                              env=self.env, check=check, capture_output=True, text=True,
                              timeout=timeout)

    def start(self, timeout: float = 60) -> None:
        self.spawn()
        self.wait_ready(timeout)

    def spawn(self) -> None:
        self.killed = False
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [str(VENV_BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers",
                 str(self.workers), "--log-level", "warning", "app:app"],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)
        self.starts += 1

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.log}")
            try:
                if call(self.port, "GET", "/readyz", timeout=2)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"gunicorn did not become ready in {timeout:.0f}s; see {self.log}")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL to the whole process group: arbiter and workers at once, no cleanup."""
        if self.proc is None:
            return
        self.killed = True
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        # the workers were in the same group: wait until none of them runs any more (a zombie
        # waiting for its reaper holds no file, lock or socket)
        deadline = time.monotonic() + 30
        while _group_running(self.proc.pid):
            if time.monotonic() > deadline:
                raise RuntimeError(f"process group {self.proc.pid} survived SIGKILL")
            time.sleep(0.01)

    def stop(self) -> None:
        """Shut down gracefully (SIGTERM), then SIGKILL whatever is left."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            pass
        self.kill()


def _group_running(pgid: int) -> bool:
    """Whether a process of the group still runs (not a zombie), from /proc."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            return False
    for stat in proc.glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            return True
    return False
