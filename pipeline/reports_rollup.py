"""Hourly rollups, so a report over a million calls adds up a few thousand rows instead.

Once an hour is settled (it ended ``settle_h`` hours ago: its calls have ended, been rated and
had their facts filled), its call, handoff and repeat-caller counts are stored once per grouping
(UTC hour x topic, x urgency, ..., and the hour's total) in ``report_rollup``, and the hour is
marked done in ``report_rollup_hours``. A report then sums the rollup for the settled whole hours
of its range and runs the raw queries (pipeline/reports_sql.py) only for the rest: the recent
hours and any partial hour at its edges. Work orders change status for days, so they are always
counted raw. The rollup is built on first use and by `triage history generate`; ``clear_rollup``
(or ``triage report --rebuild``) starts it again after records of past hours were changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Column, DateTime, Float, Index, Integer, String, Table, delete, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pipeline import reports_sql as q
from pipeline.db import Base
from pipeline.reports_facts import fill_call_facts

ROLLUP_DIMS = ("total", "topic", "request_type", "urgency", "language", "district", "agent")
ROLLED = (
    "offered", "ended", "emergencies", "rated", "rating_sum", "rated_good", "queued", "handed_off",
    "handed_off_ended", "answered", "abandoned", "callbacks", "answered_in_sl", "wait_sum",
    "emergency_handoffs", "emergency_answered", "emergency_wait_sum", "repeat_calls",
)  # fmt: skip


rollup_table = Table(
    "report_rollup",
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dim", String(16), nullable=False),
    Column("hour", DateTime(timezone=True), nullable=False),
    Column("key", String(64)),
    Column("service_level_s", Float, nullable=False),
    Column("emergency_wait_max", Float),
    *(Column(name, Float, nullable=False, default=0.0) for name in ROLLED),
    Index("ix_report_rollup_dim_hour", "dim", "hour"),
)
hours_table = Table(
    "report_rollup_hours",
    Base.metadata,
    Column("hour", DateTime(timezone=True), primary_key=True),
    Column("service_level_s", Float, nullable=False),
)


def floor_hour(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def ceil_hour(ts: datetime) -> datetime:
    f = floor_hour(ts)
    return f if f == ts else f + timedelta(hours=1)


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def ensure_rollup_tables(s: Session) -> None:
    bind = s.get_bind()
    for table in (rollup_table, hours_table):
        table.create(bind, checkfirst=True)


def clear_rollup(s: Session) -> None:
    ensure_rollup_tables(s)
    s.execute(delete(rollup_table))
    s.execute(delete(hours_table))
    s.commit()


def _ranges(hours: Iterable[datetime]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for h in sorted(hours):
        if out and out[-1][1] == h:
            out[-1] = (out[-1][0], h + timedelta(hours=1))
        else:
            out.append((h, h + timedelta(hours=1)))
    return out


def roll_up(s: Session, lo: datetime, hi: datetime, service_level_s: float) -> int:
    """Store the rollup for every settled hour in [lo, hi) not stored yet (for this service-level
    threshold: another threshold rebuilds them); returns the number of hours added."""
    ensure_rollup_tables(s)
    if hi <= lo:
        return 0
    done = {
        floor_hour(_aware(h))
        for h, sl in s.execute(
            select(hours_table.c.hour, hours_table.c.service_level_s).where(
                hours_table.c.hour >= lo, hours_table.c.hour < hi
            )
        )
        if sl == service_level_s
    }
    wanted, h = [], lo
    while h < hi:
        if h not in done:
            wanted.append(h)
        h += timedelta(hours=1)
    dialect = s.get_bind().dialect.name
    for a, b in _ranges(wanted):
        fill_call_facts(s, a, b)
        s.execute(delete(rollup_table).where(rollup_table.c.hour >= a, rollup_table.c.hour < b))
        s.execute(delete(hours_table).where(hours_table.c.hour >= a, hours_table.c.hour < b))
        params = {"start": a, "end": b, "end_margin": b + timedelta(days=1), "sl": service_level_s}
        rows: list[dict[str, Any]] = []
        for dim in ROLLUP_DIMS:
            cells: dict[tuple[str, str | None], dict[str, Any]] = {}
            for make in (q.calls_sql, q.handoffs_sql, q.repeat_sql):
                for row in s.execute(make(dialect, dim, 0, hourly=True), params).mappings():
                    key = None if row["k"] is None else str(row["k"])
                    cell = cells.setdefault((str(row["hb"]), key), {"emergency_wait_max": None})
                    for name, value in row.items():
                        if name in ROLLED:
                            cell[name] = cell.get(name, 0.0) + float(value or 0)
                        elif name == "emergency_wait_max" and value is not None:
                            cell[name] = max(cell[name] or 0.0, float(value))
            for (hb, key), cell in cells.items():
                hour = datetime.strptime(hb, "%Y-%m-%d %H:00").replace(tzinfo=UTC)
                rows.append(
                    {"dim": dim, "hour": hour, "key": key, "service_level_s": service_level_s, **cell}
                )
        if rows:
            full = [{name: r.get(name, 0.0) for name in ROLLED} | r for r in rows]
            s.execute(insert(rollup_table), full)
        marks = [{"hour": h, "service_level_s": service_level_s} for h in wanted if a <= h < b]
        try:
            s.execute(insert(hours_table), marks)
            s.commit()
        except IntegrityError:  # another report rolled these hours up at the same time: theirs stands
            s.rollback()
    return len(wanted)


def rollup_sql(dialect: str, by: str, offset_min: int) -> Any:
    dim = "total" if by in ("hour", "day") else by
    key = q.bucket(dialect, "r.hour", by, offset_min) if by in ("hour", "day") else "r.key"
    sums = ", ".join(f"SUM(r.{name}) AS {name}" for name in ROLLED)
    return q.bind_times(
        text(
            f"SELECT {key} AS k, {sums}, MAX(r.emergency_wait_max) AS emergency_wait_max "
            f"FROM report_rollup r WHERE r.dim = '{dim}' AND r.hour >= :start AND r.hour < :end "
            f"AND r.service_level_s = :sl GROUP BY {key}"
        )
    )


def rolled_span(start: datetime, end: datetime, now: datetime, settle_h: float) -> tuple[datetime, datetime]:
    """The whole, settled hours of [start, end): [lo, hi), empty when lo >= hi."""
    lo = ceil_hour(start)
    hi = min(floor_hour(end), floor_hour(now - timedelta(hours=settle_h)))
    return lo, max(lo, hi)
