"""Figures into words: the machine, medians with their rounds, and BENCHMARKS.md's marked blocks."""
from __future__ import annotations

import os
import platform
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}")


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float], fmt: str = "{:.0%}") -> str:
    """Median, then every round's value."""
    return f"{fmt.format(median(values))} ({', '.join(fmt.format(v) for v in values)})"


def size_label(records: int) -> str:
    return f"{records // 1_000_000}M" if records % 1_000_000 == 0 else f"{records // 1000}k"


def replace_block(start: str, end: str, block: str) -> None:
    """Put ``block`` between the ``start`` and ``end`` markers of BENCHMARKS.md (appended with
    them if they are not there yet)."""
    path = ROOT / "BENCHMARKS.md"
    text = path.read_text() if path.exists() else ""
    if start in text and end in text:
        text = text[:text.index(start) + len(start)] + "\n" + block + "\n" + text[text.index(end):]
    else:
        text += f"\n{start}\n{block}\n{end}\n"
    path.write_text(text)
