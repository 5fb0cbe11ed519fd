"""The scenarios ``make bench`` measures, built from ``seed-demo --json``: every hot write and
every read endpoint of every registered dialect, as each declares them in its package's
``testing.py`` (``consent.testing.Bench``). Nothing here names a dialect."""
from __future__ import annotations

from consent.testing import Scenario, declarations


def _benches():
    return [d.bench for d in declarations()]


def writes(seed: dict) -> list[Scenario]:
    """Every dialect's hot write paths (one scenario each), of the dialects the seed has."""
    return [s for bench in _benches() if bench.writes is not None
            for s in bench.writes(seed)]


def reads(seed: dict, records: int, subjects: int, purposes: int) -> list[Scenario]:
    """Every read endpoint of every dialect, on a ledger prefilled by bench/server.py
    (``records`` consents, one audit event each, ``subjects`` subjects s0.., purposes
    purpose-0..)."""
    return [s for bench in _benches() if bench.reads is not None
            for s in bench.reads(seed, records, subjects, purposes)]


def prepare_reads(seed: dict) -> list[Scenario]:
    """Writes to send once before the reads (a list to read must hold something)."""
    return [s for bench in _benches() if bench.prepare_reads is not None
            for s in bench.prepare_reads(seed)]


def mechanisms(seed: dict) -> list[Scenario]:
    """The writes the SQLite writer mechanisms are compared on."""
    names = {name for bench in _benches() for name in bench.mechanisms}
    return [s for s in writes(seed) if s.name in names]


def floor_routes() -> list:
    """Every write's floor (``consent.testing.FloorRoute``)."""
    return [route for bench in _benches() for route in bench.floor]
