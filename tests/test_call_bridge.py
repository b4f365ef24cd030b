"""Agent and listener legs on a call, with scripted fake stages and fake transports (no models):
what each party hears, what is recorded and transcribed, hold, mute, hang-up."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path
from typing import Any

import numpy as np
from session_fakes import FakeCall

from pipeline.bridge import StreamConverter, mix
from pipeline.legs import Leg


class FakeLeg:
    """A transport that keeps what was sent to it."""

    def __init__(self, role: str, party_id: str) -> None:
        self.audio: list[bytes] = []
        self.leg = Leg(role, self._audio, party_id=party_id)  # type: ignore[arg-type]

    async def _audio(self, pcm: bytes) -> None:
        self.audio.append(pcm)

    def seconds(self) -> float:
        return sum(len(a) for a in self.audio) / 2 / 16000


def tone(seconds: float, rate: int = 16000, hz: float = 440.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * hz * t) * 32767).astype("<i2").tobytes()


def frames(pcm: bytes, rate: int = 16000, ms: int = 20) -> list[bytes]:
    step = rate * ms // 1000 * 2
    return [pcm[i : i + step] for i in range(0, len(pcm), step)]


async def _handed_off(call: FakeCall) -> None:
    await call.session.open()
    await call.session.text("I want to talk to a person", "en")
    await call.wait_for(lambda m: m["type"] == "handoff")


def test_agent_connects_bot_steps_back_and_audio_flows_both_ways(tmp_path: Path) -> None:
    async def run() -> tuple[FakeCall, FakeLeg, list[Any]]:
        call = FakeCall(tmp_path)
        events: list[Any] = []
        await _handed_off(call)
        agent = FakeLeg("agent", "a1")
        await call.session.connect_agent(agent.leg)
        await call.wait_for(lambda m: m["type"] == "bot_text" and m["text"] == "AGENT_CONNECTED")
        before = len(call.audio_out)
        for f in frames(tone(0.5)):
            await call.session.audio(f)
            await call.session.agent_audio("a1", f)
        decisions = len([m for m in call.sent if m["type"] == "decision"])
        await call.session.text("my bill is wrong", "en")  # with a person: recorded, not decided
        await call.wait_for(lambda m: m["type"] == "final" and m["text"] == "my bill is wrong")
        await asyncio.sleep(0.2)
        assert len([m for m in call.sent if m["type"] == "decision"]) == decisions
        events.append(len(call.audio_out) - before)
        await call.session.close("caller_hung_up")
        return call, agent, events

    call, agent, events = asyncio.run(run())
    assert abs(agent.seconds() - 0.5) < 0.05  # the caller's audio reached the agent
    assert events[0] > 0  # and the agent's the caller
    calls = call.store.get_call(call.session.call_id)
    assert calls.agent_audio_path and Path(calls.agent_audio_path).name == "agent.wav"
    with wave.open(calls.agent_audio_path) as w:
        assert abs(w.getnframes() / w.getframerate() - 0.5) < 0.05


def test_agent_speech_is_transcribed_as_agent_and_shown_to_the_caller(tmp_path: Path) -> None:
    async def run() -> FakeCall:
        call = FakeCall(tmp_path)
        await _handed_off(call)
        agent = FakeLeg("agent", "a1")
        await call.session.connect_agent(agent.leg)
        await call.session.agent_audio("a1", b"S|")
        await call.session.agent_audio("a1", b"E:we will send them|")
        await call.wait_for(lambda m: m["type"] == "final" and m.get("speaker") == "agent")
        await call.session.close("caller_hung_up")
        return call

    call = asyncio.run(run())
    lines = [(u.speaker, u.text) for u in call.store.transcript(call.session.call_id)]
    assert ("agent", "we will send them") in lines


def test_mute_keeps_the_agent_from_caller_and_record(tmp_path: Path) -> None:
    async def run() -> tuple[int, int]:
        call = FakeCall(tmp_path)
        await _handed_off(call)
        agent = FakeLeg("agent", "a1")
        await call.session.connect_agent(agent.leg)
        await call.session.playback.finish()
        await asyncio.sleep(0.1)
        call.session.set_mute("a1", True)
        before = len(call.audio_out)
        for f in frames(tone(0.2)):
            await call.session.agent_audio("a1", f)
        muted = len(call.audio_out) - before
        call.session.set_mute("a1", False)
        for f in frames(tone(0.2)):
            await call.session.agent_audio("a1", f)
        unmuted = len(call.audio_out) - before
        await call.session.close("caller_hung_up")
        return muted, unmuted

    muted, unmuted = asyncio.run(run())
    assert muted == 0 and unmuted > 0


def test_hold_plays_the_prompt_and_nobody_hears_the_other(tmp_path: Path) -> None:
    async def run() -> tuple[FakeCall, FakeLeg, float, int]:
        call = FakeCall(tmp_path)
        await _handed_off(call)
        agent = FakeLeg("agent", "a1")
        await call.session.connect_agent(agent.leg)
        await call.session.set_hold(True)
        await call.wait_for(lambda m: m["type"] == "bot_text" and m["text"] == "ON_HOLD")
        await call.session.playback.finish()
        heard_before = agent.seconds()
        out_before = len(call.audio_out)
        for f in frames(tone(0.2)):
            await call.session.audio(f)
            await call.session.agent_audio("a1", f)
        agent_heard = agent.seconds() - heard_before
        caller_heard = len(call.audio_out) - out_before
        await call.session.set_hold(False)
        for f in frames(tone(0.2)):
            await call.session.audio(f)
        await call.session.close("caller_hung_up")
        return call, agent, agent_heard, caller_heard

    _, agent, agent_heard, caller_heard = asyncio.run(run())
    assert agent_heard == 0 and caller_heard == 0
    assert agent.seconds() > 0.15  # after the hold the agent hears the caller again


def test_agent_hang_up_says_goodbye_and_ends_the_call(tmp_path: Path) -> None:
    async def run() -> FakeCall:
        call = FakeCall(tmp_path)
        await _handed_off(call)
        agent = FakeLeg("agent", "a1")
        await call.session.connect_agent(agent.leg)
        assert await call.session.disconnect_agent("a1", end_call=True)
        await asyncio.wait_for(call.session.hangup.wait(), 5)
        await call.session.close(call.session.end_reason)
        return call

    call = asyncio.run(run())
    assert call.said()[-1] == "GOODBYE"
    assert call.session.end_reason == "agent_hung_up"


def test_listener_hears_caller_and_agent_mixed(tmp_path: Path) -> None:
    async def run() -> FakeLeg:
        call = FakeCall(tmp_path)
        await _handed_off(call)
        agent = FakeLeg("agent", "a1")
        listener = FakeLeg("listener", "s1")
        await call.session.connect_agent(agent.leg)
        call.session.add_listener(listener.leg)
        for f in frames(tone(0.4, hz=300)):
            await call.session.agent_audio("a1", f)
        for f in frames(tone(0.4, hz=1000)):
            await call.session.audio(f)
        await call.session.close("caller_hung_up")
        return listener

    listener = asyncio.run(run())
    x = np.frombuffer(b"".join(listener.audio), "<i2").astype(np.float32)
    spectrum = np.abs(np.fft.rfft(x))
    freqs = np.fft.rfftfreq(x.size, 1 / 16000)
    peak = lambda hz: spectrum[np.abs(freqs - hz) < 20].max()  # noqa: E731
    assert peak(300) > 10 * np.median(spectrum) and peak(1000) > 10 * np.median(spectrum)


def test_a_mulaw_8k_caller_reaches_the_agent_as_16k_pcm() -> None:
    from core.codec import mulaw_encode

    t = np.arange(8000) / 8000
    caller = mulaw_encode((0.3 * np.sin(2 * np.pi * 500 * t)).astype(np.float32))
    convert = StreamConverter(8000, "mulaw", 16000, "pcm16")
    out = b"".join(convert(caller[i : i + 160]) for i in range(0, len(caller), 160))
    x = np.frombuffer(out, "<i2").astype(np.float32)
    assert 16000 - 800 < x.size <= 16000  # the stream resampler holds back at most 50 ms
    freqs = np.fft.rfftfreq(x.size, 1 / 16000)
    assert abs(freqs[np.argmax(np.abs(np.fft.rfft(x)))] - 500) < 10


def test_mix_pads_and_clips() -> None:
    loud = np.full(4, 30000, "<i2").tobytes()
    out = np.frombuffer(mix(loud, loud[:4]), "<i2")
    assert list(out) == [32767, 32767, 30000, 30000]  # loud[:4] is two samples


def test_the_rating_question_takes_the_callers_words_not_any_digit(tmp_path: Path) -> None:
    async def rate(answer: str) -> int | None:
        folder = tmp_path / answer.replace(" ", "_").replace(",", "").replace("'", "")
        folder.mkdir()
        call = FakeCall(folder)
        await call.session.open()
        call.session.conversation.awaiting_rating = True
        await call.session.text(answer, "en")
        await asyncio.wait_for(call.session.hangup.wait(), 5)
        await call.session.close("goodbye")
        return call.store.get_call(call.session.call_id).rating

    assert asyncio.run(rate("five stars")) == 5
    assert asyncio.run(rate("no thanks, I'm done")) is None
