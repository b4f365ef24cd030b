"""Pure rules for call-back tasks: when an untaken handoff becomes one, and which outcomes close it.

No I/O here: the store and the call-back watch apply these rules, and tests call them directly.

- A handoff of urgency ``emergency`` or ``urgent`` whose caller hangs up or whose line drops while
  it still waits becomes a task (trigger ``caller_hung_up`` / ``line_dropped``).
- An ``emergency`` handoff still waiting after the accept timeout becomes a task while the caller
  may still be on the line (``not_accepted_in_time``); the live handoff stays in the queue, and an
  agent accepting it closes the task as ``reached``.
- At start-up, emergency and urgent handoffs a previous process left waiting become tasks
  (``service_restarted``).
- A waiting caller of any urgency who asks to be called back gets a task (``caller_asked``) and
  their handoff leaves the queue as ``callback`` in the same transaction, so the call's end opens
  no second task (pipeline/waiting.py).
- Outcomes ``called_back``, ``reached``, ``dispatched`` and ``false_alarm`` close the task;
  ``no_answer`` is logged as an attempt and the task stays open, so a person in danger is tried again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

CALLBACK_URGENCIES = frozenset({"emergency", "urgent"})
TIMED_URGENCIES = frozenset({"emergency"})
"""Urgencies whose waiting handoff becomes a task when nobody accepts it in time."""

TRIGGERS = ("caller_hung_up", "line_dropped", "not_accepted_in_time", "service_restarted", "caller_asked")
ENDED_CALL_TRIGGERS = frozenset({"caller_hung_up", "line_dropped"})
OUTCOMES = ("called_back", "reached", "dispatched", "false_alarm", "no_answer")
CLOSING_OUTCOMES = frozenset({"called_back", "reached", "dispatched", "false_alarm"})


def needs_callback(urgency: str | None) -> bool:
    return urgency in CALLBACK_URGENCIES


def trigger_for_ended_call(urgency: str | None, reason: str, status: str) -> str | None:
    """The trigger of the task a still-waiting handoff gets when its call ends, or None (routine)."""
    if not needs_callback(urgency):
        return None
    return "line_dropped" if status == "dropped" or "drop" in reason else "caller_hung_up"


def overdue(urgency: str | None, status: str, created_at: datetime, now: datetime, timeout_s: float) -> bool:
    """Has this handoff waited longer than an emergency may wait for an agent?"""
    if urgency not in TIMED_URGENCIES or status != "waiting":
        return False
    return (now - created_at).total_seconds() >= timeout_s


def left_by_previous_process(
    urgency: str | None, status: str, created_at: datetime, started_at: datetime
) -> bool:
    """A handoff still waiting from before this process started: its call session died with the
    process that held it."""
    return needs_callback(urgency) and status == "waiting" and created_at < started_at


def closes(outcome: str) -> bool:
    """Does recording this outcome close the task? Raises ValueError for an unknown outcome."""
    if outcome not in OUTCOMES:
        raise ValueError(f"Unknown call-back outcome {outcome!r}; use one of {', '.join(OUTCOMES)}.")
    return outcome in CLOSING_OUTCOMES


def callback_number(caller_number: str | None, details: dict[str, Any] | None) -> str | None:
    """The number to ring back: the line's caller id, else the first phone number the caller said
    (nlu details ``phones``: ``{"value": digits, ...}``), else None."""
    if caller_number:
        return caller_number
    for phone in (details or {}).get("phones") or ():
        value = phone.get("value") if isinstance(phone, dict) else None
        if value:
            return str(value)
    return None


def closes_on_accept(trigger: str) -> bool:
    """Accepting the live handoff reaches the caller only while the call is the one that timed out;
    after a restart the handoff's call is gone, so that task needs a real call back."""
    return trigger == "not_accepted_in_time"


def task_fields(
    callback_id: str,
    handoff: Any,
    caller_number: str | None,
    trigger: str,
    now: datetime,
) -> dict[str, Any]:
    """The new task's row, from the handoff it keeps visible."""
    if trigger not in TRIGGERS:
        raise ValueError(f"Unknown call-back trigger {trigger!r}; use one of {', '.join(TRIGGERS)}.")
    return {
        "id": callback_id,
        "handoff_id": handoff.id,
        "call_id": handoff.call_id,
        "caller_number": caller_number,
        "urgency": handoff.urgency,
        "topic": handoff.topic,
        "language": handoff.language,
        "trigger": trigger,
        "status": "open",
        "created_at": now,
    }
