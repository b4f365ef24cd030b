"""`triage bench asr`: accuracy, speed and streaming latency of the ASR stage on a clip manifest.

Each clip is transcribed twice: in batch (timed: real-time factor, WER/CER) and streamed in real
time (or ``speed`` times faster) in 20 ms chunks (16 kHz PCM16; an 8 kHz clip at its own rate,
mu-law for telephone copies, as a phone line delivers it), with 0.5 s of silence before and 1.5 s
after it so the end-pointer can fire on the last utterance.

Definitions written into the JSON:
- end of speech: the end of the last 32 ms VAD frame judged speech in an utterance (the
  ``end_s`` of its FinalTranscript, in call time);
- final latency: wall time when ``feed`` returned that utterance's FinalTranscript minus the wall
  time when the audio up to its end of speech had been handed to ``feed``. It includes the
  configured end-of-speech silence, which has to pass before anyone can know speech ended;
- first-partial latency: wall time of an utterance's first PartialTranscript minus the wall time
  its speech onset (SpeechStarted.t_s) was fed.
"""

from __future__ import annotations

import json
import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soundfile as sf

from asr.audio import load_audio
from asr.batch import BatchTranscriber, join_texts
from asr.decoder import SAMPLE_RATE, WhisperDecoder
from asr.options import AsrOptions
from asr.streaming import StreamingTranscriber
from core.codec import float_to_pcm16_bytes, mulaw_encode
from core.events import FinalTranscript, PartialTranscript, SpeechStarted
from eval.metrics import EditCounts, char_errors, corpus, word_errors

CHUNK_S = 0.02
LEAD_S, TAIL_S = 0.5, 1.5
LONG_CLIP_S = 20.0
PHONE_RATE = 8000
END_OF_SPEECH_DEFINITION = (
    "end of the last 32 ms Silero VAD frame judged speech in the utterance; latency = wall time the "
    "FinalTranscript was returned minus wall time the audio up to that instant had been fed "
    "(includes the end-of-speech silence)"
)


@dataclass
class ClipResult:
    file: str
    lang: str
    duration_s: float
    reference: str
    batch_text: str
    batch_language: str
    batch_compute_s: float
    stream_text: str
    errors: EditCounts
    stream_errors: EditCounts
    final_latencies_s: list[float] = field(default_factory=list)
    first_partial_latencies_s: list[float] = field(default_factory=list)
    speech_started_latencies_s: list[float] = field(default_factory=list)


def read_manifest(path: Path) -> list[dict[str, Any]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            row["path"] = (path.parent / row["file"]).resolve()
            rows.append(row)
    if not rows:
        raise ValueError(f"{path} lists no clips")
    return rows


def score(lang: str, reference: str, hypothesis: str) -> EditCounts:
    """Chinese: CER after the 'zh' normaliser; anything else: WER after 'basic'."""
    if lang == "zh":
        return char_errors(reference, hypothesis, "zh")
    return word_errors(reference, hypothesis, "basic")


def stream_clip(
    decoder: WhisperDecoder,
    options: AsrOptions,
    audio: np.ndarray,
    speed: float,
    sample_rate: int = SAMPLE_RATE,
    encoding: Literal["pcm16", "mulaw"] = "pcm16",
) -> tuple[str, list[float], list[float], list[float]]:
    """Feed a clip (float32 at ``sample_rate``, 16000 or 8000) as a live call, in 20 ms frames of
    ``encoding``; returns final text and the latency lists (seconds)."""
    lead = np.zeros(int(LEAD_S * sample_rate), np.float32)
    tail = np.zeros(int(TAIL_S * sample_rate), np.float32)
    padded = np.concatenate([lead, audio, tail])
    pcm = mulaw_encode(padded) if encoding == "mulaw" else float_to_pcm16_bytes(padded)
    step = int(CHUNK_S * sample_rate) * (1 if encoding == "mulaw" else 2)
    streamer = StreamingTranscriber(decoder, options, sample_rate, encoding)
    finals: list[str] = []
    final_lat: list[float] = []
    partial_lat: list[float] = []
    start_lat: list[float] = []
    onset: float | None = None
    t0 = time.perf_counter()

    def fed_at(call_s: float) -> float:
        # Audio up to call_s was in the chunk that ends at or after it.
        chunk_end = np.ceil(round(call_s / CHUNK_S, 6)) * CHUNK_S
        return t0 + chunk_end / speed if speed > 0 else t0

    def collect(events: list[Any]) -> None:
        nonlocal onset
        now = time.perf_counter()
        for ev in events:
            if isinstance(ev, SpeechStarted):
                onset = ev.t_s
                start_lat.append(now - fed_at(ev.t_s))
            elif isinstance(ev, PartialTranscript) and onset is not None:
                partial_lat.append(now - fed_at(onset))
                onset = None
            elif isinstance(ev, FinalTranscript):
                finals.append(ev.text)
                final_lat.append(now - fed_at(ev.end_s))

    for i in range(0, len(pcm), step):
        if speed > 0:
            due = t0 + (i // step + 1) * CHUNK_S / speed
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        collect(streamer.feed(pcm[i : i + step]))
    collect(streamer.finish())
    return join_texts(finals), final_lat, partial_lat, start_lat


def _as_streamed(row: dict[str, Any], audio: np.ndarray) -> tuple[np.ndarray, int, Any]:
    """What a live call carries for this clip: an 8 kHz recording (a phone line, or a telephone
    copy) is streamed at 8 kHz as the telephone transports do (mu-law where the row says so),
    anything else as 16 kHz PCM16."""
    if sf.info(str(row["path"])).samplerate != PHONE_RATE:
        return audio, SAMPLE_RATE, "pcm16"
    native, _ = sf.read(str(row["path"]), dtype="float32", always_2d=True)
    encoding = "mulaw" if row.get("line_encoding") == "mulaw" else "pcm16"
    return native.mean(axis=1).astype(np.float32), PHONE_RATE, encoding


def run_bench(
    decoder: WhisperDecoder,
    options: AsrOptions,
    manifest: Path,
    speed: float = 1.0,
    progress: Any = None,
) -> tuple[list[ClipResult], dict[str, Any]]:
    """Run every clip of the manifest; returns per-clip results and the flat summary."""
    batch = BatchTranscriber(decoder, options)
    results: list[ClipResult] = []
    for row in read_manifest(manifest):
        audio = load_audio(row["path"])
        started = time.perf_counter()
        transcript = batch.transcribe(audio)
        compute = time.perf_counter() - started
        native, rate, encoding = _as_streamed(row, audio)
        stream_text, final_lat, partial_lat, start_lat = stream_clip(
            decoder, options, native, speed, rate, encoding
        )
        res = ClipResult(
            file=row["file"],
            lang=row["lang"],
            duration_s=len(audio) / SAMPLE_RATE,
            reference=row["reference"],
            batch_text=transcript.text,
            batch_language=transcript.language,
            batch_compute_s=compute,
            stream_text=stream_text,
            errors=score(row["lang"], row["reference"], transcript.text),
            stream_errors=score(row["lang"], row["reference"], stream_text),
            final_latencies_s=final_lat,
            first_partial_latencies_s=partial_lat,
            speech_started_latencies_s=start_lat,
        )
        results.append(res)
        if progress is not None:
            progress(res)
    return results, summarise(results, options, speed)


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


def _rate(results: list[ClipResult], lang: str, stream: bool = False) -> float | None:
    chosen = [r.stream_errors if stream else r.errors for r in results if r.lang == lang]
    return round(corpus(chosen).rate, 4) if chosen else None


def _rtf(results: list[ClipResult]) -> float | None:
    audio = sum(r.duration_s for r in results)
    return round(sum(r.batch_compute_s for r in results) / audio, 4) if audio else None


def summarise(results: list[ClipResult], options: AsrOptions, speed: float) -> dict[str, Any]:
    finals = [x for r in results for x in r.final_latencies_s]
    partials = [x for r in results for x in r.first_partial_latencies_s]
    starts = [x for r in results for x in r.speech_started_latencies_s]
    long_clips = [r for r in results if r.duration_s > LONG_CLIP_S]
    return {
        "wer_en": _rate(results, "en"),
        "cer_zh": _rate(results, "zh"),
        "normaliser_en": "basic (NFKC, lower case, punctuation removed); corpus-level WER",
        "normaliser_zh": "zh (basic + OpenCC t2s + spaces removed); corpus-level CER",
        "stream_wer_en": _rate(results, "en", stream=True),
        "stream_cer_zh": _rate(results, "zh", stream=True),
        "rtf": _rtf(results),
        "rtf_over_20s": _rtf(long_clips),
        "rtf_definition": "batch transcribe() compute seconds / audio seconds (file decoding excluded)",
        "stream_final_latency_p50_s": _pct(finals, 50),
        "stream_final_latency_p95_s": _pct(finals, 95),
        "stream_first_partial_p50_s": _pct(partials, 50),
        "stream_speech_started_p50_s": _pct(starts, 50),
        "stream_utterances": len(finals),
        "end_of_speech_definition": END_OF_SPEECH_DEFINITION,
        "end_of_speech_ms": options.end_of_speech_ms,
        "stream_speed": speed,
        "beam_size": options.beam_size,
        "partial_beam_size": options.partial_beam_size,
        "clips": len(results),
        "audio_s": round(sum(r.duration_s for r in results), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_avg_1min_at_end": round(os.getloadavg()[0], 2),
    }


def format_row(r: ClipResult) -> str:
    rate = f"{r.errors.rate:.3f}"
    lat = f"{np.median(r.final_latencies_s):.2f}" if r.final_latencies_s else "-"
    rtf = r.batch_compute_s / r.duration_s if r.duration_s else 0.0
    name = Path(r.file).name[:34]
    s_rate = f"{r.stream_errors.rate:.3f}"
    return f"{name:<34} {r.lang:<3} {r.duration_s:6.1f} {rate:>6} {s_rate:>7} {rtf:6.3f} {lat:>6}"


TABLE_HEADER = f"{'clip':<34} {'lng':<3} {'dur_s':>6} {'err':>6} {'s_err':>7} {'rtf':>6} {'lat50':>6}"
