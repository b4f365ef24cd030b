"""The SIP endpoint: a user agent server on UDP and TCP that answers calls from a PBX, SIP trunk or
SBC and makes each one a caller leg of a call session (transport/sip/call.py).

What it answers (RFC 3261 subset): INVITE (100 Trying, then 200 OK with the SDP answer; a
retransmitted INVITE gets the last response again; a re-INVITE in the dialog gets the same answer),
ACK, BYE, CANCEL before the answer (200, and 487 for the INVITE), OPTIONS (200, for the PBX's
keep-alive), INFO (keypad digits). Other methods get 405 (known, not served here) or 501 (unknown);
requests in a dialog we do not have get 481; a message that parses far enough to be answered but
is malformed gets 400, and anything else is dropped. Nothing a peer sends can end another call or
the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from core.settings import SipTransferRoute
from pipeline.call_context import SessionServices
from transport.sip import message as sip
from transport.sip.agent_leg import AgentCall
from transport.sip.call import T1, Peer, SipCall
from transport.sip.rtp import RtpStream, open_stream
from transport.sip.sdp import SdpError, answer, choose, parse_offer
from transport.sip.transfer import TransferDesk

log = logging.getLogger(__name__)

ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY"
NOT_SERVED = {"REGISTER", "SUBSCRIBE", "PUBLISH", "MESSAGE", "PRACK", "UPDATE", "REFER"}
"""Methods we know and do not take (405 with Allow); any other unknown method gets 501."""
ENDED_KEPT_S = 32.0
"""How long an ended call's id is remembered, so its retransmitted BYE gets 200 and not 481."""


@dataclass
class SipConfig:
    listen: str = "0.0.0.0"
    port: int = 5060
    advertised_address: str = ""
    rtp_port_min: int = 10000
    rtp_port_max: int = 20000
    greeting_language: str = "en"
    transfers: list[SipTransferRoute] = field(default_factory=list)
    allowed_peers: list[str] = field(default_factory=list)
    """Addresses or CIDR networks allowed to send requests; empty allows any."""

    @property
    def public_host(self) -> str:
        if self.advertised_address:
            return self.advertised_address
        return "127.0.0.1" if self.listen in ("0.0.0.0", "::", "") else self.listen


class SipServer(asyncio.DatagramProtocol):
    """Owns the SIP sockets and every SIP call in progress."""

    def __init__(self, config: SipConfig, services: Callable[[], SessionServices | None]) -> None:
        self.config = config
        self._services = services
        self.calls: dict[str, SipCall] = {}
        self._ended: dict[str, float] = {}
        self._pending: dict[str, asyncio.Future[sip.SipMessage]] = {}
        self._provisional: set[str] = set()
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = config.port
        self.malformed = 0
        self._allowed = [ipaddress.ip_network(p, strict=False) for p in config.allowed_peers]
        self.outbound: dict[str, AgentCall] = {}
        """Calls the service placed to people's phones (bridge transfers), by Call-ID."""
        self.desk = TransferDesk(
            config.transfers,
            self.peer_for,
            self._client_request,
            self._open_rtp,
            self.outbound,
            lambda: self.contact,
            lambda: f"{self.config.public_host}:{self.port}",
            config.public_host,
        )

    # --- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._udp, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=(self.config.listen, self.port)
        )
        self.port = int(self._udp.get_extra_info("sockname")[1])
        sock = self._udp.get_extra_info("socket")
        if sock is not None:  # room for a burst (many calls set up at once) while the loop is busy
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        try:
            self._tcp = await asyncio.start_server(
                self._tcp_client, self.config.listen, self.port, limit=sip.MAX_MESSAGE_BYTES
            )
        except OSError as e:  # UDP is what PBXs use by default: run without TCP rather than not at all
            log.warning("SIP over TCP is off: cannot listen on %s:%d (%s)", self.config.listen, self.port, e)
        log.info("SIP listening on %s:%d (UDP%s)", self.config.listen, self.port, "+TCP" if self._tcp else "")

    async def stop(self) -> None:
        for call in list(self.calls.values()):
            call.stopping = True  # each call closes, keeps its records and sends BYE
            call.remote_bye.set()
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(task), 10)
        if self._tcp is not None:
            self._tcp.close()
        if self._udp is not None:
            self._udp.close()

    @property
    def contact(self) -> str:
        return f"sip:triage@{self.config.public_host}:{self.port}"

    # --- transports -------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._udp = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        udp = self._udp
        assert udp is not None
        peer = Peer((addr[0], addr[1]), lambda out: udp.sendto(out, addr))
        self._receive(data, peer, stream=False)

    async def _tcp_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        addr = writer.get_extra_info("peername")
        peer = Peer((addr[0], addr[1]), writer.write, reliable=True)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if head.strip() == b"":
                    continue  # keep-alive CRLFs
                length = sip.frame_length(head)
                if length < 0:
                    raise sip.SipParseError("bad Content-Length on a stream")
                body = await reader.readexactly(length)
                self._receive(head + body, peer, stream=True)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, sip.SipParseError):
            pass
        finally:
            writer.close()

    # --- dispatch -----------------------------------------------------------------------------------
    def _receive(self, data: bytes, peer: Peer, stream: bool) -> None:
        if not data.strip():
            return  # keep-alive
        try:
            msg = sip.parse(data, stream=stream)
        except sip.SipParseError as e:
            self.malformed += 1
            self._bad_request(data, peer, str(e))
            return
        if self._allowed and not self._allows(peer.address[0]):
            if msg.is_request and msg.method != "ACK":
                peer.send(sip.response(msg, 403, "Forbidden").to_bytes())
            return
        try:
            if msg.is_request:
                self._request(msg, peer)
            else:
                future = self._pending.get(msg.branch)
                if future is not None and not future.done():
                    if msg.status >= 200:
                        future.set_result(msg)
                    else:
                        self._provisional.add(msg.branch)  # it is ringing: stop retransmitting
        except Exception:
            log.exception("SIP: failed to handle %s from %s", msg.method or msg.status, peer.address)
            if msg.is_request and msg.method != "ACK":
                peer.send(sip.response(msg, 500, "Server Internal Error").to_bytes())

    def _allows(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(address in network for network in self._allowed)

    def _bad_request(self, data: bytes, peer: Peer, why: str) -> None:
        """400 when the headers a response needs are readable (a bad body or Content-Length)."""
        head = data.split(b"\r\n\r\n", 1)[0][: sip.MAX_MESSAGE_BYTES]
        try:
            msg = sip.parse(head + b"\r\n\r\n", with_body=False)
        except sip.SipParseError:
            log.info("SIP: dropped an unreadable message from %s: %s", peer.address, why)
            return
        if msg.is_request and msg.method != "ACK":
            reason = "Bad Request (" + why.replace("\r", " ").replace("\n", " ")[:80] + ")"
            peer.send(sip.response(msg, 400, reason).to_bytes())

    def _request(self, msg: sip.SipMessage, peer: Peer) -> None:
        method = msg.method
        call = self.calls.get(msg.call_id)
        if (agent := self.outbound.get(msg.call_id)) is not None and method in ("BYE", "ACK", "INFO"):
            if method == "BYE":
                agent.bye_received(msg)
            elif method == "INFO":
                peer.send(sip.response(msg, 200, "OK").to_bytes())
            return
        if method == "INVITE":
            self._invite(msg, peer, call)
        elif method == "ACK":
            if call is not None and msg.cseq[0] == call.invite.cseq[0]:
                call.acked.set()
        elif method == "CANCEL":
            self._cancel(msg, peer, call)
        elif method == "OPTIONS":
            if not msg.to_tag and self._services() is None:  # a dispatcher's probe while loading or
                # draining: 503 takes this instance out of its set until it answers 200 again
                retry = [("retry-after", "30")]
                peer.send(sip.response(msg, 503, "Service Unavailable", headers=retry).to_bytes())
                return
            headers = [("allow", ALLOW), ("accept", "application/sdp"), ("contact", f"<{self.contact}>")]
            peer.send(sip.response(msg, 200, "OK", to_tag=sip.new_tag(), headers=headers).to_bytes())
        elif method == "NOTIFY" and call is not None and call.state == "confirmed":
            call.notify(msg)
        elif method in ("BYE", "INFO", "NOTIFY"):
            if call is None or (call.state == "proceeding" and method == "BYE"):
                ended = msg.call_id in self._ended and method == "BYE"
                peer.send(sip.response(msg, 200, "OK").to_bytes() if ended else _no_dialog(msg))
                return
            call.reply(msg, 200, "OK")
            if method == "BYE":
                call.remote_bye.set()
            else:
                self._spawn(call.info(msg))
        elif method in NOT_SERVED:
            if msg.to_tag and call is None:
                peer.send(_no_dialog(msg))
            else:
                peer.send(sip.response(msg, 405, "Method Not Allowed", headers=[("allow", ALLOW)]).to_bytes())
        else:
            peer.send(sip.response(msg, 501, "Not Implemented", headers=[("allow", ALLOW)]).to_bytes())

    def _invite(self, msg: sip.SipMessage, peer: Peer, call: SipCall | None) -> None:
        if call is not None:
            if msg.branch == call.invite.branch:  # a retransmission: the last response again
                if call.last_response is not None:
                    peer.send(call.last_response.to_bytes())
            elif msg.to_tag == call.local_tag and call.state == "confirmed":  # re-INVITE: same answer
                call.reply(
                    msg,
                    200,
                    "OK",
                    headers=[("contact", f"<{self.contact}>"), ("content-type", "application/sdp")],
                    body=call.answer_sdp,
                )
            else:
                peer.send(sip.response(msg, 491, "Request Pending").to_bytes())
            return
        if msg.to_tag:
            peer.send(_no_dialog(msg))
            return
        services = self._services()
        if services is None:
            peer.send(
                sip.response(msg, 503, "Service Unavailable", headers=[("retry-after", "30")]).to_bytes()
            )
            return
        try:
            choice = choose(parse_offer(msg.body))
        except SdpError as e:
            log.info("SIP: INVITE %s refused: %s", msg.call_id, e)
            headers = [("warning", f'304 triage "{e}"'), ("accept", "application/sdp")]
            peer.send(sip.response(msg, 488, "Not Acceptable Here", headers=headers).to_bytes())
            return
        via_host = f"{self.config.public_host}:{self.port}"
        desk = self.desk if self.config.transfers else None
        call = SipCall(msg, peer, choice, self.contact, via_host, self._client_request, desk)
        self.calls[msg.call_id] = call
        call.respond_invite(100, "Trying")

        async def open_rtp(stream: RtpStream) -> RtpStream:
            opened = await self._open_rtp(stream)
            call.answer_sdp = answer(choice, self.config.public_host, opened.local_port)
            return opened

        self._spawn(self._run_call(call, services, open_rtp))

    async def _run_call(
        self, call: SipCall, services: SessionServices, open_rtp: Callable[[RtpStream], Any]
    ) -> None:
        try:
            await call.run(services, self.config.greeting_language, open_rtp)
        finally:
            self.calls.pop(call.call_id, None)
            now = time.monotonic()
            self._ended = {k: t for k, t in self._ended.items() if now - t < ENDED_KEPT_S}
            self._ended[call.call_id] = now

    def _cancel(self, msg: sip.SipMessage, peer: Peer, call: SipCall | None) -> None:
        if call is None or msg.branch != call.invite.branch:
            peer.send(sip.response(msg, 481, "Call/Transaction Does Not Exist").to_bytes())
            return
        peer.send(sip.response(msg, 200, "OK", to_tag=call.local_tag).to_bytes())
        if call.state == "proceeding":
            call.cancelled.set()
            call.respond_invite(487, "Request Terminated")
            call.state = "terminated"

    async def _open_rtp(self, stream: RtpStream) -> RtpStream:
        c = self.config
        return await open_stream(lambda: stream, c.listen, c.rtp_port_min, c.rtp_port_max)

    def peer_for(self, uri: str) -> Peer:
        """Where to send requests for a SIP URI we call (over UDP)."""
        host, port = sip.uri_host_port(uri)
        udp = self._udp
        assert udp is not None
        return Peer((host, port), lambda out: udp.sendto(out, (host, port)))

    # --- requests we send ---------------------------------------------------------------------------
    def _client_request(self, request: sip.SipMessage, peer: Peer) -> asyncio.Future[sip.SipMessage]:
        """Send a request; the future gets its final response (retransmitted over UDP meanwhile)."""
        future: asyncio.Future[sip.SipMessage] = asyncio.get_running_loop().create_future()
        branch = request.branch
        self._pending[branch] = future
        data = request.to_bytes()
        peer.send(data)

        async def retransmit() -> None:
            interval = T1
            while not future.done() and not peer.reliable:
                await asyncio.sleep(interval)
                if not future.done() and branch not in self._provisional:
                    peer.send(data)
                interval = min(interval * 2, 4.0)

        task = asyncio.create_task(retransmit())

        def done(_: object) -> None:
            task.cancel()
            self._pending.pop(branch, None)
            self._provisional.discard(branch)

        future.add_done_callback(done)
        return future

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _no_dialog(msg: sip.SipMessage) -> bytes:
    return sip.response(msg, 481, "Call/Transaction Does Not Exist").to_bytes()
