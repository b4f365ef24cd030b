"""Incident storms: a burst of calls about one topic from one district, against the normal rate.

Pure: counts in, verdict out (pipeline/incidents.py does the records and the alert).

The test. Calls about a topic arrive, in quiet times, as a Poisson process whose rate depends on
the hour of day. The *baseline* rate of topic T at hour h is the number of calls about T that
started in hour h of the day over the last ``baseline_days`` days, divided by how many times hour
h occurred since the first record in that span (at least once). It is the topic's rate over the
whole line, not per district, which over-estimates what one district should see, so the test
errs towards silence.
A new deployment has no history: the rate never goes below ``floor_per_hour``.

In the last ``window_s`` seconds, ``k`` distinct calls reported topic T in district D. Under the
baseline, the count in the window is Poisson with mean ``mu = rate · window_s / 3600``; the burst
is a storm when ``k >= min_calls`` and ``P(X >= k | mu) <= alpha`` (the Poisson upper tail). With
the defaults (15 minutes, a floor of 2 calls an hour, alpha 0.001) five calls in a quarter hour
from one district are a storm on a new line (P = 1.7e-4), and a topic that normally brings 40
calls an hour needs 22 or more in the window (P = 7.0e-4).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class StormConfig:
    window_s: int = 900
    """How far back a burst is counted."""
    min_calls: int = 5
    """Never a storm below this many calls in the window, however quiet the topic usually is."""
    alpha: float = 1e-3
    """Largest Poisson tail probability still called a storm (false alarms per test)."""
    floor_per_hour: float = 2.0
    """The least rate a topic is assumed to have (a new deployment with no history)."""
    baseline_days: int = 28
    """Days of history behind the baseline."""
    utc_offset_min: int = 0
    """Local time for the hour of day (480 for China Standard Time)."""
    cooldown_s: int = 7200
    """After an alert for a topic and district, no second alert for it for this long."""


@dataclass(frozen=True)
class Verdict:
    calls: int
    expected: float
    """Calls expected in the window under the baseline (Poisson mean)."""
    p_value: float
    """P(X >= calls) under the baseline."""
    storm: bool


def poisson_tail(k: int, mu: float) -> float:
    """P(X >= k) for X ~ Poisson(mu), summed in log space (no overflow for large k)."""
    if k <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    # 1 - P(X <= k-1); for small tails sum the upper terms directly instead (no cancellation).
    log_term = k * math.log(mu) - mu - math.lgamma(k + 1)
    total, term, i = 0.0, math.exp(log_term), k
    while term > 1e-18 * max(total, 1e-300) and i < k + 10_000:
        total += term
        i += 1
        term *= mu / i
    return min(1.0, total)


def local_hour(ts: datetime, utc_offset_min: int) -> int:
    return (ts + timedelta(minutes=utc_offset_min)).hour


def hourly_baseline(
    rows: Iterable[tuple[str, datetime]], since: datetime, until: datetime, utc_offset_min: int = 0
) -> dict[tuple[str, int], float]:
    """Calls per hour by (topic, local hour of day) from ``(topic, started_at)`` rows between
    ``since`` and ``until``: each count is divided by how many times that hour of day occurred
    from the first record's hour (or ``since``) to ``until`` (at least once)."""
    counts: dict[tuple[str, int], int] = defaultdict(int)
    first: datetime | None = None
    for topic, ts in rows:
        counts[(topic, local_hour(ts, utc_offset_min))] += 1
        first = ts if first is None or ts < first else first
    if first is None:
        return {}
    exposure = [0] * 24
    hour = max(first, since).replace(minute=0, second=0, microsecond=0)
    while hour < until:
        exposure[local_hour(hour, utc_offset_min)] += 1
        hour += timedelta(hours=1)
    return {key: n / max(1, exposure[key[1]]) for key, n in counts.items()}


def judge(
    calls: int, topic: str, now: datetime, baseline: dict[tuple[str, int], float], cfg: StormConfig
) -> Verdict:
    rate = max(cfg.floor_per_hour, baseline.get((topic, local_hour(now, cfg.utc_offset_min)), 0.0))
    mu = rate * cfg.window_s / 3600
    p = poisson_tail(calls, mu)
    return Verdict(calls, mu, p, calls >= cfg.min_calls and p <= cfg.alpha)


_SUFFIX_EN = re.compile(r"\s+(district|county|area)$")


def place_key(name: str) -> str:
    """How two spellings of a district are compared: case, spaces and an English 'district'
    suffix do not matter ('Chaoyang District' = 'chaoyang district' = 'Chaoyang')."""
    key = re.sub(r"\s+", " ", name.strip().lower())
    return _SUFFIX_EN.sub("", key)


def districts_in(details: dict[str, object]) -> list[str]:
    """District names among a turn's extracted places (nlu/details.py ``Details`` as a dict)."""
    places = details.get("places") or []
    out = []
    for p in places if isinstance(places, list | tuple) else []:
        if isinstance(p, dict) and p.get("kind") == "district" and p.get("value"):
            out.append(str(p["value"]))
    return out
