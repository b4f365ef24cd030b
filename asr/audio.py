"""Load any supported recording as mono float32 at 16 kHz, or fail with a clear AudioDecodeError.

WAV files in the two telephone encodings (PCM16 and G.711 mu-law) are parsed here, chunk by chunk,
so a header that lies about its length or rate is caught and explained; the samples go through
core.codec. Everything else (FLAC, MP3, other WAV subtypes) goes to libsndfile, then to PyAV
(FFmpeg) as a last resort.
"""

from __future__ import annotations

import io
import logging
import struct
from pathlib import Path

import numpy as np

from core.codec import mulaw_decode, pcm16_bytes_to_float, resample

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
_MIN_RATE, _MAX_RATE = 4000, 192000
_WAVE_PCM, _WAVE_MULAW, _WAVE_EXTENSIBLE = 1, 7, 0xFFFE


class AudioDecodeError(ValueError):
    """The input is not audio we can decode; the message says what is wrong and what to send."""


def load_audio(source: str | Path | bytes | bytearray | memoryview) -> np.ndarray:
    """Decode a file path or the bytes of a file into mono float32 samples at 16 kHz.

    Accepts WAV (PCM, float, 8 kHz mu-law), FLAC, MP3 and whatever FFmpeg reads. A truncated file
    gives the audio that is there; empty or non-audio input raises AudioDecodeError.
    """
    name, data = _read(source)
    if not data:
        raise AudioDecodeError(f"{name} is empty (0 bytes): send a WAV, FLAC or MP3 recording.")
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        parsed = _parse_wav(name, data)
        if parsed is not None:
            samples, rate = parsed
            return _finish(name, samples, rate)
    samples, rate = _decode_generic(name, data)
    return _finish(name, samples, rate)


def _read(source: str | Path | bytes | bytearray | memoryview) -> tuple[str, bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        return "the audio", bytes(source)
    path = Path(source)
    if not path.is_file():
        raise AudioDecodeError(f"{path} does not exist or is not a file.")
    return str(path), path.read_bytes()


def _finish(name: str, samples: np.ndarray, rate: int) -> np.ndarray:
    if samples.size == 0:
        raise AudioDecodeError(f"{name} holds no audio samples: the recording is empty or cut off.")
    samples = np.asarray(samples, dtype=np.float32)
    if not np.all(np.isfinite(samples)):
        raise AudioDecodeError(f"{name} holds NaN or infinite samples: it is damaged.")
    # Clipped or over-range float audio is still speech: bring it back into [-1, 1].
    samples = np.clip(samples, -1.0, 1.0)
    return resample(samples, rate, SAMPLE_RATE)


def _parse_wav(name: str, data: bytes) -> tuple[np.ndarray, int] | None:
    """Parse PCM16 / mu-law WAV; None hands other WAV subtypes to libsndfile."""
    fmt: tuple[int, int, int, int] | None = None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if chunk_id == b"fmt ":
            if size < 16 or body + 16 > len(data):
                raise AudioDecodeError(f"{name}: the WAV format chunk is cut off; the file is damaged.")
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[body : body + 16])
            if tag == _WAVE_EXTENSIBLE and size >= 40 and body + 26 <= len(data):
                tag = struct.unpack("<H", data[body + 24 : body + 26])[0]
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise AudioDecodeError(
                    f"{name}: WAV data comes before its format chunk; the file is damaged."
                )
            available = len(data) - body
            if size > available:
                log.warning(
                    "%s: WAV header announces %d data bytes, only %d present; using those",
                    name,
                    size,
                    available,
                )
                size = available
            return _wav_samples(name, fmt, data[body : body + size])
        pos = body + size + (size & 1)
    if fmt is None:
        raise AudioDecodeError(f"{name}: a WAV file without a format chunk; the file is damaged.")
    raise AudioDecodeError(f"{name}: a WAV file without audio data (no data chunk); it is cut off or empty.")


def _wav_samples(name: str, fmt: tuple[int, int, int, int], payload: bytes) -> tuple[np.ndarray, int] | None:
    tag, channels, rate, bits = fmt
    if not _MIN_RATE <= rate <= _MAX_RATE:
        raise AudioDecodeError(
            f"{name}: the WAV header gives a sample rate of {rate} Hz, which cannot be right "
            f"(expected {_MIN_RATE}-{_MAX_RATE} Hz); re-export the recording."
        )
    if not 1 <= channels <= 8:
        raise AudioDecodeError(f"{name}: the WAV header gives {channels} channels; the file is damaged.")
    if tag == _WAVE_MULAW and bits == 8:
        frame_bytes = channels
        samples = mulaw_decode(payload[: len(payload) - len(payload) % frame_bytes])
    elif tag == _WAVE_PCM and bits == 16:
        frame_bytes = 2 * channels
        samples = pcm16_bytes_to_float(payload[: len(payload) - len(payload) % frame_bytes])
    else:
        return None
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return samples, rate


def _decode_generic(name: str, data: bytes) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        return samples.mean(axis=1), int(rate)
    except Exception as sf_error:
        log.debug("libsndfile could not read %s (%s); trying FFmpeg", name, sf_error)
    return _decode_ffmpeg(name, data), SAMPLE_RATE


def _decode_ffmpeg(name: str, data: bytes) -> np.ndarray:
    try:
        from faster_whisper.audio import decode_audio
    except ImportError as e:  # pragma: no cover - broken install
        raise RuntimeError("faster-whisper (PyAV) is not installed: run scripts/bootstrap.sh") from e
    try:
        samples = decode_audio(io.BytesIO(data), sampling_rate=SAMPLE_RATE)
    except Exception as e:
        raise AudioDecodeError(
            f"{name} is not audio we can decode ({type(e).__name__}: {e}); send WAV, FLAC or MP3."
        ) from e
    return np.asarray(samples, dtype=np.float32)
