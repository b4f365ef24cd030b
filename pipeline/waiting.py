"""While the caller waits for a person: their place and estimated wait, and what they ask for.

``Waiting`` starts once a non-emergency caller is in the queue (``HandoffFlow.on_waiting``) and
stops when an agent connects or the call ends. Every ``SessionServices.waiting_announce_s`` it
says the caller's place and the estimated wait (pipeline/wait_estimate.py), never over the caller's
own speech or the bot's, and each time offers a call back instead. An emergency caller hears the
emergency prompt, never this: the loop ends as soon as the handoff is an emergency.

Each turn while waiting (``hear``) is screened first (pipeline/handoff_flow.py: danger makes it an
emergency, an urgent turn moves a routine caller up), then read for a waiting intent
(pipeline/waiting_intents.py): "call me back" opens the handoff's call-back task, which takes it out
of the queue, and the call ends with a confirmation naming the number we will ring (a caller with
no caller id is first asked for it, and may say it or key it); "I'll wait" is acknowledged and the
caller stays in the queue.

A caller whose handoff is an emergency is not sent away by "call me back": they stay on the line
for the emergency operator (hanging up still opens a task, pipeline/callback_rules.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import select

from pipeline.call_context import CallContext
from pipeline.callbacks import Callbacks, announce
from pipeline.db import Handoff
from pipeline.handoff_flow import HandoffFlow
from pipeline.keypad import number_in, prompt_key
from pipeline.playback import Playback
from pipeline.routing import agent_can_take, queue_position
from pipeline.store import Store, _aware, handoff_queue_item
from pipeline.wait_estimate import RECENT_HANDOFFS, estimate_wait_s, mean_handle_s, spoken_minutes
from pipeline.waiting_intents import waiting_intent

log = logging.getLogger(__name__)
BUSY_POLL_S = 0.2
"""How often a due announcement checks again whether the caller or the bot has stopped talking."""


@dataclass(frozen=True)
class Place:
    """Where a waiting handoff stands, with what its wait is estimated from."""

    position: int
    free: int
    """Signed-in agents who could take it and are available now."""
    busy: int
    """Signed-in agents who could take it and are on another call."""
    handle_s: float
    """Recent mean handle time."""

    @property
    def wait_s(self) -> float:
        return estimate_wait_s(self.position, self.free, self.busy, self.handle_s) or 0.0


def recent_handle_times_s(store: Store, limit: int = RECENT_HANDOFFS) -> list[float]:
    """accepted → resolved, in seconds, of the ``limit`` most recently resolved handoffs."""
    with store.session() as s:
        rows = s.execute(
            select(Handoff.accepted_at, Handoff.resolved_at)
            .where(
                Handoff.status == "resolved",
                Handoff.accepted_at.is_not(None),
                Handoff.resolved_at.is_not(None),
            )
            .order_by(Handoff.resolved_at.desc())
            .limit(limit)
        ).all()
    return [(_aware(done) - _aware(taken)).total_seconds() for taken, done in rows if taken and done]


def queue_place(store: Store, handoff_id: str) -> Place | None:
    """The handoff's place, or None when it no longer waits or no signed-in agent could take it."""
    items = [handoff_queue_item(h) for h in store.waiting()]
    me = next((i for i in items if i.id == handoff_id), None)
    if me is None:
        return None
    able = [a for a in store.agent_skills() if a.status in ("available", "busy") and agent_can_take(a, me)]
    if not able:
        return None
    free = sum(a.status == "available" for a in able)
    handle_s = mean_handle_s(recent_handle_times_s(store))
    return Place(queue_position(me.id, items) or 1, free, len(able) - free, handle_s)


class Waiting:
    def __init__(
        self,
        ctx: CallContext,
        playback: Playback,
        handoffs: HandoffFlow,
        caller_busy: Callable[[], bool],
        end_call: Callable[[str], Awaitable[None]],
    ) -> None:
        self.ctx = ctx
        self.playback = playback
        self.handoffs = handoffs
        self.caller_busy = caller_busy
        """True while the caller speaks or their turn is still being recognised or handled."""
        self.end_call = end_call
        self.offered = False
        """The caller has been told they can be called back (so "我不等了" answers that offer)."""
        self.announcements = 0
        self._task: asyncio.Task[None] | None = None
        self._last = 0.0

    @property
    def active(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """The caller waits in the queue: announcements every interval from now."""
        if self.active or self.ctx.ended or self.ctx.handoff_urgency == "emergency":
            return
        self._last = time.monotonic()
        self._task = asyncio.create_task(self._loop())

    def stop(self) -> None:
        """An agent has the caller, or the call is over."""
        self.ctx.expects_number = False  # a question asked while waiting is not answered to an agent
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    async def _loop(self) -> None:
        ctx, every = self.ctx, self.ctx.services.waiting_announce_s
        while not ctx.ended and ctx.handoff_urgency != "emergency":
            due_in = self._last + every - time.monotonic()
            if due_in > 0:
                await asyncio.sleep(due_in)
            elif self.caller_busy() or self.playback.is_playing():
                await asyncio.sleep(BUSY_POLL_S)
            else:
                try:
                    await self.announce()
                except Exception:  # a database hiccup costs one announcement, never the call
                    log.exception("call %s: waiting announcement failed", ctx.call_id)
                self._last = time.monotonic()

    async def announce(self) -> bool:
        """Say the caller's place and estimated wait; False (silence) when there is none to say."""
        ctx = self.ctx
        if not ctx.handoff_id:
            return False
        place = await ctx.work(queue_place, ctx.services.store, ctx.handoff_id)
        if place is None or ctx.ended or ctx.handoff_urgency == "emergency":
            return False
        minutes = spoken_minutes(place.wait_s)
        v = self.playback.voice
        if minutes <= 1:
            text = v.prompt_text("waiting_update_soon", ctx.language, n=place.position)
        else:
            text = v.prompt_text("waiting_update", ctx.language, n=place.position, minutes=minutes)
        await self.playback.say(text)
        self.offered = True
        self.announcements += 1
        return True

    async def hear(self, text: str, language: str) -> None:
        """One caller turn while they wait for a person (not yet connected)."""
        ctx = self.ctx
        if await self.handoffs.escalate_if_danger(text, language):
            self._last = time.monotonic()  # they just heard where they stand
            if ctx.handoff_urgency == "emergency":
                self.stop()
                return
        elif ctx.handoff_urgency == "emergency":
            return
        intent = waiting_intent(text, language, callback_offered=self.offered)
        if ctx.expects_number:  # the answer to "which number should we call you back on?"
            ctx.expects_number = False
            if number := number_in(text):
                await ctx.work(ctx.services.store.update_call, ctx.call_id, caller_number=number)
            if number or intent != "wait":
                await self.call_back()
                return
        if intent == "call_back" and not ctx.start.caller_number:
            # No caller id: ask for the number (said, or keyed ending with '#': pipeline/keypad.py).
            ctx.expects_number = True
            v = self.playback.voice
            await self.playback.say(v.prompt_text(prompt_key(ctx, "callback_ask_number"), ctx.language))
            self._last = time.monotonic()
        elif intent == "call_back":
            await self.call_back()
        elif intent == "wait":
            await self.playback.say(self.playback.voice.prompt_text("waiting_keep", ctx.language))
            self._last = time.monotonic()

    async def call_back(self) -> bool:
        """Open the handoff's call-back task, confirm it with the number we will ring, end the call.
        False when the handoff no longer waits (an agent took it a moment ago): nothing is promised."""
        ctx = self.ctx
        if not ctx.handoff_id:
            return False
        store, bus = ctx.services.store, ctx.services.bus
        task, created = await ctx.work(Callbacks(store).open_requested, ctx.handoff_id)
        if task is None:
            return False
        self.stop()
        urgency = ctx.handoff_urgency or task.urgency
        reason = "caller asked to be called back instead of waiting"
        await ctx.work(store.add_decision, ctx.call_id, "callback", reason, urgency=urgency)
        bus.publish(
            "handoff.updated",
            handoff_id=ctx.handoff_id,
            call_id=ctx.call_id,
            status="callback",
            urgency=urgency,
        )
        bus.publish("queue.changed", reason="handoff.callback", handoff_id=ctx.handoff_id)
        if created:
            announce(bus, "callback.created", task)
        await ctx.caller.send_json(
            {
                "type": "callback",
                "callback_id": task.id,
                "handoff_id": ctx.handoff_id,
                "number": task.caller_number,
            }
        )
        v, lang = self.playback.voice, ctx.language
        if task.caller_number:
            text = v.prompt_text("callback_confirmed", lang, number=task.caller_number)
        else:
            text = v.prompt_text("callback_confirmed_no_number", lang)
        await self.playback.say(text)
        await self.end_call("callback_requested")
        return True
