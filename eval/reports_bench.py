"""`triage bench reports`: how long each report grouping takes over a large synthetic history.

The history is generated once into the database (eval/history.py; 1 million calls by default) and
reused while it holds at least as many synthetic calls; each grouping is then timed cold (first
run) and warm (best of the next runs). Figures only mean something on a quiet machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from eval.history import HistoryPlan
from eval.history_write import write_history
from pipeline.db import make_sessionmaker
from pipeline.reports import GROUPINGS, ReportOptions, build_report


@dataclass
class ReportsBench:
    calls: int = 0
    generated_s: float | None = None
    seconds: dict[str, dict[str, float]] = field(default_factory=dict)  # by -> {cold_s, warm_s}

    def flat(self) -> dict[str, float | int | None]:
        out: dict[str, float | int | None] = {"calls": self.calls, "generate_s": self.generated_s}
        for by, t in self.seconds.items():
            out[f"report_by_{by}_cold_s"], out[f"report_by_{by}_warm_s"] = t["cold_s"], t["warm_s"]
        return out


def run_reports_bench(
    url: str, calls: int = 1_000_000, days: int = 90, repeats: int = 3, start: date = date(2025, 1, 6)
) -> ReportsBench:
    maker = make_sessionmaker(url)
    with maker() as s:
        have = int(s.execute(text("SELECT COUNT(*) FROM calls WHERE channel = 'synthetic'")).scalar() or 0)
    bench = ReportsBench()
    if have < calls:
        plan = HistoryPlan(start=start, days=days, calls_per_day=max(1, round(calls / days / 0.98)))
        summary = write_history(url, plan, replace=True)
        bench.generated_s = round(summary.seconds, 1)
    with maker() as s:
        first, last = s.execute(
            text("SELECT MIN(started_at), MAX(started_at) FROM calls WHERE channel = 'synthetic'")
        ).one()
        bench.calls = int(s.execute(text("SELECT COUNT(*) FROM calls")).scalar() or 0)
    lo, hi = (_as_utc(first) - timedelta(seconds=1), _as_utc(last) + timedelta(seconds=1))
    for by in GROUPINGS:
        times = []
        for _ in range(repeats):
            with maker() as s:
                t0 = time.perf_counter()
                build_report(s, ReportOptions(lo, hi, by=by))
                times.append(time.perf_counter() - t0)
        bench.seconds[by] = {"cold_s": round(times[0], 3), "warm_s": round(min(times[1:] or times), 3)}
    return bench


def _as_utc(value: object) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
