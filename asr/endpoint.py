"""End-pointing: turn per-frame speech probabilities into utterance start, pause, resume and end.

Pure logic (no audio, no model), so it is unit-tested directly with scripted probabilities.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

EndpointKind = Literal["start", "pause", "resume", "end"]


@dataclass(frozen=True)
class EndpointEvent:
    """kind: start (speech confirmed; t_s = onset), pause (silence reached the speculative mark),
    resume (speech came back after a pause), end (silence reached end of speech).
    For pause and end, t_s is the end of speech: the end of the last frame judged speech."""

    kind: EndpointKind
    t_s: float


class _State(enum.Enum):
    SILENCE = 0
    SPEECH = 1
    TRAILING = 2


class Endpointer:
    """Hysteresis end-pointer over fixed-length frames.

    A frame with probability >= threshold is speech, below neg_threshold silence, and in between
    it keeps the current state. ``start_frames`` consecutive speech frames start an utterance (or
    resume one in its trailing silence); silence lasting ``speculative_s`` after the last speech
    frame gives a pause event, lasting ``end_s`` an end event.
    """

    def __init__(
        self,
        *,
        threshold: float,
        neg_threshold: float,
        frame_s: float,
        start_frames: int,
        speculative_s: float,
        end_s: float,
    ) -> None:
        self.threshold = threshold
        self.neg_threshold = neg_threshold
        self.frame_s = frame_s
        self.start_frames = max(1, start_frames)
        self.speculative_frames = max(1, round(speculative_s / frame_s))
        self.end_frames = max(self.speculative_frames, round(end_s / frame_s))
        self.default_end_frames = self.end_frames
        self._state = _State.SILENCE
        self._frame = 0
        self._run = 0
        self._run_start = 0
        self._speech_end = 0
        self._paused = False

    def set_end_s(self, end_s: float) -> None:
        """The silence that ends the current utterance (back to the configured one at the next)."""
        self.end_frames = max(self.speculative_frames, round(end_s / self.frame_s))

    @property
    def in_utterance(self) -> bool:
        return self._state is not _State.SILENCE

    @property
    def in_speech(self) -> bool:
        """Inside an utterance and not (yet) in its trailing silence."""
        return self._state is _State.SPEECH

    @property
    def speech_end_s(self) -> float:
        """End of the last speech frame of the current utterance."""
        return self._speech_end * self.frame_s

    def update(self, prob: float) -> EndpointEvent | None:
        """Consume one frame's speech probability; at most one event per frame."""
        index = self._frame
        self._frame += 1
        is_speech = prob >= self.threshold
        is_silence = prob < self.neg_threshold
        if self._state is _State.SILENCE:
            return self._count_towards_start(index, is_speech, "start")
        if self._state is _State.SPEECH:
            if is_silence:
                self._state = _State.TRAILING
                self._speech_end = index
                self._run = 0
                self._paused = False
            else:
                self._speech_end = index + 1
            return None
        # TRAILING: silence after speech
        event = self._count_towards_start(index, is_speech, "resume")
        if self._state is _State.SPEECH:
            resumed = self._paused
            self._paused = False
            return event if resumed else None
        silent = self._frame - self._speech_end
        if silent >= self.end_frames:
            self._state = _State.SILENCE
            self._run = 0
            return EndpointEvent("end", self.speech_end_s)
        if silent >= self.speculative_frames and not self._paused:
            self._paused = True
            return EndpointEvent("pause", self.speech_end_s)
        return None

    def _count_towards_start(self, index: int, is_speech: bool, kind: EndpointKind) -> EndpointEvent | None:
        if not is_speech:
            self._run = 0
            return None
        if self._run == 0:
            self._run_start = index
        self._run += 1
        if self._run < self.start_frames:
            return None
        self._state = _State.SPEECH
        self._speech_end = index + 1
        self._run = 0
        self.end_frames = self.default_end_frames  # a new (or resumed) stretch of speech
        return EndpointEvent(kind, self._run_start * self.frame_s)
