"""Call recordings: caller and bot audio written to WAV files beside the database as the call runs.

Audio is appended as it arrives, so a dropped connection still leaves everything heard so far;
the WAV header is fixed up when the file is closed (and `repair` mends one left open by a crash).
"""

from __future__ import annotations

import threading
import time
import wave
from pathlib import Path

import numpy as np

from core.codec import Encoding, decode_frame, float_to_pcm16_bytes


class WavRecorder:
    """Appends encoded audio frames (PCM16 or mu-law) to a 16-bit PCM WAV file."""

    def __init__(self, path: Path, sample_rate: int, encoding: Encoding) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.encoding = encoding
        self._lock = threading.Lock()
        # Held open for the whole call and closed by close(): no context manager fits that lifetime.
        self._wav: wave.Wave_write | None = wave.open(str(path), "wb")  # noqa: SIM115
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(sample_rate)
        self.frames = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        pcm = data if self.encoding == "pcm16" else float_to_pcm16_bytes(decode_frame(data, self.encoding))
        with self._lock:
            if self._wav is None:
                return
            self._wav.writeframesraw(pcm)
            self.frames += len(pcm) // 2

    def write_silence(self, seconds: float, sample_rate: int) -> None:
        with self._lock:
            if self._wav is not None and seconds > 0:
                self._wav.writeframesraw(np.zeros(int(seconds * sample_rate), "<i2").tobytes())

    def close(self) -> None:
        with self._lock:
            if self._wav is not None:
                self._wav.close()
                self._wav = None


def call_recording_dir(root: Path, call_id: str) -> Path:
    return root / time.strftime("%Y-%m-%d") / call_id
