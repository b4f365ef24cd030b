"""The agents' REST API: who am I, my status, the queue, a handoff in full, accept and resolve.

Every change is committed to the store before the response, then published on the bus so every
connected console (and the waiting caller's session) hears of it.
"""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from fastapi import APIRouter, HTTPException
from sqlalchemy import select

from api.agent_models import (
    AgentCreate,
    AgentCreated,
    AgentOut,
    AnswerTried,
    CallSummary,
    DecisionOut,
    HandoffDetail,
    HandoffSummary,
    LabelsOut,
    QueueOut,
    ResolveIn,
    StatusUpdate,
    UtteranceOut,
    WorkOrderOut,
    aware,
    mask_details,
)
from api.auth import BusDep, CurrentAgent, StoreDep, Supervisor, check_may_see, is_supervisor
from api.callers import history_out
from core.redaction import mask_pii_deep
from pipeline.bus import EventBus
from pipeline.callbacks import Callbacks
from pipeline.callbacks import announce as announce_callback
from pipeline.db import Agent, Call, Handoff, WorkOrder
from pipeline.store import Store

router = APIRouter(prefix="/v1/agents", tags=["agents"])

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No record with that id."}}
FORBIDDEN: dict[int | str, dict[str, Any]] = {
    403: {"description": "The agent's role or skills do not allow it."}
}


def _names(store: Store) -> dict[str, str]:
    return {a.id: a.name for a in store.agents()}


def _numbers(store: Store, call_ids: set[str]) -> dict[str, str | None]:
    if not call_ids:
        return {}
    with store.session() as s:
        rows = s.execute(select(Call.id, Call.caller_number).where(Call.id.in_(call_ids)))
        return {call_id: number for call_id, number in rows}


@lru_cache(maxsize=1)
def taxonomy_labels() -> LabelsOut:
    # find_spec locates the package without importing it (nlu pulls in the classifier's libraries).
    spec = importlib.util.find_spec("nlu")
    folders = list(spec.submodule_search_locations or []) if spec else []
    path = Path(folders[0]) / "taxonomy.yaml" if folders else Path("nlu/taxonomy.yaml")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def pick(section: str) -> dict[str, dict[str, str]]:
        return {
            str(k): {lang: str(v.get(lang, k)) for lang in ("zh", "en")}
            for k, v in (raw.get(section) or {}).items()
            if isinstance(v, dict)
        }

    return LabelsOut(topics=pick("topics"), request_types=pick("request_types"), urgency=pick("urgency"))


def queue_view(store: Store, agent: Agent) -> QueueOut:
    """The waiting handoffs this agent may take, in order, and the ones in progress."""
    waiting = store.waiting() if is_supervisor(agent) else store.queue_for(agent.id)
    with store.session() as s:
        q = select(Handoff).where(Handoff.status == "accepted")
        if not is_supervisor(agent):
            q = q.where(Handoff.agent_id == agent.id)
        accepted = list(s.scalars(q.order_by(Handoff.accepted_at)))
    numbers = _numbers(store, {h.call_id for h in [*waiting, *accepted]})
    names = _names(store)
    now = datetime.now(UTC)
    return QueueOut(
        agent=AgentOut.from_row(agent),
        waiting=[
            HandoffSummary.from_row(h, numbers.get(h.call_id), pos, names.get(h.agent_id or ""), now)
            for pos, h in enumerate(waiting, start=1)
        ],
        accepted=[
            HandoffSummary.from_row(h, numbers.get(h.call_id), None, names.get(h.agent_id or ""), now)
            for h in accepted
        ],
    )


def summary_of(store: Store, handoff: Handoff) -> HandoffSummary:
    number = _numbers(store, {handoff.call_id}).get(handoff.call_id)
    name = _names(store).get(handoff.agent_id or "")
    return HandoffSummary.from_row(handoff, number, None, name)


def handoff_detail(store: Store, handoff: Handoff) -> HandoffDetail:
    call = store.get_call(handoff.call_id)
    base = summary_of(store, handoff)
    history = None
    if call.caller_number:
        history = history_out(store.caller_history(call.caller_number, exclude_call=call.id), _names(store))
    with store.session() as s:
        orders = list(s.scalars(select(WorkOrder).where(WorkOrder.call_id == call.id)))
        for o in orders:
            _ = o.notes
    return HandoffDetail(
        **base.model_dump(),
        details=mask_pii_deep(mask_details(dict(handoff.details or {}))),
        answers_tried=answers_tried(list(handoff.answers_tried or []), call),
        transcript=[UtteranceOut.from_row(u) for u in call.utterances],
        decisions=[DecisionOut.from_row(d) for d in call.decisions],
        call=CallSummary.from_row(call, list(call.decisions)),
        history=history,
        work_orders=[WorkOrderOut.from_row(o, _names(store)) for o in orders],
    )


def answers_tried(tried: list[Any], call: Call) -> list[AnswerTried]:
    """The handoff keeps knowledge-base entry ids; the agent needs the words the caller heard: the
    first bot line after the decision that answered from that entry."""
    out = []
    for item in tried:
        key = str(item)
        decision = next((d for d in call.decisions if d.kb_entry_id == key), None)
        if decision is None:
            out.append(AnswerTried(answer=key))
            continue
        when = aware(decision.created_at)
        said = next(
            (
                u
                for u in call.utterances
                if u.speaker == "bot" and when and (aware(u.created_at) or when) >= when
            ),
            None,
        )
        out.append(
            AnswerTried(
                kb_entry_id=key,
                answer=said.text if said else key,
                said_at=aware(said.created_at) if said else when,
            )
        )
    return out


# --- me ------------------------------------------------------------------------------------------
@router.get("/me", summary="The signed-in agent")
def me(agent: CurrentAgent) -> AgentOut:
    return AgentOut.from_row(agent)


@router.put("/me/status", summary="Set yourself available, busy or offline")
def set_my_status(body: StatusUpdate, agent: CurrentAgent, store: StoreDep, bus: BusDep) -> AgentOut:
    updated = store.set_agent_status(agent.id, body.status)
    bus.publish("agent.status", agent_id=agent.id, status=body.status)
    bus.publish("queue.changed", reason="agent.status")
    return AgentOut.from_row(updated)


@router.get("/queue", summary="Your queue: handoffs you may take, and the ones in progress")
def queue(agent: CurrentAgent, store: StoreDep) -> QueueOut:
    """Ordered by urgency (emergency, urgent, routine), then by how long the caller has waited.
    An agent sees the handoffs matching their topics and languages (emergencies match everyone)."""
    return queue_view(store, agent)


@router.get("/labels", summary="Display names of topics, request types and urgencies (zh, en)")
def labels(_: CurrentAgent) -> LabelsOut:
    """From the taxonomy the classifier was trained on, so the console shows the hotline's own words."""
    return taxonomy_labels()


# --- handoffs ------------------------------------------------------------------------------------
@router.get(
    "/handoffs/{handoff_id}",
    summary="A handoff in full: live transcript, details, answers tried, caller history",
    responses={**NOT_FOUND, **FORBIDDEN},
)
def get_handoff(handoff_id: str, agent: CurrentAgent, store: StoreDep) -> HandoffDetail:
    handoff = store.get_handoff(handoff_id)
    check_may_see(agent, handoff)
    return handoff_detail(store, handoff)


def _announce(bus: EventBus, handoff: Handoff, agent: Agent) -> None:
    """Tell every console (and the call session) that this handoff changed hands or closed."""
    bus.publish(
        "handoff.updated",
        handoff_id=handoff.id,
        call_id=handoff.call_id,
        status=handoff.status,
        agent_id=agent.id,
        agent_name=agent.name,
    )
    bus.publish("queue.changed", reason=f"handoff.{handoff.status}", handoff_id=handoff.id)


@router.post(
    "/handoffs/{handoff_id}/accept",
    summary="Take a waiting caller",
    responses={**NOT_FOUND, **FORBIDDEN, 409: {"description": "The handoff is no longer waiting."}},
)
def accept(handoff_id: str, agent: CurrentAgent, store: StoreDep, bus: BusDep) -> HandoffSummary:
    """Marks the handoff accepted by you and sets you busy. Exactly one of several agents
    accepting at once wins; the others get 409. An emergency that had become a call-back task
    because nobody accepted it in time closes that task as reached."""
    waiting = store.get_handoff(handoff_id)
    if waiting.status == "waiting":  # once taken, every agent is told so (409), not forbidden
        check_may_see(agent, waiting)
    try:
        handoff = store.accept_handoff(handoff_id, agent.id)
    except ValueError:
        pass
    else:
        _announce(bus, handoff, agent)
        if reached := Callbacks(store).reached_on_accept(handoff_id, agent.id):
            announce_callback(bus, "callback.closed", reached, agent_id=agent.id, agent_name=agent.name)
        return summary_of(store, handoff)
    current = store.get_handoff(handoff_id)
    who = _names(store).get(current.agent_id or "", "another agent")
    raise HTTPException(
        409,
        f"Handoff {handoff_id} is {current.status}"
        + (f" (by {who})" if current.status in ("accepted", "resolved") else "")
        + ", not waiting; refresh your queue.",
    )


@router.post(
    "/handoffs/{handoff_id}/resolve",
    summary="Close a handoff with a note of what was done",
    responses={**NOT_FOUND, **FORBIDDEN, 409: {"description": "Not accepted yet, or already closed."}},
)
def resolve(
    handoff_id: str, body: ResolveIn, agent: CurrentAgent, store: StoreDep, bus: BusDep
) -> HandoffSummary:
    """An agent resolves handoffs they accepted; a supervisor may close any open one."""
    handoff = store.get_handoff(handoff_id)
    check_may_see(agent, handoff)
    if handoff.status not in ("waiting", "accepted"):
        raise HTTPException(409, f"Handoff {handoff_id} is already {handoff.status}.")
    if not is_supervisor(agent):
        if handoff.status == "waiting":
            raise HTTPException(409, f"Accept handoff {handoff_id} before resolving it.")
        if handoff.agent_id != agent.id:
            raise HTTPException(403, f"Handoff {handoff_id} was accepted by another agent.")
    try:
        handoff = store.resolve_handoff(handoff_id, agent.id, body.resolution.strip())
    except ValueError as e:
        raise HTTPException(409, str(e)) from e
    _announce(bus, handoff, agent)
    return summary_of(store, handoff)


# --- managing agents (supervisors) ---------------------------------------------------------------
@router.get("", summary="Every agent and their status (supervisors)", responses=FORBIDDEN)
def list_agents(_: Supervisor, store: StoreDep) -> list[AgentOut]:
    return [AgentOut.from_row(a) for a in store.agents()]


@router.post(
    "", status_code=201, summary="Create an agent and get its token once (supervisors)", responses=FORBIDDEN
)
def create_agent(body: AgentCreate, _: Supervisor, store: StoreDep) -> AgentCreated:
    agent, token = store.create_agent(body.name.strip(), body.role, body.topics, body.languages)
    return AgentCreated(**AgentOut.from_row(agent).model_dump(), token=token)


@router.put(
    "/{agent_id}/status",
    summary="Set another agent's status (supervisors)",
    responses={**NOT_FOUND, **FORBIDDEN},
)
def set_status(agent_id: str, body: StatusUpdate, _: Supervisor, store: StoreDep, bus: BusDep) -> AgentOut:
    updated = store.set_agent_status(agent_id, body.status)
    bus.publish("agent.status", agent_id=agent_id, status=body.status)
    bus.publish("queue.changed", reason="agent.status")
    return AgentOut.from_row(updated)
