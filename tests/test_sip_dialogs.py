"""SIP transactions a PBX relies on, over a real UDP socket against the SIP endpoint with scripted
call stages: a retransmitted INVITE gets the last response again, CANCEL before the answer ends
the call with 487, the 200 OK is retransmitted until the ACK, BYE ends the call and a repeated
BYE still gets 200, INFO carries a keypad digit."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path
from typing import Any

from session_fakes import fake_services
from sqlalchemy import select

from pipeline.bus import EventBus
from pipeline.db import Call
from pipeline.session import SessionServices
from pipeline.store import Store
from transport.sip import message as sip
from transport.sip.server import SipConfig, SipServer

SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 9 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
)


class SlowStore(Store):
    """Opening a call record takes a while: the window in which a caller may still CANCEL."""

    def start_call(self, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.8)
        return super().start_call(*args, **kwargs)


def services(tmp: Path, store: Store) -> SessionServices:
    return fake_services(
        store,
        EventBus(),
        tmp / "recordings",
        silence_timeout_s=60,
    )


def request(
    method: str, port: int, call_id: str, cseq: int, branch: str, to_tag: str = "", body: str = ""
) -> bytes:
    to = "<sip:12345@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    extra = "Content-Type: application/sdp\r\n" if body and method == "INVITE" else ""
    if method == "INFO":
        extra = "Content-Type: application/dtmf-relay\r\n"
    return (
        f"{method} sip:12345@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{branch}\r\n"
        f"From: <sip:13700137000@127.0.0.1>;tag=caller1\r\nTo: {to}\r\nCall-ID: {call_id}\r\n"
        f"CSeq: {cseq} {method}\r\nContact: <sip:13700137000@127.0.0.1:5999>\r\n"
        f"Max-Forwards: 70\r\n{extra}Content-Length: {len(body.encode())}\r\n\r\n{body}"
    ).encode()


class Client:
    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, ("127.0.0.1", self.port))

    async def replies(self, seconds: float) -> list[sip.SipMessage]:
        loop = asyncio.get_running_loop()
        out: list[sip.SipMessage] = []
        deadline = loop.time() + seconds
        while (left := deadline - loop.time()) > 0:
            try:
                data = await asyncio.wait_for(loop.sock_recv(self.sock, 65535), left)
            except TimeoutError:
                break
            out.append(sip.parse(data))
        return out


async def with_server(tmp: Path, store: Store, body: Any) -> Any:
    server = SipServer(
        SipConfig(listen="127.0.0.1", port=0, rtp_port_min=0, rtp_port_max=0), lambda: services(tmp, store)
    )
    await server.start()
    try:
        return await body(server, Client(server.port))
    finally:
        await server.stop()


def test_retransmitted_invite_and_cancel_before_the_answer(tmp_path: Path) -> None:
    store = SlowStore(f"sqlite:///{tmp_path / 'calls.db'}")

    async def run(server: SipServer, c: Client) -> list[sip.SipMessage]:
        invite = request("INVITE", c.port, "cancel-1", 1, "inv1", body=SDP)
        c.send(invite)
        first = await c.replies(0.2)
        c.send(invite)  # retransmission: the same provisional answer again
        again = await c.replies(0.2)
        c.send(request("CANCEL", c.port, "cancel-1", 1, "inv1"))
        rest = await c.replies(1.5)
        assert [m.status for m in first] == [100] and [m.status for m in again] == [100]
        return rest

    rest = asyncio.run(with_server(tmp_path, store, run))
    statuses = sorted((m.status, m.cseq[1]) for m in rest)
    assert (200, "CANCEL") in statuses and (487, "INVITE") in statuses, statuses
    assert (200, "INVITE") not in statuses


def test_ok_is_retransmitted_until_ack_and_bye_ends_the_call(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'calls.db'}")

    async def run(server: SipServer, c: Client) -> Any:
        c.send(request("INVITE", c.port, "call-2", 1, "inv2", body=SDP))
        got = await c.replies(1.8)  # 100, 200, then 200 again at 0.5 s and 1.5 s: no ACK yet
        oks = [m for m in got if m.status == 200]
        assert len(oks) >= 2, [m.status for m in got]
        assert b"m=audio" in oks[0].body and b"PCMU/8000" in oks[0].body
        tag = oks[0].to_tag
        c.send(request("ACK", c.port, "call-2", 1, "ack2", to_tag=tag))
        c.send(request("INFO", c.port, "call-2", 2, "info2", to_tag=tag, body="Signal=5\r\nDuration=160\r\n"))
        await asyncio.sleep(0.1)
        assert server.calls["call-2"].digits == ["5"]
        quiet = [m for m in await c.replies(1.5) if m.cseq[1] == "INVITE"]
        assert quiet == [], "the 200 OK was still retransmitted after the ACK"
        c.send(request("BYE", c.port, "call-2", 3, "bye2", to_tag=tag))
        bye = await c.replies(0.5)
        for _ in range(50):
            if "call-2" not in server.calls:
                break
            await asyncio.sleep(0.1)
        c.send(request("BYE", c.port, "call-2", 3, "bye2", to_tag=tag))  # a retransmitted BYE
        bye_again = await c.replies(0.5)
        return bye, bye_again

    bye, bye_again = asyncio.run(with_server(tmp_path, store, run))
    assert [(m.status, m.cseq[1]) for m in bye] == [(200, "BYE")]
    assert [(m.status, m.cseq[1]) for m in bye_again] == [(200, "BYE")]
    with store.session() as s:
        call = s.scalars(select(Call).where(Call.caller_number == "13700137000")).one()
    assert (call.channel, call.status, call.end_reason) == ("sip", "ended", "caller_hung_up")


def test_a_stopping_service_hangs_up_its_calls_and_keeps_the_records(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'calls.db'}")

    async def run() -> list[sip.SipMessage]:
        server = SipServer(
            SipConfig(listen="127.0.0.1", port=0, rtp_port_min=0, rtp_port_max=0),
            lambda: services(tmp_path, store),
        )
        await server.start()
        c = Client(server.port)
        c.send(request("INVITE", c.port, "call-3", 1, "inv3", body=SDP))
        ok = next(m for m in await c.replies(0.4) if m.status == 200)
        c.send(request("ACK", c.port, "call-3", 1, "ack3", to_tag=ok.to_tag))
        stopping = asyncio.create_task(server.stop())
        got = await c.replies(0.6)
        for bye in (m for m in got if m.method == "BYE"):
            c.send(sip.response(bye, 200, "OK").to_bytes())
        await stopping
        return got

    got = asyncio.run(run())
    byes = [m for m in got if m.method == "BYE"]
    assert byes and byes[0].call_id == "call-3" and byes[0].from_tag, [m.method or m.status for m in got]
    with store.session() as s:
        call = s.scalars(select(Call).where(Call.caller_number == "13700137000")).one()
    assert (call.status, call.end_reason) == ("dropped", "service_stopped")


def test_only_allowed_peers_may_call(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'calls.db'}")

    async def run(allowed: list[str]) -> list[int]:
        config = SipConfig(listen="127.0.0.1", port=0, rtp_port_min=0, rtp_port_max=0, allowed_peers=allowed)
        server = SipServer(config, lambda: services(tmp_path, store))
        await server.start()
        try:
            c = Client(server.port)
            c.send(request("OPTIONS", c.port, f"peer-{allowed}", 1, "opt"))
            return [m.status for m in await c.replies(0.3)]
        finally:
            await server.stop()

    assert asyncio.run(run(["10.0.0.0/8"])) == [403]
    assert asyncio.run(run(["10.0.0.5", "127.0.0.0/8"])) == [200]
