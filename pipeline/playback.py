"""The bot's voice on the caller's leg: record the words, stream the audio, stop at barge-in.

``say`` returns once streaming has started, so the call goes on listening while the bot talks;
a second ``say`` waits for the first to finish. ``barge_in`` cancels the rest of the bot's speech
at once (synthesis of the sentences not yet made stops too) and tells the caller's transport to
drop what it has buffered.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

from pipeline import metrics
from pipeline.call_context import CallContext
from pipeline.recording import WavRecorder
from pipeline.turns import Voice


class Playback:
    def __init__(self, ctx: CallContext, voice: Voice, recorder: WavRecorder | None = None) -> None:
        self.ctx = ctx
        self.voice = voice
        self.recorder = recorder
        self.last_text = ""
        self.playing_until = 0.0
        """Wall time the audio sent so far ends playing at the caller's side."""
        self._speech: asyncio.Task[None] | None = None

    def is_playing(self) -> bool:
        return (self._speech is not None and not self._speech.done()) or time.monotonic() < self.playing_until

    async def say(self, text: str) -> None:
        """Record the bot's words, then stream their audio (nothing once the call has ended)."""
        await self.finish()
        ctx = self.ctx
        if ctx.ended:
            return
        self.last_text = text
        said = await ctx.work(ctx.services.store.add_utterance, ctx.call_id, "bot", text, ctx.language)
        if ctx.turn_clock:
            ctx.turn_clock.lap("store")
        await ctx.caller.send_json({"type": "bot_text", "text": text, "language": ctx.language})
        ctx.publish_transcript("bot", text, said.seq)
        self._speech = asyncio.create_task(self._stream(text, ctx.language))

    async def finish(self) -> None:
        """Wait until what the bot is saying has been sent (or was cut off)."""
        if self._speech and not self._speech.done():
            with contextlib.suppress(asyncio.CancelledError):
                await self._speech

    async def barge_in(self) -> None:
        self.stop()
        metrics.BARGE_INS.inc()
        await self.ctx.caller.send_json({"type": "playback_stopped", "reason": "barge_in"})

    async def cut(self, reason: str) -> None:
        """Stop the bot mid-sentence for a reason other than the caller speaking (a person took over)."""
        if self.is_playing():
            self.stop()
            await self.ctx.caller.send_json({"type": "playback_stopped", "reason": reason})

    def stop(self) -> None:
        if self._speech and not self._speech.done():
            self._speech.cancel()
        self.playing_until = 0.0

    async def _stream(self, text: str, language: str) -> None:
        ctx = self.ctx
        try:
            chunks: Iterator[bytes] = await ctx.work(self.voice.speak, text, language)
        except RuntimeError:  # the call ended (its work thread is gone) before the bot spoke
            if ctx.ended:
                return
            raise
        try:
            await self._play(chunks)
        except RuntimeError:
            if not ctx.ended:
                raise
        finally:
            # On barge-in this task is cancelled: stop synthesising the rest, in the thread that owns it.
            close = getattr(chunks, "close", None)
            if close is not None and not ctx.ended:
                ctx.work_pool.submit(close)
        ctx.touch()

    async def _play(self, chunks: Iterator[bytes]) -> None:
        ctx = self.ctx
        rate = self.voice.sample_rate
        bytes_per_sample = 2 if self.voice.encoding == "pcm16" else 1
        first = True
        while (chunk := await ctx.work(next, chunks, None)) is not None:
            if first and ctx.speech_end_wall is not None:
                latency = time.monotonic() - ctx.speech_end_wall
                metrics.VOICE_TO_VOICE.observe(latency)
                await ctx.caller.send_json({"type": "latency", "voice_to_voice_s": round(latency, 3)})
                ctx.speech_end_wall = None
                if ctx.turn_clock:
                    ctx.turn_clock.lap("tts")
                    ctx.turn_clock.observe()
                    ctx.turn_clock = None
            first = False
            now = time.monotonic()
            self.playing_until = max(self.playing_until, now) + len(chunk) / bytes_per_sample / rate
            if self.recorder:
                self.recorder.write(chunk)
            await ctx.caller.send_audio(chunk)
