"""Telephone and web audio codecs shared by every stage: PCM16, G.711 mu-law and A-law, resampling.

Internally audio is mono float32 in [-1, 1]; on the wire it is PCM16 little-endian or mu-law bytes.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Encoding = Literal["pcm16", "mulaw"]
SUPPORTED_RATES = (8000, 16000, 22050, 24000, 44100, 48000)

_MULAW_BIAS = 0x84
_MULAW_CLIP = 32635


def _build_mulaw_table() -> np.ndarray:
    codes = np.arange(256, dtype=np.int32)
    u = ~codes & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = ((mantissa << 3) + _MULAW_BIAS) << exponent
    sample = np.where(sign != 0, _MULAW_BIAS - magnitude, magnitude - _MULAW_BIAS)
    return sample.astype(np.int16)


_MULAW_TO_PCM = _build_mulaw_table()


class AudioFormatError(ValueError):
    """Audio bytes that cannot be what the caller said they are."""


def pcm16_bytes_to_float(data: bytes) -> np.ndarray:
    if len(data) % 2:
        raise AudioFormatError(f"PCM16 audio must have an even byte count, got {len(data)} bytes.")
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def float_to_pcm16_bytes(samples: np.ndarray) -> bytes:
    return _to_int16(samples).astype("<i2").tobytes()


def _to_int16(samples: np.ndarray) -> np.ndarray:
    scaled = np.round(np.asarray(samples, dtype=np.float32) * 32768.0)
    return np.clip(scaled, -32768, 32767).astype(np.int32)


def mulaw_decode(data: bytes) -> np.ndarray:
    """G.711 mu-law bytes -> float32 samples."""
    codes = np.frombuffer(data, dtype=np.uint8)
    return _MULAW_TO_PCM[codes].astype(np.float32) / 32768.0


def mulaw_encode(samples: np.ndarray) -> bytes:
    """float32 samples -> G.711 mu-law bytes (the standard segment encoder)."""
    pcm = _to_int16(samples)
    sign = np.where(pcm < 0, 0x80, 0x00)
    magnitude = np.minimum(np.abs(pcm), _MULAW_CLIP) + _MULAW_BIAS
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    code = ~(sign | (exponent << 4) | mantissa) & 0xFF
    return code.astype(np.uint8).tobytes()


def _build_alaw_table() -> np.ndarray:
    codes = np.arange(256, dtype=np.int32) ^ 0x55
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = np.where(
        exponent == 0, (mantissa << 4) + 8, ((mantissa << 4) + 0x108) << np.maximum(exponent - 1, 0)
    )
    return np.where(sign != 0, magnitude, -magnitude).astype(np.int16)


_ALAW_TO_PCM = _build_alaw_table()


def alaw_decode(data: bytes) -> np.ndarray:
    """G.711 A-law bytes -> float32 samples (SIP payload type 8, PCMA: the usual codec outside
    North America and Japan, China's trunks included)."""
    codes = np.frombuffer(data, dtype=np.uint8)
    return _ALAW_TO_PCM[codes].astype(np.float32) / 32768.0


def alaw_encode(samples: np.ndarray) -> bytes:
    """float32 samples -> G.711 A-law bytes (the standard segment encoder, ITU-T G.711)."""
    pcm = _to_int16(samples)
    sign = np.where(pcm >= 0, 0x80, 0x00)
    magnitude = np.minimum(np.where(pcm >= 0, pcm, -pcm - 1), 32767) >> 3  # 13-bit magnitude
    exponent = np.clip(np.floor(np.log2(np.maximum(magnitude, 1))).astype(np.int32) - 4, 0, 7)
    mantissa = np.where(exponent < 2, magnitude >> 1, magnitude >> exponent) & 0x0F
    code = (sign | (exponent << 4) | mantissa) ^ 0x55
    return code.astype(np.uint8).tobytes()


def decode_frame(data: bytes, encoding: Encoding) -> np.ndarray:
    if encoding == "pcm16":
        return pcm16_bytes_to_float(data)
    if encoding == "mulaw":
        return mulaw_decode(data)
    raise AudioFormatError(f"Unknown audio encoding {encoding!r}: use 'pcm16' or 'mulaw'.")


def encode_frame(samples: np.ndarray, encoding: Encoding) -> bytes:
    if encoding == "pcm16":
        return float_to_pcm16_bytes(samples)
    if encoding == "mulaw":
        return mulaw_encode(samples)
    raise AudioFormatError(f"Unknown audio encoding {encoding!r}: use 'pcm16' or 'mulaw'.")


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """High-quality resampling (libsoxr); a no-op when the rates match."""
    if rate_in == rate_out or samples.size == 0:
        return np.asarray(samples, dtype=np.float32)
    import soxr

    return np.asarray(soxr.resample(samples, rate_in, rate_out, quality="HQ"), dtype=np.float32)
