"""The service calls a person's phone (an agent extension or ACD queue on the PBX) as a SIP user
agent client, and joins the answered call to a caller's call session as an agent leg: the bridge
mode of a transfer, so transcription and recording go on after the transfer (transfer.py).

The agent leg speaks PCM16 16 kHz to the session (pipeline/legs.py BRIDGE_RATE); on the wire it is
the G.711 codec the agent's phone chose from our offer. The call and handoff ids travel in
``X-Triage-Call-Id`` / ``X-Triage-Handoff-Id`` headers of the INVITE, and in ``User-to-User``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from core.codec import alaw_decode, alaw_encode, float_to_pcm16_bytes, mulaw_encode, pcm16_bytes_to_float
from pipeline.bridge import StreamConverter
from pipeline.legs import BRIDGE_RATE
from transport.sip import message as sip
from transport.sip.call import Peer
from transport.sip.rtp import RtpStream
from transport.sip.sdp import MediaChoice, SdpError, choose, offer, parse_offer

log = logging.getLogger(__name__)

ANSWER_TIMEOUT_S = 30.0
"""How long the agent's phone may ring before the transfer counts as failed."""


class AgentCallError(RuntimeError):
    """The agent's phone did not answer (busy, declined, unreachable, no common codec)."""


class AgentCall:
    """One outbound call to a person's phone, bridged into a caller's call session."""

    def __init__(
        self,
        destination: str,
        peer: Peer,
        contact: str,
        via_host: str,
        client: Callable[[sip.SipMessage, Peer], asyncio.Future[sip.SipMessage]],
        open_rtp: Callable[[RtpStream], Awaitable[RtpStream]],
        public_host: str,
    ) -> None:
        self.destination = destination
        self.peer = peer
        self.contact = contact
        self.via_host = via_host
        self._client = client
        self._open_rtp = open_rtp
        self._public_host = public_host
        self.call_id = sip.new_tag() + sip.new_tag() + "@triage"
        self.local_tag = sip.new_tag()
        self.remote_to = ""
        self.remote_target = destination
        self.cseq = 1
        self.rtp: RtpStream | None = None
        self.choice: MediaChoice | None = None
        self.on_audio: Callable[[bytes], Awaitable[None]] | None = None
        """Where the agent's voice goes: PCM16 16 kHz (CallSession.agent_audio for this party)."""
        self.hung_up = asyncio.Event()
        """The agent's phone sent BYE."""
        self._inbound: StreamConverter | None = None
        self._outbound = StreamConverter(BRIDGE_RATE, "pcm16", 8000, "pcm16")
        self._odd = b""

    def _request(
        self, method: str, cseq: int, headers: list[tuple[str, str]], body: bytes = b""
    ) -> sip.SipMessage:
        transport = "TCP" if self.peer.reliable else "UDP"
        request = sip.SipMessage(method=method, uri=self.remote_target, body=body)
        request.headers = [
            ("via", f"SIP/2.0/{transport} {self.via_host};branch={sip.new_branch()};rport"),
            ("max-forwards", "70"),
            ("from", f"<{self.contact}>;tag={self.local_tag}"),
            ("to", self.remote_to or f"<{self.destination}>"),
            ("call-id", self.call_id),
            ("cseq", f"{cseq} {method}"),
            ("contact", f"<{self.contact}>"),
            *headers,
        ]
        return request

    async def dial(self, call_id: str, handoff_id: str) -> None:
        """Ring the agent; returns once answered (media flowing), raises AgentCallError otherwise."""
        stream = RtpStream(0, 0xFF, self._payload, _no_digit, None)
        self.rtp = await self._open_rtp(stream)
        body = offer(self._public_host, self.rtp.local_port)
        ids = [
            ("x-triage-call-id", call_id),
            ("x-triage-handoff-id", handoff_id),
            ("user-to-user", user_to_user(call_id, handoff_id)),
        ]
        invite = self._request("INVITE", self.cseq, [*ids, ("content-type", "application/sdp")], body)
        try:
            reply = await asyncio.wait_for(self._client(invite, self.peer), ANSWER_TIMEOUT_S)
        except TimeoutError as e:
            raise AgentCallError(f"{self.destination} did not answer within {ANSWER_TIMEOUT_S:.0f} s") from e
        if not 200 <= reply.status < 300:
            raise AgentCallError(f"{self.destination} answered {reply.status} {reply.reason}")
        self.remote_to = reply.get("to")
        contact = reply.get("contact")
        if contact:
            self.remote_target = sip.header_uri(contact)
        ack = self._request("ACK", self.cseq, [])
        self.peer.send(ack.to_bytes())
        try:
            self.choice = choose(parse_offer(reply.body))
        except SdpError as e:
            await self.hang_up()
            raise AgentCallError(f"{self.destination} answered with unusable SDP: {e}") from e
        self._inbound = StreamConverter(
            8000, "mulaw" if self.choice.codec == "PCMU" else "pcm16", BRIDGE_RATE, "pcm16"
        )
        self.rtp.payload_type = self.choice.payload_type
        self.rtp.set_silence(0xFF if self.choice.codec == "PCMU" else 0xD5)
        self.rtp.start((self.choice.address, self.choice.port))

    async def send_audio(self, pcm16k: bytes) -> None:
        """The caller's (and bot's) audio to the agent's phone: PCM16 16 kHz in, G.711 8 kHz out."""
        if self.rtp is None or self.choice is None or self.hung_up.is_set():
            return
        data = self._odd + pcm16k
        cut = len(data) - len(data) % 2
        data, self._odd = data[:cut], data[cut:]
        samples = pcm16_bytes_to_float(self._outbound(data))
        self.rtp.push(mulaw_encode(samples) if self.choice.codec == "PCMU" else alaw_encode(samples))

    async def _payload(self, payload: bytes) -> None:
        if self.choice is None or self.on_audio is None or self._inbound is None:
            return
        if self.choice.codec == "PCMA":
            payload = float_to_pcm16_bytes(alaw_decode(payload))
        pcm = self._inbound(payload)
        if pcm:
            await self.on_audio(pcm)

    def bye_received(self, request: sip.SipMessage) -> None:
        self.peer.send(sip.response(request, 200, "OK").to_bytes())
        self.hung_up.set()

    async def hang_up(self) -> None:
        if not self.hung_up.is_set() and self.remote_to:
            self.hung_up.set()
            self.cseq += 1
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._client(self._request("BYE", self.cseq, []), self.peer), 8.0)
        self.hung_up.set()
        if self.rtp is not None:
            await self.rtp.close()


def user_to_user(call_id: str, handoff_id: str) -> str:
    """User-to-User (RFC 7433): the ids as hex text, for PBXs that pass UUI and not X-headers."""
    return f"{f'triage;call={call_id};handoff={handoff_id}'.encode().hex()};encoding=hex"


async def _no_digit(_: str) -> None:
    return None
