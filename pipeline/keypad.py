"""The caller's keypad (DTMF), the same on every transport that carries it.

- ``0`` asks for a person, as saying "I want a person" does (the handoff's reason is
  'caller pressed 0'); a caller already waiting hears their place instead.
- ``*`` repeats what the bot said last.
- When the bot has asked for a number (``CallContext.expects_number``: the call-back number of a
  caller with no caller id) the caller may key it, ending with ``#``: the digits become that
  turn's answer, as if said. A number keyed without ``#`` is taken when the keys stop for
  ``timeout_s``. While the bot waits for the 1-5 rating, one key 1-5 is the rating.
- Digits keyed with ``#`` when no number was asked for are a turn too (an account or reference
  the caller offers); digits with neither ``#`` nor a question are answered with a short line
  saying what the keys do. A-D (not on phone keypads) are ignored.

Any key stops the bot's speech, as it does on a phone menu. Keys do nothing while a person has
the call. Actions go through the session's turn queue, so a key never races a spoken turn.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from nlu.details import extract_details, normalise_digits
from pipeline.call_context import CallContext
from pipeline.handoff_flow import HandoffFlow, record_decision
from pipeline.playback import Playback
from pipeline.policy import Decision

if TYPE_CHECKING:
    from pipeline.conversation import Conversation

log = logging.getLogger(__name__)

KEYS = frozenset("0123456789*#ABCD")
"""The sixteen DTMF keys (RFC 4733 events 0-15)."""
KEYPAD_TIMEOUT_S = 4.0
"""How long after the last key a number keyed without '#' is taken (or answered with help)."""
KEYPADLESS_CHANNELS = frozenset({"web", "upload"})
"""Channels whose callers have no keypad: their prompts do not mention keys."""
MAX_KEYED = 32


def prompt_key(ctx: CallContext, key: str) -> str:
    """The prompt key for this caller: '<key>_no_keypad' on channels without a keypad."""
    return f"{key}_no_keypad" if ctx.start.channel in KEYPADLESS_CHANNELS else key


def number_in(text: str) -> str | None:
    """A phone or account number said or keyed in ``text`` (5 to 20 digits), or None."""
    phones = extract_details(text).phones
    if phones:
        return phones[0].value
    runs = re.findall(r"\d+", normalise_digits(text))
    best = max(runs, key=len, default="")
    return best if 5 <= len(best) <= 20 else None


Action = Callable[[], Awaitable[None]]


class Keypad:
    def __init__(
        self,
        ctx: CallContext,
        playback: Playback,
        handoffs: HandoffFlow,
        conversation: Conversation,
        run_in_turn: Callable[[Action], Awaitable[None]],
        submit: Callable[[str, str], Awaitable[None]],
        timeout_s: float = KEYPAD_TIMEOUT_S,
    ) -> None:
        self.ctx = ctx
        self.playback = playback
        self.handoffs = handoffs
        self.conversation = conversation
        self.run_in_turn = run_in_turn
        """Queue an action behind the caller's turns (the session's turn loop)."""
        self.submit = submit
        """A text turn, as if said (``CallSession.text``)."""
        self.timeout_s = timeout_s
        self.keyed = ""
        """Digits keyed so far, waiting for '#' or the timeout."""
        self._timer: asyncio.Task[None] | None = None

    async def press(self, key: str) -> None:
        if key not in KEYS:
            raise ValueError(f"not a keypad key: {key!r}; use one of 0-9 * # A-D")
        ctx = self.ctx
        if ctx.ended or self.conversation.bridged or key in "ABCD":
            return
        ctx.touch()
        await self.playback.cut("keypad")
        self._cancel_timer()
        if key == "*":
            self.keyed = ""
            await self._queue(self._repeat)
        elif key == "#":
            keyed, self.keyed = self.keyed, ""
            if keyed:
                await self.submit(keyed, ctx.language)
        elif key == "0" and not self.keyed and not ctx.expects_number:
            await self._queue(self._ask_person)
        elif self.conversation.awaiting_rating and not self.keyed and key in "12345":
            await self.submit(key, ctx.language)
        else:
            self.keyed = (self.keyed + key)[-MAX_KEYED:]
            self._timer = asyncio.create_task(self._expire())

    def stop(self) -> None:
        self._cancel_timer()

    def _cancel_timer(self) -> None:
        if self._timer is not None and not self._timer.done() and self._timer is not asyncio.current_task():
            self._timer.cancel()
        self._timer = None

    async def _expire(self) -> None:
        await asyncio.sleep(self.timeout_s)
        keyed, self.keyed = self.keyed, ""
        ctx = self.ctx
        if not keyed or ctx.ended:
            return
        if keyed == "0":  # asked for a number, the caller pressed 0 alone: they want a person
            await self._queue(self._ask_person)
        elif ctx.expects_number:
            await self.submit(keyed, ctx.language)
        else:
            await self._queue(self._help)

    async def _queue(self, action: Action) -> None:
        async def guarded() -> None:
            try:
                await action()
            except Exception:  # a failed key costs that key, never the call
                log.exception("call %s: keypad action failed", self.ctx.call_id)

        await self.run_in_turn(guarded)

    async def _ask_person(self) -> None:
        ctx = self.ctx
        if ctx.ended or self.conversation.bridged:
            return
        if ctx.handoff_id:  # already waiting for a person: where they stand
            if self.conversation.waiting is not None and not await self.conversation.waiting.announce():
                await self._repeat()
            return
        decision = Decision("handoff", "caller pressed 0", state=replace(ctx.state, handed_off=True))
        await record_decision(ctx, decision, None)
        ctx.state = decision.state
        ctx.expects_number = False
        self.conversation.awaiting_rating = False
        await self.handoffs.handoff(decision)

    async def _repeat(self) -> None:
        ctx = self.ctx
        if ctx.ended or self.conversation.bridged:
            return
        decision = Decision("repeat", "caller pressed *", state=ctx.state)
        await record_decision(ctx, decision, None)
        await self.conversation.act(decision)

    async def _help(self) -> None:
        if not self.ctx.ended and not self.conversation.bridged:
            await self.playback.say(self.playback.voice.prompt_text("keypad_help", self.ctx.language))
