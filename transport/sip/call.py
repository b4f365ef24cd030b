"""One answered SIP call (a dialog, RFC 3261 section 12) as the caller leg of a ``CallSession``.

The caller's RTP payloads go to the session in the call's own format (PCMU as mu-law 8 kHz; PCMA
decoded to PCM16 8 kHz); the bot's voice comes back in the matching output format and leaves as
paced RTP; ``playback_stopped`` (barge-in) drops what is queued. Keypad digits (RFC 4733 or SIP
INFO) go to ``CallSession.dtmf``. Whoever ends the call, the session closes and keeps its records:
a BYE from the caller, the bot's goodbye (the service sends BYE once the goodbye has played), a
CANCEL before the answer, or a 200 OK never acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.codec import alaw_decode, alaw_encode, float_to_pcm16_bytes, pcm16_bytes_to_float
from pipeline.session import CallSession, CallStart, SessionServices
from transport.sip import message as sip
from transport.sip.rtp import RtpStream
from transport.sip.sdp import MediaChoice

if TYPE_CHECKING:
    from transport.sip.agent_leg import AgentCall
    from transport.sip.transfer import TransferDesk

log = logging.getLogger(__name__)

GOODBYE_DRAIN_S = 15.0
"""When the bot ends the call, how long its last words may still play before the BYE."""
T1 = 0.5
"""RFC 3261 timer T1: first retransmission interval over UDP."""
ACK_TIMEOUT_S = 32.0
"""Timer H: a 200 OK never acknowledged for this long ends the call."""


@dataclass
class Peer:
    """Where the call's signalling goes: the address it came from and how to send there."""

    address: tuple[str, int]
    send: Callable[[bytes], None]
    reliable: bool = False
    """TCP: no retransmissions."""


class SipCall:
    def __init__(
        self,
        invite: sip.SipMessage,
        peer: Peer,
        choice: MediaChoice,
        contact: str,
        via_host: str,
        client: Callable[[sip.SipMessage, Peer], asyncio.Future[sip.SipMessage]],
        desk: TransferDesk | None = None,
    ) -> None:
        self.invite = invite
        self.desk = desk
        self.transferred = asyncio.Event()
        """A blind transfer (REFER) was accepted and recorded: the service leaves the call."""
        self.refer_accepted = False
        """The PBX answered our REFER 2xx (set at once, before ``transferred``'s records are written)."""
        self.notified = asyncio.Event()
        """The transfer target answered (NOTIFY with a 2xx sipfrag)."""
        self.agent_calls: list[AgentCall] = []
        self._transfer: asyncio.Task[None] | None = None
        self.peer = peer
        self.choice = choice
        self.local_tag = sip.new_tag()
        self.contact = contact
        self.via_host = via_host
        self._client = client
        self.rtp: RtpStream | None = None
        self.session: CallSession | None = None
        self.last_response: sip.SipMessage | None = None
        self.answer_sdp = b""
        self.state = "proceeding"
        """proceeding -> confirmed (200 sent) -> terminated."""
        self.acked = asyncio.Event()
        self.remote_bye = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.ended = asyncio.Event()
        self.stopping = False
        """The service is shutting down: the call ends from our side (BYE), records kept."""
        self._local_cseq = 1
        self._odd = b""
        self.digits: list[str] = []

    @property
    def call_id(self) -> str:
        return self.invite.call_id

    # --- signalling helpers ---------------------------------------------------------------------
    def reply(self, request: sip.SipMessage, status: int, reason: str, **kw: Any) -> sip.SipMessage:
        out = sip.response(request, status, reason, to_tag=self.local_tag, **kw)
        self.peer.send(out.to_bytes())
        return out

    def respond_invite(self, status: int, reason: str, body: bytes = b"") -> None:
        headers = [("contact", f"<{self.contact}>")]
        if body:
            headers.append(("content-type", "application/sdp"))
        headers.append(("allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO"))
        self.last_response = self.reply(self.invite, status, reason, headers=headers, body=body)

    # --- the call ---------------------------------------------------------------------------------
    async def run(
        self, services: SessionServices, greeting: str, open_rtp: Callable[[RtpStream], Any]
    ) -> None:
        """From INVITE to the end of the call; never raises."""
        try:
            await self._run(services, greeting, open_rtp)
        except Exception:
            log.exception("SIP call %s failed", self.call_id)
            if self.state == "proceeding":
                self.respond_invite(500, "Server Internal Error")
        finally:
            self.state = "terminated"
            if self._transfer is not None:
                self._transfer.cancel()
            for agent in self.agent_calls:
                with contextlib.suppress(Exception):
                    await agent.hang_up()
            if self.session is not None:
                with contextlib.suppress(Exception):
                    await self.session.close("internal_error", "dropped", drain=False)
            if self.rtp is not None:
                await self.rtp.close()
            self.ended.set()

    async def _run(
        self, services: SessionServices, greeting: str, open_rtp: Callable[[RtpStream], Any]
    ) -> None:
        pcmu = self.choice.codec == "PCMU"
        self.rtp = await open_rtp(
            RtpStream(
                self.choice.payload_type,
                0xFF if pcmu else 0xD5,
                self._caller_audio,
                self._digit,
                self.choice.dtmf_payload_type,
            )
        )
        caller = sip.uri_user(sip.header_uri(self.invite.get("from")))[:32] or None
        start = CallStart(
            8000,
            "mulaw" if pcmu else "pcm16",
            greeting,
            caller,
            "sip",
            "mulaw-8k" if pcmu else "pcm16-8k",
        )
        self.session = session = CallSession(services, start, self._send_json, self._send_audio)
        await session.open()
        if self.cancelled.is_set():
            await session.close("caller_cancelled", "dropped", drain=False)
            return
        self.respond_invite(200, "OK", self.answer_sdp)
        self.state = "confirmed"
        self.rtp.start((self.choice.address, self.choice.port))
        retransmit = asyncio.create_task(self._retransmit_ok())
        ends = {
            asyncio.create_task(self.remote_bye.wait()): "caller",
            asyncio.create_task(session.hangup.wait()): "bot",
            asyncio.create_task(self._ack_timeout()): "no_ack",
            asyncio.create_task(self.transferred.wait()): "transferred",
        }
        try:
            done, _ = await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
            who = next(ends[t] for t in ends if t in done)
        finally:
            retransmit.cancel()
            for task in ends:
                task.cancel()
        if who == "caller" and self.refer_accepted:  # a PBX may hang up at once after taking the REFER
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.transferred.wait(), 10)
            who = "transferred" if self.transferred.is_set() else who
        if who == "caller" and self.stopping:
            await session.close("service_stopped", "dropped")
            await self.send_bye()
        elif who == "caller":
            self.rtp.clear()
            await session.close("caller_hung_up", "ended")
        elif who == "transferred":
            await session.close("transferred", "ended")
            with contextlib.suppress(TimeoutError):  # the caller's side ends the call once connected
                await asyncio.wait_for(self.remote_bye.wait(), 20)
            if not self.remote_bye.is_set():
                await self.send_bye()
        elif who == "bot":
            await session.close(session.end_reason or "bot_ended", "ended")
            await self.rtp.drain(GOODBYE_DRAIN_S)
            await self.send_bye()
        else:
            await session.close("caller_dropped", "dropped")
            await self.send_bye()
        log.info("SIP call %s (%s) ended by %s", self.call_id, session.call_id, who)

    async def _retransmit_ok(self) -> None:
        if self.peer.reliable:
            return
        interval = T1
        while not self.acked.is_set() and self.last_response is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.acked.wait(), interval)
            if not self.acked.is_set():
                self.peer.send(self.last_response.to_bytes())
                interval = min(interval * 2, 4.0)

    async def _ack_timeout(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.acked.wait(), ACK_TIMEOUT_S)
        if not self.acked.is_set():
            return
        await asyncio.Event().wait()  # acknowledged: this end never fires

    async def send_bye(self) -> None:
        """End the dialog from our side (RFC 3261 15.1.1); waits briefly for the 200."""
        request = self.next_request("BYE")
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            reply = await asyncio.wait_for(self._client(request, self.peer), 8.0)
            log.info("SIP call %s: BYE answered %d", self.call_id, reply.status)

    def next_request(self, method: str, headers: list[tuple[str, str]] | None = None) -> sip.SipMessage:
        self._local_cseq += 1
        return self.in_dialog_request(method, headers)

    def in_dialog_request(self, method: str, headers: list[tuple[str, str]] | None = None) -> sip.SipMessage:
        remote_contact = self.invite.get("contact")
        target = sip.header_uri(remote_contact) if remote_contact else sip.header_uri(self.invite.get("from"))
        to = self.invite.get("to")
        request = sip.SipMessage(method=method, uri=target)
        transport = "TCP" if self.peer.reliable else "UDP"
        request.headers = [
            ("via", f"SIP/2.0/{transport} {self.via_host};branch={sip.new_branch()};rport"),
            ("max-forwards", "70"),
            ("from", to if self.invite.to_tag else f"{to};tag={self.local_tag}"),
            ("to", self.invite.get("from")),
            ("call-id", self.call_id),
            ("cseq", f"{self._local_cseq} {method}"),
            ("contact", f"<{self.contact}>"),
        ]
        routes = self.invite.get_all("record-route")
        request.headers += [("route", r) for r in routes]
        request.headers += headers or []
        return request

    # --- media --------------------------------------------------------------------------------------
    async def _caller_audio(self, payload: bytes) -> None:
        if self.session is None or self.state != "confirmed":
            return
        if self.choice.codec == "PCMA":
            payload = float_to_pcm16_bytes(alaw_decode(payload))
        await self.session.audio(payload)

    async def _send_audio(self, chunk: bytes) -> None:
        if self.rtp is None:
            return
        if self.choice.codec == "PCMA":
            chunk = self._odd + chunk
            cut = len(chunk) - len(chunk) % 2
            chunk, self._odd = chunk[:cut], chunk[cut:]
            chunk = alaw_encode(pcm16_bytes_to_float(chunk))
        self.rtp.push(chunk)

    async def _send_json(self, payload: dict[str, Any]) -> None:
        kind = payload.get("type")
        if kind == "playback_stopped" and self.rtp is not None:
            self.rtp.clear()  # barge-in: what the caller has not heard yet is dropped now
        elif (
            kind == "handoff"
            and self.desk is not None
            and not self.agent_calls
            and (self._transfer is None or self._transfer.done())  # first handoff, or an escalation
        ):
            hid, urgency = str(payload.get("handoff_id")), str(payload.get("urgency"))
            self._transfer = asyncio.create_task(self.desk.on_handoff(self, hid, urgency))

    def notify(self, request: sip.SipMessage) -> None:
        """Progress of a REFER (RFC 3515): a 2xx sipfrag means the transfer target answered."""
        self.reply(request, 200, "OK")
        if request.body.startswith(b"SIP/2.0 2"):
            self.notified.set()

    async def _digit(self, digit: str) -> None:
        self.digits.append(digit)
        log.info("SIP call %s: keypad digit %s", self.call_id, digit)
        session = self.session
        if session is None or self.state != "confirmed":
            return
        handler = getattr(session, "dtmf", None)
        if handler is None:
            log.warning(
                "SIP call %s: digit %s heard, but the call session takes no keypad input", self.call_id, digit
            )
            return
        await handler(digit)

    async def info(self, request: sip.SipMessage) -> None:
        """SIP INFO keypad digits: application/dtmf-relay (Signal=5) or application/dtmf."""
        kind = request.get("content-type").split(";")[0].strip().lower()
        text = request.body.decode("utf-8", "replace")
        digit = ""
        if kind == "application/dtmf-relay":
            for line in text.splitlines():
                key, _, value = line.partition("=")
                if key.strip().lower() == "signal":
                    digit = value.strip()
        elif kind == "application/dtmf":
            digit = text.strip()
        digit = {"10": "*", "11": "#"}.get(digit, digit).upper()
        if len(digit) == 1 and digit in "0123456789*#ABCD":
            await self._digit(digit)
