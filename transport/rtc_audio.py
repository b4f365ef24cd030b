"""Audio between aiortc and the call: the outbound track paced at real time, the inbound converter.

Both sides of the call speak PCM16 mono at 16 kHz (``pipeline.legs.BRIDGE_RATE``). aiortc's encoders
resample what the track gives them (Opus to 48 kHz, G.711 to 8 kHz), so the outbound track hands
over 16 kHz frames; inbound frames arrive decoded in the codec's own layout (Opus: 48 kHz stereo)
and are brought to 16 kHz mono with one stateful resampler per track, so no frame edge clicks.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
import time

import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, AudioResampler

from core.codec import float_to_pcm16_bytes

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
"""Both directions: PCM16 mono at the rate legs bridge at (pipeline/legs.py BRIDGE_RATE)."""
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
FRAME_BYTES = FRAME_SAMPLES * 2
_TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
_RESYNC_BEHIND_S = 0.2
"""When the event loop was blocked for longer than this, restart the clock instead of bursting."""


class PacedAudioTrack(MediaStreamTrack):
    """An outbound audio track fed with PCM16 mono 16 kHz: one 20 ms frame per 20 ms of wall time,
    silence when nothing is queued. ``push`` queues audio, ``clear`` drops what is queued (barge-in).
    """

    kind = "audio"

    def __init__(self, max_queued_s: float = 600.0, live_latency_s: float | None = None) -> None:
        super().__init__()
        self._live_bytes = int(live_latency_s * SAMPLE_RATE) * 2 if live_latency_s else None
        """A live feed (another person's voice): audio queued beyond this is late, and the oldest
        is dropped, so a stall of the event loop never turns into a lasting delay."""
        self.stereo = False
        """Hand the encoder two equal channels: set for Opus, whose encoder would otherwise upmix
        mono at -3 dB. G.711 encoders want mono (their downmix of two channels would clip)."""
        self._queue = bytearray()
        self._max_bytes = int(max_queued_s * SAMPLE_RATE) * 2
        self._odd_byte_pending = False
        """A push ended half-way through a sample; after a clear its other half must be skipped."""
        self._skip_next_byte = False
        self._start: float | None = None
        self._frames = 0
        self.late_dropped_s = 0.0
        """Seconds of live audio dropped because it was late (live_latency_s)."""
        self.played_s = 0.0
        """Seconds of queued (non-filler) audio handed to the encoder so far."""
        self.drained = asyncio.Event()
        self.drained.set()

    @property
    def queued_s(self) -> float:
        return len(self._queue) / 2 / SAMPLE_RATE

    def push(self, pcm: bytes) -> None:
        if self._skip_next_byte and pcm:
            pcm, self._skip_next_byte = pcm[1:], False
        if not pcm:
            return
        room = self._max_bytes - len(self._queue)
        if len(pcm) > room:
            log.warning(
                "outbound WebRTC audio queue is full (%.0f s); dropping %.2f s of audio",
                self._max_bytes / 2 / SAMPLE_RATE,
                (len(pcm) - room) / 2 / SAMPLE_RATE,
            )
            pcm = pcm[: max(room, 0)]
        self._queue += pcm
        if self._live_bytes is not None and len(self._queue) > self._live_bytes:
            late = len(self._queue) - self._live_bytes
            del self._queue[: late - late % 2]
            self.late_dropped_s += (late - late % 2) / 2 / SAMPLE_RATE
        self._odd_byte_pending = len(self._queue) % 2 == 1
        if self._queue:
            self.drained.clear()

    def clear(self) -> float:
        """Drop everything queued; returns the seconds dropped."""
        dropped = self.queued_s
        self._skip_next_byte = self._odd_byte_pending
        self._odd_byte_pending = False
        self._queue.clear()
        self.drained.set()
        return dropped

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        now = time.monotonic()
        if self._start is None:
            self._start = now
        else:
            wait = self._start + self._frames * FRAME_MS / 1000 - now
            if wait > 0:
                await asyncio.sleep(wait)
            elif wait < -_RESYNC_BEHIND_S:
                self._start = now - self._frames * FRAME_MS / 1000
        chunk = bytes(self._queue[:FRAME_BYTES])
        del self._queue[:FRAME_BYTES]
        if chunk:
            self.played_s += len(chunk) / 2 / SAMPLE_RATE
        if not self._queue:
            self.drained.set()
        if len(chunk) < FRAME_BYTES:
            chunk += bytes(FRAME_BYTES - len(chunk))
        if self.stereo:
            chunk = np.frombuffer(chunk, dtype="<i2").repeat(2).tobytes()
        frame = AudioFrame(format="s16", layout="stereo" if self.stereo else "mono", samples=FRAME_SAMPLES)
        frame.planes[0].update(chunk)
        frame.pts = self._frames * FRAME_SAMPLES
        frame.sample_rate = SAMPLE_RATE
        frame.time_base = _TIME_BASE
        self._frames += 1
        return frame


class InboundAudio:
    """Turns the remote track's decoded frames into PCM16 mono 16 kHz bytes.

    Channels are averaged here rather than by the resampler's downmix, which lowers a mono source
    sent as two equal channels (what Opus decoding gives) by 3 dB.
    """

    def __init__(self) -> None:
        self._resampler = AudioResampler(format="fltp", rate=SAMPLE_RATE)

    def convert(self, frame: AudioFrame) -> bytes:
        pcm = bytearray()
        for out in self._resampler.resample(frame):
            planes = out.to_ndarray()  # planar float: one row per channel
            pcm += float_to_pcm16_bytes(planes.mean(axis=0))
        return bytes(pcm)
