"""transport.webrtc.RtcPeer against an independent WebRTC stack: a plain aiortc client peer in the same
process, over real UDP on this machine (ICE, DTLS, SRTP, Opus, SCTP), as a browser would talk to it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from eval.browser_mic import BROWSER_RATE, BrowserMicrophone
from transport.webrtc import RtcOfferError, RtcOptions, RtcPeer, extra_host_addresses

RATE = 16000


def tone(freq: float, seconds: float, rate: int, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()


def samples_of(pcm: bytes | bytearray) -> np.ndarray:
    return np.frombuffer(bytes(pcm), dtype="<i2").astype(np.float32) / 32768.0


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.argmax(spectrum) * rate / len(samples))


def loud_seconds(samples: np.ndarray, rate: int, threshold: float = 0.05) -> float:
    """Seconds of 20 ms blocks whose RMS is above ``threshold``."""
    block = rate // 50
    blocks = samples[: len(samples) // block * block].reshape(-1, block)
    return float((np.sqrt((blocks**2).mean(axis=1)) > threshold).sum() * 0.02)


class Client:
    """The far end: an aiortc peer that offers a microphone and an "events" data channel."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.mic = BrowserMicrophone(channels=2)
        self.pc.addTrack(self.mic)
        self.channel = self.pc.createDataChannel("events")
        self.messages: list[dict[str, Any]] = []
        self.heard: list[tuple[float, np.ndarray]] = []
        """(arrival time, mono samples at the decoded rate) per received frame."""
        self.heard_rate = BROWSER_RATE
        self.channel.on("message", lambda m: self.messages.append(json.loads(m)))
        self.pc.on("track", self._on_track)
        self._reader: asyncio.Task[None] | None = None

    def _on_track(self, track: MediaStreamTrack) -> None:
        async def read() -> None:
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
                assert isinstance(frame, AudioFrame)
                self.heard_rate = frame.sample_rate
                planes = frame.to_ndarray().astype(np.float32) / 32768.0
                channels = len(frame.layout.channels)
                mono = planes.reshape(-1, channels).mean(axis=1)  # packed s16: interleaved
                self.heard.append((time.monotonic(), mono))

        self._reader = asyncio.ensure_future(read())

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return str(self.pc.localDescription.sdp)

    async def answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    def heard_since(self, t: float) -> np.ndarray:
        parts = [s for at, s in self.heard if at >= t]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def send(self, text: str) -> None:
        self.channel.send(text)

    async def close(self) -> None:
        await self.pc.close()
        if self._reader:
            self._reader.cancel()


async def until(check: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def connect(
    on_audio: Callable[[bytes], Awaitable[None]] | None = None,
    on_json: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
) -> tuple[RtcPeer, Client]:
    client = Client()
    peer = RtcPeer(on_audio=on_audio, on_json=on_json)
    answer = await peer.accept(await client.offer())
    assert answer.type == "answer"
    await client.answer(answer.sdp)
    await asyncio.wait_for(peer.connected.wait(), 10)
    return peer, client


def test_the_callers_microphone_arrives_as_16k_pcm_with_its_pitch_level_and_duration() -> None:
    async def run() -> tuple[bytes, float]:
        got = bytearray()

        async def on_audio(pcm: bytes) -> None:
            got.extend(pcm)

        peer, client = await connect(on_audio=on_audio)
        start = len(got)
        began = time.monotonic()
        client.mic.say(np.concatenate([tone(1000, 1.5, BROWSER_RATE), np.zeros(BROWSER_RATE // 2)]))
        await asyncio.sleep(2.6)
        wall = time.monotonic() - began
        await client.close()
        await peer.close()
        return bytes(got[start:]), wall

    pcm, wall = asyncio.run(run())
    heard = samples_of(pcm)
    # 16 kHz mono: as many samples as seconds went by (a wrong rate or channel count is off by 2-6x).
    assert abs(len(heard) / RATE - wall) < 0.3, (len(heard) / RATE, wall)
    assert loud_seconds(heard, RATE) == pytest.approx(1.5, abs=0.1)
    loud = heard[np.abs(heard) > 0.05]
    assert peak_hz(heard, RATE) == pytest.approx(1000, abs=8)
    # A mono voice in two equal channels keeps its level (0.5 peak sine: RMS 0.354).
    assert float(np.sqrt((loud**2).mean())) == pytest.approx(0.354, rel=0.15)


def test_audio_sent_by_the_service_plays_at_the_browser_at_real_time() -> None:
    async def run() -> tuple[Client, float, float]:
        peer, client = await connect()
        await asyncio.sleep(0.3)
        sent_at = time.monotonic()
        await peer.send_audio(pcm16(tone(700, 1.0, RATE)))
        assert peer.queued_audio_s == pytest.approx(1.0, abs=0.03)  # queued, not burst out
        await asyncio.sleep(2.0)
        played = peer.played_audio_s
        await client.close()
        await peer.close()
        return client, sent_at, played

    client, sent_at, played = asyncio.run(run())
    assert played == pytest.approx(1.0, abs=0.02)
    heard = client.heard_since(sent_at)
    rate = client.heard_rate
    assert loud_seconds(heard, rate) == pytest.approx(1.0, abs=0.1)
    assert peak_hz(heard, rate) == pytest.approx(700, abs=8)
    loud_frames = [at for at, s in client.heard if at >= sent_at and np.sqrt((s**2).mean()) > 0.05]
    assert loud_frames[-1] - loud_frames[0] > 0.8  # paced over about a second, not delivered at once
    loud = heard[np.abs(heard) > 0.05]
    assert float(np.sqrt((loud**2).mean())) == pytest.approx(0.354, rel=0.15)


def test_clear_audio_drops_the_queued_bot_audio_at_once() -> None:
    async def run() -> tuple[Client, float, float, float, float]:
        peer, client = await connect()
        await asyncio.sleep(0.3)
        sent_at = time.monotonic()
        await peer.send_audio(pcm16(tone(500, 5.0, RATE)))
        await until(lambda: loud_seconds(client.heard_since(sent_at), client.heard_rate) >= 0.5, "the tone")
        dropped = peer.clear_audio()
        cleared_at = time.monotonic()
        assert peer.queued_audio_s == 0
        await asyncio.sleep(1.5)
        played = peer.played_audio_s
        await client.close()
        await peer.close()
        return client, sent_at, cleared_at, dropped, played

    client, sent_at, cleared_at, dropped, played = asyncio.run(run())
    assert dropped > 3.8
    assert played < 1.2
    # What the browser hears stops within a jitter buffer's worth of the barge-in.
    assert loud_seconds(client.heard_since(cleared_at + 0.25), client.heard_rate) == 0
    assert loud_seconds(client.heard_since(sent_at), client.heard_rate) < 1.2


def test_json_goes_both_ways_and_a_bad_message_gets_an_error_not_a_crash() -> None:
    async def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        received: list[dict[str, Any]] = []

        async def on_json(message: dict[str, Any]) -> None:
            if message.get("type") == "explode":
                raise RuntimeError("consumer bug")
            received.append(message)

        client = Client()
        peer = RtcPeer(on_json=on_json)
        answer = await peer.accept(await client.offer())
        # Sent before the browser has even seen the answer: kept until the channel opens.
        await peer.send_json({"type": "started", "call_id": "c1", "text": "您好"})
        await client.answer(answer.sdp)
        await until(lambda: len(client.messages) >= 1, "the early message")
        client.send(json.dumps({"type": "text", "text": "电费怎么交", "language": "zh"}))
        client.send("this is not json")
        client.send("[1, 2]")
        client.send(json.dumps({"type": "explode"}))
        client.send(json.dumps({"type": "hangup"}))
        await until(lambda: len(received) >= 2 and len(client.messages) >= 4, "replies")
        await peer.send_json({"type": "bot_text", "text": "You can pay online."})
        await until(lambda: len(client.messages) >= 5, "the last message")
        await client.close()
        await peer.close()
        return received, client.messages

    received, to_browser = asyncio.run(run())
    assert received == [{"type": "text", "text": "电费怎么交", "language": "zh"}, {"type": "hangup"}]
    assert to_browser[0] == {"type": "started", "call_id": "c1", "text": "您好"}
    errors = [m for m in to_browser if m["type"] == "error"]
    assert [e["code"] for e in errors] == ["bad_json", "bad_json", "internal"]
    assert "JSON" in errors[0]["message"] and "object" in errors[1]["message"]
    assert to_browser[-1] == {"type": "bot_text", "text": "You can pay online."}


def test_the_remote_hanging_up_is_reported_and_close_is_idempotent() -> None:
    async def run() -> tuple[str | None, str]:
        peer, client = await connect()
        await client.close()
        await asyncio.wait_for(peer.closed.wait(), 10)
        await peer.close()
        await peer.send_audio(b"\x00\x00" * 320)  # after the end: ignored, no error
        await peer.send_json({"type": "late"})
        return peer.close_reason, peer.connection_state

    reason, state = asyncio.run(run())
    assert reason in ("remote_closed", "channel_closed")
    assert state == "closed"


def test_a_browser_that_never_connects_is_reported_after_the_timeout() -> None:
    async def run() -> tuple[str | None, float]:
        client = Client()
        peer = RtcPeer(options=RtcOptions(connect_timeout_s=1.0))
        await peer.accept(await client.offer())  # the answer never reaches the client
        began = time.monotonic()
        await asyncio.wait_for(peer.closed.wait(), 5)
        await client.close()
        return peer.close_reason, time.monotonic() - began

    reason, waited = asyncio.run(run())
    assert reason == "connect_timeout"
    assert 0.8 < waited < 3


def only_loopback(sdp: str) -> str:
    keep = [ln for ln in sdp.splitlines() if not ln.startswith("a=candidate:") or " 127.0.0.1 " in ln]
    return "\r\n".join(keep) + "\r\n"


def test_it_connects_over_loopback_alone_with_no_stun_server() -> None:
    async def run() -> tuple[bytes, str]:
        got = bytearray()

        async def on_audio(pcm: bytes) -> None:
            got.extend(pcm)

        client = Client()
        peer = RtcPeer(on_audio=on_audio)
        with extra_host_addresses("127.0.0.1"):
            offer = await client.offer()
        answer = await peer.accept(only_loopback(offer))
        assert "typ srflx" not in answer.sdp  # nothing was asked of a STUN server
        await client.answer(only_loopback(answer.sdp))
        await asyncio.wait_for(peer.connected.wait(), 10)
        client.mic.say(tone(440, 0.5, BROWSER_RATE))
        await asyncio.sleep(1.0)
        await client.close()
        await peer.close()
        return bytes(got), answer.sdp

    got, answer = asyncio.run(run())
    assert " 127.0.0.1 " in answer
    assert loud_seconds(samples_of(got), RATE) == pytest.approx(0.5, abs=0.1)


@pytest.mark.parametrize(
    ("sdp", "sdp_type", "words"),
    [
        ("hello", "offer", "not SDP"),
        ("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio", "offer", "could not be read"),
        ("v=0\r\n", "answer", "offer"),
    ],
)
def test_a_bad_offer_is_refused_with_a_reason(sdp: str, sdp_type: str, words: str) -> None:
    async def run() -> tuple[str, str | None]:
        peer = RtcPeer()
        with pytest.raises(RtcOfferError) as refused:
            await peer.accept(sdp, sdp_type)
        return str(refused.value), peer.close_reason

    message, reason = asyncio.run(run())
    assert words in message
    assert reason == "bad_offer"


def test_an_offer_without_a_microphone_is_refused() -> None:
    async def run() -> str:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.createDataChannel("events")
        await pc.setLocalDescription(await pc.createOffer())
        with pytest.raises(RtcOfferError) as refused:
            await RtcPeer().accept(pc.localDescription.sdp)
        await pc.close()
        return str(refused.value)

    assert "no audio" in asyncio.run(run())


def test_a_live_feed_drops_late_audio_instead_of_falling_behind() -> None:
    from transport.rtc_audio import PacedAudioTrack

    live = PacedAudioTrack(live_latency_s=0.2)
    queued = PacedAudioTrack()
    second = pcm16(tone(440, 1.0, RATE))
    for track in (live, queued):
        track.push(second)  # a stalled loop delivers a second of speech at once
    assert live.queued_s == pytest.approx(0.2, abs=0.001) and live.late_dropped_s == pytest.approx(
        0.8, abs=0.001
    )
    assert queued.queued_s == pytest.approx(1.0, abs=0.001)  # the bot's speech is queued ahead on purpose
