"""One Whisper decode of one stretch of speech (at most 30 s), shared by batch and streaming.

Why not ``WhisperModel.transcribe``: it pads every call to Whisper's 30 s window and, when the
language is unknown, runs the encoder twice (once to detect the language). On this CPU the 30 s
encoder pass costs ~1 s however short the utterance, which alone breaks a 1 s end-of-speech
latency budget. Here the encoder sees the audio plus at least one second of silence, in a window
of ``options.min_window_s`` (10 s) to 30 s, runs once, and the same encoder output serves language
detection and decoding. Much shorter windows are out of Whisper's training distribution: on 2 s
utterances they made it repeat phrases; 10 s windows gave the 30 s window's text on the benchmark
clips at about a fifth of the encoder time. 6 s windows (TRIAGE_ASR_MIN_WINDOW_S) encode in under
half the time of 10 s but cost about 1.8 points of English word error on short requests (``triage
bench asr-batch``).
"""

from __future__ import annotations

import logging
import math
import re
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
SAFE_WINDOW_S = 10.0
"""Windows this long gave the 30 s window's text on the benchmark clips. Shorter ones cost less
(eight 6 s windows encode in 0.3 s on two cores, eight 10 s ones in 0.8 s) but now and then make
Whisper say a phrase twice, so a short-window result that repeats a phrase is decoded again here."""
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
        window_s: float | None = None,
    ) -> Hypothesis:
        """Decode ``audio`` (16 kHz mono float32, at most 30 s).

        language: forced language, else ``options.language``, else detected from this audio.
        prefix: text the decoder must continue from (committed words of a streaming utterance).
        previous_text: earlier transcript of the same call, used as context in the prompt.
        window_s: encoder window (default: the audio plus padding, at least ``options.min_window_s``).
        """
        started = time.perf_counter()
        audio = np.asarray(audio, dtype=np.float32)[: int(MAX_WINDOW_S * SAMPLE_RATE)]
        window = window_s or self._window_s(len(audio))
        with self._lock:
            encoder_output = self.model.encode(self._features(audio, window))
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
        if window < SAFE_WINDOW_S and repeats_phrase(text):
            log.info("short-window decode repeated a phrase; again with a %.0f s window", SAFE_WINDOW_S)
            return self.decode(
                audio,
                beam_size=beam_size,
                temperatures=temperatures,
                language=language,
                prefix=prefix,
                previous_text=previous_text,
                window_s=SAFE_WINDOW_S,
            )
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

    def decode_batch(
        self,
        audios: list[np.ndarray],
        *,
        beam_size: int,
        temperatures: tuple[float, ...] = (0.0,),
        language: str | None = None,
        min_window_s: float | None = None,
    ) -> list[Hypothesis]:
        """Decode several utterances (of different calls) in one encoder pass and one beam search.

        min_window_s: shortest encoder window for this batch (default ``options.min_window_s``);
        the scheduler passes a shorter one when many calls finish together.

        Every window is padded to the longest one's; each item gets its own language and prompt.
        An item whose greedy/beam result looks degenerate is retried alone with the temperature
        fallback of ``decode``. On two CPU cores eight utterances take about half the time of
        eight single decodes (MODELS.md; ``triage bench asr-batch``)."""
        if len(audios) == 1:
            return [self.decode(audios[0], beam_size=beam_size, temperatures=temperatures, language=language)]
        started = time.perf_counter()
        clips = [np.asarray(a, dtype=np.float32)[: int(MAX_WINDOW_S * SAMPLE_RATE)] for a in audios]
        with self._lock:
            window_s = max(self._window_s(len(c), min_window_s) for c in clips)
            features = np.stack([self._features(c, window_s) for c in clips])
            encoder_output = self.model.encode(features)
            langs = self._languages(encoder_output, len(clips), language or self.options.language)
            tokenizers = [self._tokenizer(lang) for lang, _ in langs]
            prompts = [
                self._prompt(tok, lang, "", "") for tok, (lang, _) in zip(tokenizers, langs, strict=True)
            ]
            max_new = int(self.options.max_tokens_per_s * window_s) + 12
            # CTranslate2 needs the start-of-transcript token at one position in a batch: items
            # whose prompts differ in length (the Mandarin prompt steers to Simplified) go apart.
            results: list[Any] = [None] * len(clips)
            groups: dict[int, list[int]] = {}
            for i, prompt in enumerate(prompts):
                groups.setdefault(len(prompt), []).append(i)
            for idx in groups.values():
                sub = encoder_output if len(idx) == len(clips) else self._rows(encoder_output, idx)
                suppress = sorted({t for i in idx for t in self._suppress[tokenizers[i].language_code]})
                out_group = self.model.model.generate(
                    sub,
                    [prompts[i] for i in idx],
                    beam_size=beam_size,
                    num_hypotheses=1,
                    max_length=min(448, len(prompts[idx[0]]) + max_new),
                    return_scores=True,
                    return_no_speech_prob=True,
                    suppress_blank=True,
                    suppress_tokens=suppress,
                )
                for i, r in zip(idx, out_group, strict=True):
                    results[i] = r
        spent = time.perf_counter() - started
        out: list[Hypothesis] = []
        for clip, (lang, lang_prob), tok, result in zip(clips, langs, tokenizers, results, strict=True):
            tokens = [t for t in result.sequences_ids[0] if t < tok.eot]
            length = len(result.sequences_ids[0])
            avg_logprob = float(result.scores[0] * length / (length + 1))
            no_speech = float(result.no_speech_prob)
            text = tok.decode(tokens).strip()
            silent = (
                no_speech > self.options.no_speech_threshold and avg_logprob < self.options.log_prob_threshold
            )
            degenerate = (
                compression_ratio(text) > self.options.compression_ratio_threshold
                or avg_logprob < self.options.log_prob_threshold
            )
            again = {"beam_size": beam_size, "temperatures": temperatures, "language": lang}
            if degenerate and not silent and len(temperatures) > 1:
                out.append(self.decode(clip, **again))  # type: ignore[arg-type]
                continue
            if window_s < SAFE_WINDOW_S and not silent and repeats_phrase(text):
                log.info("short-window batch item repeated a phrase; alone in a %.0f s window", SAFE_WINDOW_S)
                out.append(self.decode(clip, window_s=SAFE_WINDOW_S, **again))  # type: ignore[arg-type]
                continue
            if silent:
                text = ""
            if lang == "zh":
                text = to_simplified(text)
            out.append(Hypothesis(text, lang, lang_prob, avg_logprob, no_speech, temperatures[0], spent))
        return out

    @staticmethod
    def _rows(encoder_output: Any, idx: list[int]) -> Any:
        """Some rows of a batched encoder output, as a new StorageView on the same device."""
        import ctranslate2

        device = encoder_output.device
        array = np.asarray(
            encoder_output.to_device(ctranslate2.Device.cpu) if device != "cpu" else encoder_output
        )
        picked = np.ascontiguousarray(array[idx])
        view = ctranslate2.StorageView.from_array(picked)
        return view.to_device(ctranslate2.Device.cuda) if device == "cuda" else view

    def _window_s(self, samples: int, minimum: float | None = None) -> float:
        needed = math.ceil(samples / SAMPLE_RATE + _PAD_S)
        return float(min(MAX_WINDOW_S, max(minimum or self.options.min_window_s, needed)))

    def _features(self, audio: np.ndarray, window_s: float) -> np.ndarray:
        padded = np.zeros(int(window_s * SAMPLE_RATE), dtype=np.float32)
        padded[: len(audio)] = audio
        features = self.model.feature_extractor(padded)
        return np.ascontiguousarray(features[:, : int(window_s * 100)])

    def _language(self, encoder_output: Any, forced: str | None) -> tuple[str, float]:
        return self._languages(encoder_output, 1, forced)[0]

    def _languages(self, encoder_output: Any, n: int, forced: str | None) -> list[tuple[str, float]]:
        if forced:
            return [(forced, 1.0)] * n
        if not self.model.model.is_multilingual:
            return [("en", 1.0)] * n
        allowed = self.options.allowed_languages
        out = []
        for row in self.model.model.detect_language(encoder_output):
            ranked = [(token[2:-2], float(p)) for token, p in row]
            # Short utterances are easily mistaken for a neighbouring language (Mandarin for
            # Cantonese or Japanese): the best-scoring language the hotline serves wins.
            out.append(next(((code, p) for code, p in ranked if not allowed or code in allowed), ranked[0]))
        return out

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


_WORD = re.compile(r"[a-z0-9']+|[\u3400-\u9fff]")


def repeats_phrase(text: str, min_words: int = 3, min_han: int = 4) -> bool:
    """Whether a phrase comes twice in a row: three or more words, or four or more Chinese
    characters, followed at once by the same again ("and so my fellow americans and so my fellow
    americans"), the way short-window Whisper repeats itself. Punctuation and case are ignored."""
    units = _WORD.findall(text.lower())
    n_units = len(units)
    for i in range(n_units):
        shortest = min_han if "\u3400" <= units[i][0] <= "\u9fff" else min_words
        for n in range(shortest, (n_units - i) // 2 + 1):
            if units[i : i + n] == units[i + n : i + 2 * n]:
                return True
    return False
