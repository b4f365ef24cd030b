from datetime import UTC, datetime, timedelta

import pytest

from pipeline.routing import (
    AgentSkills,
    QueueItem,
    TransitionError,
    can_be_served,
    check_work_order_transition,
    order_queue,
    queue_for_agent,
    queue_position,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def item(id: str, urgency: str, minutes: int, topic: str = "water", lang: str = "zh") -> QueueItem:
    return QueueItem(id, urgency, T0 + timedelta(minutes=minutes), topic, lang)


def test_emergency_jumps_ahead_of_callers_who_waited_longer() -> None:
    items = [item("a", "routine", 0), item("b", "urgent", 5), item("c", "emergency", 9)]
    assert [i.id for i in order_queue(items)] == ["c", "b", "a"]


def test_same_urgency_is_first_come_first_served() -> None:
    items = [item("late", "urgent", 7), item("early", "urgent", 1)]
    assert [i.id for i in order_queue(items)] == ["early", "late"]
    assert queue_position("late", items) == 2
    assert queue_position("missing", items) is None


def test_routing_matches_topic_and_language_skills() -> None:
    water_en = AgentSkills("w", "available", topics=("water",), languages=("en",))
    items = [
        item("zh-water", "routine", 0),
        item("en-water", "routine", 1, lang="en"),
        item("en-power", "routine", 2, topic="power", lang="en"),
    ]
    assert [i.id for i in queue_for_agent(water_en, items)] == ["en-water"]


def test_emergency_reaches_any_agent_even_without_the_skill() -> None:
    power_only = AgentSkills("p", "available", topics=("power",), languages=("en",))
    assert [i.id for i in queue_for_agent(power_only, [item("fire", "emergency", 0, "public_order")])] == [
        "fire"
    ]


def test_no_signed_in_agent_means_the_call_cannot_be_served() -> None:
    waiting = item("x", "routine", 0)
    assert not can_be_served(waiting, [AgentSkills("a", "offline")])
    assert can_be_served(waiting, [AgentSkills("a", "busy")])


def test_work_order_lifecycle() -> None:
    for a, b in [("new", "assigned"), ("assigned", "in_progress"), ("in_progress", "resolved")]:
        check_work_order_transition(a, b)
    with pytest.raises(TransitionError, match="allowed"):
        check_work_order_transition("resolved", "new")
