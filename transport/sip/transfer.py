"""Handing a SIP caller to a person over the phone system (docs/telephony.md, "Transfer").

When a SIP call is handed to a person, the first configured route (TRIAGE_SIP_TRANSFERS) matching
the handoff's urgency and topic decides where and how, after the caller has heard the bot say so:

- ``refer``: a blind transfer. REFER asks the caller's side (the PBX) to call the destination;
  the Refer-To URI carries ``X-Triage-Call-Id`` and ``X-Triage-Handoff-Id`` headers for the new
  INVITE. Once accepted the service leaves the call (its record ends as ``transferred``).
- ``bridge``: the service calls the destination itself (agent_leg.py, the ids in X-headers and
  User-to-User of its INVITE) and joins the answered phone to the call as an agent leg, so the
  transcript and the recording go on; when the agent hangs up, the caller hears goodbye.

With a route's ``agent_id`` the handoff is marked accepted by that agent, so the console shows the
caller as theirs. No matching route: the caller waits for an agent at the console, as on any call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from core.settings import SipTransferRoute
from pipeline.legs import Leg
from pipeline.session import CallSession
from transport.sip import message as sip
from transport.sip.agent_leg import AgentCall, AgentCallError, user_to_user
from transport.sip.call import Peer
from transport.sip.rtp import RtpStream

if TYPE_CHECKING:
    from transport.sip.call import SipCall

log = logging.getLogger(__name__)

SAY_FIRST_S = 15.0
"""How long the bot's "connecting you to a person" may play before the transfer starts."""


def pick_route(routes: list[SipTransferRoute], urgency: str, topic: str | None) -> SipTransferRoute | None:
    for route in routes:
        if route.urgency not in (None, urgency):
            continue
        if route.skill not in (None, topic):
            continue
        return route
    return None


class TransferDesk:
    """What a SIP call needs to transfer its caller: the routes and the server's means to send."""

    def __init__(
        self,
        routes: list[SipTransferRoute],
        peer_for: Callable[[str], Peer],
        client: Callable[[sip.SipMessage, Peer], asyncio.Future[sip.SipMessage]],
        open_rtp: Callable[[RtpStream], Awaitable[RtpStream]],
        outbound: dict[str, AgentCall],
        contact: Callable[[], str],
        via_host: Callable[[], str],
        public_host: str,
    ) -> None:
        self.routes = routes
        self._peer_for = peer_for
        self._client = client
        self._open_rtp = open_rtp
        self._outbound = outbound
        self._contact = contact
        self._via_host = via_host
        self._public_host = public_host

    async def on_handoff(self, call: SipCall, handoff_id: str, urgency: str) -> None:
        session = call.session
        if session is None or not self.routes:
            return
        store = session.ctx.services.store
        handoff = await session.ctx.work(store.get_handoff, handoff_id)
        route = pick_route(self.routes, urgency, handoff.topic)
        if route is None:
            return
        if call.rtp is not None:
            await asyncio.sleep(0.5)  # the bot's words are queued a moment after the handoff event
            await call.rtp.drain(SAY_FIRST_S)
        if session.ended:
            return
        log.info(
            "SIP call %s: handoff %s goes to %s (%s)", call.call_id, handoff_id, route.destination, route.mode
        )
        try:
            if route.mode == "refer":
                await self._refer(call, session, route, handoff_id)
            else:
                await self._bridge(call, session, route, handoff_id)
        except Exception:
            log.exception("SIP call %s: transfer to %s failed", call.call_id, route.destination)

    async def _refer(
        self, call: SipCall, session: CallSession, route: SipTransferRoute, handoff_id: str
    ) -> None:
        target = f"<{route.destination}?X-Triage-Call-Id={session.call_id}&X-Triage-Handoff-Id={handoff_id}>"
        request = call.next_request(
            "REFER",
            [
                ("refer-to", target),
                ("referred-by", f"<{call.contact}>"),
                ("user-to-user", user_to_user(session.call_id, handoff_id)),
            ],
        )
        reply = await asyncio.wait_for(self._client(request, call.peer), 8.0)
        if not 200 <= reply.status < 300:
            log.warning("SIP call %s: REFER to %s refused: %d", call.call_id, route.destination, reply.status)
            await _decision(
                session, "transfer_failed", f"REFER to {route.destination}: {reply.status} {reply.reason}"
            )
            return
        call.refer_accepted = True
        await _decision(session, "transferred", f"blind transfer (REFER) to {route.destination}")
        await _assign(session, handoff_id, route.agent_id, "phone_transfer")
        call.transferred.set()

    async def _bridge(
        self, call: SipCall, session: CallSession, route: SipTransferRoute, handoff_id: str
    ) -> None:
        agent = AgentCall(
            route.destination,
            self._peer_for(route.destination),
            self._contact(),
            self._via_host(),
            self._client,
            self._open_rtp,
            self._public_host,
        )
        self._outbound[agent.call_id] = agent
        try:
            await agent.dial(session.call_id, handoff_id)
        except AgentCallError as e:
            self._outbound.pop(agent.call_id, None)
            await agent.hang_up()
            log.warning("SIP call %s: %s", call.call_id, e)
            await _decision(session, "transfer_failed", str(e))
            return
        call.agent_calls.append(agent)
        party = route.agent_id or route.destination
        await _decision(session, "transferred", f"bridged to {route.destination}")
        await _assign(session, handoff_id, route.agent_id, "phone_bridge")
        agent.on_audio = lambda pcm: session.agent_audio(party, pcm)
        await session.connect_agent(Leg("agent", agent.send_audio, party_id=party))
        await agent.hung_up.wait()
        self._outbound.pop(agent.call_id, None)
        if not session.ended:
            await session.disconnect_agent(party, end_call=True)
        await agent.hang_up()


async def _decision(session: CallSession, action: str, reason: str) -> None:
    ctx = session.ctx
    with contextlib.suppress(Exception):
        await ctx.work(ctx.services.store.add_decision, ctx.call_id, action, reason)


async def _assign(session: CallSession, handoff_id: str, agent_id: str | None, reason: str) -> None:
    """The console shows the handoff as taken by the agent who answers at the destination."""
    if not agent_id:
        return
    ctx = session.ctx
    store, bus = ctx.services.store, ctx.services.bus
    try:
        handoff = await ctx.work(store.accept_handoff, handoff_id, agent_id)
        agent = await ctx.work(store.get_agent, agent_id)
    except (ValueError, LookupError) as e:
        log.warning("handoff %s could not be assigned to agent %s: %s", handoff_id, agent_id, e)
        return
    bus.publish(
        "handoff.updated",
        handoff_id=handoff.id,
        call_id=handoff.call_id,
        status=handoff.status,
        agent_id=agent.id,
        agent_name=agent.name,
        reason=reason,
    )
    bus.publish("queue.changed", reason=f"handoff.{handoff.status}", handoff_id=handoff.id)
