import numpy as np
import pytest

from core.codec import (
    AudioFormatError,
    float_to_pcm16_bytes,
    mulaw_decode,
    mulaw_encode,
    pcm16_bytes_to_float,
    resample,
)


def test_mulaw_round_trip_is_within_g711_quantisation() -> None:
    t = np.arange(8000) / 8000
    tone = 0.5 * np.sin(2 * np.pi * 440 * t).astype(np.float32)
    decoded = mulaw_decode(mulaw_encode(tone))
    assert len(decoded) == len(tone)
    # mu-law keeps ~38 dB SNR on a mid-level tone.
    snr = 10 * np.log10(np.sum(tone**2) / np.sum((tone - decoded) ** 2))
    assert snr > 30


def test_mulaw_matches_python_audioop_reference() -> None:
    audioop = pytest.importorskip("audioop")
    pcm = (np.linspace(-1, 1, 4001) * 32767).astype("<i2").tobytes()
    ours = mulaw_encode(pcm16_bytes_to_float(pcm))
    ref = audioop.lin2ulaw(pcm, 2)
    assert np.mean(np.frombuffer(ours, np.uint8) == np.frombuffer(ref, np.uint8)) > 0.99
    assert np.allclose(mulaw_decode(ref) * 32768, np.frombuffer(audioop.ulaw2lin(ref, 2), "<i2"), atol=1)


def test_odd_pcm_byte_count_is_rejected() -> None:
    with pytest.raises(AudioFormatError, match="even"):
        pcm16_bytes_to_float(b"\x00\x01\x02")


def test_resample_keeps_duration() -> None:
    x = np.zeros(8000, np.float32)
    assert len(resample(x, 8000, 16000)) == 16000
    assert len(pcm16_bytes_to_float(float_to_pcm16_bytes(x))) == 8000
