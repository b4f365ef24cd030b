"""Supervisors' security REST: disable, enable and rotate an agent's token; forget a caller.

The same operations as `triage agents disable|enable|rotate` and `triage callers forget`
(docs/security.md). Every one is a supervisor's; a supervisor cannot disable themself (the last
supervisor would lock everyone out).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import BaseModel, Field

from api.agent_models import aware
from api.auth import BusDep, StoreDep, Supervisor
from api.deps import get_runtime
from api.errors import ERROR_RESPONSES
from pipeline.db import Agent
from pipeline.privacy import disable_agent, enable_agent, forget_caller, rotate_token
from pipeline.retention import recordings_dir
from pipeline.runtime import Runtime

router = APIRouter(tags=["security"])

SUPERVISOR_ONLY: dict[int | str, dict[str, Any]] = ERROR_RESPONSES((401, 403, 404, 422, 429))


class AgentAccess(BaseModel):
    id: str
    name: str
    disabled: bool = Field(description="True: the agent's token signs in nowhere.")
    disabled_at: datetime | None

    @classmethod
    def from_row(cls, a: Agent) -> AgentAccess:
        return cls(id=a.id, name=a.name, disabled=a.disabled_at is not None, disabled_at=aware(a.disabled_at))


class RotatedToken(AgentAccess):
    token: str = Field(description="The new bearer token, shown once; the old one no longer works.")


class ForgetOut(BaseModel):
    caller_number: str
    calls: int = Field(description="Ended calls deleted, with their transcripts, decisions and handoffs.")
    work_orders: int
    callbacks: int
    recordings: int = Field(description="Recording files deleted.")
    dry_run: bool


@router.post(
    "/v1/agents/{agent_id}/disable",
    summary="Disable an agent: their token stops working at once (supervisors)",
    responses={**SUPERVISOR_ONLY, **ERROR_RESPONSES((409,))},
)
def disable(agent_id: str, me: Supervisor, store: StoreDep, bus: BusDep) -> AgentAccess:
    if agent_id == me.id:
        raise HTTPException(409, "You cannot disable yourself; ask another supervisor. 不能停用自己的账号。")
    agent = disable_agent(store, agent_id)
    bus.publish("agent.status", agent_id=agent_id, status="offline")
    bus.publish("queue.changed", reason="agent.disabled")
    return AgentAccess.from_row(agent)


@router.post(
    "/v1/agents/{agent_id}/enable", summary="Enable a disabled agent (supervisors)", responses=SUPERVISOR_ONLY
)
def enable(agent_id: str, _: Supervisor, store: StoreDep) -> AgentAccess:
    return AgentAccess.from_row(enable_agent(store, agent_id))


@router.post(
    "/v1/agents/{agent_id}/rotate",
    summary="Give an agent a new token; the old one stops working (supervisors)",
    responses=SUPERVISOR_ONLY,
)
def rotate(agent_id: str, _: Supervisor, store: StoreDep) -> RotatedToken:
    agent, token = rotate_token(store, agent_id)
    return RotatedToken(**AgentAccess.from_row(agent).model_dump(), token=token)


@router.delete(
    "/v1/callers/{caller_number}",
    summary="Forget a caller: delete their calls, recordings and work orders (supervisors)",
    responses=ERROR_RESPONSES((401, 403, 422, 429)),
)
def forget(
    caller_number: str,
    _: Supervisor,
    store: StoreDep,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    dry_run: bool = Query(False, description="Only count what would be deleted."),
) -> ForgetOut:
    report = forget_caller(store, caller_number, recordings_dir(runtime.settings), dry_run=dry_run)
    return ForgetOut(
        caller_number=caller_number,
        calls=report.calls,
        work_orders=report.work_orders,
        callbacks=report.callbacks,
        recordings=report.recordings,
        dry_run=dry_run,
    )
