"""What the bot does with one caller turn: answer, clarify, hand off, repeat or end.

Pure: the call session gathers what the classifier and the knowledge base said into a
TurnFacts, keeps a DialogueState, and applies the Decision. Every Decision carries the reason
it was taken, which is recorded with the call. The rules guarantee a caller is never left in a
loop: at most `max_clarifications` clarifying questions, and a second failed answer goes to a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

Action = Literal[
    "answer", "clarify", "handoff", "work_order", "repeat", "anything_else", "still_there", "end", "narrow"
]


@dataclass(frozen=True)
class TurnFacts:
    """What was understood of one caller utterance."""

    text: str
    language: str
    topic: str | None = None
    request_type: str | None = None
    intent: str | None = None
    """Conversational intent: ask_human, repeat, goodbye, yes, no, or None."""
    urgency: str = "routine"
    confidence: float = 0.0
    out_of_scope: bool = False
    emergency: bool = False
    emergency_reason: str = ""
    kb_entry_id: str | None = None
    kb_confidence: float = 0.0
    kb_lacks: tuple[str, ...] = ()
    """What the caller asked for that the knowledge base's entry names none of (e.g. "amount")."""


@dataclass(frozen=True)
class DialogueState:
    clarifications: int = 0
    awaiting_feedback: bool = False
    """The bot just answered and asked "did that help?"."""
    answers_tried: tuple[str, ...] = ()
    silences: int = 0
    handed_off: bool = False


@dataclass(frozen=True)
class PolicyConfig:
    kb_threshold: float = 0.5
    """Knowledge-base confidence at or above which the bot answers by itself."""
    min_confidence: float = 0.45
    """Classifier confidence below which the turn counts as not understood."""
    max_clarifications: int = 1
    max_silence_prompts: int = 1
    """After this many "are you still there?" prompts, a further silence ends the call politely."""
    person_request_types: frozenset[str] = frozenset({"complaint", "tip_off"})
    work_order_request_types: frozenset[str] = frozenset({"fault", "suggestion"})
    """Reports the line records as a work order for a team, with a person confirming details."""


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    urgency: str = "routine"
    kb_entry_id: str | None = None
    state: DialogueState = field(default_factory=DialogueState)
    """The dialogue state after this decision."""
    lacks: tuple[str, ...] = ()
    """A hand-off because the KB's entry names none of what was asked: the caller is told so."""


def decide(facts: TurnFacts, state: DialogueState, config: PolicyConfig) -> Decision:
    # Danger outranks everything, including a pending "did that help?".
    if facts.emergency or facts.urgency == "emergency":
        why = facts.emergency_reason or f"classifier urgency emergency ({facts.confidence:.2f})"
        return Decision("handoff", f"emergency: {why}", "emergency", state=replace(state, handed_off=True))
    if facts.intent == "ask_human":
        return _handoff(state, facts, "caller asked for a person")
    if facts.intent == "goodbye":
        return Decision("end", "caller said goodbye", facts.urgency, state=state)
    if facts.intent == "repeat":
        return Decision("repeat", "caller asked to repeat", facts.urgency, state=state)
    if state.awaiting_feedback and facts.intent in ("yes", "no"):
        cleared = replace(state, awaiting_feedback=False)
        if facts.intent == "yes":
            return Decision("anything_else", "caller confirmed the answer helped", state=cleared)
        return _handoff(cleared, facts, "caller said the answer did not help")
    if facts.request_type in config.person_request_types:
        return _handoff(state, facts, f"{facts.request_type} goes to a person")

    understood = not facts.out_of_scope and facts.confidence >= config.min_confidence
    kb_hit = facts.kb_entry_id is not None and facts.kb_confidence >= config.kb_threshold
    if (
        kb_hit
        and facts.kb_entry_id not in state.answers_tried
        and facts.request_type not in (config.work_order_request_types)
    ):
        tried = (*state.answers_tried, facts.kb_entry_id or "")
        return Decision(
            "answer",
            f"knowledge base {facts.kb_entry_id} at {facts.kb_confidence:.2f} >= {config.kb_threshold:.2f}",
            facts.urgency,
            facts.kb_entry_id,
            replace(state, awaiting_feedback=True, answers_tried=tried, clarifications=0),
        )
    if understood and facts.request_type in config.work_order_request_types:
        return Decision(
            "work_order",
            f"{facts.request_type} about {facts.topic} recorded as a work order",
            facts.urgency,
            state=replace(state, handed_off=True),
        )
    if understood and facts.urgency == "urgent":
        return _handoff(state, facts, f"urgent {facts.topic or 'request'} with no self-service answer")
    if facts.kb_lacks and not facts.out_of_scope:  # asking again in other words cannot help
        what = " or ".join(facts.kb_lacks)
        handoff = _handoff(state, facts, f"the knowledge base's {facts.kb_entry_id} names no {what}")
        return replace(handoff, lacks=facts.kb_lacks)
    if state.clarifications < config.max_clarifications:
        why = (
            "out of scope"
            if facts.out_of_scope
            else f"confidence {facts.confidence:.2f}"
            if not understood
            else "no confident knowledge-base answer"
        )
        return Decision(
            "clarify",
            f"clarify once: {why}",
            facts.urgency,
            state=replace(state, clarifications=state.clarifications + 1),
        )
    return _handoff(state, facts, "still unclear after a clarifying question")


def on_silence(state: DialogueState, config: PolicyConfig) -> Decision:
    """The caller said nothing for the configured time."""
    if state.silences < config.max_silence_prompts:
        return Decision("still_there", "caller silent", state=replace(state, silences=state.silences + 1))
    return Decision("end", "caller silent after a prompt", state=state)


def _handoff(state: DialogueState, facts: TurnFacts, reason: str) -> Decision:
    return Decision(
        "handoff", reason, facts.urgency, state=replace(state, handed_off=True, awaiting_feedback=False)
    )
