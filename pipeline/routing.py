"""Pure rules for the agent queue and work orders: ordering, skill routing, state transitions.

No I/O here, so every rule is unit-tested directly and the store only applies them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

URGENCY_RANK = {"emergency": 0, "urgent": 1, "routine": 2}

WORK_ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"assigned", "in_progress", "resolved"}),
    "assigned": frozenset({"in_progress", "resolved", "new"}),
    "in_progress": frozenset({"resolved", "assigned"}),
    "resolved": frozenset({"in_progress"}),  # reopened when the caller calls back
}


class TransitionError(ValueError):
    """A state change the workflow does not allow; the message lists the allowed ones."""


@dataclass(frozen=True)
class QueueItem:
    """What ordering and routing need to know about a waiting handoff."""

    id: str
    urgency: str
    created_at: datetime
    topic: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class AgentSkills:
    id: str
    status: str
    topics: tuple[str, ...] = ()
    """Empty means the agent takes every topic."""
    languages: tuple[str, ...] = ()
    """Empty means the agent speaks every language the line supports."""


def queue_key(item: QueueItem) -> tuple[int, datetime, str]:
    """Most urgent first; within one urgency, who has waited longest first."""
    return (URGENCY_RANK.get(item.urgency, len(URGENCY_RANK)), item.created_at, item.id)


def order_queue(items: Iterable[QueueItem]) -> list[QueueItem]:
    return sorted(items, key=queue_key)


def agent_can_take(agent: AgentSkills, item: QueueItem) -> bool:
    """Skill match on topic and language. An emergency goes to any agent rather than wait."""
    if item.urgency == "emergency":
        return True
    topic_ok = not agent.topics or item.topic is None or item.topic in agent.topics
    lang_ok = not agent.languages or item.language is None or item.language in agent.languages
    return topic_ok and lang_ok


def queue_for_agent(agent: AgentSkills, items: Iterable[QueueItem]) -> list[QueueItem]:
    return [i for i in order_queue(items) if agent_can_take(agent, i)]


def queue_position(item_id: str, items: Sequence[QueueItem]) -> int | None:
    """1-based place in the whole queue, which is what the waiting caller is told."""
    for pos, item in enumerate(order_queue(items), start=1):
        if item.id == item_id:
            return pos
    return None


def can_be_served(item: QueueItem, agents: Iterable[AgentSkills]) -> bool:
    """Is any agent signed in (available or busy) who could take this call eventually?"""
    return any(a.status in ("available", "busy") and agent_can_take(a, item) for a in agents)


def check_work_order_transition(current: str, new: str) -> None:
    allowed = WORK_ORDER_TRANSITIONS.get(current)
    if allowed is None:
        raise TransitionError(f"Unknown work-order status {current!r}.")
    if new not in allowed:
        raise TransitionError(
            f"A work order cannot go from {current!r} to {new!r}; allowed: {', '.join(sorted(allowed))}."
        )
