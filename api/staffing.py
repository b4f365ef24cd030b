"""Forecast and staffing over REST, for supervisors: import past half-hour volumes (CSV), then
the forecast per half hour with its held-out error and the agents each half hour needs (Erlang C,
or Erlang A with a caller patience), net of the calls the bot finishes alone."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request

from api.auth import StoreDep, Supervisor
from pipeline.erlang import erlang_a_staffing, erlang_c_staffing
from pipeline.forecast import ForecastError, read_volume_csv
from pipeline.staffing import Plan, StaffingOptions, import_volumes, plan

router = APIRouter(prefix="/v1/staffing", tags=["staffing"])
MAX_CSV_BYTES = 20_000_000


def _num(x: float) -> float | None:
    return None if math.isinf(x) or math.isnan(x) else round(x, 4)


def plan_view(p: Plan) -> dict[str, Any]:
    fc = p.forecast
    return {
        "model": p.model,
        "season_slots": fc.season,
        "history_slots": fc.history_slots,
        "holdout_days": fc.holdout_days,
        "mae": _num(fc.mae) if fc.mae is not None else None,
        "mape": _num(fc.mape) if fc.mape is not None else None,
        "containment": round(p.containment, 4),
        "aht_s": round(p.aht_s, 1),
        "slots": [
            {
                "start": s.start.isoformat(),
                "calls": round(s.calls, 2),
                "agent_calls": round(s.agent_calls, 2),
                "agents": s.staffing.agents,
                "service_level": _num(s.staffing.service_level),
                "asa_s": _num(s.staffing.asa_s),
                "abandon_rate": _num(s.staffing.abandon_rate),
                "occupancy": _num(s.staffing.occupancy),
            }
            for s in p.slots
        ],
    }


@router.post("/volumes", summary="Import past call volumes per half hour (CSV)")
async def import_csv(request: Request, _sup: Supervisor, store: StoreDep) -> dict[str, Any]:
    """Body: CSV rows ``start,calls`` (ISO 8601 half-hour start) or ``date,time,calls``. A half hour
    already imported keeps its first figure; half hours with recorded calls use those."""
    body = await request.body()
    if len(body) > MAX_CSV_BYTES:
        raise HTTPException(413, f"The CSV is over {MAX_CSV_BYTES // 1_000_000} MB: split it.")
    try:
        volumes = read_volume_csv(body.decode("utf-8-sig"))
    except (ForecastError, UnicodeDecodeError) as e:
        raise HTTPException(422, str(e)) from e
    return {"rows": len(volumes), "imported": import_volumes(store, volumes)}


@router.get("/plan", summary="Forecast per half hour and the agents needed")
def staffing_plan(
    _sup: Supervisor,
    store: StoreDep,
    days: int = Query(7, ge=1, le=28, description="Days to forecast."),
    holdout_days: int = Query(7, ge=0, le=28, description="Last days held out to measure the error."),
    target_s: float = Query(20.0, gt=0, description="Answer within this many seconds..."),
    service_level: float = Query(0.8, gt=0, lt=1, description="...this share of calls reaching a person."),
    aht_s: float | None = Query(None, gt=0, description="Handle time; default: measured from handoffs."),
    patience_s: float | None = Query(None, gt=0, description="Mean patience: Erlang A; absent: Erlang C."),
    containment: float | None = Query(None, ge=0, le=1, description="Bot's share; default: measured."),
) -> dict[str, Any]:
    opts = StaffingOptions(target_s, service_level, aht_s, patience_s=patience_s, containment=containment)
    try:
        return plan_view(plan(store, opts, days, holdout_days))
    except ForecastError as e:
        raise HTTPException(422, str(e)) from e


MAX_ERLANG_A_WAITING = 1000


@router.get("/erlang", summary="Erlang C / A for one half hour (a calculator)")
def erlang(
    _sup: Supervisor,
    # Bounded so one request cannot occupy a worker for minutes (the formulas loop over agents and
    # queue depth): far beyond any hotline's half hour (docs/security.md).
    calls: float = Query(..., ge=0, le=100_000, description="Calls in the period."),
    agents: int = Query(..., ge=1, le=5_000),
    aht_s: float = Query(..., gt=0, le=86_400),
    target_s: float = Query(20.0, ge=0, le=86_400),
    period_s: float = Query(1800.0, ge=60, le=86_400),
    patience_s: float | None = Query(None, ge=1, le=86_400),
) -> dict[str, Any]:
    if patience_s:
        waiting = (
            calls / period_s * patience_s
        )  # callers who could be waiting at once: Erlang A's state count
        if waiting > MAX_ERLANG_A_WAITING:
            raise HTTPException(
                422,
                f"Erlang A is computed for up to {MAX_ERLANG_A_WAITING} callers waiting at once; these "
                f"figures allow {waiting:.0f} (calls / period_s x patience_s): shorten patience_s. "
                "耐心时长过长，排队人数超出计算范围。",
            )
        s = erlang_a_staffing(agents, calls, period_s, aht_s, target_s, patience_s)
    else:
        s = erlang_c_staffing(agents, calls, period_s, aht_s, target_s)
    return {k: _num(v) if isinstance(v, float) else v for k, v in s.__dict__.items()}
