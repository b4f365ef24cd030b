"""The review queue: calls the bot probably got wrong, and the labels a supervisor puts on them.

A call is queued for review when it ended and any of these holds: the caller said the bot's answer
did not help (the policy's handoff reason), the caller rated it 1 or 2, or it was handed to a
person after a decision less confident than ``confidence_below``. A label (the right topic,
urgency, request type and knowledge-base answer) takes the call out of the queue; labels export as
`triage nlu train` rows and, where the answer differs from the bot's, as KB corrections.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from pipeline.db import Call, Decision, Handoff, ReviewLabel, Utterance

NOT_HELPFUL = "%did not help%"  # pipeline/policy.py: "caller said the answer did not help"

REASONS: dict[str, tuple[str, str]] = {
    "not_helpful": ("The caller said the answer did not help.", "来电者表示答复没有帮助。"),
    "low_rating": ("The caller rated the call 1 or 2.", "来电者评分为1或2分。"),
    "low_confidence_handoff": (
        "Handed to a person after a low-confidence decision.",
        "低置信度判断后转人工。",
    ),
}


class ReviewError(ValueError):
    """A label names an unknown call, topic, urgency or entry."""


@dataclass
class ReviewItem:
    call_id: str
    started_at: str
    language: str | None
    reasons: list[str]
    question: str
    bot_answer: str | None
    bot_topic: str | None
    bot_urgency: str | None
    bot_request_type: str | None
    bot_kb_entry_id: str | None
    confidence: float | None
    rating: int | None
    transcript: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _conditions(confidence_below: float) -> Any:
    c = Call
    not_helpful = or_(
        exists().where(Handoff.call_id == c.id, Handoff.reason.like(NOT_HELPFUL)),
        exists().where(Decision.call_id == c.id, Decision.reason.like(NOT_HELPFUL)),
    )
    low_conf = or_(
        exists().where(
            Handoff.call_id == c.id, Handoff.confidence.is_not(None), Handoff.confidence < confidence_below
        ),
        exists().where(
            Decision.call_id == c.id,
            Decision.action == "handoff",
            Decision.confidence.is_not(None),
            Decision.confidence < confidence_below,
        ),
    )
    return or_(c.rating <= 2, not_helpful, low_conf)


def review_queue(
    s: Session, start: datetime, end: datetime, confidence_below: float = 0.6, limit: int = 50
) -> list[ReviewItem]:
    """Unlabelled calls to review in [start, end), newest first (at most ``limit``)."""
    labelled = exists().where(ReviewLabel.call_id == Call.id)
    calls = list(
        s.scalars(
            select(Call)
            .where(Call.started_at >= start, Call.started_at < end, Call.ended_at.is_not(None))
            .where(~labelled, _conditions(confidence_below))
            .order_by(Call.started_at.desc())
            .limit(limit)
        )
    )
    ids = [c.id for c in calls]
    if not ids:
        return []
    utterances: dict[str, list[Utterance]] = {i: [] for i in ids}
    for u in s.scalars(select(Utterance).where(Utterance.call_id.in_(ids)).order_by(Utterance.seq)):
        utterances[u.call_id].append(u)
    decisions: dict[str, list[Decision]] = {i: [] for i in ids}
    for d in s.scalars(select(Decision).where(Decision.call_id.in_(ids)).order_by(Decision.id)):
        decisions[d.call_id].append(d)
    handoffs: dict[str, list[Handoff]] = {i: [] for i in ids}
    for h in s.scalars(select(Handoff).where(Handoff.call_id.in_(ids))):
        handoffs[h.call_id].append(h)
    return [_item(c, utterances[c.id], decisions[c.id], handoffs[c.id], confidence_below) for c in calls]


def _item(
    call: Call, said: list[Utterance], decisions: list[Decision], handoffs: list[Handoff], below: float
) -> ReviewItem:
    reasons = []
    said_why = [h.reason for h in handoffs] + [d.reason for d in decisions]
    if any("did not help" in (why or "") for why in said_why):
        reasons.append("not_helpful")
    if call.rating is not None and call.rating <= 2:
        reasons.append("low_rating")
    doubted = [h.confidence for h in handoffs] + [d.confidence for d in decisions if d.action == "handoff"]
    if any(x is not None and x < below for x in doubted):
        reasons.append("low_confidence_handoff")
    answers = [d for d in decisions if d.action == "answer"]
    named = [d for d in decisions if d.topic]
    last = named[-1] if named else (decisions[-1] if decisions else None)
    answer = answers[-1] if answers else None
    caller = [u for u in said if u.speaker == "caller"]
    asked = next((u for u in caller if answer and u.seq == answer.utterance_seq), None)
    asked = asked or (caller[0] if caller else None)
    replied = next((u for u in said if u.speaker == "bot" and asked and u.seq > asked.seq), None)
    confidence = last.confidence if last else None
    return ReviewItem(
        call_id=call.id,
        started_at=call.started_at.isoformat(),
        language=call.language,
        reasons=reasons,
        question=asked.text if asked else "",
        bot_answer=replied.text if replied else None,
        bot_topic=(last.topic if last else None) or call.topic,
        bot_urgency=(last.urgency if last else None) or call.urgency,
        bot_request_type=(last.request_type if last else None) or call.request_type,
        bot_kb_entry_id=answer.kb_entry_id if answer else None,
        confidence=confidence,
        rating=call.rating,
        transcript=[{"speaker": u.speaker, "text": u.text} for u in said],
    )


def save_label(
    s: Session,
    item: ReviewItem,
    agent_id: str,
    topic: str | None,
    urgency: str | None,
    request_type: str | None,
    kb_entry_id: str | None,
    question: str | None = None,
    note: str | None = None,
) -> ReviewLabel:
    """Store the label (one per call: a second label replaces the first) and commit."""
    text = (question or item.question or "").strip()
    if not text:
        raise ReviewError("This call has no caller words to label: give the question.")
    label = s.scalar(select(ReviewLabel).where(ReviewLabel.call_id == item.call_id)) or ReviewLabel(
        call_id=item.call_id
    )
    label.question, label.language = text, item.language
    label.topic, label.urgency, label.request_type = topic, urgency, request_type
    label.kb_entry_id, label.bot_topic, label.bot_kb_entry_id = (
        kb_entry_id,
        item.bot_topic,
        item.bot_kb_entry_id,
    )
    label.reasons, label.note, label.agent_id = list(item.reasons), note, agent_id
    s.add(label)
    s.commit()
    return label


def labels(s: Session, since: datetime | None = None) -> list[ReviewLabel]:
    q = select(ReviewLabel).order_by(ReviewLabel.id)
    if since is not None:
        q = q.where(ReviewLabel.created_at >= since)
    return list(s.scalars(q))


def training_row(label: ReviewLabel) -> dict[str, Any] | None:
    """A `triage nlu train` row {"text", "label", "lang", "request_type", "urgency"}; None when the
    label carries neither a topic nor an urgency (nothing to learn)."""
    if not (label.topic or label.urgency):
        return None
    row: dict[str, Any] = {"text": label.question}
    if label.topic:
        row["label"] = label.topic
    for key, value in (
        ("lang", label.language),
        ("request_type", label.request_type),
        ("urgency", label.urgency),
    ):
        if value:
            row[key] = value
    return row


def kb_query_row(label: ReviewLabel) -> dict[str, Any]:
    """The row `triage kb eval` reads: {"text", "answer_id", "lang"} (answer_id null: no entry)."""
    return {
        "text": label.question,
        "answer_id": label.kb_entry_id,
        "lang": label.language or "",
        "source": "review",
    }


def item_for_call(s: Session, call_id: str, confidence_below: float) -> ReviewItem | None:
    call = s.get(Call, call_id)
    if call is None:
        return None
    said = list(s.scalars(select(Utterance).where(Utterance.call_id == call_id).order_by(Utterance.seq)))
    decisions = list(s.scalars(select(Decision).where(Decision.call_id == call_id).order_by(Decision.id)))
    handoffs = list(s.scalars(select(Handoff).where(Handoff.call_id == call_id)))
    return _item(call, said, decisions, handoffs, confidence_below)
