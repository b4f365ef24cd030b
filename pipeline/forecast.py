"""Call volume per half hour: history from the records (or a CSV of past volumes), a Holt-Winters
forecast with daily and weekly seasonality, and its error on held-out days.

The method. Half-hour counts are a level plus a seasonal profile: additive Holt-Winters (ETS(A,N,A),
statsmodels ``ExponentialSmoothing``) with a season of one week (336 half hours) once the history
holds at least two weeks before the held-out days, which carries the daily shape and how each
weekday differs; with less, a season of one day (48). The initial level and season come from the
history's own averages (heuristic initialisation), so only the three smoothing weights are fitted.
Forecasts below zero are zero.

The error. The last ``holdout_days`` days are held out: the model is fitted on the days before,
forecasts them, and reports MAE (calls per half hour) and MAPE over half hours with at least one
call (a half hour with none would divide by zero; night slots are small and left out of the %).
Then it is refitted on all the history for the forecast itself.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

SLOT = timedelta(minutes=30)
DAY = 48
WEEK = 7 * DAY


class ForecastError(ValueError):
    """Not enough history, or a CSV that cannot be read; the message says what to do."""


def slot_start(ts: datetime) -> datetime:
    ts = ts if ts.tzinfo else ts.replace(tzinfo=UTC)
    return ts.replace(minute=0 if ts.minute < 30 else 30, second=0, microsecond=0)


def series(counts: dict[datetime, float], until: datetime | None = None) -> tuple[datetime, np.ndarray]:
    """Contiguous half-hour counts from the first slot to ``until`` (exclusive), zeros between."""
    if not counts:
        raise ForecastError("No call history: record calls, or import past volumes from a CSV first.")
    first = min(counts)
    last = slot_start(until) if until else max(counts) + SLOT
    n = max(0, int((last - first) / SLOT))
    y = np.zeros(n)
    for ts, c in counts.items():
        i = int((ts - first) / SLOT)
        if 0 <= i < n:
            y[i] += c
    return first, y


def bin_times(times: Iterable[datetime]) -> dict[datetime, float]:
    out: dict[datetime, float] = {}
    for ts in times:
        key = slot_start(ts)
        out[key] = out.get(key, 0.0) + 1
    return out


def read_volume_csv(text: str) -> dict[datetime, float]:
    """Rows of ``start,calls`` (ISO 8601 start of a half hour; a zone-less time is UTC) or
    ``date,time,calls``; a header row is read by its names. Rows in one half hour add up."""
    reader = csv.reader(io.StringIO(text))
    rows = [r for r in reader if r and any(c.strip() for c in r)]
    if not rows:
        raise ForecastError("The CSV is empty: give rows of 'start,calls' (ISO time, count per half hour).")
    header = [c.strip().lower() for c in rows[0]]
    if "calls" in header:
        rows = rows[1:]
        col = {name: i for i, name in enumerate(header)}
    else:
        col = {"start": 0, "calls": 1} if len(rows[0]) == 2 else {"date": 0, "time": 1, "calls": 2}
    out: dict[datetime, float] = {}
    for n, r in enumerate(rows, start=2 if "calls" in header else 1):
        try:
            when = r[col["start"]] if "start" in col else f"{r[col['date']]}T{r[col['time']]}"
            ts = datetime.fromisoformat(when.strip())
            calls = float(r[col["calls"]])
        except (KeyError, IndexError, ValueError) as e:
            raise ForecastError(
                f"CSV row {n} {r!r} is not 'start,calls' or 'date,time,calls' (ISO time, a number): {e}"
            ) from e
        if calls < 0 or math.isnan(calls):
            raise ForecastError(f"CSV row {n}: a call count cannot be {calls}.")
        key = slot_start(ts)
        out[key] = out.get(key, 0.0) + calls
    return out


@dataclass(frozen=True)
class Forecast:
    start: datetime
    """First forecast half hour."""
    calls: list[float]
    """Forecast calls per half hour from ``start``."""
    season: int
    """Half hours in the seasonal cycle: 336 (a week) or 48 (a day)."""
    mae: float | None
    """Mean absolute error on the held-out days, calls per half hour."""
    mape: float | None
    """Mean absolute percentage error on the held-out half hours that had calls."""
    holdout_days: int
    history_slots: int

    def slots(self) -> list[tuple[datetime, float]]:
        return [(self.start + i * SLOT, c) for i, c in enumerate(self.calls)]


def _fit_predict(y: np.ndarray, season: int, steps: int) -> np.ndarray:
    import warnings

    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    model = ExponentialSmoothing(
        y, trend=None, seasonal="add", seasonal_periods=season, initialization_method="heuristic"
    )
    with warnings.catch_warnings():  # convergence chatter on flat series is not the caller's concern
        warnings.simplefilter("ignore")
        fit = model.fit(optimized=True)
    return np.clip(np.asarray(fit.forecast(steps)), 0.0, None)


def season_for(slots: int) -> int:
    if slots >= 2 * WEEK:
        return WEEK
    if slots >= 2 * DAY:
        return DAY
    raise ForecastError(
        f"{slots / DAY:.1f} days of history: at least 2 days are needed (2 weeks for weekly seasonality)."
    )


def errors(actual: np.ndarray, predicted: np.ndarray) -> tuple[float, float | None]:
    mae = float(np.mean(np.abs(actual - predicted)))
    busy = actual > 0
    mape = float(np.mean(np.abs(actual[busy] - predicted[busy]) / actual[busy])) if busy.any() else None
    return mae, mape


def forecast(first: datetime, y: np.ndarray, days: int = 7, holdout_days: int = 7) -> Forecast:
    """Forecast ``days`` days after the history ``y`` (half hours from ``first``)."""
    if days < 1:
        raise ForecastError("Forecast at least one day.")
    hold = holdout_days * DAY
    mae = mape = None
    if holdout_days > 0:
        if len(y) - hold < 2 * DAY:
            raise ForecastError(
                f"{len(y) / DAY:.1f} days of history cannot hold out {holdout_days} days and still fit: "
                "hold out fewer days (--holdout-days) or add history."
            )
        train, test = y[:-hold], y[-hold:]
        mae, mape = errors(test, _fit_predict(train, season_for(len(train)), hold))
    season = season_for(len(y))
    calls = _fit_predict(y, season, days * DAY)
    return Forecast(
        first + len(y) * SLOT,
        [round(float(c), 2) for c in calls],
        season,
        mae,
        mape,
        holdout_days,
        len(y),
    )
