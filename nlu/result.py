"""What the classifier tells the call pipeline: frozen dataclasses, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Urgency = Literal["emergency", "urgent", "routine"]
EmergencySource = Literal["rule", "semantic", "model", "none"]


@dataclass(frozen=True)
class RuleHit:
    """One emergency phrase found in the transcript, and whether its context cancelled it."""

    rule: str
    phrase: str
    start: int
    suppressed_by: str | None = None
    """None for a live hit; 'negation: 没有', 'past: last year', 'figurative: 急死了' otherwise."""


@dataclass(frozen=True)
class EmergencyDecision:
    flagged: bool
    source: EmergencySource
    """'rule' when a live rule hit decided, 'semantic' when the bank of emergency descriptions did,
    'model' when the urgency head's score did, 'none' otherwise."""
    reason: str
    """Human-readable: the rule name and matched phrase, or the model score against its threshold."""
    model_score: float
    threshold: float
    rule_hits: tuple[RuleHit, ...] = ()
    category: str | None = None
    """The dispatch category (a rule or bank name: cardiac, shots_fired, drowning, ...) when flagged."""
    service: str | None = None
    """medical, police, fire or traffic: which emergency service the category belongs to."""
    example: str | None = None
    """For a semantic decision, the nearest emergency description it was compared with."""


@dataclass(frozen=True)
class Extracted:
    """One detail found in the transcript: its kind, the text as heard, a normalised value, a display form."""

    kind: str
    text: str
    value: str
    display: str


@dataclass(frozen=True)
class Details:
    phones: tuple[Extracted, ...] = ()
    places: tuple[Extracted, ...] = ()
    """kind: district, street, building (栋/号楼), unit (单元), room (室), estate (小区), address."""
    times: tuple[Extracted, ...] = ()
    ids: tuple[Extracted, ...] = ()
    """kind: id_card or account; ``display`` is masked, ``value`` holds the digits for the agent system."""

    def is_empty(self) -> bool:
        return not (self.phones or self.places or self.times or self.ids)


@dataclass(frozen=True)
class Scored:
    code: str
    label_zh: str
    label_en: str
    confidence: float

    def label(self, lang: str) -> str:
        return self.label_zh if lang == "zh" else self.label_en


@dataclass(frozen=True)
class NluResult:
    text: str
    language: str
    """'zh' or 'en': given by the caller (ASR's language) or guessed from the characters."""
    topic: Scored | None
    """The hotline topic, None when the utterance is a conversational intent or out of scope."""
    request_type: Scored | None
    intent: Scored | None
    """A conversational intent (ask_human, repeat, goodbye, yes, no) when that is what was said."""
    urgency: Urgency
    urgency_confidence: float
    out_of_scope: bool
    oos_score: float
    """The top in-scope probability the out-of-scope threshold was applied to."""
    oos_threshold: float
    emergency: EmergencyDecision
    details: Details
    top: tuple[Scored, ...] = field(default_factory=tuple)
    """The best few label candidates with calibrated probabilities, for agents and logs."""
