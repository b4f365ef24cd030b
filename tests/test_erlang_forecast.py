"""Staffing maths against published worked examples, Erlang A against a simulation of the queue it
models, and the Holt-Winters forecast on a seasonal history (error on held-out days, CSV import,
the plan net of the bot's containment)."""

from __future__ import annotations

import heapq
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from pipeline.erlang import agents_needed, erlang_a_staffing, erlang_b, erlang_c, erlang_c_staffing
from pipeline.forecast import DAY, WEEK, ForecastError, forecast, read_volume_csv
from pipeline.staffing import StaffingOptions, import_volumes, measured, plan, plan_for, volumes
from pipeline.store import Store


def test_erlang_c_matches_the_call_centre_helper_worked_example() -> None:
    # Call Centre Helper, "Erlang C formula - made simple with an worked example"
    # (https://www.callcentrehelper.com/erlang-c-formula-example-121281.htm), as reproduced in
    # pyworkforce's docs (docs/tutorials/erlangc_example.rst): 100 calls in 30 minutes, AHT 3 min,
    # 80% answered within 20 s -> 14 agents (before shrinkage), service level 0.888,
    # occupancy 0.714, probability of waiting 0.174.
    s = agents_needed(100, 1800, 180, 20, 0.8)
    assert s.agents == 14
    assert s.erlangs == pytest.approx(10.0)
    assert s.service_level == pytest.approx(0.888, abs=0.001)
    assert s.occupancy == pytest.approx(0.714, abs=0.001)
    assert s.wait_probability == pytest.approx(0.174, abs=0.001)
    assert erlang_c_staffing(13, 100, 1800, 180, 20).service_level < 0.8  # 13 are not enough


def test_erlang_c_step_by_step_example_and_the_erlang_b_table() -> None:
    # The step-by-step Erlang-C example (Westbay Engineers' "The Erlang-C formula": 360 calls per
    # half hour, 4-minute calls, 55 agents, 15 s target): 48 Erlangs, occupancy 87.3%.
    s = erlang_c_staffing(55, 360, 1800, 240, 15)
    assert s.erlangs == pytest.approx(48.0) and s.occupancy == pytest.approx(0.873, abs=0.001)
    # Its closed forms, checked independently of the recurrence: C from the factorial sums,
    # SL = 1 - C e^{-(N-A) t / AHT}, ASA = C AHT / (N - A).
    a, n = 48.0, 55
    top = a**n / np.prod(np.arange(1, n + 1, dtype=float)) * n / (n - a)
    bottom = sum(a**k / np.prod(np.arange(1, k + 1, dtype=float)) for k in range(n)) + top
    assert s.wait_probability == pytest.approx(top / bottom, rel=1e-9)
    assert s.service_level == pytest.approx(1 - top / bottom * np.exp(-(n - a) * 15 / 240), rel=1e-9)
    assert s.asa_s == pytest.approx(top / bottom * 240 / (n - a), rel=1e-9)
    # Erlang B tables: 5 Erlangs on 10 circuits block 1.84% of calls.
    assert erlang_b(10, 5.0) == pytest.approx(0.0184, abs=0.0001)
    assert erlang_c(10, 12.0) == 1.0  # overloaded: everyone waits


def test_erlang_a_matches_pyworkforce_documented_example() -> None:
    # pyworkforce docs/guide/erlanga.md: 100 calls in 30 min, AHT 3 min, target 20 s, patience
    # 5 min, 80% -> 13 positions, service level 0.858, occupancy 0.750, abandonment 0.025,
    # waiting probability 0.226, average speed of answer 0.125 min (over all callers).
    s = agents_needed(100, 1800, 180, 20, 0.8, patience_s=300)
    assert s.agents == 13
    assert s.service_level == pytest.approx(0.858, abs=0.001)
    assert s.occupancy == pytest.approx(0.750, abs=0.001)
    assert s.abandon_rate == pytest.approx(0.025, abs=0.001)
    assert s.wait_probability == pytest.approx(0.226, abs=0.001)
    assert s.mean_wait_s / 60 == pytest.approx(0.125, abs=0.001)
    # Very patient callers: Erlang A becomes Erlang C.
    c, a = erlang_c_staffing(14, 100, 1800, 180, 20), erlang_a_staffing(14, 100, 1800, 180, 20, 1e9)
    assert a.service_level == pytest.approx(c.service_level, abs=1e-6)
    assert a.asa_s == pytest.approx(c.asa_s, rel=1e-5)


def _simulate(
    agents: int, lam: float, aht: float, patience: float, target: float, n: int
) -> tuple[float, float]:
    """M/M/n+M by simulation, first come first served: (share answered within target, share
    abandoned). Callers are taken in arrival order; each would start with the agent free first,
    and gives up (taking no agent time) if that is later than their patience allows."""
    rng = random.Random(7)
    t, free_at = 0.0, [0.0] * agents
    answered_in_time = abandoned = 0
    for _ in range(n):
        t += rng.expovariate(lam)
        start = max(t, free_at[0])
        if start - t > rng.expovariate(1 / patience):
            abandoned += 1
            continue
        heapq.heapreplace(free_at, start + rng.expovariate(1 / aht))
        answered_in_time += start - t <= target
    return answered_in_time / n, abandoned / n


def test_erlang_a_agrees_with_a_simulation_of_impatient_callers() -> None:
    lam, aht, patience = 100 / 1800, 180.0, 120.0
    sl, gone = _simulate(10, lam, aht, patience, 20.0, 60_000)
    model = erlang_a_staffing(10, 100, 1800, aht, 20.0, patience)
    assert model.service_level == pytest.approx(sl, abs=0.02)
    assert model.abandon_rate == pytest.approx(gone, abs=0.01)


def _history(weeks: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(weeks * WEEK)
    hour = (t % DAY) / DAY
    weekend = ((t // DAY) % 7) >= 5
    rate = (20 * np.exp(-((hour - 0.45) ** 2) / 0.02) + 2) * np.where(weekend, 0.5, 1.0)
    return rng.poisson(rate).astype(float)


def test_holt_winters_learns_the_daily_and_weekly_shape() -> None:
    y = _history(6)
    fc = forecast(datetime(2026, 1, 5, tzinfo=UTC), y, days=7, holdout_days=7)
    assert fc.season == WEEK and len(fc.calls) == 7 * DAY
    assert fc.mae is not None and fc.mae < 2.6  # Poisson noise alone is about 1.75 per half hour here
    week = np.array(fc.calls).reshape(7, DAY)
    assert week[0].argmax() in range(19, 25)  # the weekday peak near 10:48
    assert week[5].sum() < 0.65 * week[0].sum()  # Saturday about half a weekday
    short = forecast(datetime(2026, 1, 5, tzinfo=UTC), y[: 5 * DAY], days=1, holdout_days=1)
    assert short.season == DAY
    with pytest.raises(ForecastError, match="at least 2 days"):
        forecast(datetime(2026, 1, 5, tzinfo=UTC), y[:DAY], days=1, holdout_days=0)


def test_csv_import_and_the_plan_net_of_containment(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'staff.db'}")
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    y = _history(3) * 4
    first = now - timedelta(minutes=30 * len(y))
    text = "start,calls\n" + "".join(
        f"{(first + timedelta(minutes=30 * i)).isoformat()},{c:g}\n" for i, c in enumerate(y)
    )
    vols = read_volume_csv(text)
    assert import_volumes(store, vols) == len(y) and import_volumes(store, vols) == 0
    with pytest.raises(ForecastError, match="row 2"):
        read_volume_csv("start,calls\nyesterday,12\n")
    # Recorded calls win in a half hour they cover: 150 calls at the last slot, 50 handed to a person.
    calls = [store.start_call(None, "zh") for _ in range(150)]
    for c in calls[:50]:
        h = store.create_handoff(c.id, "routine", "test")
        store.update_handoff(
            h.id, status="resolved", accepted_at=now, resolved_at=now + timedelta(seconds=300)
        )
    slot = max(volumes(store))
    assert volumes(store)[slot] == 150
    containment, aht = measured(store)
    assert containment == pytest.approx(2 / 3) and aht == pytest.approx(300)
    opts = StaffingOptions(target_s=20, service_level=0.8, containment=0.5, aht_s=240)
    p = plan(store, opts, days=1, holdout_days=1)
    assert p.containment == 0.5 and len(p.slots) == DAY
    busiest = max(p.slots, key=lambda s: s.calls)
    assert busiest.agent_calls == pytest.approx(busiest.calls / 2)
    assert busiest.staffing.service_level >= 0.8 and busiest.staffing.agents >= 2
    full = plan_for(p.forecast, StaffingOptions(containment=0.0, aht_s=240))
    assert max(s.staffing.agents for s in full.slots) > max(s.staffing.agents for s in p.slots)
