"""WebSocket ``/v1/agents/stream``: the live feed behind the agent console.

Sign in with the ``token.<token>`` subprotocol (``new WebSocket(url, ["triage.v1", "token." + t])``)
or a first ``{"type": "auth", "token": ...}`` message; ``?token=`` is refused (URLs reach logs).
A page from a foreign origin is refused (TRIAGE_ALLOWED_ORIGINS; close 4403), and an address with
too many failed sign-ins waits (``status`` 429, close 4429). See docs/security.md.

Server -> client JSON messages (the client may send ``{"type": "ping"}`` and gets ``pong``):

- ``hello``: ``{agent, waiting, accepted}``, the same body as GET /v1/agents/queue, on connect.
- ``handoff.created``: ``{handoff, position, top}`` for a new handoff this agent may take; ``top``
  is true when it went straight to the head of their queue (an emergency).
- ``handoff.updated``: ``{handoff}`` when a handoff the agent may see is accepted or resolved.
- ``queue``: the whole queue again after anything that changes it (coalesced per burst).
- ``transcript``: ``{call_id, handoff_id, utterance: {seq, speaker, text, language}}`` for each
  new line of a call whose handoff the agent may see: the transcript grows live while the caller waits.
- ``call.ended``: ``{call_id, handoff_id, reason}``.
- ``workorder.changed``: ``{work_order_id}``: re-read GET /v1/workorders.
- ``callback.created``: ``{callback, alert}`` for a new call-back task this agent may see (every
  emergency; urgent ones matching their skills; all for supervisors); ``alert`` is true for an
  emergency: sound the alarm. ``callback.updated`` (an unanswered attempt was logged) and
  ``callback.closed`` (an outcome closed it: drop it from the list) carry ``{callback}``.

A bad or missing token gets an ``error`` message, then the socket closes with code 4401.
Messages the agent may not see are never sent. On reconnect, ``hello`` re-syncs everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from sqlalchemy import select

from api.agents import queue_view, summary_of
from api.auth import (
    authenticate,
    handoffs_of_calls,
    is_supervisor,
    may_see,
    may_see_callback,
    may_take,
    skills,
)
from api.callbacks import summary_of as callback_summary
from api.signin_guard import first_message_token, origin_allowed, signin_guard, ws_token_from_subprotocols
from core.redaction import mask_pii
from pipeline.bus import BusMessage
from pipeline.callbacks import Callbacks
from pipeline.db import Agent, Handoff, Utterance
from pipeline.routing import QueueItem, agent_can_take
from pipeline.store import NotFoundError, Store

router = APIRouter(tags=["agents"])
log = logging.getLogger(__name__)

CALLBACK_TOPICS = frozenset({"callback.created", "callback.updated", "callback.closed"})
SUPERVISION_TOPICS = frozenset(
    {
        "storm.detected",
        "storm.updated",
        "incident.published",
        "incident.ended",
        "incident.call",
        "workorder.overdue",
    }
)


def supervision_event(agent: Agent, topic: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """Storm alerts reach supervisors; incident notices every agent; an overdue work order (催办)
    supervisors and the agent it is assigned to (docs/supervisors.md)."""
    if topic.startswith("storm.") and not is_supervisor(agent):
        return None
    owner = (data.get("order") or {}).get("assigned_to")
    if topic == "workorder.overdue" and not (is_supervisor(agent) or owner == agent.id):
        return None
    return {"type": topic, **data}


QUEUE_TOPICS = frozenset(
    {"handoff.created", "handoff.updated", "queue.changed", "call.ended", "agent.status"}
)


class AgentRelay:
    """Turns bus messages into what one agent may see. Synchronous (it reads the store); the
    socket runs it in a worker thread."""

    def __init__(self, store: Store, agent_id: str, token_sha256: str | None = None) -> None:
        self.store = store
        self.agent_id = agent_id
        self.token_sha256 = token_sha256

    def process(self, batch: list[BusMessage]) -> list[dict[str, Any]]:
        try:
            agent = self.store.get_agent(self.agent_id)  # fresh: skills or role may have changed
        except NotFoundError:
            return [{"type": "error", "status": 401, "message": "Your agent record was removed."}]
        if agent.disabled_at is not None or (self.token_sha256 and agent.token_sha256 != self.token_sha256):
            return [
                {
                    "type": "error",
                    "status": 401,
                    "message": "Your token was disabled or replaced; sign in again. 令牌已停用或更换。",
                }
            ]
        out: list[dict[str, Any]] = []
        queue_dirty = False
        for message in batch:
            data = message.data
            if message.topic == "transcript.appended":
                line = self._transcript(agent, data)
                if line:
                    out.append(line)
            elif message.topic in ("handoff.created", "handoff.updated"):
                event = self._handoff(agent, message.topic, data)
                if event:
                    out.append(event)
            elif message.topic in ("workorder.created", "workorder.updated"):
                # Only the id: the console re-reads its list, which the REST API filters by role.
                out.append({"type": "workorder.changed", "work_order_id": data.get("work_order_id")})
            elif message.topic in CALLBACK_TOPICS:
                event = self._callback(agent, message.topic, data)
                if event:
                    out.append(event)
            elif message.topic in SUPERVISION_TOPICS:
                event = supervision_event(agent, message.topic, data)
                if event:
                    out.append(event)
            elif message.topic == "call.ended":
                out.append(
                    {
                        "type": "call.ended",
                        "call_id": data.get("call_id"),
                        "handoff_id": data.get("handoff_id"),
                        "reason": data.get("reason"),
                    }
                )
            queue_dirty |= message.topic in QUEUE_TOPICS
        if queue_dirty:
            out.append({"type": "queue", **queue_view(self.store, agent).model_dump(mode="json")})
        return out

    def _handoff(self, agent: Agent, topic: str, data: dict[str, Any]) -> dict[str, Any] | None:
        handoff_id = data.get("handoff_id") or data.get("id")
        if not handoff_id:
            return None
        try:
            handoff = self.store.get_handoff(str(handoff_id))
        except NotFoundError:
            return None
        if not may_see(agent, handoff):
            return None
        summary = summary_of(self.store, handoff).model_dump(mode="json")
        if topic == "handoff.updated":
            return {"type": "handoff.updated", "handoff": summary}
        if not may_take(agent, handoff):
            return None
        ids = [
            h.id for h in (self.store.waiting() if is_supervisor(agent) else self.store.queue_for(agent.id))
        ]
        position = ids.index(handoff.id) + 1 if handoff.id in ids else None
        summary["position"] = position
        return {"type": "handoff.created", "handoff": summary, "position": position, "top": position == 1}

    def _callback(self, agent: Agent, topic: str, data: dict[str, Any]) -> dict[str, Any] | None:
        try:
            task = Callbacks(self.store).get(str(data.get("callback_id")))
        except NotFoundError:
            return None
        # Whoever had the open task on screen hears that it closed, even when someone else closed it.
        item = QueueItem(task.id, task.urgency, task.created_at, task.topic, task.language)
        if not (may_see_callback(agent, task) or agent_can_take(skills(agent), item)):
            return None
        event: dict[str, Any] = {
            "type": topic,
            "callback": callback_summary(self.store, task).model_dump(mode="json"),
        }
        if topic == "callback.created":
            event["alert"] = task.urgency == "emergency" and task.status == "open"
        return event

    def _transcript(self, agent: Agent, data: dict[str, Any]) -> dict[str, Any] | None:
        call_id = data.get("call_id")
        handoff_id = data.get("handoff_id")
        handoffs: list[Handoff] = []
        if handoff_id:
            with contextlib.suppress(NotFoundError):
                handoffs = [self.store.get_handoff(str(handoff_id))]
        elif call_id:
            handoffs = handoffs_of_calls(self.store, [str(call_id)])
        if handoffs:
            call_id = call_id or handoffs[0].call_id
        if not call_id or not (is_supervisor(agent) or any(may_see(agent, h) for h in handoffs)):
            return None
        seq = data.get("seq") or self._seq(str(call_id), data.get("speaker"), data.get("text"))
        return {
            "type": "transcript",
            "call_id": call_id,
            "handoff_id": handoff_id or (handoffs[-1].id if handoffs else None),
            "utterance": jsonable_encoder(
                {
                    "seq": seq,
                    "speaker": data.get("speaker", "caller"),
                    "text": mask_pii(str(data.get("text", ""))),
                    "language": data.get("language"),
                }
            ),
        }

    def _seq(self, call_id: str, speaker: Any, text: Any) -> int | None:
        # The session stores a line before publishing it; its seq lets the console drop a line it
        # already loaded over REST.
        with self.store.session() as s:
            return s.scalar(
                select(Utterance.seq)
                .where(Utterance.call_id == call_id, Utterance.speaker == speaker, Utterance.text == text)
                .order_by(Utterance.seq.desc())
                .limit(1)
            )


@router.websocket("/v1/agents/stream")
async def agent_stream(ws: WebSocket) -> None:
    runtime = getattr(ws.app.state, "runtime", None)
    offered, header_token = ws_token_from_subprotocols(ws.scope.get("subprotocols") or [])
    await ws.accept(subprotocol=offered)
    if runtime is None:
        await ws.send_json({"type": "error", "status": 503, "message": "The service is still starting."})
        await ws.close(1013)
        return
    if not origin_allowed(ws.headers, runtime.settings.allowed_origins):
        await ws.send_json(
            {
                "type": "error",
                "status": 403,
                "message": "This page's origin may not open the agents' stream "
                "(TRIAGE_ALLOWED_ORIGINS). 此来源不允许连接坐席事件流。",
            }
        )
        await ws.close(4403, "origin")
        return
    if "token" in ws.query_params:  # URLs reach access logs and proxies: refused, never checked
        await ws.send_json(
            {
                "type": "error",
                "status": 400,
                "message": "Tokens in URLs are not accepted (they reach logs): send the 'token.<token>' "
                'subprotocol or a first {"type": "auth", "token": ...} message. '
                "不接受 URL 中的令牌（会进入日志）：请用 token.<令牌> 子协议或首条 auth 消息。",
            }
        )
        await ws.close(4400, "token in URL")
        return
    token = header_token or await first_message_token(ws)
    guard = signin_guard(ws.app, runtime.settings)
    client = ws.client.host if ws.client else "?"
    wait = guard.retry_after(client)
    if wait:
        await ws.send_json(
            {
                "type": "error",
                "status": 429,
                "retry_after": wait,
                "message": f"Too many failed sign-ins; retry in {wait} s. 登录失败过多，{wait} 秒后再试。",
            }
        )
        await ws.close(4429, "rate limited")
        return
    agent = await run_in_threadpool(authenticate, runtime.store, token)
    if agent is None:
        guard.failed(client)
        await ws.send_json(
            {
                "type": "error",
                "status": 401,
                "message": "Send your agent token as the 'token.<token>' subprotocol or a first "
                '{"type": "auth", "token": ...} message; this token belongs to no agent or is disabled.',
            }
        )
        await ws.close(4401, "unauthorized")
        return
    relay = AgentRelay(runtime.store, agent.id, agent.token_sha256)
    # Subscribe before the snapshot, so nothing published in between is lost.
    async with runtime.bus.subscribe() as sub:
        hello = await run_in_threadpool(queue_view, runtime.store, agent)
        await ws.send_json({"type": "hello", **hello.model_dump(mode="json")})

        async def pump() -> None:
            while True:
                batch = [await sub.get()]
                while not sub.queue.empty():
                    batch.append(sub.queue.get_nowait())
                for message in await run_in_threadpool(relay.process, batch):
                    await ws.send_json(message)
                    if message.get("type") == "error" and message.get("status") == 401:
                        await ws.close(4401, "unauthorized")
                        return

        async def listen() -> None:
            while True:
                incoming = await ws.receive()
                if incoming["type"] == "websocket.disconnect":
                    raise WebSocketDisconnect(incoming.get("code", 1000))
                text = incoming.get("text")
                if text is None:  # a binary frame: nothing to do with it, say so and go on
                    await ws.send_json(
                        {"type": "error", "status": 400, "message": 'Send JSON text, e.g. {"type": "ping"}.'}
                    )
                elif len(text) <= 1024 and '"ping"' in text:
                    await ws.send_json({"type": "pong"})

        tasks = [asyncio.create_task(pump()), asyncio.create_task(listen())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                exc = task.exception()
                if exc and not isinstance(exc, WebSocketDisconnect | RuntimeError | ValueError):
                    raise exc
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(Exception):
                await ws.close()
