"""Bench scenarios of the provider dialects, built from ``seed-demo --json``.

Each entry is (Scenario, target ratio of the no-op ceiling's req/s)."""
from __future__ import annotations


def scenarios(seed: dict) -> list:
    from bench.run import Scenario  # noqa: F401  (used as dialect scenarios are added)

    out = []
    return out
