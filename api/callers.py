"""A caller's history: earlier calls and work orders from the same number."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query

from api.agent_models import CallerHistoryOut, CallSummary, WorkOrderOut
from api.auth import CurrentAgent, StoreDep, handoffs_of_calls, is_supervisor, may_see
from pipeline.store import CallerHistory

router = APIRouter(prefix="/v1/callers", tags=["callers"])


def history_out(history: CallerHistory, names: dict[str, str] | None = None) -> CallerHistoryOut:
    return CallerHistoryOut(
        caller_number=history.caller_number,
        calls=[CallSummary.from_row(c, list(c.decisions)) for c in history.calls],
        work_orders=[WorkOrderOut.from_row(o, names) for o in history.work_orders],
    )


@router.get(
    "/{caller_number}/history",
    summary="Earlier calls and work orders from one number",
    responses={403: {"description": "No handoff from this number is in your queue or accepted by you."}},
)
def caller_history(
    caller_number: str,
    agent: CurrentAgent,
    store: StoreDep,
    limit: int = Query(20, ge=1, le=200, description="At most this many calls and work orders each."),
) -> CallerHistoryOut:
    """A supervisor may look up any number; an agent, the numbers of handoffs they may see."""
    if not is_supervisor(agent) and not any(
        may_see(agent, h) for h in handoffs_of_calls(store, number=caller_number)
    ):
        raise HTTPException(
            403, f"No handoff from {caller_number} is in your queue or accepted by you; ask a supervisor."
        )
    names = {a.id: a.name for a in store.agents()}
    return history_out(store.caller_history(caller_number, limit=limit), names)
