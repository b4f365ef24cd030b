"""Options of the speech-recognition stage, as one documented dataclass.

The stage never reads the global settings: ``AsrOptions.from_values`` takes plain values and
``options_from_settings`` (used by the CLI and the service) maps the Settings fields onto it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.settings import Settings


@dataclass(frozen=True)
class AsrOptions:
    """How audio becomes text, in batch and streaming.

    Attributes:
      language: 'zh', 'en' (or any Whisper code) to force a language; None detects it per
        utterance from the encoder output alone, so prompts cannot bias the detection.
      allowed_languages: languages detection may choose from (the hotline's languages); empty
        allows every Whisper language.
      beam_size: beam width for final transcripts and batch transcription.
      partial_beam_size: beam width for live partial hypotheses (1 = greedy, cheapest).
      vocabulary: hotline vocabulary hints (district, street, department names); they go into the
        decoder's initial prompt so Whisper prefers these spellings.
      zh_prompt: the Simplified-Chinese sentence that opens the prompt for Mandarin; it steers
        Whisper to Simplified characters (OpenCC t2s still converts whatever slips through).
      temperatures: temperature schedule for final decodes. The first is used; each next one only
        when the previous output looks degenerate (compression ratio or log-probability below).
        Kept short on purpose: every fallback is a full extra decode.
      compression_ratio_threshold: gzip ratio above which a decode counts as repetitive.
      log_prob_threshold: mean token log-probability below which a decode counts as failed.
      no_speech_threshold: with a failed log-probability, a no-speech probability above this
        makes the result empty instead of a hallucination.
      min_window_s: shortest encoder window in seconds (audio plus silence padding). Whisper was
        trained on 30 s windows; very short ones make it repeat itself, longer ones cost time.
      max_tokens_per_s: cap on generated tokens per second of audio (plus a small constant), so a
        runaway repetition loop ends quickly instead of filling 224 tokens.
      vad_threshold: Silero speech probability at or above which a frame is speech.
      vad_neg_threshold: probability below which a frame is silence (hysteresis between the two).
      narrowband_vad_threshold, narrowband_vad_neg_threshold: the same two for 8 kHz streams
        (phone lines). Silero scores band-limited (300-3400 Hz), mu-law speech lower: on the shared
        clips through a simulated line the median speech-frame probability falls from 0.97 to 0.78,
        and at 0.5 / 0.35 a fifth of the wideband speech frames counted as silence, which split
        sentences and clipped first words. These values make the 8 kHz decisions agree best with
        the wideband decisions at 0.5 / 0.35 on the same audio (docs/telephony.md).
      speech_start_ms: speech needed before SpeechStarted is emitted (filters clicks).
      end_of_speech_ms: silence after speech that ends an utterance in streaming.
      adaptive_end: end a turn sooner when the speculative decode reads as a complete request
        (``end_of_speech_complete_ms``) and later when it stops on a digit or an unfinished phrase
        (``end_of_speech_incomplete_ms``: callers dictating numbers are not cut off); asr/turn_end.py.
      speculative_ms: silence after which the final decode starts speculatively; kept (and emitted
        once end_of_speech_ms is reached) unless speech resumes first.
      pre_speech_ms: audio kept before the VAD onset, so first syllables are not clipped.
      post_speech_ms: audio kept after the VAD offset in the decoded utterance.
      min_decode_interval_s: least audio between two partial decodes (partials are throttled).
      first_partial_s: speech needed before the first partial decode is tried.
      max_utterance_s: an utterance this long is finalised even without a pause (Whisper's
        window is 30 s).
      batch_min_silence_ms: silence that separates speech regions in batch transcription.
    """

    language: str | None = None
    allowed_languages: tuple[str, ...] = ("zh", "en")
    beam_size: int = 5
    partial_beam_size: int = 1
    vocabulary: tuple[str, ...] = ()
    zh_prompt: str = "以下是普通话的句子。"
    temperatures: tuple[float, ...] = (0.0, 0.4)
    compression_ratio_threshold: float = 2.4
    log_prob_threshold: float = -1.0
    no_speech_threshold: float = 0.6
    min_window_s: float = 10.0
    max_tokens_per_s: float = 15.0
    vad_threshold: float = 0.5
    vad_neg_threshold: float = 0.35
    narrowband_vad_threshold: float = 0.3
    narrowband_vad_neg_threshold: float = 0.2
    speech_start_ms: int = 64
    end_of_speech_ms: int = 600
    adaptive_end: bool = True
    end_of_speech_complete_ms: int = 350
    end_of_speech_incomplete_ms: int = 1100
    speculative_ms: int = 192
    pre_speech_ms: int = 400
    post_speech_ms: int = 160
    min_decode_interval_s: float = 1.0
    first_partial_s: float = 0.6
    max_utterance_s: float = 25.0
    batch_min_silence_ms: int = 500

    def __post_init__(self) -> None:
        if self.beam_size < 1 or self.partial_beam_size < 1:
            raise ValueError("beam sizes must be at least 1")
        if not self.temperatures:
            raise ValueError("temperatures needs at least one value, e.g. (0.0,)")
        if not 0 < self.vad_neg_threshold <= self.vad_threshold < 1:
            raise ValueError("need 0 < vad_neg_threshold <= vad_threshold < 1")
        if not 0 < self.narrowband_vad_neg_threshold <= self.narrowband_vad_threshold < 1:
            raise ValueError("need 0 < narrowband_vad_neg_threshold <= narrowband_vad_threshold < 1")
        if self.speculative_ms > self.end_of_speech_ms:
            raise ValueError("speculative_ms must not exceed end_of_speech_ms")
        if self.adaptive_end and not (
            self.speculative_ms <= self.end_of_speech_complete_ms <= self.end_of_speech_incomplete_ms
        ):
            raise ValueError(
                "need speculative_ms <= end_of_speech_complete_ms <= end_of_speech_incomplete_ms"
            )
        if self.post_speech_ms > self.speculative_ms:
            raise ValueError(
                "post_speech_ms must not exceed speculative_ms (the speculative decode "
                "must see the same audio as the final one)"
            )

    @classmethod
    def from_values(
        cls,
        *,
        language: str | None,
        beam_size: int,
        vocabulary: list[str] | tuple[str, ...],
        end_of_speech_ms: int,
        vad_threshold: float,
        allowed_languages: list[str] | tuple[str, ...] = ("zh", "en"),
        adaptive_end: bool = True,
        min_window_s: float | None = None,
        narrowband_vad_threshold: float | None = None,
        narrowband_vad_neg_threshold: float | None = None,
    ) -> AsrOptions:
        """Build options from plain configuration values (what Settings holds)."""
        speculative = min(cls.speculative_ms, end_of_speech_ms)
        narrow, narrow_neg = cls.narrowband_vad_threshold, cls.narrowband_vad_neg_threshold
        if narrowband_vad_threshold is not None:
            narrow = narrowband_vad_threshold
        if narrowband_vad_neg_threshold is not None:
            narrow_neg = narrowband_vad_neg_threshold
        return cls(
            language=language or None,
            allowed_languages=tuple(allowed_languages),
            beam_size=beam_size,
            vocabulary=tuple(v.strip() for v in vocabulary if v.strip()),
            end_of_speech_ms=end_of_speech_ms,
            end_of_speech_complete_ms=max(speculative, min(cls.end_of_speech_complete_ms, end_of_speech_ms)),
            end_of_speech_incomplete_ms=max(cls.end_of_speech_incomplete_ms, end_of_speech_ms),
            speculative_ms=speculative,
            post_speech_ms=min(cls.post_speech_ms, speculative),
            vad_threshold=vad_threshold,
            vad_neg_threshold=min(cls.vad_neg_threshold, vad_threshold),
            narrowband_vad_threshold=narrow,
            narrowband_vad_neg_threshold=min(narrow_neg, narrow),
            adaptive_end=adaptive_end,
            min_window_s=cls.min_window_s if min_window_s is None else min_window_s,
        )


def options_from_settings(settings: Settings) -> AsrOptions:
    """The stage options a deployment configured through TRIAGE_ASR_* variables."""
    return AsrOptions.from_values(
        language=settings.asr_language,
        beam_size=settings.asr_beam_size,
        vocabulary=settings.asr_vocabulary,
        end_of_speech_ms=settings.asr_end_of_speech_ms,
        vad_threshold=settings.asr_vad_threshold,
        allowed_languages=settings.asr_allowed_languages,
        adaptive_end=settings.asr_adaptive_end,
        min_window_s=settings.asr_min_window_s,
        narrowband_vad_threshold=settings.asr_narrowband_vad_threshold,
        narrowband_vad_neg_threshold=settings.asr_narrowband_vad_neg_threshold,
    )
