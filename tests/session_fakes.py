"""Scripted fakes of the stages a call session talks to (pipeline/turns.py protocols), so call
logic is tested by feeding events in and reading what comes out, with no model loaded.

The fake recogniser reads a tiny script from the audio bytes, in '|'-terminated pieces (the
session joins chunks that queued up): b"S|" starts speech, b"E:<text>|" ends it with a final
transcript of <text> after ``decode_s`` seconds (a slow decoder), anything else is silence.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.events import AsrEvent, FinalTranscript, SpeechStarted, SpeechStopped
from pipeline.admission import Admission
from pipeline.bus import EventBus
from pipeline.policy import TurnFacts
from pipeline.session import CallSession, CallStart, SessionServices
from pipeline.store import Store
from pipeline.turns import KnowledgeReply, Understanding


class FakeRecognizer:
    def __init__(self, decode_s: float = 0.0) -> None:
        self.decode_s = decode_s
        self.t = 0.0

    def feed(self, chunk: bytes) -> list[AsrEvent]:
        events: list[AsrEvent] = []
        for piece in chunk.split(b"|"):
            self.t += 0.02
            if piece == b"S":
                events.append(SpeechStarted(self.t))
            elif piece.startswith(b"E:"):
                time.sleep(self.decode_s)
                text = piece[2:].decode("utf-8")
                events += [SpeechStopped(self.t), FinalTranscript(text, "en", self.t - 1, self.t)]
        return events

    def finish(self) -> list[AsrEvent]:
        return []


EMERGENCY_WORDS = ("fire", "not breathing", "着火")
URGENT_WORDS = ("urgent", "flooding", "漏水")


class FakeUnderstander:
    def understand(self, text: str, language: str) -> Understanding:
        emergency = any(w in text for w in EMERGENCY_WORDS)
        urgent = not emergency and any(w in text for w in URGENT_WORDS)
        intent = "ask_human" if "person" in text else None
        facts = TurnFacts(
            text,
            language,
            topic=None if intent else "water",
            request_type=None if intent else "inquiry",
            intent=intent,
            urgency="emergency" if emergency else "urgent" if urgent else "routine",
            confidence=0.9,
            emergency=emergency,
            emergency_reason="rule fire 'fire'" if emergency else "",
        )
        return Understanding(facts)


class FakeKnowledge:
    def lookup(self, text: str, language: str, topic: str | None) -> KnowledgeReply | None:
        return KnowledgeReply("water_bill", "You can pay online.", 0.9) if "bill" in text else None


class FakeVoice:
    sample_rate = 16000
    encoding = "pcm16"

    def speak(self, text: str, language: str) -> Iterator[bytes]:
        yield b"\x00\x00" * 1600  # 0.1 s

    def prompt_text(self, key: str, language: str, **values: Any) -> str:
        return key.upper() + "".join(f" {k}={v}" for k, v in sorted(values.items()))


def fake_services(store: Store, bus: EventBus, recordings_dir: Path, **fields: Any) -> SessionServices:
    """What a service's calls share, with every stage a scripted fake (``fields``: any other
    SessionServices field, e.g. ``silence_timeout_s``, ``understander``, ``live_calls``)."""
    stages: dict[str, Any] = {
        "recognizer_factory": lambda rate, enc: FakeRecognizer(),
        "understander": FakeUnderstander(),
        "knowledge": FakeKnowledge(),
        "voice_for": lambda fmt: FakeVoice(),
    }
    return SessionServices(store=store, bus=bus, recordings_dir=recordings_dir, **{**stages, **fields})


class FakeCall:
    """One call session over the fakes, with what it sent collected."""

    def __init__(
        self,
        tmp: Path,
        decode_s: float = 0.0,
        silence_timeout_s: float = 1.0,
        admission: Admission | None = None,
        store: Store | None = None,
        bus: EventBus | None = None,
        waiting_announce_s: float = 30.0,
        **start: Any,
    ) -> None:
        self.store = store or Store(f"sqlite:///{tmp / 'calls.db'}")
        self.bus = bus or EventBus()
        self.services = SessionServices(
            store=self.store,
            bus=self.bus,
            recognizer_factory=lambda rate, enc: FakeRecognizer(decode_s),
            understander=FakeUnderstander(),
            knowledge=FakeKnowledge(),
            voice_for=lambda fmt: FakeVoice(),  # type: ignore[arg-type,return-value]
            recordings_dir=tmp / "recordings",
            silence_timeout_s=silence_timeout_s,
            admission=admission,
            waiting_announce_s=waiting_announce_s,
        )
        self.sent: list[dict[str, Any]] = []
        self.audio_out: list[bytes] = []
        self.session = CallSession(self.services, CallStart(**start), self._json, self._audio)

    async def _json(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def _audio(self, chunk: bytes) -> None:
        self.audio_out.append(chunk)

    def said(self) -> list[str]:
        return [m["text"] for m in self.sent if m["type"] == "bot_text"]

    async def wait_for(self, pred: Any, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for m in self.sent:
                if pred(m):
                    return m
            await asyncio.sleep(0.05)
        raise AssertionError(f"nothing matched in {self.sent}")
