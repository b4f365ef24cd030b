"""The wallboard's live state: who is talking to whom now, the queue, agents, and today so far.

A handful of small grouped queries (calls in progress, waiting handoffs by urgency, agents by
status) plus today's report total from pipeline/reports.py, so the wallboard's 'today' figures are
the same numbers a report for today gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.db import Agent, Call, Handoff, utcnow
from pipeline.reports import ReportOptions, build_report

URGENCIES = ("emergency", "urgent", "routine")
AGENT_STATES = ("available", "busy", "offline")

# name -> (English definition, Chinese definition), for the wallboard legend and the API.
LIVE_MEASURES: dict[str, tuple[str, str]] = {
    "with_bot": ("Calls in progress that no person has taken: the bot is talking, or the caller waits.",
                 "正在进行、尚无人工接听的来电（机器人应答中或排队等待）。"),
    "with_agents": ("Calls in progress that an agent accepted.", "正在进行、已由坐席接听的来电。"),
    "queue": ("Handoffs waiting for a person now, by urgency, with the oldest wait in seconds.",
              "当前等待人工的转接数（按紧急程度）及最长等待秒数。"),
    "agents": ("Agents by state: available, busy (on a call) or offline.",
               "坐席状态：空闲、忙碌（通话中）、离线。"),
    "today": ("Today so far (local midnight until now): the report measures, same definitions; "
              "emergencies include calls still on the line with an emergency handoff.",
              "今日（本地零点至今）的报表指标，定义同报表；紧急来电含仍在通话中的紧急转人工。"),
}  # fmt: skip


@dataclass(frozen=True)
class LiveOptions:
    service_level_s: float = 20.0
    service_level_target: float = 0.8
    utc_offset_min: int = 0
    workorder_due_h: float = 72.0


def local_midnight(now: datetime, utc_offset_min: int) -> datetime:
    local = now + timedelta(minutes=utc_offset_min)
    return datetime.combine(local.date(), datetime.min.time(), UTC) - timedelta(minutes=utc_offset_min)


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def live_state(s: Session, opts: LiveOptions, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    with_agents = s.scalar(
        select(func.count(func.distinct(Call.id)))
        .join(Handoff, Handoff.call_id == Call.id)
        .where(Call.ended_at.is_(None), Handoff.status == "accepted")
    )
    active = s.scalar(select(func.count()).select_from(Call).where(Call.ended_at.is_(None)))
    queue: dict[str, dict[str, float | None]] = {u: {"waiting": 0, "oldest_wait_s": None} for u in URGENCIES}
    rows = s.execute(
        select(Handoff.urgency, func.count(), func.min(Handoff.created_at))
        .join(Call, Call.id == Handoff.call_id)
        .where(Handoff.status == "waiting", Call.ended_at.is_(None))
        .group_by(Handoff.urgency)
    ).all()
    for urgency, count, oldest in rows:
        wait = round((now - _aware(oldest)).total_seconds(), 1) if oldest else None
        queue[str(urgency)] = {"waiting": int(count), "oldest_wait_s": wait}
    agents = dict.fromkeys(AGENT_STATES, 0)
    for status, count in s.execute(select(Agent.status, func.count()).group_by(Agent.status)).all():
        agents[str(status)] = int(count)
    today = build_report(
        s,
        ReportOptions(
            local_midnight(now, opts.utc_offset_min),
            now + timedelta(seconds=1),
            by="urgency",
            service_level_s=opts.service_level_s,
            utc_offset_min=opts.utc_offset_min,
            workorder_due_h=opts.workorder_due_h,
        ),
    )
    # facts are copied onto calls when they end: an emergency still on the line counts by its handoff
    emergencies_now = s.scalar(
        select(func.count(func.distinct(Call.id)))
        .join(Handoff, Handoff.call_id == Call.id)
        .where(Call.ended_at.is_(None), Call.urgency.is_(None), Handoff.urgency == "emergency")
    )
    today.total["emergencies"] += int(emergencies_now or 0)
    return {
        "at": now.isoformat(),
        "with_bot": int(active or 0) - int(with_agents or 0),
        "with_agents": int(with_agents or 0),
        "queue": queue,
        "agents": agents,
        "today": today.total,
        "service_level_s": opts.service_level_s,
        "service_level_target": opts.service_level_target,
    }
