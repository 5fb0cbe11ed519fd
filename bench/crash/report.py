"""What a crash or concurrency run reports: its counts, its violations, one line to print."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..report import ROOT

OUT = ROOT / "bench" / "out"


@dataclass
class Report:
    database: str
    instances: int
    cycles: int = 0
    sent: int = 0
    acknowledged: int = 0
    unacknowledged: int = 0
    unacknowledged_committed: int = 0
    in_flight: int = 0
    acknowledged_on_retry: int = 0
    retries: int = 0
    verified: int = 0
    seconds: float = 0.0
    by_kind: dict = field(default_factory=dict)
    violations: list = field(default_factory=list)

    def line(self) -> str:
        return (f"{self.database} x{self.instances}: {self.cycles} cycles, {self.sent} writes "
                f"sent, {self.acknowledged} acknowledged ({self.acknowledged_on_retry} only on a "
                f"retry), {self.unacknowledged} unacknowledged ({self.in_flight} in flight at a "
                f"kill, {self.unacknowledged_committed} committed wholly), {self.retries} "
                f"idempotent retries, audit verify passed {self.verified} times, "
                f"{len(self.violations)} violations, {self.seconds:.0f}s")


@dataclass
class ConcurrencyReport:
    database: str
    instances: int
    workers: int
    connections: int
    requests: int = 0
    statuses: dict = field(default_factory=dict)
    events: int = 0
    locked: int = 0  # responses saying "database is locked"
    seconds: float = 0.0
    violations: list = field(default_factory=list)

    def line(self) -> str:
        return (f"concurrency {self.database}: {self.instances} instance(s) x {self.workers} "
                f"workers, {self.connections} connections, {self.requests} writes "
                f"(statuses {self.statuses}), {self.locked} \"database is locked\", one chain "
                f"of {self.events} events, "
                f"{len(self.violations)} violations, {self.seconds:.1f}s")
