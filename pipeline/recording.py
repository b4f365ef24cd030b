"""Call recordings: caller and bot audio written to WAV files beside the database as the call runs.

Audio is appended as it arrives and handed to the operating system at once, and the WAV header's
sizes are rewritten at most once a second, so a process killed mid-call (``kill -9``, a power cut
aside) leaves a file that plays up to its last second; `repair` makes the header match the data
exactly, and a surviving instance runs it on the recordings of a call whose instance died
(pipeline/instances.py).
"""

from __future__ import annotations

import os
import struct
import threading
import time
from pathlib import Path
from typing import BinaryIO

import numpy as np

from core.codec import Encoding, decode_frame, float_to_pcm16_bytes

HEADER_BYTES = 44
HEADER_EVERY_S = 1.0


def wav_header(sample_rate: int, data_bytes: int) -> bytes:
    """A 44-byte RIFF header of mono 16-bit PCM holding ``data_bytes`` of samples."""
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


class WavRecorder:
    """Appends encoded audio frames (PCM16 or mu-law) to a 16-bit PCM WAV file."""

    def __init__(self, path: Path, sample_rate: int, encoding: Encoding) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.encoding = encoding
        self.sample_rate = sample_rate
        self._lock = threading.Lock()
        # Held open for the whole call and closed by close(): no context manager fits that lifetime.
        self._file: BinaryIO | None = path.open("wb")
        self._file.write(wav_header(sample_rate, 0))
        self._file.flush()
        self._header_at = time.monotonic()
        self.frames = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        pcm = data if self.encoding == "pcm16" else float_to_pcm16_bytes(decode_frame(data, self.encoding))
        self._append(pcm[: len(pcm) // 2 * 2])

    def write_silence(self, seconds: float, sample_rate: int) -> None:
        if seconds > 0:
            self._append(np.zeros(int(seconds * sample_rate), "<i2").tobytes())

    def _append(self, pcm: bytes) -> None:
        with self._lock:
            if self._file is None:
                return
            self._file.write(pcm)
            self.frames += len(pcm) // 2
            if time.monotonic() - self._header_at >= HEADER_EVERY_S:
                self._patch_header()
            self._file.flush()  # to the OS: a killed process loses nothing written so far

    def _patch_header(self) -> None:
        assert self._file is not None
        data_bytes = self.frames * 2
        self._file.seek(4)
        self._file.write(struct.pack("<I", 36 + data_bytes))
        self._file.seek(40)
        self._file.write(struct.pack("<I", data_bytes))
        self._file.seek(0, os.SEEK_END)
        self._header_at = time.monotonic()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._patch_header()
                self._file.close()
                self._file = None


def repair(path: Path) -> float | None:
    """Make a WAV header's sizes match the samples the file holds (a recording left open by a
    process that died); returns its duration in seconds, None when the file is missing or not one
    of ours (mono 16-bit PCM with a 44-byte header)."""
    try:
        with path.open("r+b") as f:
            head = f.read(HEADER_BYTES)
            if len(head) < HEADER_BYTES or head[:4] != b"RIFF" or head[36:40] != b"data":
                return None
            (channels,) = struct.unpack("<H", head[22:24])
            (rate,) = struct.unpack("<I", head[24:28])
            (bits,) = struct.unpack("<H", head[34:36])
            if channels != 1 or bits != 16 or rate <= 0:
                return None
            size = f.seek(0, os.SEEK_END) - HEADER_BYTES
            size -= size % 2
            f.truncate(HEADER_BYTES + size)
            f.seek(4)
            f.write(struct.pack("<I", 36 + size))
            f.seek(40)
            f.write(struct.pack("<I", size))
            return size / 2 / rate
    except OSError:
        return None


def call_recording_dir(root: Path, call_id: str) -> Path:
    return root / time.strftime("%Y-%m-%d") / call_id
