"""Derived telephone copies of clips: what a caller sounds like after a G.711 phone line.

Each clip is resampled to 8 kHz, band-limited to 300-3400 Hz (4th-order Butterworth band-pass, the
telephone channel) and mu-law encoded and decoded (G.711). The copies stay at 8 kHz, as a call
delivers them: batch transcription upsamples a copy once, streaming is fed it as 20 ms mu-law
frames at 8 kHz (the telephone transports' path, with its 8 kHz VAD settings). These are derived
data, not recordings made on a phone line: results are labelled so.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf

from core.codec import mulaw_decode, mulaw_encode, resample

BAND_HZ = (300.0, 3400.0)
PHONE_RATE = 8000
DESCRIPTION = "derived: 8 kHz, band-pass 300-3400 Hz (Butterworth order 4), G.711 mu-law round trip"


def line_signal(audio: np.ndarray, rate: int = 16000) -> np.ndarray:
    """A float32 clip at ``rate`` -> what the phone line carries: 8 kHz samples, band-limited and
    mu-law coded (every value is a G.711 level, so PCM16 and mu-law both hold it exactly)."""
    from scipy.signal import butter, sosfilt

    narrow = resample(np.asarray(audio, np.float32), rate, PHONE_RATE)
    sos = butter(4, BAND_HZ, btype="bandpass", fs=PHONE_RATE, output="sos")
    band = np.asarray(sosfilt(sos, narrow), np.float32)
    return mulaw_decode(mulaw_encode(np.clip(band, -1.0, 1.0)))


def telephone_copy(audio: np.ndarray, rate: int = 16000) -> np.ndarray:
    """A float32 clip at ``rate`` -> the same clip as heard through a narrowband mu-law line, at ``rate``."""
    return resample(line_signal(audio, rate), PHONE_RATE, rate)


def derive_manifest(manifest: Path, out_dir: Path) -> Path:
    """Write telephone copies of every clip of ``manifest`` under ``out_dir`` and a manifest for them."""
    from asr.audio import load_audio

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        src = (manifest.parent / row["file"]).resolve()
        name = Path(row["file"]).stem + ".tel.wav"
        # Kept at the line's 8 kHz: batch upsamples the file once, streaming is fed it as mu-law.
        sf.write(out_dir / name, line_signal(load_audio(src)), PHONE_RATE, subtype="PCM_16")
        rows.append(
            {
                **row,
                "file": name,
                "sample_rate": PHONE_RATE,
                "channels": 1,
                "line_encoding": "mulaw",
                "derived_from": row["file"],
                "derived": DESCRIPTION,
            }
        )
    out = out_dir / "manifest.jsonl"
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return out
