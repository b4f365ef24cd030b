"""Request and response bodies of the call-back API (api/callbacks.py); the OpenAPI schema at /docs
documents every field from here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from api.agent_models import CallSummary, UtteranceOut, aware, mask_details
from pipeline.db import Call, Callback, CallbackAttempt, Handoff, Utterance

Trigger = Literal[
    "caller_hung_up", "line_dropped", "not_accepted_in_time", "service_restarted", "caller_asked"
]
Outcome = Literal["called_back", "reached", "dispatched", "false_alarm", "no_answer"]


class CallbackAttemptOut(BaseModel):
    agent_id: str
    agent_name: str | None = None
    outcome: Outcome
    note: str
    created_at: datetime | None

    @classmethod
    def from_row(cls, a: CallbackAttempt, names: dict[str, str]) -> CallbackAttemptOut:
        return cls(
            agent_id=a.agent_id,
            agent_name=names.get(a.agent_id),
            outcome=a.outcome,
            note=a.note or "",
            created_at=aware(a.created_at),
        )


class CallbackSummary(BaseModel):
    id: str
    handoff_id: str
    call_id: str
    caller_number: str | None = Field(description="The number to ring back.")
    urgency: Literal["emergency", "urgent", "routine"] = Field(
        description="routine only for a caller who asked to be called back (trigger caller_asked)."
    )
    topic: str | None
    request_type: str | None = None
    language: str | None = Field(description="The language the caller spoke: call back in it.")
    trigger: Trigger = Field(
        description="Why the task exists: the caller hung up or the line dropped while waiting, an "
        "emergency was not accepted in time (the caller may still be waiting in the queue), the "
        "service restarted with the caller in the queue, or the waiting caller asked to be called back."
    )
    status: Literal["open", "closed"]
    outcome: Outcome | None = Field(
        None, description="The closing outcome; no_answer is logged as an attempt and keeps it open."
    )
    note: str | None = Field(None, description="The closing agent's note.")
    agent_id: str | None = Field(None, description="The agent who closed the task.")
    agent_name: str | None = None
    reason: str = Field("", description="Why the bot handed the call on (e.g. the emergency rule).")
    details: dict[str, Any] = Field(
        default_factory=dict, description="What the caller said that matters (address, phone...); IDs masked."
    )
    caller_on_line: bool = Field(description="The call is still live: the caller is waiting in the queue.")
    call_status: str = Field(description="active, ended or dropped.")
    call_end_reason: str | None = None
    handoff_created_at: datetime | None = Field(None, description="When the caller was handed to an agent.")
    created_at: datetime
    closed_at: datetime | None
    attempts: list[CallbackAttemptOut] = Field(
        default_factory=list, description="Every outcome recorded on this task, oldest first."
    )

    @classmethod
    def from_rows(cls, c: Callback, h: Handoff, call: Call, names: dict[str, str]) -> CallbackSummary:
        return cls(
            id=c.id,
            handoff_id=c.handoff_id,
            call_id=c.call_id,
            caller_number=c.caller_number,
            urgency=c.urgency,
            topic=c.topic,
            request_type=h.request_type,
            language=c.language,
            trigger=c.trigger,
            status=c.status,
            outcome=c.outcome,
            note=c.note,
            agent_id=c.agent_id,
            agent_name=names.get(c.agent_id or ""),
            reason=h.reason or "",
            details=mask_details(dict(h.details or {})),
            caller_on_line=call.ended_at is None and h.status == "waiting",
            call_status=call.status,
            call_end_reason=call.end_reason,
            handoff_created_at=aware(h.created_at),
            created_at=aware(c.created_at) or datetime.now(UTC),
            closed_at=aware(c.closed_at),
            attempts=[CallbackAttemptOut.from_row(a, names) for a in c.attempts],
        )


class CallbackDetail(CallbackSummary):
    transcript: list[UtteranceOut] = Field(description="Everything the caller and the bot said.")
    call: CallSummary = Field(description="The call, with the URLs of its recordings.")

    @classmethod
    def from_detail(
        cls, base: CallbackSummary, utterances: list[Utterance], call: CallSummary
    ) -> CallbackDetail:
        return cls(**base.model_dump(), transcript=[UtteranceOut.from_row(u) for u in utterances], call=call)


class CallbacksOut(BaseModel):
    callbacks: list[CallbackSummary] = Field(
        description="Open: emergencies first, then the longest waiting. Closed: the latest closed first."
    )


class OutcomeIn(BaseModel):
    outcome: Outcome = Field(
        description="called_back: rang back and dealt with it; reached: the caller was reached (the "
        "live call accepted, or they answered); dispatched: emergency services or a crew were sent; "
        "false_alarm: no help needed. These close the task. no_answer: logged, the task stays open."
    )
    note: str = Field("", max_length=4000, description="What happened, for the record.")
