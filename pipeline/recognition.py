"""One party's audio, in order, through its recogniser: events come out for the call to act on.

Audio must be fed in order, so each party has one thread for its recogniser (the decodes
themselves go through the shared scheduler, asr/scheduler.py). Whatever queued while a decode
ran is joined and fed at once, so a slow decode never lets the queue grow without bound.
The caller has one; a connected agent has another, so the whole conversation is transcribed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from core.events import AsrEvent
from pipeline.recording import WavRecorder
from pipeline.turns import Recognizer

T = TypeVar("T")
OnEvent = Callable[[AsrEvent], Awaitable[None]]


class Recognition:
    def __init__(
        self,
        sample_rate: int,
        bytes_per_sample: int,
        on_event: OnEvent,
        recorder: WavRecorder | None = None,
        name: str = "call-asr",
    ) -> None:
        self.sample_rate = sample_rate
        self.bytes_per_sample = bytes_per_sample
        self.on_event = on_event
        self.recorder = recorder
        self.recognizer: Recognizer | None = None
        self.received_samples = 0
        self.arrivals: list[tuple[float, float]] = []  # (audio seconds received, wall time)
        self.asr_since: float | None = None
        """When the recogniser call in progress began (None between calls)."""
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=name)
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def run_blocking(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._pool, lambda: fn(*args))

    async def start(self, factory: Callable[..., Recognizer], *args: Any) -> None:
        """Make the recogniser in its own thread (loading may block) and start feeding it."""
        self.recognizer = await self.run_blocking(factory, *args)
        self._task = asyncio.create_task(self._loop())

    def put(self, chunk: bytes | None) -> None:
        self._queue.put_nowait(chunk)

    @property
    def audio_seconds(self) -> float:
        return self.received_samples / self.sample_rate

    @property
    def decoding(self) -> bool:
        """A recogniser call that lasts is a decode (voice activity alone takes milliseconds)."""
        return self.asr_since is not None and time.monotonic() - self.asr_since > 0.25

    def arrival_wall(self, t_s: float) -> float:
        """When the audio at t_s (seconds into this party's stream) arrived."""
        for audio_s, wall in self.arrivals:
            if audio_s >= t_s:
                return wall
        return time.monotonic()

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Finish recognising what was heard (the last utterance's final comes out)."""
        if self._task is None or self._task.done():
            return
        self.put(None)
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout_s)
        except Exception:  # a failed or slow recogniser must not hold the call's records
            self._task.cancel()

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._pool.shutdown(wait=False)

    async def _loop(self) -> None:
        assert self.recognizer is not None
        recognizer = self.recognizer
        done = False
        while not done:
            chunks = [await self._queue.get()]
            while not self._queue.empty():  # catch up on whatever queued while we decoded
                chunks.append(self._queue.get_nowait())
            done = None in chunks
            data = b"".join(c for c in chunks if c)
            events: list[AsrEvent] = []
            if data:
                self.received_samples += len(data) // self.bytes_per_sample
                self.arrivals.append((self.audio_seconds, time.monotonic()))
                del self.arrivals[:-2000]
                if self.recorder:
                    self.recorder.write(data)
                self.asr_since = time.monotonic()
                try:
                    events = await self.run_blocking(recognizer.feed, data)
                finally:
                    self.asr_since = None
            if done:
                events += await self.run_blocking(recognizer.finish)
            for event in events:
                await self.on_event(event)
