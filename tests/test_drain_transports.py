"""SIGTERM drains on every way a call comes in (issue 15 item 2), not only the caller WebSocket.

A runtime without speech models whose calls use the scripted fakes (tests/session_fakes.py); the
service's lifespan starts the SIP endpoint and the AudioSocket server on free ports
(tests/sip_service.py). Before the
drain each entry point answers; after ``Runtime.drain()`` (what the first SIGTERM does) each one
refuses a new call the way its peer understands (WebSocket close 1013, HTTP 503, SIP 503 with
Retry-After, an AudioSocket hangup), the load balancer's check /ready says 503, and /health stays
200 for liveness. The SIGTERM itself is tested on a real process in test_instance_recovery.py."""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sip_service import sip_service
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from pipeline.runtime import Runtime

SHUTTING_DOWN = "shutting down"
INVITE_SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def sip_request(method: str, port: int, call_id: str, body: str = "") -> bytes:
    extra = "Content-Type: application/sdp\r\n" if body else ""
    return (
        f"{method} sip:12345@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK{call_id}\r\n"
        f"From: <sip:+8613800005555@127.0.0.1>;tag=f{call_id}\r\nTo: <sip:12345@127.0.0.1>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n"
        f"Contact: <sip:caller@127.0.0.1:5999>\r\n{extra}Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def sip_status(port: int, method: str, call_id: str, body: str = "") -> str:
    """The first final status line the endpoint sends back (100 Trying is skipped)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.sendto(sip_request(method, port, call_id, body), ("127.0.0.1", port))
        while True:
            line = sock.recv(65535).decode().split("\r\n", 1)[0]
            if not line.startswith("SIP/2.0 1"):
                return line


def audiosocket_first_kind(port: int) -> int:
    """Open an AudioSocket connection as Asterisk does (the call's UUID first) and return the kind
    of the first message back: 0x10 audio (the greeting) when answered, 0x00 hangup when refused."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(struct.pack(">BH", 0x01, 16) + uuid.uuid4().bytes)
        kind = sock.recv(3)[0]
        sock.sendall(struct.pack(">BH", 0x00, 0))
        return kind


def caller_ws_first(url: str) -> dict[str, Any]:
    """The first JSON message on a caller WebSocket (a refusal comes before the start message)."""
    ws = connect(url, open_timeout=10)
    try:
        with contextlib.suppress(ConnectionClosed):
            ws.send(json.dumps({"type": "start", "language": "en"}))
        for _ in range(200):
            frame = ws.recv(timeout=10)
            if isinstance(frame, str):
                return dict(json.loads(frame))
    finally:
        with contextlib.suppress(ConnectionClosed):
            ws.close()
    raise AssertionError("no JSON message")


Served = tuple[str, Runtime, Any]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with sip_service(tmp_path, audiosocket_port=0) as (runtime, app, url):
        yield url, runtime, app


def test_every_entry_point_answers_before_the_drain_and_refuses_new_calls_after(served: Served) -> None:
    url, runtime, app = served
    ws_base = url.replace("http://", "ws://")
    sip_port, audiosocket_port = app.state.sip.port, app.state.audiosocket.port
    _, token = runtime.store.create_agent("uploader", "agent", ["water"], ["en"])
    auth = {"Authorization": f"Bearer {token}"}

    assert httpx.get(f"{url}/ready").json() == {"ready": True, "calls": "accepting"}
    assert caller_ws_first(f"{ws_base}/v1/calls/stream")["type"] != "error"
    assert sip_status(sip_port, "OPTIONS", "probe-before").startswith("SIP/2.0 200")
    assert audiosocket_first_kind(audiosocket_port) == 0x10

    runtime.drain()

    ready = httpx.get(f"{url}/ready")
    assert ready.status_code == 503 and ready.json()["calls"].startswith("draining")
    health = httpx.get(f"{url}/health")
    assert health.status_code == 200 and health.json()["calls"].startswith("draining")

    refused = caller_ws_first(f"{ws_base}/v1/calls/stream")
    assert refused["type"] == "error" and SHUTTING_DOWN in refused["message"] and "停机" in refused["message"]

    rtc = httpx.post(f"{url}/v1/calls/rtc", json={"sdp": INVITE_SDP, "type": "offer"})
    assert rtc.status_code == 503 and SHUTTING_DOWN in rtc.json()["detail"]

    wav = _silence_wav()
    upload = httpx.post(f"{url}/v1/calls/upload", files={"file": ("a.wav", wav)}, headers=auth)
    assert upload.status_code == 503 and SHUTTING_DOWN in upload.json()["detail"]

    with (
        connect(f"{ws_base}/v1/telephony/twilio", open_timeout=10) as media,
        pytest.raises(ConnectionClosed) as closed,
    ):
        media.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013

    assert sip_status(sip_port, "INVITE", "call-during-drain", INVITE_SDP).startswith("SIP/2.0 503")
    assert sip_status(sip_port, "OPTIONS", "probe-during-drain").startswith("SIP/2.0 503")
    assert audiosocket_first_kind(audiosocket_port) == 0x00

    # nothing was opened for the refused calls: only the four answered before the drain
    with runtime.store.session() as s:
        from sqlalchemy import func, select

        from pipeline.db import Call

        assert s.scalar(select(func.count()).select_from(Call)) == 2  # the caller WebSocket, AudioSocket


def _silence_wav() -> bytes:
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x00" * 16000)
    return buf.getvalue()
