"""The narrow views of each stage that a call session needs, and what they return.

The session talks to these protocols only; pipeline/stages.py adapts the real asr/, nlu/, kb/
and tts/ classes to them, so a stage's richer interface can change without touching the call logic.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.codec import Encoding
from core.events import AsrEvent
from pipeline.policy import TurnFacts


@dataclass(frozen=True)
class Understanding:
    """The classifier's view of one caller utterance, ready for the policy and the agent screen."""

    facts: TurnFacts
    details: dict[str, Any] = field(default_factory=dict)
    """Extracted details for the agent: phones, addresses, times, masked ids."""
    labels: dict[str, str] = field(default_factory=dict)
    """Display labels (topic, request type) in the caller's language."""


@dataclass(frozen=True)
class KnowledgeOption:
    """One of two entries the caller is asked to choose between."""

    entry_id: str
    label: str  # what tells it apart, in the caller's language
    answer: str
    keys: tuple[str, ...] = ()  # its words the other lacks: how the caller's reply is read


@dataclass(frozen=True)
class KnowledgeReply:
    entry_id: str
    answer: str
    confidence: float
    options: tuple[KnowledgeOption, ...] = ()
    """Two entries when the KB is sure it is one of them but not which: ask (pipeline/narrowing.py)."""
    lacks: tuple[str, ...] = ()
    """What the question asks for (an amount, an age) that the entry's answer names none of."""


class Recognizer(Protocol):
    def feed(self, chunk: bytes) -> list[AsrEvent]: ...

    def finish(self) -> list[AsrEvent]: ...


class Understander(Protocol):
    def understand(self, text: str, language: str) -> Understanding: ...


class Knowledge(Protocol):
    def lookup(self, text: str, language: str, topic: str | None) -> KnowledgeReply | None: ...


class Voice(Protocol):
    sample_rate: int
    encoding: Encoding

    def speak(self, text: str, language: str) -> Iterator[bytes]:
        """Encoded audio in the call's output format, one chunk per sentence, first one soonest."""
        ...

    def prompt_text(self, key: str, language: str, **values: Any) -> str:
        """A fixed bilingual prompt's words (greeting, connecting, queue position, ...)."""
        ...
