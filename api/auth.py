"""Agent authentication and what each role may see.

Agents send ``Authorization: Bearer <token>`` (the WebSocket takes the ``token.<token>``
subprotocol or a first auth message, api/signin_guard.py); failed sign-ins are rate limited per
address. Tokens come from `triage agents add` or ``POST /v1/agents`` and only their SHA-256 is
stored. An agent sees the queue for their skills, handoffs they may take and the ones they
accepted; a supervisor sees everything and manages agents.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select

from api.deps import get_runtime
from api.signin_guard import signin_guard
from pipeline.bus import EventBus
from pipeline.db import Agent, Call, Callback, Handoff
from pipeline.privacy import active_agent_by_token
from pipeline.routing import AgentSkills, QueueItem, agent_can_take
from pipeline.runtime import Runtime
from pipeline.store import Store, handoff_queue_item, transfer_allows

bearer = HTTPBearer(
    auto_error=False,
    description="An agent token from `triage agents add NAME` (or POST /v1/agents by a supervisor).",
)


def get_store(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Store:
    return runtime.store


def get_bus(runtime: Annotated[Runtime, Depends(get_runtime)]) -> EventBus:
    return runtime.bus


StoreDep = Annotated[Store, Depends(get_store)]
BusDep = Annotated[EventBus, Depends(get_bus)]


def unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def authenticate(store: Store, token: str | None) -> Agent | None:
    """The agent this token signs in, unless disabled (`triage agents disable`)."""
    return active_agent_by_token(store, token) if token else None


def rate_limited(wait: int) -> HTTPException:
    return HTTPException(
        429,
        f"Too many failed sign-ins from this address; try again in {wait} s. "
        f"登录失败次数过多，请 {wait} 秒后再试。",
        headers={"Retry-After": str(wait)},
    )


def current_agent(
    request: Request,
    store: StoreDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Agent:
    if creds is None:
        raise unauthorized(
            "No agent token. Send 'Authorization: Bearer <token>'; "
            "a supervisor creates one with `triage agents add NAME`."
        )
    guard = signin_guard(request.app, request.app.state.runtime.settings)
    client = request.client.host if request.client else "?"
    wait = guard.retry_after(client)
    if wait:
        raise rate_limited(wait)
    agent = authenticate(store, creds.credentials)
    if agent is None:
        guard.failed(client)
        raise unauthorized("This token belongs to no agent. Check it, or ask a supervisor for a new one.")
    return agent


def upload_client(
    request: Request,
    store: StoreDep,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """Who may upload a recording: the service token (TRIAGE_UPLOAD_TOKEN) or any agent."""
    expected = request.app.state.runtime.settings.upload_token
    if creds is not None and expected and hmac.compare_digest(creds.credentials, expected):
        return "service"
    return current_agent(request, store, creds).id


CurrentAgent = Annotated[Agent, Depends(current_agent)]


def current_supervisor(agent: CurrentAgent) -> Agent:
    if not is_supervisor(agent):
        raise HTTPException(403, f"Only a supervisor may do this; {agent.name} is an {agent.role}.")
    return agent


Supervisor = Annotated[Agent, Depends(current_supervisor)]


# --- visibility rules (pure: rows in, answer out) ------------------------------------------------
def is_supervisor(agent: Agent) -> bool:
    return agent.role == "supervisor"


def skills(agent: Agent) -> AgentSkills:
    return AgentSkills(agent.id, agent.status, tuple(agent.topics or ()), tuple(agent.languages or ()))


def may_take(agent: Agent, handoff: Handoff) -> bool:
    """A waiting handoff that matches the agent's skills (emergencies match everyone)."""
    if handoff.status != "waiting":
        return False
    if is_supervisor(agent):
        return True
    return transfer_allows(handoff, agent.id) and agent_can_take(skills(agent), handoff_queue_item(handoff))


def may_see(agent: Agent, handoff: Handoff) -> bool:
    return is_supervisor(agent) or handoff.agent_id == agent.id or may_take(agent, handoff)


def check_may_see(agent: Agent, handoff: Handoff) -> None:
    if not may_see(agent, handoff):
        raise HTTPException(
            403,
            f"Handoff {handoff.id} is not yours to see: it is {handoff.status}"
            + (" and outside your topics and languages." if handoff.status == "waiting" else "."),
        )


def handoffs_of_calls(
    store: Store, call_ids: list[str] | None = None, number: str | None = None
) -> list[Handoff]:
    """Handoffs of the given calls, or of every call from one caller number."""
    with store.session() as s:
        q = select(Handoff)
        if call_ids is not None:
            q = q.where(Handoff.call_id.in_(call_ids))
        if number is not None:
            q = q.join(Call, Call.id == Handoff.call_id).where(Call.caller_number == number)
        return list(s.scalars(q))


def may_see_callback(agent: Agent, task: Callback) -> bool:
    """Supervisors see every call-back task and an agent the ones they closed; an open emergency
    reaches everyone (anyone may ring back a person in danger), an urgent one matching skills."""
    if is_supervisor(agent) or task.agent_id == agent.id:
        return True
    item = QueueItem(task.id, task.urgency, task.created_at, task.topic, task.language)
    return task.status == "open" and agent_can_take(skills(agent), item)


def check_may_see_callback(agent: Agent, task: Callback) -> None:
    if not may_see_callback(agent, task):
        raise HTTPException(
            403,
            f"Call-back {task.id} is not yours to see: it is {task.status}"
            + (" and outside your topics and languages." if task.status == "open" else "."),
        )


def may_see_call(store: Store, agent: Agent, call_id: str) -> bool:
    """Through any handoff or call-back task of that call the agent may see."""
    if is_supervisor(agent) or any(may_see(agent, h) for h in handoffs_of_calls(store, [call_id])):
        return True
    with store.session() as s:
        tasks = list(s.scalars(select(Callback).where(Callback.call_id == call_id)))
    return any(may_see_callback(agent, t) for t in tasks)


def check_may_see_call(store: Store, agent: Agent, call_id: str) -> None:
    store.get_call(call_id)  # 404 before 403: an unknown id is reported as unknown
    if not may_see_call(store, agent, call_id):
        raise HTTPException(
            403,
            f"Call {call_id} is not yours to see: it has no handoff in your queue or accepted by you, "
            "and no call-back task of yours.",
        )
