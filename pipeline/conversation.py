"""The bot's side of the conversation: each final transcript through the classifier, the
knowledge base and the policy, then the action (answer, clarify, work order, handoff, rating).

Once a person has the call (or the caller waits for one) the bot decides nothing: the transcript
keeps growing on the agent's screen; while the caller waits, pipeline/waiting.py still listens for
danger, urgency and "call me back" / "I'll wait".
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from core.events import FinalTranscript
from pipeline.call_context import CallContext
from pipeline.handoff_flow import HandoffFlow, record_decision
from pipeline.incident_turn import IncidentTurn
from pipeline.narrowing import NEITHER, Narrowing, chosen_facts
from pipeline.playback import Playback
from pipeline.policy import Decision, DialogueState, decide
from pipeline.rating import parse_rating
from pipeline.sms_offer import SmsOffer
from pipeline.waiting import Waiting
from pipeline.workorder_followup import StatusQuery, work_order_reference

log = logging.getLogger(__name__)


def _no_lap(stage: str) -> None:
    """A turn with no clock (a text turn has no end of speech to measure from)."""


class Conversation:
    def __init__(self, ctx: CallContext, playback: Playback, handoffs: HandoffFlow) -> None:
        self.ctx = ctx
        self.playback = playback
        self.handoffs = handoffs
        self.awaiting_rating = False
        self.bridged = False
        """A person is talking with the caller: the bot neither decides nor speaks."""
        self.waiting: Waiting | None = None
        """The waiting caller's unit (announcements, call back); without it only danger is screened."""
        self.narrowing = Narrowing()
        """The pending "is this about X or Y?" question, when the knowledge base asked one."""
        self.sms = SmsOffer(ctx.services.sms)
        """The rest of a long answer, offered by SMS (pipeline/sms_offer.py)."""
        self.hangup = asyncio.Event()
        """Set when the bot has ended the call (goodbye, silence); the transport then closes."""
        self.end_reason = ""
        self.incident = IncidentTurn(ctx, playback)
        """Storm reports and a live incident's notice, heard first (pipeline/incident_turn.py)."""
        self.status_query = StatusQuery(ctx, playback)
        """"What is the status of work order 123456?" (pipeline/workorder_followup.py)."""

    async def handle(self, final: FinalTranscript) -> None:
        """One caller turn; a failure hands off so the caller is never stranded."""
        try:
            await self._handle(final)
        except Exception:
            log.exception("call %s: turn failed; handing off so the caller is not stranded", self.ctx.call_id)
            if not self.ctx.handoff_id:
                await self.handoffs.handoff(Decision("handoff", "internal error while handling the turn"))

    async def _handle(self, final: FinalTranscript) -> None:
        ctx = self.ctx
        lap = ctx.turn_clock.lap if ctx.turn_clock else _no_lap
        lap("queue")
        language = "zh" if final.language.startswith("zh") else "en"
        ctx.language = language
        utterance = await ctx.work(
            ctx.services.store.add_utterance,
            ctx.call_id,
            "caller",
            final.text,
            language,
            final.start_s,
            final.end_s,
            final.confidence,
        )
        lap("store")
        await ctx.caller.send_json(
            {
                "type": "final",
                "speaker": "caller",
                "text": final.text,
                "language": language,
                "start": final.start_s,
                "end": final.end_s,
            }
        )
        if ctx.handoff_id:
            # Already with (or waiting for) a person: the transcript keeps growing on their screen.
            ctx.publish_transcript("caller", final.text, utterance.seq)
            if not self.bridged and self.waiting is not None:
                await self.waiting.hear(final.text, language)
            elif not self.bridged:
                await self.handoffs.escalate_if_danger(final.text, language)
            return
        if self.awaiting_rating:
            if await self.handoffs.escalate_if_danger(final.text, language):
                self.awaiting_rating = False
            else:
                await self._take_rating(final.text, language)
            return
        if self.sms.pending:
            sent: bool = await ctx.work(self.sms.hear, final.text, ctx.start.caller_number)
            if sent:  # asking for the text counts as "it helped": "anything else?" comes next
                ctx.state = replace(ctx.state, awaiting_feedback=False)
                await self.playback.say(self.playback.voice.prompt_text("kb_sms_sent", language))
                return
        if self.narrowing.pending:
            await self._narrowed(final.text, language)
            return
        if await self.status_query.hear(final.text, language):
            return
        await self._decide(final.text, language)

    async def _narrowed(self, text: str, language: str) -> None:
        """The reply to the narrowing question: the entry it picks is answered; "neither" goes to a
        person; anything else (a new question, danger, "a person please") is a turn of its own."""
        ctx = self.ctx
        picked = self.narrowing.resolve(text)
        if picked is None:
            await self._decide(text, language)
            return
        understanding = await ctx.work(ctx.services.understander.understand, text, language)
        if understanding.facts.emergency or understanding.facts.intent in ("ask_human", "goodbye", "repeat"):
            await self._decide(text, language)
            return
        if picked == NEITHER:
            decision = Decision("handoff", "caller said neither of the knowledge base's two options")
            decision = replace(decision, urgency=understanding.facts.urgency)
            facts = understanding.facts
            answer = ""
        else:
            assert not isinstance(picked, str)
            facts = chosen_facts(text, language, picked)
            decision = decide(facts, ctx.state, ctx.services.policy)
            answer = picked.answer
        await record_decision(ctx, decision, facts)
        ctx.state = decision.state
        await self.act(decision, answer if decision.action == "answer" else "")

    async def _decide(self, text: str, language: str) -> None:
        ctx = self.ctx
        lap = ctx.turn_clock.lap if ctx.turn_clock else _no_lap
        understanding = await ctx.work(ctx.services.understander.understand, text, language)
        lap("nlu")
        facts = understanding.facts
        ctx.understood = understanding
        for kind, found in understanding.details.items():
            known = ctx.details.setdefault(kind, [])
            known.extend(item for item in found if item not in known)
        if await self.incident.hear(facts, understanding.details, text):
            return  # the caller heard the live incident's notice first
        reply = None
        if not facts.emergency and facts.intent is None:
            reply = await ctx.work(ctx.services.knowledge.lookup, text, language, facts.topic)
            if reply:
                facts = replace(
                    facts, kb_entry_id=reply.entry_id, kb_confidence=reply.confidence, kb_lacks=reply.lacks
                )
            lap("kb")
        decision = decide(facts, ctx.state, ctx.services.policy)
        decision = self.narrowing.offer(decision, facts, reply) or decision
        await record_decision(ctx, decision, facts)
        lap("decide")
        ctx.state = decision.state
        await self.act(decision, reply.answer if reply and decision.action == "answer" else "")

    async def act(self, decision: Decision, answer: str = "") -> None:
        ctx, say = self.ctx, self.playback.say
        v, lang = self.playback.voice, ctx.language
        if decision.action == "answer":
            said, offered = self.sms.shorten(answer, lang, ctx.start.caller_number)
            offer = f" {v.prompt_text('kb_sms_offer', lang)}" if offered else ""
            await say(f"{said}{offer} {v.prompt_text('did_that_help', lang)}")
        elif decision.action == "clarify":
            await say(v.prompt_text("clarify", lang))
        elif decision.action == "narrow":
            await say(v.prompt_text("kb_narrow", lang, **self.narrowing.question_values()))
        elif decision.action == "handoff":
            await self.handoffs.handoff(decision)
        elif decision.action == "work_order":
            facts = ctx.understood.facts if ctx.understood else None
            order = await ctx.work(
                ctx.services.store.create_work_order,
                facts.text if facts else "",
                "bot",
                call_id=ctx.call_id,
                topic=facts.topic if facts else None,
                request_type=facts.request_type if facts else None,
                urgency=decision.urgency,
                details=ctx.details,
            )
            await say(v.prompt_text("work_order_created", lang, reference=work_order_reference(order.id)))
            ctx.state = DialogueState(answers_tried=ctx.state.answers_tried)
        elif decision.action == "repeat":
            await say(self.playback.last_text or v.prompt_text("clarify", lang))
        elif decision.action == "anything_else":
            await say(v.prompt_text("anything_else", lang))
        elif decision.action == "still_there":
            await say(v.prompt_text("still_there", lang))
        elif decision.action == "end":
            self.awaiting_rating = True
            await say(v.prompt_text("rate_call", lang))

    async def _take_rating(self, text: str, language: str) -> None:
        ctx = self.ctx
        value = parse_rating(text, language)
        if value is not None:
            await ctx.work(ctx.services.store.rate_call, ctx.call_id, value)
        self.awaiting_rating = False
        await self.playback.say(self.playback.voice.prompt_text("goodbye", ctx.language))
        await self.end_by_bot("goodbye")

    async def end_by_bot(self, reason: str) -> None:
        await self.playback.finish()
        self.end_reason = reason
        await self.ctx.caller.send_json({"type": "hangup", "reason": reason})
        self.hangup.set()
