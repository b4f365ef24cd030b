"""Events passed between stages: small frozen dataclasses, one module for the whole pipeline.

Times (``t_s``, ``start_s``, ``end_s``) are seconds of call audio since the call started (the first
sample fed to the stage), never wall-clock times, so they stay meaningful when a recording is
replayed faster than real time. Later stages add their own events below their own heading.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# --- speech recognition (asr/) ------------------------------------------------------------------


@dataclass(frozen=True)
class TranscriptSegment:
    """A stretch of recognised speech."""

    start_s: float
    end_s: float
    text: str
    confidence: float
    """exp(mean token log-probability) of the decoded text, in (0, 1]; low values mean doubt."""


@dataclass(frozen=True)
class SpeechStarted:
    """The caller started talking (VAD onset). Emitted within ~100 ms of onset: use it for barge-in."""

    t_s: float


@dataclass(frozen=True)
class SpeechStopped:
    """The caller stopped talking: the configured end-of-speech silence has passed.

    ``t_s`` is the end of speech (the end of the last VAD speech frame), not the moment the silence
    timer ran out. Every SpeechStarted is closed by exactly one SpeechStopped, then one
    FinalTranscript (whose text may be empty when the sound held no words).
    """

    t_s: float


@dataclass(frozen=True)
class PartialTranscript:
    """A live hypothesis for the utterance in progress.

    ``committed_text`` only ever grows within an utterance (LocalAgreement-2: words two
    consecutive hypotheses agree on); ``text`` is the committed text plus a tentative tail that may
    still change. The FinalTranscript supersedes both.
    """

    text: str
    committed_text: str
    start_s: float
    end_s: float
    language: str


@dataclass(frozen=True)
class FinalTranscript:
    """The transcript of one finished utterance (beam search over the whole utterance)."""

    text: str
    language: str
    start_s: float
    end_s: float
    segments: tuple[TranscriptSegment, ...] = field(default_factory=tuple)
    confidence: float = 0.0
    """exp(mean token log-probability); 0.0 when nothing was recognised."""


AsrEvent = SpeechStarted | SpeechStopped | PartialTranscript | FinalTranscript
