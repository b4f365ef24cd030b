"""People on the call: agent legs talking with the caller, listener legs hearing both sides.

When an agent connects, the bot stops mid-sentence if it was talking, says a short "you are now
connected" in the caller's language and steps back: from then on the caller's audio goes to the
agents (and listeners) and each agent's audio to the caller, converted between the caller's own
formats and the bridge's PCM16 16 kHz (pipeline/legs.py). Each agent's audio is recorded on its
own channel (agent.wav beside caller.wav) and transcribed live as speaker "agent".

Hold: the caller hears the hold prompt (again every ``hold_repeat_s``), nobody hears the other.
Mute: that agent's audio reaches neither the caller, the listeners nor the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from functools import partial

import numpy as np

from core.codec import Encoding, decode_frame, encode_frame
from core.events import AsrEvent, FinalTranscript
from pipeline.call_context import CallContext
from pipeline.legs import BRIDGE_RATE, Leg
from pipeline.playback import Playback
from pipeline.recognition import Recognition
from pipeline.recording import WavRecorder

log = logging.getLogger(__name__)
MAX_PENDING_S = 0.5
"""Agent audio kept for mixing into the listeners' feed; older audio is dropped (never a growing lag)."""


class StreamConverter:
    """Encoded audio at one rate to another encoding and rate, keeping resampler state between
    frames (a fresh resampler per 20 ms frame clicks at every frame edge)."""

    def __init__(self, rate_in: int, enc_in: Encoding, rate_out: int, enc_out: Encoding) -> None:
        self.enc_in, self.enc_out = enc_in, enc_out
        self._stream = None
        if rate_in != rate_out:
            import soxr

            # MQ: about 26 ms of resampler delay at 8 kHz (HQ: 66 ms), in a bridge where every ms is heard.
            self._stream = soxr.ResampleStream(rate_in, rate_out, 1, dtype="float32", quality="MQ")

    def __call__(self, data: bytes) -> bytes:
        samples = decode_frame(data, self.enc_in)
        if self._stream is not None:
            samples = self._stream.resample_chunk(samples.astype(np.float32))
        return encode_frame(samples, self.enc_out) if samples.size else b""


def mix(a: bytes, b: bytes) -> bytes:
    """Two PCM16 streams added sample by sample (the shorter padded with silence), clipped."""
    x = np.frombuffer(a, "<i2").astype(np.int32)
    y = np.frombuffer(b, "<i2").astype(np.int32)
    n = max(x.size, y.size)
    out = np.zeros(n, np.int32)
    out[: x.size] += x
    out[: y.size] += y
    return np.clip(out, -32768, 32767).astype("<i2").tobytes()


class Bridge:
    def __init__(
        self,
        ctx: CallContext,
        playback: Playback,
        agent_recorder: Callable[[], WavRecorder],
        hold_repeat_s: float = 30.0,
    ) -> None:
        self.ctx = ctx
        self.playback = playback
        self.agents: dict[str, Leg] = {}
        self.listeners: dict[str, Leg] = {}
        self.on_hold = False
        self.hold_repeat_s = hold_repeat_s
        self._agent_recorder_factory = agent_recorder
        self._agent_recorder: WavRecorder | None = None
        self._recognitions: dict[str, Recognition] = {}
        self._pending: dict[str, bytes] = {}
        start = ctx.start
        self._caller_in = StreamConverter(start.sample_rate, start.encoding, BRIDGE_RATE, "pcm16")
        voice = playback.voice
        self._to_caller = StreamConverter(BRIDGE_RATE, "pcm16", voice.sample_rate, voice.encoding)
        self._hold_task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return bool(self.agents)

    # --- legs ----------------------------------------------------------------------------------
    async def connect_agent(self, leg: Leg) -> None:
        """A person takes the call: the bot steps back and says so; audio flows both ways."""
        ctx = self.ctx
        first = not self.agents
        self.agents[leg.party_id] = leg
        if self._agent_recorder is None:
            self._agent_recorder = self._agent_recorder_factory()
            await ctx.work(
                ctx.services.store.update_call, ctx.call_id, agent_audio_path=str(self._agent_recorder.path)
            )
        on_event = partial(self._on_agent_event, leg.party_id)
        recognition = Recognition(BRIDGE_RATE, 2, on_event, name="agent-asr")
        await recognition.start(ctx.services.recognizer_factory, BRIDGE_RATE, "pcm16")
        self._recognitions[leg.party_id] = recognition
        if self.on_hold:
            await self.set_hold(False)
        ctx.services.bus.publish(
            "call.bridged", call_id=ctx.call_id, handoff_id=ctx.handoff_id, agent_id=leg.party_id
        )
        if first:
            await self.playback.cut("agent_connected")
            await self.playback.say(self.playback.voice.prompt_text("agent_connected", ctx.language))

    async def disconnect_agent(self, party_id: str) -> bool:
        """The agent's leg is gone (hung up, transferred, dropped); True if it was connected."""
        leg = self.agents.pop(party_id, None)
        self._pending.pop(party_id, None)
        recognition = self._recognitions.pop(party_id, None)
        if recognition is not None:
            await recognition.drain(10)
            recognition.close()
        if leg is not None:
            self.ctx.services.bus.publish(
                "call.unbridged", call_id=self.ctx.call_id, handoff_id=self.ctx.handoff_id, agent_id=party_id
            )
        if not self.agents and self.on_hold:
            await self.set_hold(False)
        return leg is not None

    def add_listener(self, leg: Leg) -> None:
        self.listeners[leg.party_id] = leg

    def remove_listener(self, party_id: str) -> bool:
        return self.listeners.pop(party_id, None) is not None

    def set_mute(self, party_id: str, muted: bool) -> None:
        leg = self.agents.get(party_id)
        if leg is None:
            raise KeyError(party_id)
        leg.muted = muted

    async def set_hold(self, on: bool) -> None:
        if on == self.on_hold:
            return
        self.on_hold = on
        ctx = self.ctx
        ctx.services.bus.publish("call.hold", call_id=ctx.call_id, handoff_id=ctx.handoff_id, on=on)
        if on:
            self._hold_task = asyncio.create_task(self._hold_prompts())
        else:
            if self._hold_task is not None:
                self._hold_task.cancel()
                self._hold_task = None
            await self.playback.cut("hold_ended")

    async def _hold_prompts(self) -> None:
        while self.on_hold:
            await self.playback.say(self.playback.voice.prompt_text("on_hold", self.ctx.language))
            await asyncio.sleep(self.hold_repeat_s)

    # --- audio ---------------------------------------------------------------------------------
    async def caller_audio(self, chunk: bytes) -> None:
        """The caller's audio, in the caller's format: to the agents (unless on hold) and listeners."""
        if not self.agents and not self.listeners:
            return
        pcm = self._caller_in(chunk)
        if not pcm:
            return
        if not self.on_hold:
            for party_id, leg in list(self.agents.items()):
                others = [p for p in self._pending if p != party_id]
                heard = pcm
                for other in others:  # another agent on the call (warm transfer) is heard too
                    heard = mix(heard, self._pending[other][: len(pcm)])
                await _send(leg, heard)
        if self.listeners:
            heard = pcm
            for other in self._pending:
                heard = mix(heard, self._pending[other][: len(pcm)])
            for leg in list(self.listeners.values()):
                await _send(leg, heard)
        for party_id in list(self._pending):
            self._pending[party_id] = self._pending[party_id][len(pcm) :]

    async def agent_audio(self, party_id: str, pcm: bytes) -> None:
        """An agent's microphone (PCM16 16 kHz): to the caller, the record and the agent's recogniser."""
        leg = self.agents.get(party_id)
        if leg is None or leg.muted or self.on_hold or not pcm:
            return
        if self._agent_recorder is not None:
            self._agent_recorder.write(pcm)
        recognition = self._recognitions.get(party_id)
        if recognition is not None:
            recognition.put(pcm)
        keep = int(MAX_PENDING_S * BRIDGE_RATE) * 2
        self._pending[party_id] = (self._pending.get(party_id, b"") + pcm)[-keep:]
        out = self._to_caller(pcm)
        if out:
            await self.ctx.caller.send_audio(out)

    async def _on_agent_event(self, party_id: str, event: AsrEvent) -> None:
        if not isinstance(event, FinalTranscript) or not event.text.strip():
            return
        ctx = self.ctx
        language = "zh" if event.language.startswith("zh") else "en"
        said = await ctx.work(
            ctx.services.store.add_utterance,
            ctx.call_id,
            "agent",
            event.text,
            language,
            event.start_s,
            event.end_s,
            event.confidence,
        )
        ctx.publish_transcript("agent", event.text, said.seq)
        await ctx.caller.send_json(
            {"type": "final", "speaker": "agent", "text": event.text, "language": language}
        )

    async def close(self) -> None:
        for party_id in list(self.agents):
            await self.disconnect_agent(party_id)
        self.listeners.clear()
        if self._hold_task is not None:
            self._hold_task.cancel()
        if self._agent_recorder is not None:
            self._agent_recorder.close()


async def _send(leg: Leg, pcm: bytes) -> None:
    with contextlib.suppress(Exception):  # a dropped leg must not stop the caller's audio
        await leg.send_audio(pcm)
