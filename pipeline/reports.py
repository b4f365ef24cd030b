"""Supervisor reports: calls offered, contained, handed off and abandoned, service level, speed of
answer, emergencies, repeat callers, work orders and satisfaction, over a time range, grouped.

Every count is made in the database (pipeline/reports_sql.py, one GROUP BY per record kind); this
module merges the grouped rows and derives the rates. Each measure's definition is in MEASURES,
which the API, the console legend and docs/supervisors.md all show.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from pipeline import reports_sql as q
from pipeline.db import utcnow
from pipeline.reports_facts import ensure_report_indexes, fill_call_facts
from pipeline.reports_rollup import roll_up, rolled_span, rollup_sql

GROUPINGS = q.GROUPINGS

# name -> (English definition, Chinese definition); the order is the report's column order.
MEASURES: dict[str, tuple[str, str]] = {
    "offered": ("Calls that reached the hotline and started in the period.", "时段内接入热线的来电数。"),
    "contained": (
        "Ended calls the bot handled alone: never handed to a person.",
        "机器人独立处理完毕、未转人工的已结束来电。",
    ),
    "handed_off": (
        "Calls handed to a person (waited in the agents' queue).",
        "转人工（进入坐席队列）的来电数。",
    ),
    "answered": ("Handoffs a person accepted.", "坐席已接起的转人工次数。"),
    "abandoned": (
        "Handoffs where the caller hung up while waiting for a person, before anyone answered.",
        "来电者在等待人工期间挂断、无人接起的转人工次数。",
    ),
    "callbacks": (
        "Handoffs where the caller left the queue asking to be called back.",
        "来电者放弃等待、要求回电的转人工次数。",
    ),
    "service_level": (
        "Share of answered plus abandoned handoffs that a person answered within the service-level "
        "threshold (TRIAGE_SERVICE_LEVEL_S, default 20 s); the target is TRIAGE_SERVICE_LEVEL_TARGET (80%).",
        "在服务水平阈值（默认20秒）内被人工接起的转人工占（接起+放弃）的比例；目标默认80%。",
    ),
    "asa_s": (
        "Average speed of answer: mean seconds from handoff to a person accepting it "
        "(answered handoffs only).",
        "平均应答速度：从转人工到坐席接起的平均秒数（仅计已接起）。",
    ),
    "abandonment_rate": ("Abandoned / (answered + abandoned).", "放弃率：放弃数 /（接起数 + 放弃数）。"),
    "containment": (
        "Contained / offered: share of calls the bot handled alone.",
        "自助率：机器人独立处理数 / 来电数。",
    ),
    "emergencies": ("Calls whose urgency was emergency.", "紧急程度为“紧急”的来电数。"),
    "emergency_to_person_avg_s": (
        "Mean seconds from an emergency handoff to a person accepting it.",
        "紧急转人工到坐席接起的平均秒数。",
    ),
    "emergency_to_person_max_s": (
        "Longest seconds from an emergency handoff to a person accepting it.",
        "紧急转人工到坐席接起的最长秒数。",
    ),
    "repeat_calls": (
        "Calls from a number that had already called in the 7 days before.",
        "同一号码在此前7天内来电过的来电数（重复来电）。",
    ),
    "repeat_rate": ("Repeat calls / offered.", "重复来电率：重复来电数 / 来电数。"),
    "wo_opened": ("Work orders opened in the period.", "时段内新建的工单数。"),
    "wo_closed": ("Of those, work orders now resolved.", "其中已办结的工单数。"),
    "wo_overdue": (
        "Of those, work orders still open longer than TRIAGE_WORKORDER_DUE_H (default 72 h) at the "
        "period's end (or now, if sooner).",
        "其中在时段结束（或当前）时仍未办结且超过办理时限（默认72小时）的工单数。",
    ),
    "rated": ("Calls the caller rated (1-5).", "来电者评分（1-5）的来电数。"),
    "satisfaction_avg": ("Mean rating of rated calls.", "平均满意度评分。"),
    "satisfied_share": ("Share of rated calls rated 4 or 5.", "评分为4或5分的比例。"),
}

_COUNTS = (
    "offered", "ended", "emergencies", "rated", "rating_sum", "rated_good", "queued", "handed_off",
    "handed_off_ended", "answered", "abandoned", "callbacks", "answered_in_sl", "wait_sum",
    "emergency_handoffs", "emergency_answered", "emergency_wait_sum", "repeat_calls", "wo_opened",
    "wo_closed", "wo_overdue",
)  # fmt: skip


@dataclass
class ReportRow:
    """One group's counts (added in the database) and the measures derived from them."""

    key: str | None
    counts: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_COUNTS, 0.0))
    emergency_wait_max: float | None = None

    def add(self, other: ReportRow) -> None:
        for name, value in other.counts.items():
            self.counts[name] += value
        if other.emergency_wait_max is not None:
            self.emergency_wait_max = max(self.emergency_wait_max or 0.0, other.emergency_wait_max)

    def measures(self) -> dict[str, Any]:
        c = self.counts
        decided = c["answered"] + c["abandoned"]
        return {
            "offered": int(c["offered"]),
            "contained": int(c["ended"] - c["handed_off_ended"]),
            "handed_off": int(c["handed_off"]),
            "answered": int(c["answered"]),
            "abandoned": int(c["abandoned"]),
            "callbacks": int(c["callbacks"]),
            "service_level": _ratio(c["answered_in_sl"], decided),
            "asa_s": _ratio(c["wait_sum"], c["answered"], 1),
            "abandonment_rate": _ratio(c["abandoned"], decided),
            "containment": _ratio(c["ended"] - c["handed_off_ended"], c["offered"]),
            "emergencies": int(c["emergencies"]),
            "emergency_to_person_avg_s": _ratio(c["emergency_wait_sum"], c["emergency_answered"], 1),
            "emergency_to_person_max_s": None
            if self.emergency_wait_max is None
            else round(self.emergency_wait_max, 1),
            "repeat_calls": int(c["repeat_calls"]),
            "repeat_rate": _ratio(c["repeat_calls"], c["offered"]),
            "wo_opened": int(c["wo_opened"]),
            "wo_closed": int(c["wo_closed"]),
            "wo_overdue": int(c["wo_overdue"]),
            "rated": int(c["rated"]),
            "satisfaction_avg": _ratio(c["rating_sum"], c["rated"], 2),
            "satisfied_share": _ratio(c["rated_good"], c["rated"]),
        }


def _ratio(num: float, den: float, digits: int = 4) -> float | None:
    return round(num / den, digits) if den else None


@dataclass(frozen=True)
class ReportOptions:
    start: datetime
    end: datetime
    by: str = "day"
    service_level_s: float = 20.0
    utc_offset_min: int = 0
    workorder_due_h: float = 72.0

    def __post_init__(self) -> None:
        if self.by not in GROUPINGS:
            raise ValueError(f"Cannot group a report by {self.by!r}; choose one of {', '.join(GROUPINGS)}.")
        if self.end <= self.start:
            raise ValueError(f"The report's end ({self.end}) must come after its start ({self.start}).")


@dataclass(frozen=True)
class Report:
    options: ReportOptions
    rows: list[dict[str, Any]]
    total: dict[str, Any]
    labels: dict[str, str] = field(default_factory=dict)  # group key -> display name (agents)

    def as_dict(self) -> dict[str, Any]:
        o = asdict(self.options)
        o["start"], o["end"] = self.options.start.isoformat(), self.options.end.isoformat()
        return {"options": o, "rows": self.rows, "total": self.total, "labels": self.labels}


def build_report(
    s: Session, opts: ReportOptions, now: datetime | None = None, settle_h: float = 24.0, rollup: bool = True
) -> Report:
    """Count [start, end) by ``opts.by``: settled whole hours from the hourly rollup (built here on
    first use, pipeline/reports_rollup.py), the rest and all work orders with grouped raw queries;
    then merge into one row per group. ``rollup=False`` counts everything raw."""
    bind = s.get_bind()
    ensure_report_indexes(bind)  # type: ignore[arg-type]
    dialect = bind.dialect.name
    now = now or utcnow()
    lo, hi = rolled_span(opts.start, opts.end, now, settle_h)
    usable = rollup and lo < hi and (opts.by not in ("hour", "day") or opts.utc_offset_min % 60 == 0)
    raw = [(opts.start, lo), (hi, opts.end)] if usable else [(opts.start, opts.end)]
    groups: dict[str | None, ReportRow] = {}
    if usable:
        roll_up(s, lo, hi, opts.service_level_s)
        params = {"start": lo, "end": hi, "sl": opts.service_level_s}
        _merge(groups, s.execute(rollup_sql(dialect, opts.by, opts.utc_offset_min), params).mappings())
    for a, b in raw:
        if a >= b:
            continue
        fill_call_facts(s, a, b)
        params = {"start": a, "end": b, "end_margin": b + timedelta(days=1), "sl": opts.service_level_s}
        for make in (q.calls_sql, q.handoffs_sql, q.repeat_sql):
            _merge(groups, s.execute(make(dialect, opts.by, opts.utc_offset_min), params).mappings())
    due_at = min(opts.end, now) - timedelta(hours=opts.workorder_due_h)
    params = {"start": opts.start, "end": opts.end, "due_before": due_at}
    _merge(groups, s.execute(q.work_orders_sql(dialect, opts.by, opts.utc_offset_min), params).mappings())
    total = ReportRow("total")
    for group in groups.values():
        total.add(group)
    ordered = sorted(groups.values(), key=lambda r: (r.key is None, r.key or ""))
    return Report(
        opts,
        [{"key": r.key, **r.measures()} for r in ordered],
        {"key": None, **total.measures()},
        _agent_names(s, [r.key for r in ordered]) if opts.by == "agent" else {},
    )


def _merge(groups: dict[str | None, ReportRow], rows: Any) -> None:
    for row in rows:
        key = None if row["k"] is None else str(row["k"])
        target = groups.setdefault(key, ReportRow(key))
        for name, value in row.items():
            if name == "emergency_wait_max":
                if value is not None:
                    target.emergency_wait_max = max(target.emergency_wait_max or 0.0, float(value))
            elif name != "k":
                target.counts[name] += float(value or 0)


def _agent_names(s: Session, ids: list[str | None]) -> dict[str, str]:
    wanted = [i for i in ids if i]
    if not wanted:
        return {}
    rows = s.execute(text("SELECT id, name FROM agents")).all()
    names = {str(r[0]): str(r[1]) for r in rows}
    return {i: names[i] for i in wanted if i in names}


def parse_time(value: str, utc_offset_min: int, end: bool = False) -> datetime:
    """'2026-11-07' (local midnight; as an end, the whole day is included) or an ISO time (local
    unless it names its offset), returned in UTC."""
    from datetime import UTC, date

    value = value.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            local = datetime.combine(day + timedelta(days=1 if end else 0), datetime.min.time())
        else:
            local = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise ValueError(f"{value!r} is not a date (2026-11-07) or time (2026-11-07T09:00).") from e
    if local.tzinfo is None:
        local = (local - timedelta(minutes=utc_offset_min)).replace(tzinfo=UTC)
    return local.astimezone(UTC)


def options_for(settings: Any, from_: str, to: str, by: str) -> ReportOptions:
    """A report's options from the settings (service level, local time, work-order due time) and
    the asked days as written (local); ValueError for a bad day or grouping."""
    offset = settings.report_utc_offset_min
    return ReportOptions(
        parse_time(from_, offset),
        parse_time(to, offset, end=True),
        by=by,
        service_level_s=settings.service_level_s,
        utc_offset_min=offset,
        workorder_due_h=settings.workorder_due_h,
    )
