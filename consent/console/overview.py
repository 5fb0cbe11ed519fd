"""What the overview shows, without counting the ledger: the daily counts of ``console_day``
(kept by the ``consent.recorded`` hook in the transaction of each consent), the chain's head,
the newest finished verification and checkpoint, the failing webhook deliveries and the rights
requests coming due. Each is one indexed read, so the overview costs the same at 1M consents as
at 10 (``make bench``'s ``console`` part measures it). The chart is SVG drawn here, with a table
of the same numbers beside it."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from consent.core import checkpoints, clock, outbox, rights, verify

from . import queries

DAYS = 30
# Colours of the series (dialects and statuses), each with 4.5:1 contrast or more on white.
PALETTE = ("#1f5fa8", "#b3261e", "#1e7b34", "#7a4fb5", "#a15c00", "#00707a", "#5c6670",
           "#a4276b")
STATUS_ORDER = ("granted", "denied", "withdrawn")

def count_recorded(org_id: str, consent, event) -> None:
    """The ``consent.recorded`` hook: one more consent on its day, source, status, purpose."""
    sql_day = consent.created_at.date().isoformat()
    queries.COUNT_ONE.execute((org_id, sql_day, consent.source, consent.status, consent.purpose_id))


def _day(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


@dataclass
class Series:
    name: str
    colour: str
    values: list[int]          # one per day, oldest first

    @property
    def total(self) -> int:
        return sum(self.values)


@dataclass
class Chart:
    """Stacked daily bars: ``days`` (oldest first) and one :class:`Series` per group."""

    title: str
    days: list[dt.date]
    series: list[Series]

    @property
    def totals(self) -> list[int]:
        return [sum(s.values[i] for s in self.series) for i in range(len(self.days))]

    @property
    def peak(self) -> int:
        return max(self.totals, default=0)

    def bars(self, width: float = 640, height: float = 180, left: float = 40,
             bottom: float = 22) -> list[dict]:
        """Rectangles of the SVG: x, y, w, h, colour, and a label for its ``<title>``."""
        peak = self.peak or 1
        step = (width - left) / max(len(self.days), 1)
        out = []
        for i, day in enumerate(self.days):
            y = height - bottom
            for s in self.series:
                value = s.values[i]
                if not value:
                    continue
                h = (height - bottom - 8) * value / peak
                y -= h
                out.append({"x": round(left + i * step + 1, 2), "y": round(y, 2),
                            "w": round(max(step - 2, 1), 2), "h": round(h, 2),
                            "colour": s.colour,
                            "label": f"{day.isoformat()}: {value} {s.name}"})
        return out

    def ticks(self, width: float = 640, left: float = 40) -> list[dict]:
        step = (width - left) / max(len(self.days), 1)
        return [{"x": round(left + i * step + step / 2, 2), "label": day.strftime("%d %b")}
                for i, day in enumerate(self.days) if i % 5 == 0 or i == len(self.days) - 1]


def _chart(title: str, days: list[dt.date], counts: dict, order: list[str]) -> Chart:
    index = {day: i for i, day in enumerate(days)}
    series = []
    for n, name in enumerate(order):
        values = [0] * len(days)
        for (day, group), value in counts.items():
            if group == name and day in index:
                values[index[day]] += value
        series.append(Series(name, PALETTE[n % len(PALETTE)], values))
    return Chart(title, days, series)


OTHER = "other"


def summary(org_id: str, dialect_of: dict[str, str] | None = None) -> dict:
    """Everything the overview shows for one organisation. ``dialect_of``: the dialect each
    consent ``source`` belongs to (``Dialect.sources``); the per-day chart groups by it, a
    source no dialect names as "other"."""
    dialect_of = dialect_of or {}
    today = clock.utcnow().date()
    first = today - dt.timedelta(days=DAYS - 1)
    days = [first + dt.timedelta(days=i) for i in range(DAYS)]
    by_dialect: dict = {}
    by_status: dict = {}
    for day, source, status, value in queries.BY_DAY.execute((org_id, first.isoformat())).fetchall():
        day, value, dialect = _day(day), int(value), dialect_of.get(source, OTHER)
        by_dialect[(day, dialect)] = by_dialect.get((day, dialect), 0) + value
        by_status[(day, status)] = by_status.get((day, status), 0) + value
    dialects = sorted({d for _, d in by_dialect} - {OTHER}) + (
        [OTHER] if any(d == OTHER for _, d in by_dialect) else [])
    statuses = [s for s in STATUS_ORDER if any(k[1] == s for k in by_status)] + sorted(
        {status for _, status in by_status} - set(STATUS_ORDER))
    purposes: dict[str, dict] = {}
    for code, status, value in queries.BY_PURPOSE.execute((org_id, first.isoformat())).fetchall():
        purposes.setdefault(code, {"granted": 0, "denied": 0, "withdrawn": 0})[status] = \
            int(value)
    seq, head_hash = checkpoints.head(org_id)
    newest = checkpoints.listing(org_id, limit=1)
    now = clock.utcnow()
    return {
        "days": days,
        "by_dialect": _chart("Consents per day, by dialect", days, by_dialect, dialects),
        "by_status": _chart("Consents per day, by status", days, by_status, statuses),
        "total": sum(by_dialect.values()),
        "purposes": purposes,
        "chain": {"length": seq, "head": head_hash},
        "verification": verify.last_finished(org_id),
        "checkpoint": checkpoints.describe(newest[0]) if newest else None,
        "webhooks": {"failed": outbox.count(org_id, "failed"),
                     "pending": outbox.count(org_id, "pending")},
        "rights": {"overdue": rights.count_open_due(org_id, now),
                   "due_soon": rights.count_open_due(org_id, now + dt.timedelta(days=7))},
    }
