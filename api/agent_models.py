"""Request and response bodies of the agent-side API (agents, handoffs, work orders, callers).

Each model documents its fields so the OpenAPI schema at /docs is the reference for console and
integrators. ``from_*`` constructors turn store rows into responses; they never touch the database.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.redaction import mask_pii, mask_pii_deep
from pipeline.db import Agent, Call, Decision, Handoff, Utterance, WorkOrder, WorkOrderNote
from pipeline.routing import WORK_ORDER_TRANSITIONS

Role = Literal["agent", "supervisor"]
AgentStatus = Literal["available", "busy", "offline"]
Urgency = Literal["emergency", "urgent", "routine"]
WorkOrderStatus = Literal["new", "assigned", "in_progress", "resolved"]


def aware(ts: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes for timezone-aware columns; every stored time is UTC.
    if ts is None:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


# --- masking ------------------------------------------------------------------------------------
_ID_KEY = re.compile(
    r"(^|_)(id|ids|id_number|id_card|account|accounts|card|cards|passport)s?($|_)|身份证|账号|卡号"
)
_CN_ID = re.compile(r"(?<!\d)\d{17}[\dXx](?![\dXx])|(?<!\d)\d{15}(?!\d)")


def mask_value(value: str) -> str:
    """Keep the last four characters: enough for the agent to confirm with the caller."""
    chars = [c for c in value if not c.isspace()]
    if len(chars) <= 4:
        return "*" * len(chars)
    return "*" * (len(chars) - 4) + "".join(chars[-4:])


def mask_details(details: Any, sensitive: bool = False) -> Any:
    """Masks ID and account numbers wherever they sit in the extracted details.

    Phones and addresses stay readable (the agent calls back and dispatches). Everything under a key
    that names an ID, account or card is masked (the classifier's ``ids`` list included: its
    ``text``, ``value`` and ``display``, but not its ``kind``), and so is anything elsewhere that
    looks like a Chinese resident ID number. Idempotent, so already masked values pass unchanged.
    """
    if isinstance(details, dict):
        return {
            k: v
            if sensitive and k == "kind"
            else mask_details(v, sensitive or bool(_ID_KEY.search(str(k).lower())))
            for k, v in details.items()
        }
    if isinstance(details, list | tuple):
        return [mask_details(v, sensitive) for v in details]
    if isinstance(details, int) and not isinstance(details, bool) and sensitive:
        return mask_value(str(details))
    if isinstance(details, str):
        return mask_value(details) if sensitive else _CN_ID.sub(lambda m: mask_value(m.group(0)), details)
    return details


# --- agents -------------------------------------------------------------------------------------
class AgentOut(BaseModel):
    id: str
    name: str
    role: Role
    topics: list[str] = Field(description="Topics this agent takes; empty means every topic.")
    languages: list[str] = Field(description="Languages this agent speaks; empty means every language.")
    status: AgentStatus

    @classmethod
    def from_row(cls, a: Agent) -> AgentOut:
        return cls(
            id=a.id,
            name=a.name,
            role=a.role,
            topics=list(a.topics or []),
            languages=list(a.languages or []),
            status=a.status,
        )


class AgentCreate(BaseModel):
    name: str = Field(min_length=1, max_length=64, examples=["Li Na"])
    role: Role = "agent"
    topics: list[str] = Field(default_factory=list, description="Empty: every topic.")
    languages: list[str] = Field(
        default_factory=list, description="Empty: every language.", examples=[["zh"]]
    )


class AgentCreated(AgentOut):
    token: str = Field(description="The bearer token. Shown once: only its hash is stored.")


class StatusUpdate(BaseModel):
    status: AgentStatus = Field(
        description="available: ready for calls; busy: on a call; offline: signed out."
    )


# --- calls, transcripts, decisions ---------------------------------------------------------------
class UtteranceOut(BaseModel):
    seq: int
    speaker: str = Field(description="caller, bot or agent (a person on the call)")
    text: str
    language: str | None = None
    start_s: float | None = None
    end_s: float | None = None
    confidence: float | None = None
    created_at: datetime | None = None

    @classmethod
    def from_row(cls, u: Utterance) -> UtteranceOut:
        return cls(
            seq=u.seq,
            speaker=u.speaker,
            text=mask_pii(u.text),  # agents confirm the last four digits; never see the whole number
            language=u.language,
            start_s=u.start_s,
            end_s=u.end_s,
            confidence=u.confidence,
            created_at=aware(u.created_at),
        )


class DecisionOut(BaseModel):
    action: str
    reason: str
    topic: str | None = None
    request_type: str | None = None
    urgency: str | None = None
    confidence: float | None = None
    kb_entry_id: str | None = None
    utterance_seq: int | None = None
    created_at: datetime | None = None

    @classmethod
    def from_row(cls, d: Decision) -> DecisionOut:
        return cls(
            action=d.action,
            reason=d.reason,
            topic=d.topic,
            request_type=d.request_type,
            urgency=d.urgency,
            confidence=d.confidence,
            kb_entry_id=d.kb_entry_id,
            utterance_seq=d.utterance_seq,
            created_at=aware(d.created_at),
        )


class CallSummary(BaseModel):
    id: str
    caller_number: str | None
    language: str | None
    channel: str
    status: str
    end_reason: str | None
    rating: int | None = Field(None, description="The caller's 1-5 rating at the end of the call.")
    started_at: datetime | None
    ended_at: datetime | None
    topic: str | None = Field(None, description="The last topic the bot decided on.")
    last_action: str | None = Field(None, description="The bot's last decision (answer, handoff, ...).")
    recordings: dict[str, str] = Field(
        default_factory=dict, description="Track (caller, bot, agent) to the URL that plays it as WAV."
    )

    @classmethod
    def from_row(cls, c: Call, decisions: list[Decision] | None = None) -> CallSummary:
        topic = next((d.topic for d in reversed(decisions or []) if d.topic), None)
        recordings = {
            track: f"/v1/calls/{c.id}/recordings/{track}"
            for track, path in (
                ("caller", c.caller_audio_path),
                ("bot", c.bot_audio_path),
                ("agent", c.agent_audio_path),
            )
            if path
        }
        return cls(
            id=c.id,
            caller_number=c.caller_number,
            language=c.language,
            channel=c.channel,
            status=c.status,
            end_reason=c.end_reason,
            rating=c.rating,
            started_at=aware(c.started_at),
            ended_at=aware(c.ended_at),
            topic=topic,
            last_action=decisions[-1].action if decisions else None,
            recordings=recordings,
        )


# --- handoffs -----------------------------------------------------------------------------------
class HandoffSummary(BaseModel):
    id: str
    call_id: str
    status: str = Field(
        description="waiting, accepted, resolved, abandoned (the caller hung up) or callback (the caller "
        "asked to be called back instead of waiting)."
    )
    urgency: str
    topic: str | None
    request_type: str | None
    language: str | None
    confidence: float | None
    reason: str = Field(description="Why the bot handed the call on.")
    caller_number: str | None = None
    agent_id: str | None
    agent_name: str | None = None
    resolution: str | None
    created_at: datetime
    accepted_at: datetime | None
    resolved_at: datetime | None
    waited_s: float = Field(description="Seconds from the handoff to acceptance (or to now while waiting).")
    position: int | None = Field(None, description="1-based place in this agent's queue while waiting.")
    transfer_note: str | None = Field(None, description="The transferring agent's note (warm transfer).")
    transferred_by: str | None = Field(None, description="The id of the agent who transferred the call.")
    transfer_to_agent_id: str | None = Field(None, description="Transferred to this agent only.")
    transfer_topic: str | None = Field(None, description="Transferred to agents with this topic skill.")

    @classmethod
    def from_row(
        cls,
        h: Handoff,
        caller_number: str | None = None,
        position: int | None = None,
        agent_name: str | None = None,
        now: datetime | None = None,
    ) -> HandoffSummary:
        created = aware(h.created_at) or datetime.now(UTC)
        until = aware(h.accepted_at) or aware(h.resolved_at) or now or datetime.now(UTC)
        return cls(
            id=h.id,
            call_id=h.call_id,
            status=h.status,
            urgency=h.urgency,
            topic=h.topic,
            request_type=h.request_type,
            language=h.language,
            confidence=h.confidence,
            reason=h.reason,
            caller_number=caller_number,
            agent_id=h.agent_id,
            agent_name=agent_name,
            resolution=h.resolution,
            created_at=created,
            accepted_at=aware(h.accepted_at),
            resolved_at=aware(h.resolved_at),
            waited_s=round(max(0.0, (until - created).total_seconds()), 1),
            position=position,
            transfer_note=h.transfer_note,
            transferred_by=h.transferred_by,
            transfer_to_agent_id=h.transfer_to_agent_id,
            transfer_topic=h.transfer_topic,
        )


class QueueOut(BaseModel):
    agent: AgentOut
    waiting: list[HandoffSummary] = Field(
        description="Handoffs this agent may take, most urgent first, then longest waiting."
    )
    accepted: list[HandoffSummary] = Field(
        description="Handoffs in progress: this agent's own (a supervisor sees everyone's)."
    )


class LabelsOut(BaseModel):
    """Id -> {"zh": ..., "en": ...} for each label the console shows."""

    topics: dict[str, dict[str, str]]
    request_types: dict[str, dict[str, str]]
    urgency: dict[str, dict[str, str]]


class ResolveIn(BaseModel):
    resolution: str = Field(min_length=1, max_length=4000, description="What was done, for the record.")


# --- work orders --------------------------------------------------------------------------------
class WorkOrderNoteOut(BaseModel):
    author: str = Field(description="The id of the agent who wrote the note.")
    author_name: str | None = None
    text: str
    status_from: str | None
    status_to: str | None
    created_at: datetime | None

    @classmethod
    def from_row(cls, n: WorkOrderNote, names: dict[str, str] | None = None) -> WorkOrderNoteOut:
        return cls(
            author=n.author,
            author_name=(names or {}).get(n.author),
            text=mask_pii(n.text),
            status_from=n.status_from,
            status_to=n.status_to,
            created_at=aware(n.created_at),
        )


class WorkOrderOut(BaseModel):
    id: str
    call_id: str | None
    caller_number: str | None
    topic: str | None
    request_type: str | None
    urgency: str
    summary: str
    details: dict[str, Any] = Field(description="Extracted details, ID and account numbers masked.")
    status: WorkOrderStatus
    next_statuses: list[WorkOrderStatus] = Field(description="Where the workflow lets this order go next.")
    assigned_to: str | None = Field(description="The id of the agent the order is assigned to.")
    assigned_to_name: str | None = None
    created_at: datetime | None
    updated_at: datetime | None
    notes: list[WorkOrderNoteOut]

    @classmethod
    def from_row(cls, o: WorkOrder, names: dict[str, str] | None = None) -> WorkOrderOut:
        return cls(
            id=o.id,
            call_id=o.call_id,
            caller_number=o.caller_number,
            topic=o.topic,
            request_type=o.request_type,
            urgency=o.urgency,
            summary=mask_pii(o.summary),
            details=mask_pii_deep(mask_details(dict(o.details or {}))),
            status=o.status,
            next_statuses=sorted(WORK_ORDER_TRANSITIONS.get(o.status, ())),
            assigned_to=o.assigned_to,
            assigned_to_name=(names or {}).get(o.assigned_to or ""),
            created_at=aware(o.created_at),
            updated_at=aware(o.updated_at),
            notes=[WorkOrderNoteOut.from_row(n, names) for n in o.notes],
        )


class WorkOrderDraft(BaseModel):
    """What the work-order form starts with, so the caller is never asked twice."""

    handoff_id: str | None = None
    call_id: str | None = None
    caller_number: str | None = None
    topic: str | None = None
    request_type: str | None = None
    urgency: Urgency = "routine"
    summary: str = ""
    details: dict[str, Any] = Field(default_factory=dict)


class WorkOrderCreate(BaseModel):
    """Create from a handoff or a call: every field left out is filled from its record."""

    handoff_id: str | None = Field(None, description="Fill the order from this handoff and its call.")
    call_id: str | None = Field(None, description="Fill the order from this call (when no handoff).")
    summary: str | None = Field(None, max_length=4000, description="Default: the transcript summary.")
    topic: str | None = Field(None, max_length=48)
    request_type: str | None = Field(None, max_length=32)
    urgency: Urgency | None = None
    details: dict[str, Any] | None = Field(None, description="Default: the details extracted from the call.")
    assign_to_me: bool = Field(True, description="Assign the new order to the agent creating it.")
    note: str = Field("", max_length=4000, description="A first note for whoever works the order.")


class WorkOrderUpdate(BaseModel):
    status: WorkOrderStatus | None = Field(
        None, description="new -> assigned -> in_progress -> resolved (a resolved order can be reopened)."
    )
    note: str = Field("", max_length=4000)
    assigned_to: str | None = Field(None, description="An agent id.")


class CallerHistoryOut(BaseModel):
    caller_number: str
    calls: list[CallSummary] = Field(description="Earlier calls from this number, newest first.")
    work_orders: list[WorkOrderOut] = Field(description="Work orders for this number, newest first.")


class AnswerTried(BaseModel):
    kb_entry_id: str | None = Field(None, description="The knowledge-base entry the bot answered from.")
    answer: str = Field(description="What the bot said (the entry id when the words were not recorded).")
    said_at: datetime | None = None


class HandoffDetail(HandoffSummary):
    details: dict[str, Any] = Field(description="Extracted details (address, phone, ...); IDs masked.")
    answers_tried: list[AnswerTried] = Field(description="What the bot already told the caller, in order.")
    transcript: list[UtteranceOut] = Field(description="The whole call so far; it keeps growing live.")
    decisions: list[DecisionOut]
    call: CallSummary
    history: CallerHistoryOut | None = Field(
        None, description="Earlier calls and work orders from the same number (not this call)."
    )
    work_orders: list[WorkOrderOut] = Field(
        default_factory=list, description="Work orders already made from this call."
    )
