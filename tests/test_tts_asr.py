"""English speech from the bot, transcribed back by the ASR stage, says what it was meant to say.

Whisper cannot recognise espeak-ng's Mandarin at all, so Mandarin is covered by duration and
non-silence checks in test_tts_synth.py instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from asr.batch import BatchTranscriber
from asr.options import AsrOptions
from eval.metrics import corpus, word_errors
from models.whisper import load_whisper
from pipeline.codec import resample
from tts import TELEPHONE_MULAW, WEB_PCM16_16K, Synthesizer, TtsOptions, render_prompt
from tts.interface import AudioFormat, SynthesizedAudio

pytestmark = pytest.mark.slow

SENTENCES = [
    render_prompt("connecting_agent", "en"),
    render_prompt("no_agent_callback", "en"),
    render_prompt("emergency", "en"),
    render_prompt("not_understood", "en"),
    "Household rubbish is collected every Monday and Thursday morning.",
    "Please bring your identity card and a recent photo to the service centre.",
]


@pytest.fixture(scope="module")
def transcriber(model_cache_dir: Path) -> BatchTranscriber:
    return BatchTranscriber(load_whisper("base", model_cache_dir), AsrOptions(language="en"))


@pytest.fixture(scope="module")
def synth() -> Iterator[Synthesizer]:
    with Synthesizer(TtsOptions()) as s:
        yield s


def _at_16k(audio: SynthesizedAudio) -> np.ndarray:
    return resample(audio.samples(), audio.sample_rate, 16000)


@pytest.mark.parametrize(("fmt", "max_corpus_wer"), [(WEB_PCM16_16K, 0.08), (TELEPHONE_MULAW, 0.12)])
def test_english_speech_transcribes_back_to_its_text(
    transcriber: BatchTranscriber, synth: Synthesizer, fmt: AudioFormat, max_corpus_wer: float
) -> None:
    counts = []
    for text in SENTENCES:
        heard = transcriber.transcribe(_at_16k(synth.synthesize(text, "en", fmt))).text
        errors = word_errors(text, heard)
        # Whisper base on a robotic voice slips on a word now and then ("household" -> "house
        # of"); no sentence may lose its meaning, and the whole set stays close to perfect.
        assert errors.rate <= 0.34, (text, heard)
        counts.append(errors)
    assert corpus(counts).rate <= max_corpus_wer


def test_a_streamed_answer_transcribes_like_the_whole(
    transcriber: BatchTranscriber, synth: Synthesizer
) -> None:
    answer = " ".join(SENTENCES[4:])
    pieces = [c.audio for c in synth.stream(answer, "en", WEB_PCM16_16K)]
    assert len(pieces) == 2
    joined = SynthesizedAudio(b"".join(pieces), 16000, "pcm16", sum(len(p) for p in pieces) / 32000)
    heard = transcriber.transcribe(np.asarray(joined.samples())).text
    assert word_errors(answer, heard).rate <= 0.1, heard
