"""Transcribe a whole recording: VAD regions grouped into windows of at most ~28 s, each decoded
with beam search, segments timed from the start of the recording.

A window whose text is still a repetition loop after the decoder's temperature fallback (Whisper
can run "1, 2, 3, 4, 5, 0, 0, 0, ..." to the end of the window and drop every word after it) is
decoded again one speech region at a time, so a loop costs at most its own region."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from asr.audio import load_audio
from asr.decoder import MAX_WINDOW_S, SAMPLE_RATE, Hypothesis, WhisperDecoder
from asr.options import AsrOptions
from asr.text import compression_ratio, has_cjk
from asr.vad import speech_regions
from core.events import TranscriptSegment

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)

_WINDOW_S = MAX_WINDOW_S - 2.0  # the decoder adds ~1 s of padding; stay clear of 30 s


@dataclass(frozen=True)
class Transcript:
    """A transcribed recording. ``language`` is that of the longest segment ('' when silent)."""

    text: str
    language: str
    segments: tuple[TranscriptSegment, ...]
    duration_s: float

    @property
    def confidence(self) -> float:
        """Duration-weighted mean segment confidence (0.0 when nothing was recognised)."""
        total = sum(s.end_s - s.start_s for s in self.segments)
        if not total:
            return 0.0
        return sum((s.end_s - s.start_s) * s.confidence for s in self.segments) / total


def join_texts(texts: list[str]) -> str:
    """Join transcript pieces: no space between two Chinese pieces, one otherwise."""
    out = ""
    for text in (t.strip() for t in texts):
        if not text:
            continue
        if out and not (has_cjk(out[-1]) and has_cjk(text[0])):
            out += " "
        out += text
    return out


class BatchTranscriber:
    """Files or sample arrays in, Transcript out. Safe to share between threads."""

    def __init__(self, model: WhisperModel | WhisperDecoder, options: AsrOptions | None = None) -> None:
        self.options = options or AsrOptions()
        self._decoder = model if isinstance(model, WhisperDecoder) else WhisperDecoder(model, self.options)

    def transcribe(self, audio: np.ndarray | str | Path | bytes) -> Transcript:
        """Transcribe a path, the bytes of an audio file, or 16 kHz mono float32 samples.

        Raises asr.audio.AudioDecodeError for input that is not decodable audio; silence gives an
        empty transcript.
        """
        samples = audio if isinstance(audio, np.ndarray) else load_audio(audio)
        samples = np.asarray(samples, dtype=np.float32)
        duration = len(samples) / SAMPLE_RATE
        o = self.options
        regions = speech_regions(samples, o.vad_threshold, o.batch_min_silence_ms, _WINDOW_S)
        segments: list[TranscriptSegment] = []
        languages: dict[str, float] = {}
        for window in _group(regions, int(_WINDOW_S * SAMPLE_RATE)):
            for start, end, hyp in self._decode_window(samples, window):
                if not hyp.text:
                    continue
                seg = TranscriptSegment(start / SAMPLE_RATE, end / SAMPLE_RATE, hyp.text, hyp.confidence)
                segments.append(seg)
                languages[hyp.language] = languages.get(hyp.language, 0.0) + seg.end_s - seg.start_s
        language = max(languages, key=lambda k: languages[k]) if languages else (o.language or "")
        return Transcript(join_texts([s.text for s in segments]), language, tuple(segments), duration)

    def _decode_window(
        self, samples: np.ndarray, window: list[tuple[int, int]]
    ) -> list[tuple[int, int, Hypothesis]]:
        """One decode for the window's regions together; a looping result, region by region."""
        o = self.options

        def decode(start: int, end: int) -> tuple[int, int, Hypothesis]:
            hyp = self._decoder.decode(samples[start:end], beam_size=o.beam_size, temperatures=o.temperatures)
            return start, end, hyp

        whole = decode(window[0][0], window[-1][1])
        if len(window) == 1 or compression_ratio(whole[2].text) <= o.compression_ratio_threshold:
            return [whole]
        log.info(
            "a %.1f s window decoded to a loop; again region by region", (whole[1] - whole[0]) / SAMPLE_RATE
        )
        return [decode(s, e) for s, e in window]


def _group(regions: list[tuple[int, int]], max_len: int) -> list[list[tuple[int, int]]]:
    """Merge consecutive speech regions into windows no longer than max_len samples."""
    windows: list[list[tuple[int, int]]] = []
    for start, end in regions:
        if windows and end - windows[-1][0][0] <= max_len:
            windows[-1].append((start, end))
        else:
            windows.append([(start, end)])
    return windows
