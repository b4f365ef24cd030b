"""The speech-synthesis stage: text in the caller's language -> audio for the phone or the web.

    synth = Synthesizer(TtsOptions(cache_dir=Path("var/tts-cache")))
    audio = synth.synthesize("Your bin is collected on Mondays.", "en", TELEPHONE_MULAW)
    for chunk in synth.stream(answer, "zh", TELEPHONE_PCM16):   # in a worker thread
        send(chunk.audio)
    greeting = synth.prompt("greeting", "zh", TELEPHONE_MULAW)  # cached after the first time

Blocking calls: run them (and consume ``stream``) in a worker thread, never on an event loop.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Generator
from concurrent.futures import Future
from typing import Any

import numpy as np

from pipeline.codec import encode_frame, pcm16_bytes_to_float, resample
from tts.cache import CacheKey, PromptCache
from tts.engine import EspeakEngine
from tts.interface import (
    ENGINE_SAMPLE_RATE,
    WEB_PCM16_22K,
    AudioChunk,
    AudioFormat,
    Lang,
    SynthesizedAudio,
    TtsOptions,
    normalise_lang,
)
from tts.prompts import render_prompt
from tts.text import chunk_text

log = logging.getLogger(__name__)


class Synthesizer:
    """Thread-safe; one per process. The espeak-ng engine starts on first use or on ``start()``."""

    def __init__(self, options: TtsOptions | None = None, engine: EspeakEngine | None = None) -> None:
        self.options = options or TtsOptions()
        self.engine = engine or EspeakEngine(self.options.processes, self.options.request_timeout_s)
        self.cache = PromptCache(self.options.cache_dir, self.options.memory_cache_entries)

    # --- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the engine now and check every configured voice exists (for service start-up)."""
        self.engine.start()
        available = {v["id"].lower() for v in self.engine.voices()}
        for lang, voice in self.options.voices.items():
            if voice.lower() not in available:
                raise ValueError(
                    f"TTS voice {voice!r} for {lang!r} is not an espeak-ng voice here; "
                    "`triage speak --list-voices` lists them (set TRIAGE_TTS_VOICE_ZH / _EN)."
                )

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> Synthesizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- synthesis -------------------------------------------------------------------------------
    def synthesize(self, text: str, lang: str, audio_format: AudioFormat = WEB_PCM16_22K) -> SynthesizedAudio:
        """The whole text as one piece of audio; empty text gives empty audio."""
        language = normalise_lang(lang)
        chunks = self._chunks(text, language)
        futures = [self._submit(c, language, i) for i, c in enumerate(chunks)]
        pcm = [self._samples(f) for f in futures]
        samples = np.concatenate(pcm) if pcm else np.zeros(0, dtype=np.float32)
        return _encode(samples, audio_format)

    def stream(
        self, text: str, lang: str, audio_format: AudioFormat = WEB_PCM16_22K
    ) -> Generator[AudioChunk, None, None]:
        """Sentence by sentence: the first chunk is yielded as soon as it is synthesised while
        up to ``options.lookahead`` later ones are synthesised behind it. Closing the generator
        early (the caller talked over the bot) cancels the chunks not yet started."""
        language = normalise_lang(lang)
        chunks = self._chunks(text, language)
        pending: deque[tuple[int, Future[bytes]]] = deque()
        next_index = 0
        try:
            for index, chunk in enumerate(chunks):
                while next_index < len(chunks) and next_index <= index + self.options.lookahead:
                    pending.append((next_index, self._submit(chunks[next_index], language, next_index)))
                    next_index += 1
                _, future = pending.popleft()
                audio = _encode(self._samples(future), audio_format)
                yield AudioChunk(
                    audio=audio.audio,
                    sample_rate=audio.sample_rate,
                    encoding=audio.encoding,
                    duration_s=audio.duration_s,
                    index=index,
                    text=chunk,
                    is_last=index == len(chunks) - 1,
                )
        finally:
            for _, future in pending:
                future.cancel()

    def prompt(
        self, key: str, lang: str, audio_format: AudioFormat = WEB_PCM16_22K, **values: Any
    ) -> SynthesizedAudio:
        """A fixed prompt from tts/prompts.py (e.g. 'connecting_agent'), from the cache when it
        has been said before with the same voice, rate and format."""
        language = normalise_lang(lang)
        return self.cached(render_prompt(key, language, **values), language, audio_format)

    def cached(self, text: str, lang: str, audio_format: AudioFormat = WEB_PCM16_22K) -> SynthesizedAudio:
        """Like ``synthesize`` but through the prompt cache: for any text said over and over."""
        language = normalise_lang(lang)
        key = CacheKey(
            text,
            language,
            self.options.voice_for(language),
            self.options.rate_wpm,
            self.options.volume,
            audio_format,
        )
        found = self.cache.get(key)
        if found is not None:
            return found
        audio = self.synthesize(text, language, audio_format)
        self.cache.put(key, audio)
        return audio

    def warm_prompts(self, formats: list[AudioFormat], keys: list[str] | None = None) -> int:
        """Render fixed prompts ahead of the first call; returns how many were rendered.
        Prompts with placeholders (queue position) are rendered when first needed."""
        from tts.prompts import PROMPTS, prompt_fields

        count = 0
        for key in keys or list(PROMPTS):
            if prompt_fields(key):
                continue
            for lang in self.options.voices:
                for fmt in formats:
                    self.prompt(key, lang, fmt)
                    count += 1
        return count

    def voice_ids(self) -> list[str]:
        return [v["id"] for v in self.engine.voices()]

    # --- helpers ---------------------------------------------------------------------------------
    def _chunks(self, text: str, lang: Lang) -> list[str]:
        return chunk_text(text or "", lang, self.options.max_chunk_chars.get(lang, 60))

    def _submit(self, chunk: str, lang: Lang, priority: int) -> Future[bytes]:
        return self.engine.submit(
            chunk, self.options.voice_for(lang), self.options.rate_wpm, self.options.volume, priority
        )

    @staticmethod
    def _samples(future: Future[bytes]) -> np.ndarray:
        return pcm16_bytes_to_float(future.result())


def _encode(samples: np.ndarray, audio_format: AudioFormat) -> SynthesizedAudio:
    converted = resample(samples, ENGINE_SAMPLE_RATE, audio_format.sample_rate)
    data = encode_frame(converted, audio_format.encoding)
    return SynthesizedAudio(
        data, audio_format.sample_rate, audio_format.encoding, len(converted) / audio_format.sample_rate
    )
