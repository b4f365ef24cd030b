"""The SIP endpoint against SIPp (Debian's sip-tester): ten calls at once, a PCMA call keying 0 as
RFC 4733 digits, and a stream of malformed messages. The call stages are the scripted fakes
(tests/session_fakes.py): this module tests signalling and media, not speech."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sip_service import SCENARIOS, SIPP, free_port_udp, require_sipp, sip_service
from sqlalchemy import select

from pipeline.db import Call, Handoff
from pipeline.runtime import Runtime

require_sipp()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, str, int]]:
    with sip_service(tmp_path_factory.mktemp("sip-sipp")) as (rt, app, url):
        yield rt, url, app.state.sip.port


def sipp(
    scenario: str, port: int, tmp: Path, *extra: str, timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    cmd = [
        SIPP, f"127.0.0.1:{port}", "-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1",
        "-p", str(free_port_udp()), "-mp", str(free_port_udp()), "-nostdin", "-timeout", f"{int(timeout_s)}s",
        "-trace_err", "-error_file", str(tmp / "sipp-errors.log"), *extra,
    ]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s + 15, cwd=tmp)


def sip_calls(rt: Runtime, number_prefix: str) -> list[Call]:
    with rt.store.session() as s:
        rows = s.scalars(select(Call).where(Call.caller_number.startswith(number_prefix))).all()
        return list(rows)


def wait_ended(rt: Runtime, prefix: str, count: int, timeout_s: float = 20) -> list[Call]:
    deadline = time.monotonic() + timeout_s
    while True:
        calls = sip_calls(rt, prefix)
        if (len(calls) >= count and all(c.status != "active" for c in calls)) or time.monotonic() > deadline:
            return calls
        time.sleep(0.2)


def test_ten_simultaneous_calls_are_answered_and_end_cleanly(service: Any, tmp_path: Path) -> None:
    rt, _, port = service
    done = sipp("uac_pause_bye.xml", port, tmp_path, "-m", "10", "-l", "10", "-r", "10")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    calls = wait_ended(rt, "1380000", 10)
    assert len(calls) == 10
    assert {c.channel for c in calls} == {"sip"}
    assert all(c.status == "ended" and c.end_reason == "caller_hung_up" for c in calls), [
        (c.status, c.end_reason) for c in calls
    ]
    assert len({c.caller_number for c in calls}) == 10


def test_pcma_call_keying_0_reaches_a_person(service: Any, tmp_path: Path) -> None:
    rt, _, port = service
    done = sipp("pcma_dtmf_uac.xml", port, tmp_path, "-m", "1")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    calls = wait_ended(rt, "13900139000", 1)
    assert len(calls) == 1 and calls[0].channel == "sip"
    with rt.store.session() as s:
        handoffs = s.scalars(select(Handoff).where(Handoff.call_id == calls[0].id)).all()
    assert handoffs, "keying 0 on the phone did not hand the call to a person"


def _options(call_id: str, port: int) -> bytes:
    return (
        f"OPTIONS sip:triage@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK{call_id}\r\n"
        f"From: <sip:probe@127.0.0.1>;tag=1\r\nTo: <sip:triage@127.0.0.1>\r\nCall-ID: {call_id}\r\n"
        "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def _exchange(sock: socket.socket, data: bytes, port: int) -> bytes | None:
    sock.sendto(data, ("127.0.0.1", port))
    try:
        return sock.recvfrom(70000)[0]
    except TimeoutError:
        return None


def test_malformed_messages_get_errors_and_leave_the_service_healthy(service: Any) -> None:
    _rt, url, port = service
    good = _options("probe-1", port)
    invite_head = good.replace(b"OPTIONS", b"INVITE").replace(b"Content-Length: 0", b"Content-Length: 500")
    cases: list[tuple[bytes, bytes | None]] = [
        (b"\x00\xff garbage \x13\x37" * 10, None),  # unreadable: dropped
        (good[:60], None),  # truncated headers: dropped
        (good.replace(b"Content-Length: 0", b"Content-Length: 99"), b"SIP/2.0 400"),  # body shorter
        (good.replace(b"Content-Length: 0", b"Content-Length: -1"), b"SIP/2.0 400"),
        (invite_head, b"SIP/2.0 400"),
        (
            good.replace(b"OPTIONS sip", b"FROBNICATE sip").replace(b"1 OPTIONS", b"1 FROBNICATE"),
            b"SIP/2.0 501",
        ),
        (good.replace(b"OPTIONS sip", b"REGISTER sip").replace(b"1 OPTIONS", b"1 REGISTER"), b"SIP/2.0 405"),
        (
            good.replace(b"OPTIONS sip", b"BYE sip")
            .replace(b"1 OPTIONS", b"1 BYE")
            .replace(b"To: <sip:triage@127.0.0.1>", b"To: <sip:triage@127.0.0.1>;tag=nope"),
            b"SIP/2.0 481",
        ),
        (
            good.replace(b"Content-Length: 0\r\n", b"X-Pad: " + b"a" * 60000 + b"\r\nContent-Length: 0\r\n"),
            b"SIP/2.0 200",
        ),
        (good + b"\r\n" + b"z" * 64000, b"SIP/2.0 200"),  # oversized over the limit: refused or framed
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        for data, expect in cases:
            reply = _exchange(sock, data[:65000], port)
            if expect is None:
                assert reply is None, reply
            else:
                assert reply is not None and reply.startswith(expect), (data[:80], reply and reply[:80])
        for i in range(300):  # a burst of random junk
            sock.sendto(bytes((i * 7 + j) % 256 for j in range(i % 200)), ("127.0.0.1", port))
        sock.settimeout(2)
        for _ in range(3):  # UDP: a request lost in the burst is sent again, as a PBX would
            if (reply := _exchange(sock, _options("probe-2", port), port)) is not None:
                break
        assert reply is not None and reply.startswith(b"SIP/2.0 200 OK")
        assert b"Allow: INVITE, ACK, BYE, CANCEL, OPTIONS" in reply
    with socket.create_connection(("127.0.0.1", port), timeout=3) as tcp:  # and over TCP
        tcp.sendall(_options("probe-3", port).replace(b"SIP/2.0/UDP", b"SIP/2.0/TCP"))
        assert tcp.recv(65536).startswith(b"SIP/2.0 200 OK")
    assert httpx.get(url + "/health", timeout=10).json()["status"] == "ok"


def test_calls_over_tcp_are_answered_and_end_cleanly(service: Any, tmp_path: Path) -> None:
    rt, _, port = service
    before = {c.id for c in sip_calls(rt, "1380000")}
    done = sipp("uac_pause_bye.xml", port, tmp_path, "-t", "t1", "-m", "2", "-l", "2")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    calls = [c for c in wait_ended(rt, "1380000", len(before) + 2) if c.id not in before]
    assert len(calls) == 2
    assert all(c.channel == "sip" and c.end_reason == "caller_hung_up" for c in calls)
