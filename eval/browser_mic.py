"""A browser's microphone for aiortc peers in benchmarks and tests: 48 kHz, 20 ms frames paced at
real time, silence between what it is given to say, and the moment the latest words went out."""

from __future__ import annotations

import asyncio
import fractions
import time

import numpy as np
from aiortc import MediaStreamTrack
from av import AudioFrame

BROWSER_RATE = 48000  # what a browser's microphone track gives the Opus encoder


class BrowserMicrophone(MediaStreamTrack):
    kind = "audio"

    def __init__(self, channels: int = 1) -> None:
        super().__init__()
        if channels not in (1, 2):
            raise ValueError("a browser microphone track is mono or stereo")
        self.channels = channels
        self.said_at: float | None = None
        """When the first sample of the latest ``say`` went out (None: not yet)."""
        self._script = np.zeros(0, np.float32)
        self._armed = False
        self._n = 0
        self._start: float | None = None

    def say(self, samples: np.ndarray, *, interrupt: bool = False) -> None:
        """Queue float samples at 48 kHz after what is still to be said (``interrupt``: instead of it)."""
        samples = np.asarray(samples, np.float32)
        self._script = samples if interrupt else np.concatenate([self._script, samples])
        self._armed, self.said_at = True, None

    async def recv(self) -> AudioFrame:
        step = BROWSER_RATE // 50
        if self._start is None:
            self._start = time.monotonic()
        wait = self._start + self._n / BROWSER_RATE - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        chunk = np.zeros(step, np.float32)
        take = self._script[:step]
        chunk[: take.size] = take
        self._script = self._script[step:]
        if self._armed and take.size:
            self._armed, self.said_at = False, time.monotonic()
        pcm = (np.repeat(chunk, self.channels) * 32767).astype("<i2").reshape(1, -1)
        frame = AudioFrame.from_ndarray(pcm, format="s16", layout="mono" if self.channels == 1 else "stereo")
        frame.sample_rate, frame.pts = BROWSER_RATE, self._n
        frame.time_base = fractions.Fraction(1, BROWSER_RATE)
        self._n += step
        return frame
