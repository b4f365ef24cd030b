"""Supervisor reports and the live wallboard: GET /v1/reports (JSON, CSV or Excel),
/v1/reports/definitions and /v1/reports/live. Supervisors only.

Every measure's definition (English and Chinese) is in the response schema, in
/v1/reports/definitions (the console's legend) and in docs/supervisors.md.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field, create_model

from api.auth import StoreDep, Supervisor
from api.deps import get_runtime
from pipeline.reports import GROUPINGS, MEASURES, build_report, options_for
from pipeline.reports_export import to_csv, to_xlsx
from pipeline.reports_live import LIVE_MEASURES, LiveOptions, live_state
from pipeline.runtime import Runtime

router = APIRouter(prefix="/v1/reports", tags=["reports"])

_FLOAT = {"service_level", "asa_s", "abandonment_rate", "containment", "emergency_to_person_avg_s",
          "emergency_to_person_max_s", "repeat_rate", "satisfaction_avg", "satisfied_share"}  # fmt: skip
ReportRowOut: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "ReportRowOut",
    key=(
        str | None,
        Field(None, description="The group: hour or day (local), topic, ..., agent id; null: none."),
    ),
    **{
        name: (float | None if name in _FLOAT else int, Field(..., description=f"{en} / {zh}"))
        for name, (en, zh) in MEASURES.items()
    },
)


class ReportOut(BaseModel):
    options: dict[str, Any] = Field(description="start and end (UTC, end excluded), by, service_level_s, ...")
    rows: list[ReportRowOut]
    total: ReportRowOut
    labels: dict[str, str] = Field(description="Display names of group keys (agent names).")


def _runtime(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Runtime:
    return runtime


@router.get(
    "",
    summary="A report over a period, grouped (JSON, CSV or Excel)",
    response_model=ReportOut,
    responses={
        200: {
            "content": {
                "text/csv": {},
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
            }
        },
        403: {"description": "Only supervisors see reports."},
        422: {"description": "A bad date, an end before the start or an unknown grouping."},
    },
)
def get_report(
    store: StoreDep,
    _: Supervisor,
    runtime: Annotated[Runtime, Depends(_runtime)],
    from_: Annotated[str, Query(alias="from", description="First day or time, local (2026-11-01).")],
    to: Annotated[str, Query(description="Last day (included) or end time (excluded), local.")],
    by: Annotated[str, Query(description=f"One of: {', '.join(GROUPINGS)}.")] = "day",
    format: Annotated[Literal["json", "csv", "xlsx"], Query(description="json, csv or xlsx.")] = "json",
) -> Any:
    settings = runtime.settings
    try:
        opts = options_for(settings, from_, to, by)
    except ValueError as e:
        raise HTTPException(422, str(e)) from e
    with store.session() as s:
        report = build_report(s, opts)
    name = f"report_{by}_{from_}_{to}".replace(":", "")
    if format == "csv":
        return Response(
            "\ufeff" + to_csv(report),  # the byte-order mark lets Excel read the Chinese as UTF-8
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format == "xlsx":
        return Response(
            to_xlsx(report),
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    return report.as_dict()


@router.get("/definitions", summary="What each report and wallboard measure means (en, zh)")
def definitions(_: Supervisor, runtime: Annotated[Runtime, Depends(_runtime)]) -> dict[str, Any]:
    s = runtime.settings
    return {
        "measures": {k: {"en": en, "zh": zh} for k, (en, zh) in MEASURES.items()},
        "live": {k: {"en": en, "zh": zh} for k, (en, zh) in LIVE_MEASURES.items()},
        "groupings": list(GROUPINGS),
        "service_level_s": s.service_level_s,
        "service_level_target": s.service_level_target,
        "workorder_due_h": s.workorder_due_h,
    }


@router.get("/live", summary="The wallboard: calls now, the queue, agents and today so far")
def live(store: StoreDep, _: Supervisor, runtime: Annotated[Runtime, Depends(_runtime)]) -> dict[str, Any]:
    s = runtime.settings
    opts = LiveOptions(s.service_level_s, s.service_level_target, s.report_utc_offset_min, s.workorder_due_h)
    with store.session() as session:
        return live_state(session, opts)
