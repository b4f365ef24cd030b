"""Handing the caller to a person: the record first, then what the caller hears; escalation of a
waiting handoff when a later turn reveals danger.
"""

from __future__ import annotations

from dataclasses import replace

from pipeline import metrics
from pipeline.call_context import CallContext
from pipeline.playback import Playback
from pipeline.policy import Decision
from pipeline.routing import QueueItem, can_be_served, queue_position


class HandoffFlow:
    def __init__(self, ctx: CallContext, playback: Playback) -> None:
        self.ctx = ctx
        self.playback = playback

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
            return
        await self.playback.say(
            f"{v.prompt_text('connecting_agent', lang)} {v.prompt_text('queue_position', lang, n=position)}"
        )

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
        or a new emergency handoff is made. True when it did."""
        ctx = self.ctx
        understanding = await ctx.work(ctx.services.understander.understand, text, language)
        if not understanding.facts.emergency:
            return False
        reason = f"emergency: {understanding.facts.emergency_reason}"
        ctx.understood = understanding
        if not ctx.handoff_id:
            decision = Decision("handoff", reason, "emergency", state=replace(ctx.state, handed_off=True))
            await record_decision(ctx, decision, understanding.facts)
            ctx.state = decision.state
            await self.handoff(decision)
            return True
        if ctx.handoff_urgency == "emergency":
            return False
        handoff = await ctx.work(
            ctx.services.store.update_handoff, ctx.handoff_id, urgency="emergency", reason=reason
        )
        ctx.handoff_urgency = "emergency"
        await ctx.work(ctx.services.store.add_decision, ctx.call_id, "escalate", reason, urgency="emergency")
        bus = ctx.services.bus
        bus.publish(
            "handoff.updated",
            handoff_id=handoff.id,
            call_id=ctx.call_id,
            status=handoff.status,
            urgency="emergency",
        )
        bus.publish("queue.changed", reason="handoff.escalated", handoff_id=handoff.id)
        await ctx.caller.send_json({"type": "handoff", "handoff_id": handoff.id, "urgency": "emergency"})
        if handoff.status == "waiting":
            await self.playback.say(self.playback.voice.prompt_text("emergency", ctx.language))
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
