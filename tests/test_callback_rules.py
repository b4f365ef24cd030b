"""The pure call-back rules: which untaken handoff becomes a task, with which trigger, and which
outcomes close it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from pipeline.callback_rules import (
    OUTCOMES,
    closes,
    closes_on_accept,
    left_by_previous_process,
    overdue,
    task_fields,
    trigger_for_ended_call,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("urgency", "reason", "status", "trigger"),
    [
        ("emergency", "caller_hung_up", "ended", "caller_hung_up"),
        ("emergency", "caller_dropped", "dropped", "line_dropped"),
        ("urgent", "caller_hung_up", "ended", "caller_hung_up"),
        ("urgent", "caller_dropped", "dropped", "line_dropped"),
        ("emergency", "upload_complete", "ended", "caller_hung_up"),  # a recorded call: nobody on the line
        ("routine", "caller_hung_up", "ended", None),  # a routine caller who hangs up is not chased
        (None, "caller_dropped", "dropped", None),
    ],
)
def test_an_ending_call_turns_only_emergency_and_urgent_waiting_handoffs_into_tasks(
    urgency: str | None, reason: str, status: str, trigger: str | None
) -> None:
    assert trigger_for_ended_call(urgency, reason, status) == trigger


def test_only_an_emergency_waiting_past_the_timeout_is_overdue() -> None:
    created = NOW - timedelta(seconds=20)
    assert overdue("emergency", "waiting", created, NOW, timeout_s=20)
    assert not overdue("emergency", "waiting", created + timedelta(seconds=1), NOW, timeout_s=20)
    assert not overdue("urgent", "waiting", created - timedelta(hours=1), NOW, timeout_s=20)
    assert not overdue("emergency", "accepted", created, NOW, timeout_s=20)  # an agent has them
    assert overdue("emergency", "waiting", NOW - timedelta(seconds=6), NOW, timeout_s=5)


def test_handoffs_waiting_from_before_start_up_were_left_by_a_previous_process() -> None:
    before, after = NOW - timedelta(minutes=3), NOW + timedelta(seconds=1)
    assert left_by_previous_process("emergency", "waiting", before, NOW)
    assert left_by_previous_process("urgent", "waiting", before, NOW)
    assert not left_by_previous_process("routine", "waiting", before, NOW)
    assert not left_by_previous_process("emergency", "waiting", after, NOW)  # this process's own caller
    assert not left_by_previous_process("emergency", "resolved", before, NOW)


def test_no_answer_keeps_the_task_open_and_every_other_outcome_closes_it() -> None:
    assert [o for o in OUTCOMES if closes(o)] == ["called_back", "reached", "dispatched", "false_alarm"]
    assert not closes("no_answer")
    with pytest.raises(ValueError, match="called_back, reached, dispatched, false_alarm, no_answer"):
        closes("gave_up")


def test_accepting_the_live_call_closes_only_a_timed_out_task() -> None:
    assert closes_on_accept("not_accepted_in_time")
    for trigger in ("caller_hung_up", "line_dropped", "service_restarted"):
        assert not closes_on_accept(trigger)  # nobody is on that line any more: ring back


def test_a_task_row_copies_what_the_caller_back_needs_from_the_handoff() -> None:
    handoff = SimpleNamespace(id="h1", call_id="c1", urgency="emergency", topic="gas", language="zh")
    row = task_fields("t1", handoff, "13800001111", "caller_hung_up", NOW)
    assert row == {
        "id": "t1",
        "handoff_id": "h1",
        "call_id": "c1",
        "caller_number": "13800001111",
        "urgency": "emergency",
        "topic": "gas",
        "language": "zh",
        "trigger": "caller_hung_up",
        "status": "open",
        "created_at": NOW,
    }
    with pytest.raises(ValueError, match="trigger"):
        task_fields("t2", handoff, None, "bored", NOW)
