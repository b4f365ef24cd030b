"""One Whisper decode of one stretch of speech (at most 30 s), shared by batch and streaming.

Why not ``WhisperModel.transcribe``: it pads every call to Whisper's 30 s window and, when the
language is unknown, runs the encoder twice (once to detect the language). On this CPU the 30 s
encoder pass costs ~1 s however short the utterance, which alone breaks a 1 s end-of-speech
latency budget. Here the encoder sees the audio plus at least one second of silence, in a window
of ``options.min_window_s`` (10 s) to 30 s, runs once, and the same encoder output serves language
detection and decoding. Much shorter windows are out of Whisper's training distribution: on 2 s
utterances they made it repeat phrases; 10 s windows gave the 30 s window's text on the benchmark
clips at about a fifth of the encoder time.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from asr.options import AsrOptions
from asr.text import build_prompt, compression_ratio, to_simplified

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
MAX_WINDOW_S = 30.0
_PAD_S = 1.0
_MAX_PROMPT_TOKENS = 223


@dataclass(frozen=True)
class Hypothesis:
    """What one decode produced."""

    text: str
    language: str
    language_probability: float
    avg_logprob: float
    no_speech_prob: float
    temperature: float
    compute_s: float
    """Wall-clock seconds this decode took (encoder + every fallback)."""

    @property
    def confidence(self) -> float:
        return math.exp(self.avg_logprob) if self.text else 0.0


class WhisperDecoder:
    """Encodes a short window once, detects the language, decodes with bounded fallback."""

    def __init__(self, model: WhisperModel, options: AsrOptions) -> None:
        self.model = model
        self.options = options
        self._tokenizers: dict[str, Any] = {}
        self._suppress: dict[str, list[int]] = {}
        # One CTranslate2 call at a time per decoder: the model's threads are the parallelism.
        self._lock = threading.Lock()

    def decode(
        self,
        audio: np.ndarray,
        *,
        beam_size: int,
        temperatures: tuple[float, ...] = (0.0,),
        language: str | None = None,
        prefix: str = "",
        previous_text: str = "",
    ) -> Hypothesis:
        """Decode ``audio`` (16 kHz mono float32, at most 30 s).

        language: forced language, else ``options.language``, else detected from this audio.
        prefix: text the decoder must continue from (committed words of a streaming utterance).
        previous_text: earlier transcript of the same call, used as context in the prompt.
        """
        started = time.perf_counter()
        audio = np.asarray(audio, dtype=np.float32)[: int(MAX_WINDOW_S * SAMPLE_RATE)]
        with self._lock:
            encoder_output = self._encode(audio)
            lang, lang_prob = self._language(encoder_output, language or self.options.language)
            tokenizer = self._tokenizer(lang)
            prompt = self._prompt(tokenizer, lang, prefix, previous_text)
            duration = len(audio) / SAMPLE_RATE
            max_new = int(self.options.max_tokens_per_s * duration) + 12
            best: tuple[str, float, float, float] | None = None
            for temperature in temperatures:
                text, avg_logprob, no_speech = self._generate(
                    encoder_output, tokenizer, prompt, beam_size, temperature, max_new
                )
                if (
                    no_speech > self.options.no_speech_threshold
                    and avg_logprob < self.options.log_prob_threshold
                ):
                    best = ("", avg_logprob, no_speech, temperature)  # silence, not words: do not retry
                    break
                failed = (
                    compression_ratio(text) > self.options.compression_ratio_threshold
                    or avg_logprob < self.options.log_prob_threshold
                )
                if not failed:
                    best = (text, avg_logprob, no_speech, temperature)
                    break
                if best is None or avg_logprob > best[1]:
                    best = (text, avg_logprob, no_speech, temperature)
                log.info(
                    "decode at T=%.1f looks degenerate (avg log-prob %.2f, compression %.2f)%s",
                    temperature,
                    avg_logprob,
                    compression_ratio(text),
                    "; retrying hotter" if temperature != temperatures[-1] else "; keeping the best",
                )
        assert best is not None
        text, avg_logprob, no_speech, temperature = best
        text = text.strip()
        if lang == "zh":
            text = to_simplified(text)
        return Hypothesis(
            text=text,
            language=lang,
            language_probability=lang_prob,
            avg_logprob=avg_logprob,
            no_speech_prob=no_speech,
            temperature=temperature,
            compute_s=time.perf_counter() - started,
        )

    def _encode(self, audio: np.ndarray) -> Any:
        needed = math.ceil(len(audio) / SAMPLE_RATE + _PAD_S)
        window_s = min(MAX_WINDOW_S, max(self.options.min_window_s, needed))
        padded = np.zeros(int(window_s * SAMPLE_RATE), dtype=np.float32)
        padded[: len(audio)] = audio
        features = self.model.feature_extractor(padded)
        frames = int(window_s * 100)
        features = np.ascontiguousarray(features[:, :frames])
        return self.model.encode(features)

    def _language(self, encoder_output: Any, forced: str | None) -> tuple[str, float]:
        if forced:
            return forced, 1.0
        if not self.model.model.is_multilingual:
            return "en", 1.0
        ranked = [(token[2:-2], float(p)) for token, p in self.model.model.detect_language(encoder_output)[0]]
        allowed = self.options.allowed_languages
        # Short utterances are easily mistaken for a neighbouring language (Mandarin for Cantonese
        # or Japanese): the best-scoring language the hotline serves wins.
        return next(((code, p) for code, p in ranked if not allowed or code in allowed), ranked[0])

    def _tokenizer(self, language: str) -> Any:
        if language not in self._tokenizers:
            from faster_whisper.tokenizer import Tokenizer
            from faster_whisper.transcribe import get_suppressed_tokens

            tok = Tokenizer(self.model.hf_tokenizer, self.model.model.is_multilingual, "transcribe", language)
            self._tokenizers[language] = tok
            self._suppress[language] = list(get_suppressed_tokens(tok, [-1]))
        return self._tokenizers[language]

    def _prompt(self, tokenizer: Any, language: str, prefix: str, previous_text: str) -> list[int]:
        context = build_prompt(language, self.options.vocabulary, self.options.zh_prompt) or ""
        if previous_text:
            context = f"{context} {previous_text}".strip()
        tokens: list[int] = []
        if context:
            space = "" if language == "zh" else " "
            tokens = [tokenizer.sot_prev, *tokenizer.encode(space + context)[-_MAX_PROMPT_TOKENS:]]
        tokens += [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        if prefix:
            tokens += tokenizer.encode(prefix if language == "zh" else " " + prefix)
        return tokens

    def _generate(
        self,
        encoder_output: Any,
        tokenizer: Any,
        prompt: list[int],
        beam_size: int,
        temperature: float,
        max_new: int,
    ) -> tuple[str, float, float]:
        sampling = temperature > 0
        result = self.model.model.generate(
            encoder_output,
            [prompt],
            beam_size=1 if sampling else beam_size,
            num_hypotheses=1,
            max_length=min(448, len(prompt) + max_new),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppress[tokenizer.language_code],
            sampling_topk=0 if sampling else 1,
            sampling_temperature=temperature if sampling else 1.0,
        )[0]
        tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        length = len(result.sequences_ids[0])
        cum_logprob = result.scores[0] * length
        avg_logprob = cum_logprob / (length + 1)
        return tokenizer.decode(tokens), float(avg_logprob), float(result.no_speech_prob)
