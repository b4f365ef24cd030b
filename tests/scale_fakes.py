"""Scripted stages for service instances in the scale-out tests (tests/test_scale_out.py,
tests/scale_instance.py): the fakes of tests/session_fakes.py, plus partial transcripts.

Audio script, in '|'-terminated pieces: b"S|" starts speech, b"P:<text>|" is a partial
hypothesis of the utterance in progress, b"E:<text>|" ends it; any other bytes are silence to the
recogniser (they are still recorded, so a test can send real audio for the recording)."""

from __future__ import annotations

from pathlib import Path

from session_fakes import FakeKnowledge, FakeRecognizer, FakeUnderstander, FakeVoice

from core.events import AsrEvent, PartialTranscript
from pipeline.bus import EventBus
from pipeline.live_calls import LiveCalls
from pipeline.session import SessionServices
from pipeline.store import Store


class PartialRecognizer(FakeRecognizer):
    def feed(self, chunk: bytes) -> list[AsrEvent]:
        events: list[AsrEvent] = []
        for piece in chunk.split(b"|"):
            if piece.startswith(b"P:"):
                self.t += 0.02
                text = piece[2:].decode("utf-8", "replace")
                events.append(PartialTranscript(text, text, self.t - 0.5, self.t, "en"))
            elif piece:
                events += super().feed(piece + b"|")
        return events


def scripted_services(store: Store, bus: EventBus, recordings_dir: Path) -> SessionServices:
    return SessionServices(
        store=store,
        bus=bus,
        recognizer_factory=lambda rate, enc: PartialRecognizer(),
        understander=FakeUnderstander(),
        knowledge=FakeKnowledge(),
        voice_for=lambda fmt: FakeVoice(),  # type: ignore[arg-type,return-value]
        recordings_dir=recordings_dir,
        silence_timeout_s=600.0,
        waiting_announce_s=600.0,
        live_calls=LiveCalls(),
    )
