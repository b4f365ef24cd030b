"""Phone calls through the live service with the real models: a Twilio-format media stream
(tests/twilio_client.py, written from Twilio's published formats) and the keypad on the caller
WebSocket. One runtime for the module."""

from __future__ import annotations

import json
import re
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from live_runtime import live_runtime
from sqlalchemy import select
from twilio_client import TwilioStream

from api.server_thread import running_server
from asr.batch import BatchTranscriber
from core.codec import mulaw_decode, pcm16_bytes_to_float, resample
from eval.call_client import CallClient
from pipeline.db import Call
from pipeline.runtime import Runtime
from serve import create_app
from tts.interface import TELEPHONE_MULAW, TELEPHONE_PCM16

NUMBER = "+8613800007777"


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path) -> Iterator[Runtime]:
    # The service's lifespan starts the AudioSocket server on a free port (TRIAGE_AUDIOSOCKET_PORT=0).
    with pytest.MonkeyPatch.context() as env:
        env.setenv("TRIAGE_AUDIOSOCKET_PORT", "0")
        with live_runtime(tmp_path_factory.mktemp("telephony"), model_cache_dir) as rt:
            yield rt


@pytest.fixture(scope="module")
def app(runtime: Runtime) -> FastAPI:
    return create_app(runtime)


@pytest.fixture(scope="module")
def base_url(app: FastAPI) -> Iterator[str]:
    with running_server(app) as url:
        yield url


def eventually(check: Callable[[], Any], what: str, timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def call_of(runtime: Runtime, number: str) -> Call | None:
    with runtime.store.session() as s:
        return s.scalars(select(Call).where(Call.caller_number == number)).first()


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def test_keypad_on_the_caller_websocket(base_url: str, runtime: Runtime) -> None:
    call = CallClient(base_url.replace("http://", "ws://") + "/v1/calls/stream")
    for bad in ("x", "12", 5):
        mark = call.mark()
        call.ws.send(json.dumps({"type": "dtmf", "digit": bad}))
        message = call.wait_for(lambda e: e["type"] == "error", timeout=10, after=mark)
        assert repr(bad) in message["message"]
    call.ws.send(json.dumps({"type": "dtmf", "digit": "0"}))
    decision = call.wait_for(lambda e: e["type"] == "decision", timeout=30)
    assert (decision["action"], decision["reason"]) == ("handoff", "caller pressed 0")
    handoff = call.wait_for(lambda e: e["type"] == "handoff", timeout=30)
    assert runtime.store.get_handoff(handoff["handoff_id"]).reason == "caller pressed 0"
    call.hangup()


def test_a_twilio_media_stream_call_two_way_with_barge_in_and_keypad(base_url: str, runtime: Runtime) -> None:
    synth = runtime.loaded["tts"]
    question = synth.synthesize("Hello. How can I pay my electricity bill?", "en", TELEPHONE_MULAW).audio
    interrupt = synth.synthesize("Sorry, one more thing.", "en", TELEPHONE_MULAW).audio
    stream = TwilioStream(
        base_url.replace("http://", "ws://") + "/v1/telephony/twilio", {"caller": NUMBER, "language": "en"}
    )
    call = eventually(lambda: call_of(runtime, NUMBER), "the call record")
    assert call.channel == "media_stream"
    # The greeting arrives as 20 ms mu-law media messages, a mark after each sentence.
    eventually(lambda: len(stream.heard) >= 100, "two seconds of greeting", 30)
    sizes = {len(h.mulaw) for h in stream.heard[:-1]}
    assert sizes == {160} or sizes == {160, len(stream.heard[-1].mulaw)}, sizes
    eventually(lambda: stream.events("mark"), "a mark after the first sentence", 30)
    # Malformed messages are logged and skipped; the call goes on.
    for junk in ("not json", '{"event": "media", "media": {"payload": "@@"}}', '{"event": "nope"}', "[]"):
        stream.ws.send(junk)

    # The caller talks over the greeting: the service sends clear, then answers.
    assert not stream.clears
    said_at = time.monotonic()
    stream.send_media(question)
    eventually(lambda: stream.clears, "clear after the caller barged in", 15)
    assert stream.clears[0] - said_at < 4.0
    stream.send_silence(1.5)
    decision = eventually(
        lambda: next((d for d in runtime.store.get_call(call.id).decisions if d.action == "answer"), None),
        "the answer decision",
        60,
    )
    assert "bill" in (decision.kb_entry_id or "")
    answer_start = stream.clears[-1]
    # The answer's audio: wait until a second passes with no new media, then transcribe it.
    eventually(lambda: len(stream.audio_between(answer_start)) > 8000 * 3, "three seconds of the answer", 60)
    eventually(
        lambda: (
            time.monotonic() - stream.heard[-1].at > 1.0
            and stream.echoed == [m["mark"]["name"] for m in stream.events("mark")]
        ),
        "the answer to finish playing",
        60,
    )
    heard = mulaw_decode(stream.audio_between(answer_start))
    assert abs(heard).max() > 0.05, "the bot's answer is silent"
    text = BatchTranscriber(runtime.loaded["asr"]).transcribe(resample(heard, 8000, 16000)).text
    bot_lines = [u.text for u in runtime.store.transcript(call.id) if u.speaker == "bot"]
    key = {w for w in words(bot_lines[-1]) if len(w) > 4}
    assert len(words(text) & key) >= min(3, len(key)), (text, bot_lines[-1])

    # Key *: the long answer again; the caller talks over it and the service sends clear.
    starred_at = time.monotonic()
    stream.dtmf("*")
    eventually(lambda: len(stream.audio_between(starred_at)) > 8000 * 2, "the answer said again", 30)
    assert ("repeat", "caller pressed *") in [
        (d.action, d.reason) for d in runtime.store.get_call(call.id).decisions
    ]
    clears = len(stream.clears)
    stream.send_media(interrupt)
    eventually(lambda: len(stream.clears) > clears, "clear while the answer was said again", 15)
    stream.send_silence(1.0)

    # Key 0: a person.
    stream.dtmf("0")
    handoff = eventually(
        lambda: next((d for d in runtime.store.get_call(call.id).decisions if d.action == "handoff"), None),
        "the handoff after key 0",
        30,
    )
    assert handoff.reason == "caller pressed 0"
    stream.stop()
    ended = eventually(lambda: runtime.store.get_call(call.id).ended_at, "the call to end", 30)
    assert ended and runtime.store.get_call(call.id).end_reason == "caller_hung_up"
    assert httpx.get(f"{base_url}/health", timeout=10).status_code == 200


def test_a_stream_that_does_not_start_properly_is_closed(base_url: str) -> None:
    from websockets.sync.client import connect

    with connect(base_url.replace("http://", "ws://") + "/v1/telephony/twilio") as ws:
        ws.send(json.dumps({"event": "media", "media": {"payload": ""}}))
        with pytest.raises(Exception):  # noqa: B017 (closed by the server with 1003)
            ws.recv(timeout=10)
        assert ws.close_code == 1003


def test_twiml_connects_the_number_to_the_stream_with_the_callers_number(base_url: str) -> None:
    reply = httpx.post(
        f"{base_url}/v1/telephony/twilio/twiml?language=zh", data={"From": "+8613800001111"}, timeout=10
    )
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("application/xml")
    host = base_url.removeprefix("http://")
    assert f'<Connect><Stream url="ws://{host}/v1/telephony/twilio">' in reply.text
    assert '<Parameter name="caller" value="+8613800001111"/>' in reply.text
    assert '<Parameter name="language" value="zh"/>' in reply.text


class AudioSocketPeer:
    """Asterisk's side of an AudioSocket connection, written from the protocol as Asterisk documents
    it: 3-byte header (kind, uint16 big-endian length), UUID first, slin 8 kHz 16-bit audio (0x10),
    DTMF (0x03, one ASCII key), hangup (0x00)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.uuid = uuid.uuid4()
        self.audio: list[tuple[float, bytes]] = []
        self.kinds: list[int] = []
        self.closed = threading.Event()
        self._send(0x01, self.uuid.bytes)
        threading.Thread(target=self._read, daemon=True).start()

    def _send(self, kind: int, payload: bytes = b"") -> None:
        self.sock.sendall(struct.pack(">BH", kind, len(payload)) + payload)

    def _exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            more = self.sock.recv(n - len(data))
            if not more:
                raise ConnectionError("closed")
            data += more
        return data

    def _read(self) -> None:
        try:
            while True:
                kind, length = struct.unpack(">BH", self._exactly(3))
                payload = self._exactly(length) if length else b""
                self.kinds.append(kind)
                if kind == 0x10:
                    self.audio.append((time.monotonic(), payload))
                if kind == 0x00:
                    break
        except (OSError, ConnectionError):
            pass
        finally:
            self.closed.set()

    def speak(self, pcm: bytes) -> None:
        """8 kHz signed linear audio at real-time pace, 20 ms (320 bytes) a message."""
        t0 = time.monotonic()
        for n, i in enumerate(range(0, len(pcm), 320)):
            self._send(0x10, pcm[i : i + 320].ljust(320, b"\x00"))
            time.sleep(max(0.0, t0 + (n + 1) * 0.02 - time.monotonic()))

    def key(self, digit: str) -> None:
        self._send(0x03, digit.encode("ascii"))

    def hangup(self) -> None:
        self._send(0x00)

    def heard_since(self, t: float) -> bytes:
        return b"".join(p for at, p in list(self.audio) if at >= t)


def test_an_asterisk_audiosocket_call_with_speech_and_keys(
    app: FastAPI, base_url: str, runtime: Runtime
) -> None:
    server = app.state.audiosocket
    assert server is not None, "TRIAGE_AUDIOSOCKET_PORT did not start the AudioSocket server"
    synth = runtime.loaded["tts"]
    question = synth.synthesize("Hello. How can I pay my electricity bill?", "en", TELEPHONE_PCM16).audio
    peer = AudioSocketPeer(server.port)
    eventually(lambda: peer.audio, "the greeting's first audio", 30)
    first = peer.audio[0][0]
    time.sleep(2.0)
    # Paced at real time in 20 ms messages: about two seconds of greeting in two seconds, not all of it.
    received_s = sum(len(p) for _, p in peer.audio) / 16000
    assert {len(p) for _, p in peer.audio} == {320}
    assert 1.0 < received_s < (time.monotonic() - first) + 0.5, received_s
    with runtime.store.session() as s:
        call = s.scalars(select(Call).where(Call.channel == "audiosocket")).one()

    spoke_at = time.monotonic()
    peer.speak(question)  # over the greeting: the rest of the greeting is dropped
    spoke_until = time.monotonic()
    peer.speak(b"\x00\x00" * 8000 * 2)
    during = sum(len(p) for at, p in list(peer.audio) if spoke_at + 1.5 <= at < spoke_until) / 16000
    assert spoke_until - spoke_at > 2.5 and during < 0.3, (
        f"{during:.2f} s of greeting went on over the caller"
    )
    decision = eventually(
        lambda: next((d for d in runtime.store.get_call(call.id).decisions if d.action == "answer"), None),
        "the answer decision",
        60,
    )
    assert "bill" in (decision.kb_entry_id or "")
    caller_lines = [u.text for u in runtime.store.transcript(call.id) if u.speaker == "caller"]
    assert {"electricity", "bill"} <= words(" ".join(caller_lines)), caller_lines
    answered_at = time.monotonic()
    eventually(lambda: len(peer.heard_since(answered_at)) > 16000 * 2, "two seconds of the answer", 30)
    answer = pcm16_bytes_to_float(peer.heard_since(answered_at))
    assert abs(answer).max() > 0.05, "the bot's answer is silent"

    peer.key("0")
    handoff = eventually(
        lambda: next((d for d in runtime.store.get_call(call.id).decisions if d.action == "handoff"), None),
        "the handoff after key 0",
        30,
    )
    assert handoff.reason == "caller pressed 0"
    peer.hangup()
    eventually(lambda: runtime.store.get_call(call.id).ended_at, "the call to end", 30)
    assert runtime.store.get_call(call.id).end_reason == "caller_hung_up"


def test_an_audiosocket_connection_that_is_not_audiosocket_is_hung_up(app: FastAPI, base_url: str) -> None:
    port = app.state.audiosocket.port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
        assert sock.recv(3) == b"\x00\x00\x00"  # hangup
    assert httpx.get(f"{base_url}/health", timeout=10).status_code == 200


def test_the_bots_fixed_prompts_fit_an_8khz_line_without_clipping(runtime: Runtime) -> None:
    """Resampled to 8 kHz (PCM16 and G.711 mu-law), the bot's voice keeps headroom: no sample at
    full scale, so nothing is clipped on the way to the line."""
    from tts.prompts import PROMPTS, prompt_fields

    synth = runtime.loaded["tts"]
    for lang in ("zh", "en"):
        for key in (k for k in PROMPTS if not prompt_fields(k)):
            pcm = pcm16_bytes_to_float(synth.prompt(key, lang, TELEPHONE_PCM16).audio)
            mulaw = mulaw_decode(synth.prompt(key, lang, TELEPHONE_MULAW).audio)
            for samples in (pcm, mulaw):
                peak = float(abs(samples).max())
                assert 0.05 < peak < 0.98, (lang, key, peak)
