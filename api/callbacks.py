"""Call-back tasks for agents: callers in an emergency (or urgent) whom nobody took, to ring back.

A task stays listed until an agent records an outcome that closes it (called_back, reached,
dispatched, false_alarm); no_answer is logged and keeps it open. Every change is committed before
the response, then announced on the bus (``callback.closed``) so every console drops it at once.
Who sees what: supervisors everything, every agent the emergencies, an agent the urgent tasks that
match their topics and languages (api/auth.py).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import select

from api.agent_models import CallSummary
from api.auth import BusDep, CurrentAgent, StoreDep, check_may_see_callback, may_see_callback
from api.callback_models import CallbackDetail, CallbacksOut, CallbackSummary, OutcomeIn
from pipeline.bus import EventBus
from pipeline.callbacks import CallbackClosedError, Callbacks, announce
from pipeline.db import Agent, Call, Callback, Handoff
from pipeline.store import Store

router = APIRouter(prefix="/v1/callbacks", tags=["callbacks"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No call-back task with that id."}}
FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"description": "An urgent task outside your topics and languages, or closed by someone else."}
}


def summaries(store: Store, tasks: list[Callback]) -> list[CallbackSummary]:
    """Tasks with their handoff's reason and details and their call's state, in the given order."""
    if not tasks:
        return []
    with store.session() as s:
        handoffs = {
            h.id: h for h in s.scalars(select(Handoff).where(Handoff.id.in_({t.handoff_id for t in tasks})))
        }
        calls = {c.id: c for c in s.scalars(select(Call).where(Call.id.in_({t.call_id for t in tasks})))}
        names = {a.id: a.name for a in s.scalars(select(Agent))}
    return [CallbackSummary.from_rows(t, handoffs[t.handoff_id], calls[t.call_id], names) for t in tasks]


def summary_of(store: Store, task: Callback) -> CallbackSummary:
    return summaries(store, [task])[0]


def announce_closed(bus: EventBus, task: Callback, agent: Agent) -> None:
    announce(bus, "callback.closed", task, agent_id=agent.id, agent_name=agent.name)
    bus.publish("queue.changed", reason="callback.closed", callback_id=task.id)


@router.get("", summary="Call-back tasks: callers to ring back, emergencies first")
def list_callbacks(
    agent: CurrentAgent,
    store: StoreDep,
    status: Literal["open", "closed"] = Query("open", description="open (the default) or closed."),
    limit: int = Query(100, ge=1, le=500),
) -> CallbacksOut:
    """Open tasks: emergencies first, then the longest waiting. Only the ones you may see."""
    tasks = [t for t in Callbacks(store).tasks(status, limit=500) if may_see_callback(agent, t)]
    return CallbacksOut(callbacks=summaries(store, tasks[:limit]))


@router.get(
    "/{callback_id}",
    summary="A call-back task in full: number, details, transcript, recordings, attempts",
    responses={**NOT_FOUND, **FORBIDDEN},
)
def get_callback(callback_id: str, agent: CurrentAgent, store: StoreDep) -> CallbackDetail:
    task = Callbacks(store).get(callback_id)
    check_may_see_callback(agent, task)
    call = store.get_call(task.call_id)
    return CallbackDetail.from_detail(
        summary_of(store, task), list(call.utterances), CallSummary.from_row(call, list(call.decisions))
    )


@router.post(
    "/{callback_id}/outcome",
    summary="Record what happened when you rang the caller back",
    responses={
        **NOT_FOUND,
        **FORBIDDEN,
        409: {"description": "The task is already closed."},
        422: {"description": "An outcome that is not one of the listed values."},
    },
)
def record_outcome(
    callback_id: str, body: OutcomeIn, agent: CurrentAgent, store: StoreDep, bus: BusDep
) -> CallbackSummary:
    """called_back, reached, dispatched or false_alarm close the task and it leaves every console;
    no_answer is logged as an attempt and the task stays open. Of two agents closing one task at
    once, exactly one succeeds; the other gets 409."""
    callbacks = Callbacks(store)
    current = callbacks.get(callback_id)
    if current.status == "open":  # once closed, whoever tries is told so (409), not forbidden
        check_may_see_callback(agent, current)
    try:
        task = callbacks.record(callback_id, agent.id, body.outcome, body.note.strip())
    except CallbackClosedError as e:
        closed = callbacks.get(callback_id)
        who = summary_of(store, closed).agent_name or "another agent"
        raise HTTPException(409, f"{e} Closed by {who}: refresh your list.") from e
    if task.status == "closed":
        announce_closed(bus, task, agent)
    else:
        announce(bus, "callback.updated", task, agent_id=agent.id, agent_name=agent.name)
    return summary_of(store, task)
