"""Work-order follow-up: due times, overdue urging (催办), and status by reference on the phone.

- Due time: ``created_at`` plus the hours of the first rule matching the order, most specific
  first: ``"<request_type>:<urgency>"``, ``"<request_type>"``, ``"<urgency>"``, else the default
  (``TRIAGE_WORKORDER_DUE_H``). Rules come from ``TRIAGE_WORKORDER_DUE_RULES`` (JSON).
- Overdue: not resolved and past its due time. ``FollowUp.urge_overdue`` flags each one once:
  ``urged_at`` is set by a conditional UPDATE (two processes never both urge it), a note is added
  to the order, and ``workorder.overdue`` goes on the bus for supervisors and the assigned agent.
- The caller asks "what is the status of my work order 123456?" (or asks first and then says or
  keys the six digits, ``#`` to end): ``StatusQuery`` in the call finds the order by its reference
  and speaks its status and due time in the caller's language.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import CursorResult, select, update

from nlu.details import normalise_digits
from pipeline.bus import EventBus
from pipeline.db import WorkOrder, WorkOrderNote, utcnow
from pipeline.store import Store

if TYPE_CHECKING:
    from pipeline.call_context import CallContext
    from pipeline.playback import Playback

log = logging.getLogger(__name__)

DEFAULT_RULES: dict[str, float] = {"emergency": 4.0, "urgent": 24.0}
OPEN = ("new", "assigned", "in_progress")
STATUS_WORDS: dict[str, dict[str, str]] = {
    "new": {"zh": "已受理，正在等待派单", "en": "received and waiting to be assigned to a team"},
    "assigned": {"zh": "已派给负责的部门", "en": "assigned to the team responsible"},
    "in_progress": {"zh": "正在处理中", "en": "being worked on"},
    "resolved": {"zh": "已经办结", "en": "resolved"},
}


def work_order_reference(order_id: str) -> str:
    """A six-digit number the caller can note down and read back (ids are hex)."""
    return f"{int(order_id[:10], 16) % 1_000_000:06d}"


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)  # SQLite gives naive datetimes back


@dataclass(frozen=True)
class DueRules:
    default_h: float = 72.0
    rules: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_RULES))

    def hours(self, request_type: str | None, urgency: str | None) -> float:
        for key in (f"{request_type}:{urgency}", f"{request_type}", f"{urgency}"):
            if key in self.rules:
                return float(self.rules[key])
        return self.default_h

    def due_at(self, order: WorkOrder) -> datetime:
        return _aware(order.created_at) + timedelta(hours=self.hours(order.request_type, order.urgency))


class FollowUp:
    def __init__(self, store: Store, bus: EventBus, rules: DueRules | None = None) -> None:
        self.store = store
        self.bus = bus
        self.rules = rules or DueRules()

    def overdue(self, now: datetime | None = None, assigned_to: str | None = None) -> list[WorkOrder]:
        """Open orders past their due time, the longest overdue first."""
        now = now or utcnow()
        shortest = min([self.rules.default_h, *self.rules.rules.values()])
        with self.store.session() as s:
            q = select(WorkOrder).where(
                WorkOrder.status.in_(OPEN), WorkOrder.created_at <= now - timedelta(hours=shortest)
            )
            if assigned_to is not None:
                q = q.where(WorkOrder.assigned_to == assigned_to)
            rows = list(s.scalars(q))
        late = [o for o in rows if self.rules.due_at(o) < now]
        return sorted(late, key=self.rules.due_at)

    def urge(self, order: WorkOrder, author: str = "system", now: datetime | None = None) -> bool:
        """Flag one order to supervisors and its team; False when it was urged already (by any
        process). A supervisor urging again (author not 'system') always goes through."""
        now = now or utcnow()
        with self.store.session() as s:
            q = update(WorkOrder).where(WorkOrder.id == order.id)
            if author == "system":
                q = q.where(WorkOrder.urged_at.is_(None))
            won = cast(CursorResult[Any], s.execute(q.values(urged_at=now))).rowcount
            if won:
                s.add(WorkOrderNote(work_order_id=order.id, author=author, text="overdue: urged (催办)"))
            s.commit()
        if won:
            self.bus.publish("workorder.overdue", order=overdue_view(order, self.rules, now))
        return bool(won)

    def urge_overdue(self, now: datetime | None = None) -> list[WorkOrder]:
        """Every overdue order not urged yet is urged now; returns those."""
        return [o for o in self.overdue(now) if o.urged_at is None and self.urge(o, now=now)]

    def find(self, reference: str, caller_number: str | None = None, days: int = 366) -> WorkOrder | None:
        """The order with this six-digit reference: the caller's own first, then the newest of the
        last ``days`` (the reference is a hash of the id, so two orders may share one)."""
        if not re.fullmatch(r"\d{6}", reference):
            return None
        since = utcnow() - timedelta(days=days)
        with self.store.session() as s:
            if caller_number:
                own = s.scalars(select(WorkOrder.id).where(WorkOrder.caller_number == caller_number)).all()
                hit = next((i for i in own if work_order_reference(i) == reference), None)
                if hit:
                    return s.get(WorkOrder, hit)
            ids = s.execute(
                select(WorkOrder.id, WorkOrder.created_at).where(WorkOrder.created_at >= since)
            ).all()
            hits = sorted((_aware(ts), i) for i, ts in ids if work_order_reference(i) == reference)
            return s.get(WorkOrder, hits[-1][1]) if hits else None

    def status_words(self, order: WorkOrder, language: str, utc_offset_min: int = 0) -> dict[str, str]:
        """The values of the ``workorder_status`` prompt for this order."""
        from pipeline.incidents import fix_time_words

        lang = "zh" if language == "zh" else "en"
        status = STATUS_WORDS.get(order.status, {"zh": order.status, "en": order.status})[lang]
        due = ""
        if order.status in OPEN:
            at = self.rules.due_at(order)
            if at < utcnow():
                due = (
                    "已经超过预计办结时间，我们已为您催办。"
                    if lang == "zh"
                    else "It is past its due time, and we have asked the team to hurry."
                )
            else:
                when = fix_time_words(at, lang, utc_offset_min)
                due = f"预计{when}前办结。" if lang == "zh" else f"It is due to be completed by {when}."
        return {"reference": work_order_reference(order.id), "status": status, "due": due}


def overdue_view(order: WorkOrder, rules: DueRules, now: datetime | None = None) -> dict[str, Any]:
    due = rules.due_at(order)
    return {
        "work_order_id": order.id,
        "reference": work_order_reference(order.id),
        "topic": order.topic,
        "request_type": order.request_type,
        "urgency": order.urgency,
        "status": order.status,
        "assigned_to": order.assigned_to,
        "summary": order.summary[:200],
        "due_at": due.isoformat(),
        "overdue_h": round(((now or utcnow()) - due).total_seconds() / 3600, 1),
    }


class FollowUpWatch:
    """Urges newly overdue orders every ``every_s`` seconds while the service runs."""

    def __init__(self, followup: FollowUp, every_s: float = 60.0) -> None:
        self.followup, self.every_s = followup, every_s

    async def run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.followup.urge_overdue)
            except Exception:  # a failed sweep is retried at the next one
                log.exception("work-order follow-up sweep failed")
            await asyncio.sleep(self.every_s)


# A work order must be named (工单, 单号, 受理号, 报修; "work order", reference, ticket): "查询社保办理
# 进度" is a question about pensions, not about one of our orders.
_ASK_ZH = re.compile(
    r"(工单|单号|受理号|报修).{0,8}(进度|状态|怎么样|到哪|处理得|处理了|办得|办好|结果)|(查|问).{0,4}(工单|报修|单号)"
)
_ASK_EN = re.compile(
    r"\b(status|progress|update)\b.{0,40}\b(work order|reference|report|ticket|case)\b|"
    r"\b(work order|reference|ticket|case)\b.{0,40}\b(status|progress|update)\b|"
    r"\bcheck on my (work order|report|ticket|case)\b",
    re.IGNORECASE,
)
_SIX = re.compile(r"(?<!\d)(\d{6})(?!\d)")


def asks_for_status(text: str) -> bool:
    return bool(_ASK_ZH.search(text) or _ASK_EN.search(text))


def six_digits(text: str) -> str | None:
    """A six-digit reference said ('一二三四五六', 'one two three...') or keyed in ``text``."""
    norm = normalise_digits(text)
    m = _SIX.search(norm) or _SIX.search(re.sub(r"(?<=\d)[\s,.-]+(?=\d)", "", norm))
    return m.group(1) if m else None


class StatusQuery:
    """The caller's 'status of my work order' request inside a call (pipeline/conversation.py)."""

    def __init__(self, ctx: CallContext, playback: Playback) -> None:
        self.ctx = ctx
        self.playback = playback
        self.pending = False
        """The bot asked for the six-digit reference and waits for it (said or keyed)."""

    async def hear(self, text: str, language: str) -> bool:
        """True when the turn was this request (or its reference) and has been answered."""
        followup = self.ctx.services.followup
        if followup is None:
            return False
        reference = six_digits(text)
        if self.pending:
            self.pending = self.ctx.expects_number = False
            if reference is None:
                return False  # something else: a turn of its own
        elif not asks_for_status(text):
            return False
        ctx, v = self.ctx, self.playback.voice
        understanding = await ctx.work(ctx.services.understander.understand, text, language)
        if understanding.facts.emergency:  # danger outranks a status question
            self.pending = ctx.expects_number = False
            return False
        if reference is None:
            self.pending = ctx.expects_number = True
            await self._record("caller asked for a work order's status; asked for its reference")
            await self.playback.say(v.prompt_text("workorder_ask_reference", ctx.language))
            return True
        order = await ctx.work(followup.find, reference, ctx.start.caller_number)
        if order is None:
            await self._record(f"no work order with reference {reference}")
            await self.playback.say(v.prompt_text("workorder_not_found", ctx.language, reference=reference))
            return True
        await self._record(f"work order {order.id} ({reference}) is {order.status}")
        words = followup.status_words(order, ctx.language, ctx.services.utc_offset_min)
        await self.playback.say(v.prompt_text("workorder_status", ctx.language, **words))
        if order.status in OPEN and followup.rules.due_at(order) < utcnow():
            await ctx.work(followup.urge, order)
        return True

    async def _record(self, reason: str) -> None:
        ctx = self.ctx
        await ctx.work(ctx.services.store.add_decision, ctx.call_id, "workorder_status", reason)
        await ctx.caller.send_json({"type": "decision", "action": "workorder_status", "reason": reason})
