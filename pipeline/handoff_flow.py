"""Handing the caller to a person: the record first, then what the caller hears; escalation of a
waiting handoff when a later turn reveals danger (to emergency) or urgency (routine to urgent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from pipeline import metrics
from pipeline.call_context import CallContext
from pipeline.playback import Playback
from pipeline.policy import Decision
from pipeline.routing import URGENCY_RANK, QueueItem, can_be_served, queue_position


class HandoffFlow:
    def __init__(self, ctx: CallContext, playback: Playback) -> None:
        self.ctx = ctx
        self.playback = playback
        self.on_waiting: Callable[[], None] | None = None
        """Called once a non-emergency caller waits in the queue (the session starts pipeline/waiting.py)."""

    async def handoff(self, decision: Decision) -> None:
        ctx = self.ctx
        facts = ctx.understood.facts if ctx.understood else None
        handoff = await ctx.work(
            ctx.services.store.create_handoff,
            ctx.call_id,
            decision.urgency,
            decision.reason,
            topic=facts.topic if facts else None,
            request_type=facts.request_type if facts else None,
            language=ctx.language,
            confidence=facts.confidence if facts else None,
            details=ctx.details,
            answers_tried=list(ctx.state.answers_tried),
        )
        ctx.handoff_id = handoff.id
        ctx.handoff_urgency = decision.urgency
        metrics.HANDOFFS.labels(decision.urgency).inc()
        ctx.services.bus.publish(
            "handoff.created",
            handoff_id=handoff.id,
            call_id=ctx.call_id,
            urgency=decision.urgency,
            reason=decision.reason,
        )
        await ctx.caller.send_json({"type": "handoff", "handoff_id": handoff.id, "urgency": decision.urgency})
        v, lang = self.playback.voice, ctx.language
        if decision.urgency == "emergency":
            await self.playback.say(v.prompt_text("emergency", lang))
            return
        position = await self.position()
        if position is None:
            await self.playback.say(v.prompt_text("no_agent_callback", lang))
        else:
            place = v.prompt_text("queue_position", lang, n=position)
            opening = v.prompt_text("kb_lacks" if decision.lacks else "connecting_agent", lang)
            await self.playback.say(f"{opening} {place}")
        if self.on_waiting is not None:
            self.on_waiting()

    async def position(self) -> int | None:
        """The caller's place in the queue, or None when no agent could take this handoff."""
        ctx = self.ctx
        waiting = await ctx.work(ctx.services.store.waiting)
        items = [QueueItem(h.id, h.urgency, h.created_at, h.topic, h.language) for h in waiting]
        me = next((i for i in items if i.id == ctx.handoff_id), None)
        agents = await ctx.work(ctx.services.store.agent_skills)
        if me is None or not can_be_served(me, agents):
            return None
        return queue_position(me.id, items) or 1

    async def escalate_if_danger(self, text: str, language: str) -> bool:
        """A later turn that reveals danger (while waiting for a person, or answering the rating
        question) escalates at once: a waiting handoff becomes an emergency at the top of the queue,
        or a new emergency handoff is made. While waiting, a turn the classifier rates urgent raises
        a routine handoff to urgent, ahead of every routine caller, and the caller hears their new
        place. True when it escalated."""
        ctx = self.ctx
        understanding = await ctx.work(ctx.services.understander.understand, text, language)
        facts = understanding.facts
        if facts.emergency or facts.urgency == "emergency":
            level = "emergency"
            why = facts.emergency_reason or f"classifier urgency emergency ({facts.confidence:.2f})"
            reason = f"emergency: {why}"
        elif facts.urgency == "urgent" and ctx.handoff_id:
            level, reason = "urgent", f"urgent: classifier urgency urgent ({facts.confidence:.2f})"
        else:
            return False
        if ctx.handoff_id and URGENCY_RANK[level] >= URGENCY_RANK.get(ctx.handoff_urgency or "routine", 2):
            return False
        ctx.understood = understanding
        if not ctx.handoff_id:
            decision = Decision("handoff", reason, "emergency", state=replace(ctx.state, handed_off=True))
            await record_decision(ctx, decision, understanding.facts)
            ctx.state = decision.state
            await self.handoff(decision)
            return True
        handoff = await ctx.work(
            ctx.services.store.update_handoff, ctx.handoff_id, urgency=level, reason=reason
        )
        ctx.handoff_urgency = level
        await ctx.work(ctx.services.store.add_decision, ctx.call_id, "escalate", reason, urgency=level)
        bus = ctx.services.bus
        bus.publish(
            "handoff.updated",
            handoff_id=handoff.id,
            call_id=ctx.call_id,
            status=handoff.status,
            urgency=level,
        )
        bus.publish("queue.changed", reason="handoff.escalated", handoff_id=handoff.id)
        await ctx.caller.send_json({"type": "handoff", "handoff_id": handoff.id, "urgency": level})
        if handoff.status != "waiting":
            return True
        v = self.playback.voice
        if level == "emergency":
            await self.playback.say(v.prompt_text("emergency", ctx.language))
        elif (position := await self.position()) is not None:
            await self.playback.say(v.prompt_text("waiting_moved_up", ctx.language, n=position))
        return True


async def record_decision(ctx: CallContext, decision: Decision, facts: object) -> None:
    """The decision is committed, counted, then shown to the caller's transport."""
    await ctx.work(
        ctx.services.store.add_decision,
        ctx.call_id,
        decision.action,
        decision.reason,
        topic=getattr(facts, "topic", None),
        request_type=getattr(facts, "request_type", None),
        urgency=decision.urgency,
        confidence=getattr(facts, "confidence", None),
        kb_entry_id=decision.kb_entry_id,
    )
    metrics.DECISIONS.labels(decision.action).inc()
    await ctx.caller.send_json(
        {
            "type": "decision",
            "action": decision.action,
            "reason": decision.reason,
            "urgency": decision.urgency,
            "topic": getattr(facts, "topic", None),
            "request_type": getattr(facts, "request_type", None),
            "confidence": round(float(getattr(facts, "confidence", 0.0) or 0.0), 3),
            "kb_entry_id": decision.kb_entry_id,
        }
    )
