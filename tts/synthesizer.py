"""The speech-synthesis stage: text in the caller's language -> audio for the phone or the web.

    synth = Synthesizer(TtsOptions(cache_dir=Path("var/tts-cache")))
    audio = synth.synthesize("Your bin is collected on Mondays.", "en", TELEPHONE_MULAW)
    for chunk in synth.stream(answer, "zh", TELEPHONE_PCM16):   # in a worker thread
        send(chunk.audio)
    greeting = synth.prompt("greeting", "zh", TELEPHONE_MULAW)  # cached after the first time

Each language has its voice (tts/voices.py): the neural Mandarin voice by default for Mandarin,
espeak-ng for English, or a voice folder. espeak-ng stands behind every other voice: one that
cannot start, or fails on a sentence, is replaced by espeak-ng with a logged warning.

Blocking calls: run them (and consume ``stream``) in a worker thread, never on an event loop.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Generator
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr

from core.codec import encode_frame, pcm16_bytes_to_float, resample
from tts.cache import CacheKey, PromptCache
from tts.engine import EspeakEngine, TtsEngineError
from tts.interface import (
    LANGS,
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
from tts.voices import EspeakVoice, Voice, VoiceInfo, VoiceRefused, configured_voice, fallback_info

log = logging.getLogger(__name__)


class Synthesizer:
    """Thread-safe; one per process. Engines start on first use or on ``start()``."""

    def __init__(self, options: TtsOptions | None = None, engine: EspeakEngine | None = None) -> None:
        self.options = options or TtsOptions()
        self.engine = engine or EspeakEngine(self.options.processes, self.options.request_timeout_s)
        """espeak-ng: the voice of every language configured 'espeak', and the fallback of the others."""
        self.cache = PromptCache(self.options.cache_dir, self.options.memory_cache_entries)
        self._lock = threading.Lock()
        self._voices: dict[Lang, Voice] = {}
        self._fallbacks = 0

    # --- life cycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start every voice now, falling back to espeak-ng where one cannot start, and check every
        espeak-ng voice exists (for service start-up)."""
        self.engine.start()
        available = {v["id"].lower() for v in self.engine.voices()}
        for lang, voice in self.options.voices.items():
            if voice.lower() not in available:
                raise ValueError(
                    f"TTS voice {voice!r} for {lang!r} is not an espeak-ng voice here; "
                    "`triage speak --list-voices` lists them (set TRIAGE_TTS_VOICE_ZH / _EN)."
                )
        for lang in self.languages():
            chosen = self.voice(lang)
            if chosen.info.engine != "espeak":
                try:
                    _ = chosen.sample_rate  # starts its worker: a broken model shows here
                except TtsEngineError as e:
                    self._fall_back(lang, chosen, f"it did not start: {e}")

    def close(self) -> None:
        with self._lock:
            voices, self._voices = list(self._voices.values()), {}
        for voice in voices:
            if voice.info.engine != "espeak":
                voice.engine.close()  # type: ignore[attr-defined]
        self.engine.close()

    def __enter__(self) -> Synthesizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- voices ----------------------------------------------------------------------------------
    def languages(self) -> list[Lang]:
        return [lang for lang in LANGS if lang in self.options.voices or lang in self.options.engines]

    def voice(self, lang: Lang) -> Voice:
        """The voice that speaks ``lang`` now (the configured one, or espeak-ng standing in)."""
        with self._lock:
            found = self._voices.get(lang)
        if found is not None:
            return found
        espeak = self._espeak(lang)
        spec = self.options.engines.get(lang, "espeak")
        o = self.options
        try:
            chosen: Voice | None = configured_voice(
                spec,
                lang,
                cache_dir=o.model_cache_dir,
                threads=o.threads,
                processes=o.processes,
                timeout_s=o.request_timeout_s,
                commercial_only=o.commercial_only,
            )
        except VoiceRefused as e:
            log.warning("TTS %s: %s; speaking %s with espeak-ng instead", lang, e, lang)
            chosen = None
            espeak.info = fallback_info(espeak.info, spec, str(e))
        with self._lock:
            return self._voices.setdefault(lang, chosen or espeak)

    def describe(self) -> list[VoiceInfo]:
        """Each language's voice, its source and licence (resolving them if need be)."""
        return [self.voice(lang).info for lang in self.languages()]

    @property
    def fallbacks(self) -> int:
        """Chunks espeak-ng said because the configured voice failed on them, since start."""
        return self._fallbacks

    def _espeak(self, lang: Lang) -> EspeakVoice:
        o = self.options
        return EspeakVoice(self.engine, lang, o.voice_for(lang), o.rate_wpm, o.volume)

    def _fall_back(self, lang: Lang, failed: Voice, reason: str) -> EspeakVoice:
        log.warning("TTS %s: the %s voice failed (%s); espeak-ng speaks %s from now on", lang,
                    failed.info.engine, reason, lang)  # fmt: skip
        espeak = self._espeak(lang)
        espeak.info = fallback_info(espeak.info, self.options.engines.get(lang, ""), reason)
        with self._lock:
            if self._voices.get(lang) is failed:
                self._voices[lang] = espeak
        if failed.info.engine != "espeak":
            failed.engine.close()  # type: ignore[attr-defined]
        return espeak

    # --- synthesis -------------------------------------------------------------------------------
    def synthesize(self, text: str, lang: str, audio_format: AudioFormat = WEB_PCM16_22K) -> SynthesizedAudio:
        """The whole text as one piece of audio; empty text gives empty audio."""
        language = normalise_lang(lang)
        return _encode(self._render(text, language, audio_format.sample_rate), audio_format)

    def _render(self, text: str, language: Lang, rate: int | None = None) -> np.ndarray:
        """Float samples of the whole text at ``rate`` (None: the voice's own rate)."""
        voice = self.voice(language)
        rate = rate or voice.sample_rate
        chunks = self._chunks(text, language, voice)
        jobs = [self._submit(voice, c, language, i) for i, c in enumerate(chunks)]
        pieces = [
            self._samples(job, voice, c, language, rate, i == len(chunks) - 1)[0]
            for i, (job, c) in enumerate(zip(jobs, chunks, strict=True))
        ]
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)

    def stream(
        self, text: str, lang: str, audio_format: AudioFormat = WEB_PCM16_22K
    ) -> Generator[AudioChunk, None, None]:
        """Sentence by sentence (clause by clause for a neural voice): the first chunk is yielded
        as soon as it is synthesised while up to ``options.lookahead`` later ones are synthesised
        behind it; a neural voice sends the start of the first clause ahead of its rest (two
        parts). Closing the generator early (the caller talked over the bot) cancels the chunks
        not yet started."""
        language = normalise_lang(lang)
        voice = self.voice(language)
        chunks = self._chunks(text, language, voice)
        rate = audio_format.sample_rate
        pending: deque[_Job] = deque()
        next_index = 0
        try:
            for index, chunk in enumerate(chunks):
                while next_index < len(chunks) and next_index <= index + self.options.lookahead:
                    split = next_index == 0
                    pending.append(self._submit(voice, chunks[next_index], language, next_index, split))
                    next_index += 1
                job = pending.popleft()
                last = index == len(chunks) - 1
                for part, (samples, final) in enumerate(self._parts(job, voice, chunk, language, rate, last)):
                    audio = _encode(samples, audio_format)
                    yield AudioChunk(
                        audio=audio.audio,
                        sample_rate=audio.sample_rate,
                        encoding=audio.encoding,
                        duration_s=audio.duration_s,
                        index=index,
                        text=chunk,
                        is_last=last and final,
                        part=part,
                    )
        finally:
            for job in pending:
                job.future.cancel()
                if job.tail is not None:
                    job.tail.cancel()

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
        voice = self.voice(language)
        o = self.options
        key = CacheKey(text, language, voice.identity, o.rate_wpm, o.volume, audio_format)
        found = self.cache.get(key)
        if found is not None:
            return found
        fallbacks = self._fallbacks
        audio = self.synthesize(text, language, audio_format)
        if self._fallbacks == fallbacks and self.voice(language) is voice:
            self.cache.put(key, audio)  # never keep a stand-in rendering under the voice's key
        return audio

    def warm_prompts(self, formats: list[AudioFormat], keys: list[str] | None = None) -> int:
        """Render fixed prompts ahead of the first call, each synthesised once and encoded in every
        format; returns how many renderings are cached. Prompts with placeholders (queue position)
        are rendered when first needed."""
        from tts.prompts import PROMPTS, prompt_fields

        count = 0
        o = self.options
        for key in keys or list(PROMPTS):
            if prompt_fields(key):
                continue
            for lang in self.languages():
                text = render_prompt(key, lang)
                voice = self.voice(lang)
                keys_missing = [
                    (fmt, CacheKey(text, lang, voice.identity, o.rate_wpm, o.volume, fmt))
                    for fmt in formats
                    if self.cache.get(CacheKey(text, lang, voice.identity, o.rate_wpm, o.volume, fmt)) is None
                ]
                if keys_missing:
                    fallbacks = self._fallbacks
                    samples = self._render(text, lang)
                    if self._fallbacks != fallbacks or self.voice(lang) is not voice:
                        continue  # a stand-in rendering is never cached under the voice's key
                    for fmt, cache_key in keys_missing:
                        converted = resample(samples, voice.sample_rate, fmt.sample_rate)
                        self.cache.put(cache_key, _encode(converted, fmt))
                count += len(formats)
        return count

    def voice_ids(self) -> list[str]:
        return [v["id"] for v in self.engine.voices()]

    # --- helpers ---------------------------------------------------------------------------------
    def _chunks(self, text: str, lang: Lang, voice: Voice) -> list[str]:
        limit = self.options.max_chunk_chars.get(lang, 60)
        return chunk_text(text or "", lang, limit, clauses=voice.clause_chunks)

    def _submit(self, voice: Voice, chunk: str, lang: Lang, priority: int, split: bool = False) -> _Job:
        try:
            if split:
                pieces = voice.submit_split(chunk, priority)
                if pieces is not None:
                    return _Job(voice, pieces[0], pieces[1])
            return _Job(voice, voice.submit(chunk, priority))
        except TtsEngineError as e:  # a neural worker that cannot start
            if voice.info.engine == "espeak":
                raise
            espeak = self._fall_back(lang, voice, f"it did not start: {e}")
            return _Job(espeak, espeak.submit(chunk, priority))

    def _parts(
        self, job: _Job, current: Voice, chunk: str, lang: Lang, rate: int, last: bool
    ) -> Generator[tuple[np.ndarray, bool], None, None]:
        """A streamed chunk's audio, with whether it is the chunk's final part: in one part, or in
        two when its start was sent ahead (the start is yielded before the rest is waited for)."""
        if job.tail is None:
            yield self._samples(job, current, chunk, lang, rate, last)[0], True
            return
        try:
            head = pcm16_bytes_to_float(job.future.result())
        except TtsEngineError:
            job.tail.cancel()
            yield self._samples(job, current, chunk, lang, rate, last)[0], True  # espeak-ng says it all
            return
        # One resampler across both parts: the same samples as the chunk resampled whole.
        stream = soxr.ResampleStream(job.voice.sample_rate, rate, 1, dtype="float32", quality="HQ")
        yield np.asarray(stream.resample_chunk(head, last=False), np.float32), False
        try:
            tail = np.asarray(
                stream.resample_chunk(pcm16_bytes_to_float(job.tail.result()), last=True), np.float32
            )
        except TtsEngineError as e:
            self._fallbacks += 1
            log.warning("TTS %s: the %s voice failed on the rest of %r (%s); espeak-ng says it", lang,
                        job.voice.info.engine, chunk, e)  # fmt: skip
            tail = self._samples(_Job(self._espeak(lang), self._espeak(lang).submit(chunk, 0)), current,
                                 chunk, lang, rate, True)[0]  # fmt: skip
        if not last and current.pause_s > 0:
            tail = np.concatenate([tail, np.zeros(int(current.pause_s * rate), np.float32)])
        yield tail, True

    def _samples(
        self, job: _Job, current: Voice, chunk: str, lang: Lang, rate: int, last: bool
    ) -> tuple[np.ndarray, bool]:
        """The job's samples at ``rate`` (with the voice's pause after it unless ``last``), and
        whether espeak-ng had to say the chunk instead."""
        voice, fell_back = job.voice, False
        try:
            samples = pcm16_bytes_to_float(job.future.result())
        except TtsEngineError as e:
            if voice.info.engine == "espeak":
                raise
            self._fallbacks += 1
            log.warning("TTS %s: the %s voice failed on %r (%s); espeak-ng says it", lang,
                        voice.info.engine, chunk, e)  # fmt: skip
            voice, fell_back = self._espeak(lang), True
            samples = pcm16_bytes_to_float(voice.submit(chunk, 0).result())
        out = resample(samples, voice.sample_rate, rate)
        if not last and current.pause_s > 0:
            out = np.concatenate([out, np.zeros(int(current.pause_s * rate), np.float32)])
        return out, fell_back


@dataclass
class _Job:
    """A chunk on its way: the voice asked, the future of its audio (of its start, when the rest
    comes as ``tail``)."""

    voice: Voice
    future: Future[bytes]
    tail: Future[bytes] | None = None


def _encode(samples: np.ndarray, audio_format: AudioFormat) -> SynthesizedAudio:
    data = encode_frame(samples, audio_format.encoding)
    return SynthesizedAudio(
        data, audio_format.sample_rate, audio_format.encoding, len(samples) / audio_format.sample_rate
    )
