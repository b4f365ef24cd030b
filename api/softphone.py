"""The agent's softphone and the supervisor's listen-in: a browser's WebRTC peer joins a live call.

After Accept, the console sends its non-trickle SDP offer to ``POST /v1/agents/handoffs/{id}/rtc``
and gets the answer: its microphone reaches the caller, the caller reaches its speaker
(pipeline/bridge.py). Controls act on that leg: mute, hold, hang up (the caller hears goodbye, the
call ends, the handoff stays accepted for the agent to resolve), warm transfer (the caller hears
"transferring", the handoff waits again for one agent or a topic skill, with a note). When the
agent's peer drops without a hang-up, the caller hears "agent_lost" and the handoff waits again at
its old place: the call is not lost. A supervisor listens to a live call with a receive-only offer.

Calls live in this process (pipeline/live_calls.py): with several instances, issue #15 routes
the request to the one holding the call. Every change is committed before the response, then
published on the bus (``handoff.updated``, ``queue.changed``) so consoles update.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from api.agent_models import HandoffSummary
from api.agents import NOT_FOUND, summary_of
from api.auth import BusDep, CurrentAgent, StoreDep, Supervisor, is_supervisor
from api.deps import get_runtime
from api.softphone_models import HoldIn, MuteIn, PhoneState, SdpAnswer, SdpOffer, TransferIn
from pipeline.bus import EventBus
from pipeline.db import Agent, Handoff
from pipeline.legs import Leg
from pipeline.runtime import Runtime
from pipeline.session import CallSession
from pipeline.store import Store
from transport.webrtc import RtcOfferError, RtcOptions, RtcPeer

log = logging.getLogger(__name__)
LIVE = RtcOptions(live_latency_s=0.2)
"""An agent or supervisor hears a live voice: at most 200 ms queued, older audio is dropped."""
router = APIRouter(prefix="/v1/agents", tags=["softphone"])

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
CALL_WATCH_S = 0.5
"""How often a connected peer checks that its call is still live (then it is closed)."""


@dataclass
class Phone:
    """One browser peer on one call: an agent's leg or a supervisor's listener leg."""

    peer: RtcPeer
    session: CallSession
    party_id: str
    role: Literal["agent", "listener"]
    deliberate: bool = False
    """Closed on purpose (hang-up, transfer, a new offer, the call ended): not a dropped agent."""
    watch: asyncio.Task[None] | None = field(default=None, repr=False)

    async def end(self, reason: str) -> None:
        self.deliberate = True
        await self.peer.close(reason)


class Phones:
    """The connected peers of this process, by (call id, party id)."""

    def __init__(self) -> None:
        self.by_party: dict[tuple[str, str], Phone] = {}

    def get(self, call_id: str, party_id: str) -> Phone | None:
        return self.by_party.get((call_id, party_id))


def get_phones(request: Request) -> Phones:
    phones: Phones | None = getattr(request.app.state, "softphones", None)
    if phones is None:
        phones = request.app.state.softphones = Phones()
    return phones


PhonesDep = Annotated[Phones, Depends(get_phones)]


# --- rules ---------------------------------------------------------------------------------------
def check_may_talk(agent: Agent, handoff: Handoff) -> None:
    """Only the agent who accepted the handoff, or a supervisor, talks on its call."""
    if handoff.status != "accepted":
        raise HTTPException(
            409, f"Handoff {handoff.id} is {handoff.status}, not accepted: accept it before connecting."
        )
    if handoff.agent_id != agent.id and not is_supervisor(agent):
        raise HTTPException(409, f"Handoff {handoff.id} was accepted by another agent; only they talk on it.")


def live_session(runtime: Runtime, handoff: Handoff) -> CallSession:
    services = runtime.session_services
    live = services.live_calls if services is not None else None
    session = live.by_handoff(handoff.id) if live is not None else None
    if session is None or session.ended:
        raise HTTPException(
            404,
            f"The call of handoff {handoff.id} is no longer live (the caller hung up, or it is held by "
            "another instance): resolve the handoff or open a work order.",
        )
    return session


def announce(bus: EventBus, handoff: Handoff, reason: str, **extra: Any) -> None:
    bus.publish(
        "handoff.updated",
        handoff_id=handoff.id,
        call_id=handoff.call_id,
        status=handoff.status,
        agent_id=handoff.agent_id,
        reason=reason,
        **extra,
    )
    bus.publish("queue.changed", reason=f"handoff.{reason}", handoff_id=handoff.id)


async def handoff_for_talk(store: Store, handoff_id: str, agent: Agent) -> Handoff:
    handoff: Handoff = await run_in_threadpool(store.get_handoff, handoff_id)
    check_may_talk(agent, handoff)
    return handoff


def my_phone(phones: Phones, session: CallSession, agent: Agent) -> Phone:
    phone = phones.get(session.call_id, agent.id)
    if phone is None or phone.role != "agent" or phone.peer.closed.is_set():
        raise HTTPException(
            409, "Your softphone is not connected to this call: connect it first (POST .../rtc)."
        )
    return phone


@dataclass
class OnCall:
    """The caller's call an agent is on with their softphone: the handoff, the live session, the phone."""

    handoff: Handoff
    session: CallSession
    phone: Phone
    agent: Agent


async def on_call(
    handoff_id: str, agent: CurrentAgent, store: StoreDep, runtime: RuntimeDep, phones: PhonesDep
) -> OnCall:
    handoff = await handoff_for_talk(store, handoff_id, agent)
    session = live_session(runtime, handoff)
    return OnCall(handoff, session, my_phone(phones, session, agent), agent)


OnCallDep = Annotated[OnCall, Depends(on_call)]


# --- watching a connected peer -------------------------------------------------------------------
async def _watch(phone: Phone, phones: Phones, store: Store, bus: EventBus, handoff_id: str) -> None:
    """Until the peer closes: a call that ended closes it; a peer that dropped puts the caller back."""
    session, key = phone.session, (phone.session.call_id, phone.party_id)
    while not phone.peer.closed.is_set():
        if session.ended:
            await phone.end("call_ended")
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(phone.peer.closed.wait(), CALL_WATCH_S)
    if phones.by_party.get(key) is phone:
        del phones.by_party[key]
    if phone.role == "listener":
        session.remove_listener(phone.party_id)
        return
    if phone.deliberate or session.ended:
        return
    log.warning(
        "call %s: agent %s's softphone dropped (%s): the caller waits again",
        session.call_id,
        phone.party_id,
        phone.peer.close_reason,
    )
    await session.disconnect_agent(phone.party_id)
    if session.ended or session.bridge.connected:  # another agent is still on the call
        return
    handoff = await run_in_threadpool(store.requeue_handoff, handoff_id, phone.party_id)
    if handoff is not None:
        announce(bus, handoff, "agent_lost", agent_lost=phone.party_id)
    await session.say("agent_lost")


def _start_watch(phone: Phone, phones: Phones, store: Store, bus: EventBus, handoff_id: str) -> None:
    phone.watch = asyncio.create_task(_watch(phone, phones, store, bus, handoff_id))


async def _answer(peer: RtcPeer, offer: SdpOffer) -> SdpAnswer:
    try:
        answer = await peer.accept(offer.sdp, offer.type)
    except RtcOfferError as e:
        raise HTTPException(422, str(e)) from e
    return SdpAnswer(sdp=answer.sdp, type=answer.type)


# --- routes --------------------------------------------------------------------------------------
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"description": "Not accepted by you, or your softphone is not connected."}
}
GONE: dict[int | str, dict[str, Any]] = {
    404: {"description": "Unknown handoff, or its call is no longer live."}
}


@router.post(
    "/handoffs/{handoff_id}/rtc",
    summary="Connect your browser's microphone and speaker to the caller (WebRTC offer -> answer)",
    responses={**GONE, **CONFLICT, 422: {"description": "The offer cannot be answered; says why."}},
)
async def connect(
    handoff_id: str,
    offer: SdpOffer,
    agent: CurrentAgent,
    store: StoreDep,
    bus: BusDep,
    runtime: RuntimeDep,
    phones: PhonesDep,
) -> SdpAnswer:
    """Send a complete (non-trickle) offer with a microphone track. A second offer from the same
    agent replaces the first peer (a reload of the console). The caller hears "you are connected"."""
    handoff = await handoff_for_talk(store, handoff_id, agent)
    session = live_session(runtime, handoff)
    old = phones.get(session.call_id, agent.id)
    if old is not None:
        await old.end("replaced")
        await session.disconnect_agent(agent.id)
    peer = RtcPeer(options=LIVE)

    async def from_agent(pcm: bytes) -> None:
        await session.agent_audio(agent.id, pcm)

    peer.on_audio = from_agent
    answer = await _answer(peer, offer)
    phone = Phone(peer, session, agent.id, "agent")
    phones.by_party[(session.call_id, agent.id)] = phone
    await session.connect_agent(Leg("agent", peer.send_audio, peer.send_json, party_id=agent.id))
    _start_watch(phone, phones, store, bus, handoff_id)
    return answer


@router.post(
    "/handoffs/{handoff_id}/mute",
    summary="Mute or unmute your microphone",
    responses={**GONE, **CONFLICT},
)
async def mute(body: MuteIn, call: OnCallDep) -> PhoneState:
    call.session.set_mute(call.agent.id, body.muted)
    return _state(call.session, call.agent, call.handoff)


@router.post(
    "/handoffs/{handoff_id}/hold",
    summary="Put the caller on hold (they hear the hold message) or take them off it",
    responses={**GONE, **CONFLICT},
)
async def hold(body: HoldIn, call: OnCallDep) -> PhoneState:
    await call.session.set_hold(body.on)
    return _state(call.session, call.agent, call.handoff)


@router.post(
    "/handoffs/{handoff_id}/hangup",
    summary="Hang up: the caller hears goodbye and the call ends; the handoff stays yours to resolve",
    responses={**GONE, **CONFLICT},
)
async def hangup(call: OnCallDep) -> PhoneState:
    call.phone.deliberate = True
    await call.session.disconnect_agent(call.agent.id, end_call=True)
    await call.phone.end("hung_up")
    return PhoneState(handoff_id=call.handoff.id, call_id=call.handoff.call_id, state="ended")


@router.post(
    "/handoffs/{handoff_id}/transfer",
    summary="Warm transfer to another agent or a topic skill, with a note",
    responses={**GONE, **CONFLICT},
)
async def transfer(
    handoff_id: str,
    body: TransferIn,
    agent: CurrentAgent,
    store: StoreDep,
    bus: BusDep,
    runtime: RuntimeDep,
    phones: PhonesDep,
) -> HandoffSummary:
    """The caller hears "transferring" and waits at their place for the next agent, who sees your
    note and the transcript before accepting. Your softphone is disconnected."""
    handoff = await handoff_for_talk(store, handoff_id, agent)
    session = live_session(runtime, handoff)
    if body.to_agent_id is not None:
        target: Agent = await run_in_threadpool(store.get_agent, body.to_agent_id)  # 404 when unknown
        if target.id == handoff.agent_id:
            raise HTTPException(409, "That agent already has the call: choose another agent or a topic.")
    on_call = [p for (call, _), p in phones.by_party.items() if call == session.call_id and p.role == "agent"]
    for phone in on_call:
        phone.deliberate = True
    try:
        moved = await run_in_threadpool(
            store.transfer_handoff,
            handoff.id,
            handoff.agent_id or agent.id,
            body.note.strip(),
            to_agent_id=body.to_agent_id,
            to_topic=body.topic,
        )
    except ValueError as e:
        raise HTTPException(409, str(e)) from e
    for phone in on_call:  # everyone talking with the caller leaves; the next agent takes over
        await session.disconnect_agent(phone.party_id)
        await phone.end("transferred")
    await session.say("transferring")
    announce(bus, moved, "transferred", by=agent.id, agent_name=agent.name)
    bus.publish(
        "handoff.created",
        handoff_id=moved.id,
        call_id=moved.call_id,
        urgency=moved.urgency,
        reason="transfer",
    )
    return await run_in_threadpool(summary_of, store, moved)


@router.post(
    "/calls/{call_id}/listen",
    summary="Listen in on a live call (supervisors; a receive-only WebRTC offer -> answer)",
    responses={
        **NOT_FOUND,
        403: {"description": "Only supervisors listen in."},
        422: {"description": "The offer cannot be answered; says why."},
    },
)
async def listen(
    call_id: str,
    offer: SdpOffer,
    supervisor: Supervisor,
    store: StoreDep,
    bus: BusDep,
    runtime: RuntimeDep,
    phones: PhonesDep,
) -> SdpAnswer:
    """You hear the caller and the agent mixed; nothing you say reaches the call. Close the peer
    (or POST .../listen/stop) to stop."""
    services = runtime.session_services
    session = services.live_calls.get(call_id) if services and services.live_calls else None
    if session is None or session.ended:
        raise HTTPException(404, f"Call {call_id} is not live in this service: nothing to listen to.")
    old = phones.get(call_id, supervisor.id)
    if old is not None:
        await old.end("replaced")
    peer = RtcPeer(options=LIVE)  # what the supervisor's microphone sends, if anything, is dropped
    answer = await _answer(peer, offer)
    phone = Phone(peer, session, supervisor.id, "listener")
    phones.by_party[(call_id, supervisor.id)] = phone
    session.add_listener(Leg("listener", peer.send_audio, peer.send_json, party_id=supervisor.id))
    _start_watch(phone, phones, store, bus, session.handoff_id or "")
    return answer


@router.post(
    "/calls/{call_id}/listen/stop",
    summary="Stop listening in (supervisors)",
    responses={403: {"description": "Only supervisors listen in."}},
)
async def stop_listening(call_id: str, supervisor: Supervisor, phones: PhonesDep) -> dict[str, bool]:
    phone = phones.get(call_id, supervisor.id)
    if phone is None or phone.role != "listener":
        return {"stopped": False}
    await phone.end("stopped")
    phone.session.remove_listener(supervisor.id)
    return {"stopped": True}


def _state(session: CallSession, agent: Agent, handoff: Handoff) -> PhoneState:
    leg = session.bridge.agents.get(agent.id)
    muted = bool(leg and leg.muted)
    on_hold = session.bridge.on_hold
    state: Literal["connected", "on_hold", "muted"] = (
        "on_hold" if on_hold else "muted" if muted else "connected"
    )
    return PhoneState(
        handoff_id=handoff.id, call_id=handoff.call_id, state=state, muted=muted, on_hold=on_hold
    )
