"""Adapters from the real stages (asr/, nlu/, kb/, tts/) to the narrow views a call session uses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from asr.options import AsrOptions
from asr.streaming import StreamingTranscriber
from pipeline.codec import Encoding
from tts.interface import AUDIO_FORMATS
from tts.prompts import render_prompt
from tts.synthesizer import Synthesizer


class WhisperRecognizers:
    """Makes one StreamingTranscriber per call over the shared, loaded Whisper model."""

    def __init__(self, model: Any, options: AsrOptions) -> None:
        self.model = model
        self.options = options

    def __call__(self, sample_rate: int, encoding: Encoding) -> StreamingTranscriber:
        return StreamingTranscriber(self.model, self.options, sample_rate, encoding)


class SynthVoice:
    """The bot's voice in one output format; fixed prompts come from the synthesizer's cache."""

    def __init__(self, synth: Synthesizer, format_name: str) -> None:
        if format_name not in AUDIO_FORMATS:
            raise ValueError(f"Unknown audio format {format_name!r}; use one of {', '.join(AUDIO_FORMATS)}.")
        self.synth = synth
        self.format = AUDIO_FORMATS[format_name]
        self.sample_rate = self.format.sample_rate
        self.encoding = self.format.encoding
        self._prompt_texts: set[str] = set()

    def prompt_text(self, key: str, language: str, **values: Any) -> str:
        text = render_prompt(key, "zh" if language == "zh" else "en", **values)
        if not values:
            self._prompt_texts.add(text)
        return text

    def speak(self, text: str, language: str) -> Iterator[bytes]:
        if text in self._prompt_texts:
            yield self.synth.cached(text, language, self.format).audio
            return
        stream = self.synth.stream(text, language, self.format)
        try:
            for chunk in stream:
                yield chunk.audio
        finally:
            stream.close()  # cancels the sentences not yet synthesised (barge-in)
