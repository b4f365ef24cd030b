"""Staffing from the records: half-hour volumes (recorded calls, or imported ones where none were
recorded), the bot's containment and the agents' handle time, the forecast, and the agents needed
per half hour (pipeline/erlang.py).

- Offered calls: every call the service recorded starting in the half hour.
- Containment: the share of calls over the last ``days`` that never reached a person (no handoff);
  only the rest (``1 - containment``) is agent work. With fewer than 100 recorded calls the
  configured share is used.
- Handle time (AHT): the mean time from an agent accepting a handoff to resolving it, over the last
  ``days``; without resolved handoffs the configured value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from pipeline.db import Call, Handoff, VolumeSlot, insert_new, utcnow
from pipeline.erlang import Staffing, agents_needed
from pipeline.forecast import SLOT, Forecast, bin_times, forecast, series, slot_start
from pipeline.store import Store

PERIOD_S = 1800.0
MIN_CALLS_MEASURED = 100
"""Fewer recorded calls than this say too little about containment: the configured share is used."""


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


@dataclass(frozen=True)
class StaffingOptions:
    target_s: float = 20.0
    """Answer within this many seconds..."""
    service_level: float = 0.8
    """...this share of the calls that reach a person."""
    aht_s: float | None = None
    """Average handle time; None: measured from resolved handoffs, else ``default_aht_s``."""
    default_aht_s: float = 240.0
    patience_s: float | None = None
    """Mean caller patience for Erlang A; None: Erlang C (callers never give up)."""
    containment: float | None = None
    """Share of calls the bot finishes alone; None: measured, else ``default_containment``."""
    default_containment: float = 0.0


@dataclass(frozen=True)
class SlotPlan:
    start: datetime
    calls: float
    """Forecast calls offered to the line."""
    agent_calls: float
    """The part that reaches a person: calls · (1 - containment)."""
    staffing: Staffing


@dataclass(frozen=True)
class Plan:
    forecast: Forecast
    containment: float
    aht_s: float
    model: str
    """'erlang_c' or 'erlang_a'."""
    slots: list[SlotPlan]


def import_volumes(store: Store, volumes: dict[datetime, float], source: str = "import") -> int:
    """Store imported half-hour volumes (a slot already imported keeps its first figure)."""
    rows = [{"slot_start": ts, "calls": c, "source": source} for ts, c in sorted(volumes.items())]
    with store.session() as s:
        before = s.scalar(select(func.count()).select_from(VolumeSlot)) or 0
        for i in range(0, len(rows), 500):
            insert_new(s, VolumeSlot, rows[i : i + 500], unique="slot_start")
        s.commit()
        after = s.scalar(select(func.count()).select_from(VolumeSlot)) or 0
    return int(after - before)


def volumes(store: Store, since: datetime | None = None) -> dict[datetime, float]:
    """Calls per half hour: recorded where the service took any, imported elsewhere."""
    with store.session() as s:
        q = select(Call.started_at)
        if since is not None:
            q = q.where(Call.started_at >= since)
        recorded = bin_times(_aware(t) for t in s.scalars(q))
        qi = select(VolumeSlot.slot_start, VolumeSlot.calls)
        if since is not None:
            qi = qi.where(VolumeSlot.slot_start >= since)
        imported = {_aware(t): float(c) for t, c in s.execute(qi)}
    return {**imported, **recorded}


def measured(store: Store, days: int = 28) -> tuple[float | None, float | None]:
    """(containment, AHT seconds) over the last ``days``; None where there is nothing to measure."""
    since = utcnow() - timedelta(days=days)
    with store.session() as s:
        calls = s.scalar(select(func.count()).select_from(Call).where(Call.started_at >= since)) or 0
        handed = (
            s.scalar(select(func.count(func.distinct(Handoff.call_id))).where(Handoff.created_at >= since))
            or 0
        )
        spans = s.execute(
            select(Handoff.accepted_at, Handoff.resolved_at).where(
                Handoff.created_at >= since,
                Handoff.accepted_at.is_not(None),
                Handoff.resolved_at.is_not(None),
            )
        ).all()
    containment = 1.0 - handed / calls if calls >= MIN_CALLS_MEASURED else None
    secs = [(_aware(b) - _aware(a)).total_seconds() for a, b in spans if a and b]
    secs = [x for x in secs if x > 0]
    return containment, (sum(secs) / len(secs) if secs else None)


def plan(
    store: Store, opts: StaffingOptions, days: int = 7, holdout_days: int = 7, history_days: int = 120
) -> Plan:
    now = utcnow()
    history = volumes(store, now - timedelta(days=history_days))
    # Up to the last half hour with calls, never the current one (still filling): trailing empty
    # half hours mean the line was not recorded then (an import that ends yesterday), not silence.
    until = min(slot_start(now), max(history) + SLOT) if history else now
    first, y = series(history, until=until)
    fc = forecast(first, y, days, holdout_days)
    return plan_for(fc, opts, *measured(store))


def plan_for(
    fc: Forecast,
    opts: StaffingOptions,
    measured_containment: float | None = None,
    measured_aht: float | None = None,
) -> Plan:
    containment = opts.containment
    if containment is None:
        containment = measured_containment if measured_containment is not None else opts.default_containment
    aht = opts.aht_s or measured_aht or opts.default_aht_s
    slots = []
    for start, calls in fc.slots():
        agent_calls = calls * (1.0 - containment)
        s = agents_needed(agent_calls, PERIOD_S, aht, opts.target_s, opts.service_level, opts.patience_s)
        slots.append(SlotPlan(start, calls, agent_calls, s))
    return Plan(fc, containment, aht, "erlang_a" if opts.patience_s else "erlang_c", slots)
