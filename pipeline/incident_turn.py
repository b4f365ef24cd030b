"""A caller's turn meets the live incidents: it is reported for storm detection, and a caller
about a live incident's topic and place hears its notice first (once per call), before any answer.

After the notice the call goes on as usual: the caller may ask for a person, or say more (a later
turn about the same thing is answered or recorded normally; the notice is not repeated).
"""

from __future__ import annotations

from typing import Any

from pipeline.call_context import CallContext
from pipeline.incidents import fix_time_words
from pipeline.playback import Playback
from pipeline.policy import TurnFacts
from pipeline.storms import districts_in


class IncidentTurn:
    def __init__(self, ctx: CallContext, playback: Playback) -> None:
        self.ctx = ctx
        self.playback = playback
        self.heard: set[str] = set()
        """Incidents this caller has heard."""

    async def hear(self, facts: TurnFacts, details: dict[str, Any], text: str) -> bool:
        """True when the caller was told of a live incident this turn (the turn is answered)."""
        ctx = self.ctx
        book = ctx.services.incidents
        if book is None or not facts.topic or facts.out_of_scope:
            return False
        places = list(dict.fromkeys([*districts_in(details), *districts_in(ctx.details)]))
        for place in districts_in(details):
            await ctx.work(book.report, ctx.call_id, facts.topic, place)
        if facts.emergency or facts.intent is not None:
            return False
        incident = await ctx.work(book.live_for, facts.topic, places, text)
        if incident is None or incident.id in self.heard:
            return False
        self.heard.add(incident.id)
        await ctx.work(book.count_call, incident.id, ctx.call_id)
        reason = f"live incident {incident.id}: {incident.what_en} in {incident.where_en}"
        await ctx.work(
            ctx.services.store.add_decision,
            ctx.call_id,
            "incident_notice",
            reason,
            topic=facts.topic,
            request_type=facts.request_type,
            urgency=facts.urgency,
            confidence=facts.confidence,
        )
        await ctx.caller.send_json(
            {
                "type": "decision",
                "action": "incident_notice",
                "reason": reason,
                "urgency": facts.urgency,
                "topic": facts.topic,
                "request_type": facts.request_type,
                "incident_id": incident.id,
            }
        )
        lang = ctx.language
        where, what = (
            (incident.where_zh, incident.what_zh) if lang == "zh" else (incident.where_en, incident.what_en)
        )
        v = self.playback.voice
        if incident.fix_by is None:
            said = v.prompt_text("incident_notice_no_eta", lang, where=where, what=what)
        else:
            when = fix_time_words(incident.fix_by, lang, ctx.services.utc_offset_min)
            said = v.prompt_text("incident_notice", lang, where=where, what=what, fix_by=when)
        await self.playback.say(said)
        return True
