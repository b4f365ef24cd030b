"""One narrowing question when the knowledge base hesitates between two entries.

The knowledge base (kb/narrowing.py) says when the right entry is very likely one of two that differ
by one detail, and what tells them apart. The bot then asks "Is this about X, or Y?" once; the
caller's reply picks one (its words, or "the first/second one"), and that entry's answer is spoken.
"Neither" goes to a person; a reply that picks nothing is handled as a new turn, so danger or a
request for a person in it is never missed.
"""

from __future__ import annotations

from dataclasses import replace

from pipeline.policy import Decision, TurnFacts
from pipeline.turns import KnowledgeOption, KnowledgeReply

NEITHER = "neither"


class Narrowing:
    """The pending narrowing question of one call (at most one per caller question)."""

    def __init__(self) -> None:
        self.pending: tuple[KnowledgeOption, ...] = ()
        self.asked: set[frozenset[str]] = set()  # pairs already asked about: never the same question twice

    def offer(self, decision: Decision, facts: TurnFacts, reply: KnowledgeReply | None) -> Decision | None:
        """A 'narrow' decision in place of the policy's clarify (or its hand-off after one), or None."""
        if reply is None or len(reply.options) != 2 or facts.emergency or facts.out_of_scope:
            return None
        if facts.urgency != "routine":
            return None
        unclear = decision.action == "clarify" or (
            decision.action == "handoff" and decision.reason.startswith("still unclear")
        )
        pair = frozenset(o.entry_id for o in reply.options)
        if not unclear or pair in self.asked:
            return None
        self.asked.add(pair)
        self.pending = reply.options
        a, b = reply.options
        state = replace(
            decision.state, handed_off=False, clarifications=max(decision.state.clarifications, 1)
        )
        return Decision(
            "narrow",
            f"knowledge base hesitates between {a.entry_id} and {b.entry_id} "
            f"(top {reply.confidence:.2f}): asked which",
            facts.urgency,
            state=state,
        )

    def question_values(self) -> dict[str, str]:
        a, b = self.pending
        return {"a": a.label, "b": b.label}

    def resolve(self, text: str) -> KnowledgeOption | str | None:
        """The option the reply picks, NEITHER, or None (it picks nothing); clears the question."""
        from kb.narrowing import KbOption, resolve_choice, said_neither

        options, self.pending = self.pending, ()
        if not options:
            return None
        if said_neither(text):
            return NEITHER
        kb_options = tuple(KbOption(o.entry_id, o.label, o.answer, "", o.keys) for o in options)
        picked = resolve_choice(text, kb_options)
        return next((o for o in options if picked and o.entry_id == picked.entry_id), None)


def chosen_facts(text: str, language: str, option: KnowledgeOption) -> TurnFacts:
    """The turn as the policy sees it once the caller picked an entry: a confident KB hit."""
    return TurnFacts(text=text, language=language, kb_entry_id=option.entry_id, kb_confidence=1.0)
