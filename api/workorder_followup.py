"""Work-order follow-up over REST: overdue orders (催办) and lookup by the caller's reference.

A supervisor sees every overdue order; an agent the ones assigned to them. Due times come from
``TRIAGE_WORKORDER_DUE_RULES`` / ``TRIAGE_WORKORDER_DUE_H`` (pipeline/workorder_followup.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException

from api.auth import CurrentAgent, Supervisor, is_supervisor
from api.deps import get_runtime
from pipeline.runtime import Runtime
from pipeline.store import NotFoundError
from pipeline.workorder_followup import FollowUp, overdue_view, work_order_reference

router = APIRouter(prefix="/v1/followup", tags=["work orders"])


def get_followup(runtime: Annotated[Runtime, Depends(get_runtime)]) -> FollowUp:
    if runtime.followup is None:
        raise HTTPException(503, "Work-order follow-up is not running in this service.")
    return runtime.followup


FollowUpDep = Annotated[FollowUp, Depends(get_followup)]


@router.get("/overdue", summary="Overdue work orders and their count")
def overdue(agent: CurrentAgent, followup: FollowUpDep) -> dict[str, Any]:
    """Open orders past their due time, the longest overdue first: all of them for a supervisor,
    the agent's own otherwise. ``urged`` says whether supervisors and the team were flagged."""
    orders = followup.overdue(assigned_to=None if is_supervisor(agent) else agent.id)
    rows = [{**overdue_view(o, followup.rules), "urged": o.urged_at is not None} for o in orders]
    return {"count": len(rows), "orders": rows}


@router.post(
    "/{order_id}/urge",
    summary="Urge (催办) one work order now",
    responses={404: {"description": "No such order."}},
)
def urge(order_id: str, sup: Supervisor, followup: FollowUpDep) -> dict[str, Any]:
    """Flags the order to its team again (bus event ``workorder.overdue``) with a note by the supervisor."""
    order = followup.store.get_work_order(order_id)
    followup.urge(order, author=sup.id)
    return overdue_view(followup.store.get_work_order(order_id), followup.rules)


@router.get("/reference/{reference}", summary="The work order a caller's six-digit reference names")
def by_reference(reference: str, _agent: CurrentAgent, followup: FollowUpDep) -> dict[str, Any]:
    order = followup.find(reference)
    if order is None:
        raise NotFoundError(f"No work order with reference {reference!r}.")
    return {"work_order_id": order.id, "reference": work_order_reference(order.id), "status": order.status}
