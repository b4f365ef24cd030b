"""Silero VAD (the ONNX model faster-whisper ships), frame by frame with its state carried over.

faster-whisper's own wrapper resets the recurrent state on every call, which suits whole files;
a call arrives 20 ms at a time, so this wrapper keeps the LSTM state and the 64-sample context
between 32 ms frames itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SAMPLE_RATE = 16000
FRAME = 512
"""Samples per VAD frame (32 ms at 16 kHz): the size Silero v5/v6 expects."""
_CONTEXT = 64


def _session() -> Any:
    try:
        from faster_whisper.vad import get_vad_model
    except ImportError as e:  # pragma: no cover - broken install
        raise RuntimeError("faster-whisper is not installed: run scripts/bootstrap.sh") from e
    return get_vad_model().session


class StreamingVad:
    """Speech probability per 32 ms frame of a continuous 16 kHz stream."""

    def __init__(self) -> None:
        self._session = _session()
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    def push(self, samples: np.ndarray) -> list[float]:
        """Feed samples; returns one probability per completed frame (leftovers wait)."""
        data = np.concatenate([self._pending, np.asarray(samples, dtype=np.float32)])
        n = len(data) // FRAME
        self._pending = data[n * FRAME :]
        probs: list[float] = []
        for i in range(n):
            frame = data[i * FRAME : (i + 1) * FRAME]
            x = np.concatenate([self._context, frame])[None, :]
            out, self._h, self._c = self._session.run(None, {"input": x, "h": self._h, "c": self._c})
            self._context = frame[-_CONTEXT:]
            probs.append(float(np.asarray(out).reshape(-1)[0]))
        return probs


def speech_regions(
    audio: np.ndarray, threshold: float, min_silence_ms: int, max_speech_s: float
) -> list[tuple[int, int]]:
    """Speech regions (start, end sample) of a whole 16 kHz recording, for batch transcription.

    Regions longer than ``max_speech_s`` are split at their longest inner pause (Silero's rule).
    """
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    opts = VadOptions(
        threshold=threshold,
        min_silence_duration_ms=min_silence_ms,
        speech_pad_ms=400,
        min_speech_duration_ms=100,
        max_speech_duration_s=max_speech_s,
    )
    return [(int(c["start"]), int(c["end"])) for c in get_speech_timestamps(audio, opts)]
