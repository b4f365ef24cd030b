"""One live call: the caller's leg in, recognised turns through the bot, bot speech or a person out.

The session is the lifecycle and the wiring; each concern is its own unit, sharing one
``CallContext`` (pipeline/call_context.py):

- ``Recognition`` (pipeline/recognition.py): the caller's audio, in order, through the recogniser;
- ``Playback`` (pipeline/playback.py): the bot's voice, barge-in;
- ``Conversation`` (pipeline/conversation.py): each turn through classifier, knowledge base, policy;
- ``HandoffFlow`` (pipeline/handoff_flow.py): handing to a person, escalation on danger;
- ``Waiting`` (pipeline/waiting.py): the waiting caller's place and wait, "call me back";
- ``Bridge`` (pipeline/bridge.py): agent and listener legs, hold and mute.

The session never knows which transport a leg is (WebSocket, WebRTC, SIP): legs are pipeline/legs.py.
Blocking work never runs on the event loop: the caller's recogniser has its own thread, everything
else the call's work thread. Records are committed before the caller is told anything about them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from core.events import AsrEvent, FinalTranscript, PartialTranscript, SpeechStarted, SpeechStopped
from pipeline import metrics
from pipeline.bridge import Bridge
from pipeline.call_context import CallContext, CallStart, SessionServices
from pipeline.conversation import Conversation, work_order_reference
from pipeline.handoff_flow import HandoffFlow
from pipeline.input_limits import TurnRate
from pipeline.keypad import Keypad, prompt_key
from pipeline.legs import Leg, SendAudio, SendJson
from pipeline.partials import PartialKeeper, save_partial
from pipeline.playback import Playback
from pipeline.policy import Decision, on_silence
from pipeline.recognition import Recognition
from pipeline.recording import WavRecorder, call_recording_dir
from pipeline.waiting import Waiting

__all__ = ["CallSession", "CallStart", "SessionServices", "work_order_reference"]


class CallSession:
    def __init__(
        self, services: SessionServices, start: CallStart, send_json: SendJson, send_audio: SendAudio
    ) -> None:
        language = start.language if start.language in ("zh", "en") else "en"
        self.ctx = CallContext(services, start, Leg("caller", send_audio, send_json), language=language)
        self.over_audio_limit = False
        self.audio_bytes = 0
        self.voice = services.voice_for(start.output_format)
        self.playback = Playback(self.ctx, self.voice)
        self.handoffs = HandoffFlow(self.ctx, self.playback)
        self.conversation = Conversation(self.ctx, self.playback, self.handoffs)
        self.bridge = Bridge(self.ctx, self.playback, self._agent_recorder)
        self.waiting = Waiting(
            self.ctx,
            self.playback,
            self.handoffs,
            self._caller_turn_in_progress,
            self.conversation.end_by_bot,
        )
        self.handoffs.on_waiting = self.waiting.start
        self.conversation.waiting = self.waiting
        bytes_per_sample = 2 if start.encoding == "pcm16" else 1
        self.recognition = Recognition(start.sample_rate, bytes_per_sample, self._on_asr_event)
        self._typed_rate = TurnRate(services.limits)
        self._turn_q: asyncio.Queue[FinalTranscript | Callable[[], Awaitable[None]] | None] = asyncio.Queue()
        self.keypad = Keypad(
            self.ctx, self.playback, self.handoffs, self.conversation, self._turn_q.put, self.text
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._in_utterance = False
        """Between the caller's speech onset and its final transcript (however slow the decode)."""
        self._turn_busy = False
        self._partials = PartialKeeper(services.partial_save_s)
        self.admitted = True
        """False when the bot was at capacity: the caller waits for a person instead."""

    # --- what transports and the API read --------------------------------------------------------
    @property
    def call_id(self) -> str:
        return self.ctx.call_id

    @property
    def handoff_id(self) -> str | None:
        return self.ctx.handoff_id

    @property
    def language(self) -> str:
        return self.ctx.language

    @property
    def ended(self) -> bool:
        return self.ctx.ended

    @property
    def hangup(self) -> asyncio.Event:
        """Set when the call should end from this side (bot goodbye, silence, agent hung up)."""
        return self.conversation.hangup

    @property
    def end_reason(self) -> str:
        return self.conversation.end_reason

    # --- lifecycle -----------------------------------------------------------------------------
    async def open(self) -> str:
        ctx, s = self.ctx, self.ctx.services
        call = await ctx.work(s.store.start_call, ctx.start.caller_number, ctx.language, ctx.start.channel)
        ctx.call_id = call.id
        folder = call_recording_dir(s.recordings_dir, call.id)
        self.recognition.recorder = WavRecorder(
            folder / "caller.wav", ctx.start.sample_rate, ctx.start.encoding
        )
        self.playback.recorder = WavRecorder(folder / "bot.wav", self.voice.sample_rate, self.voice.encoding)
        await ctx.work(
            s.store.update_call,
            call.id,
            caller_audio_path=str(self.recognition.recorder.path),
            bot_audio_path=str(self.playback.recorder.path),
        )
        await self.recognition.start(s.recognizer_factory, ctx.start.sample_rate, ctx.start.encoding)
        metrics.CALLS.labels(ctx.start.channel).inc()
        metrics.ACTIVE_CALLS.inc()
        if s.live_calls is not None:
            s.live_calls.add(self)
        await ctx.caller.send_json({"type": "started", "call_id": call.id})
        self._tasks = [asyncio.create_task(self._turn_loop()), asyncio.create_task(self._silence_watch())]
        if s.admission is not None:
            self.admitted = s.admission.try_admit()
        if self.admitted:
            await self.playback.say(self.voice.prompt_text(prompt_key(ctx, "greeting"), ctx.language))
        else:
            # Everyone would wait if the bot took one more call: this caller goes to a person now,
            # and what they say is still screened (a danger word raises the handoff to emergency).
            await self.playback.say(self.voice.prompt_text("lines_busy", ctx.language))
            await self.handoffs.handoff(Decision("handoff", "bot at capacity: caller queued for a person"))
        return call.id

    async def audio(self, chunk: bytes) -> None:
        """The caller's audio, in the format of the start message."""
        if self.ended:
            return
        limit = self.ctx.services.limits.max_call_audio_s
        start = self.ctx.start
        self.audio_bytes += len(chunk)
        if limit and self.audio_bytes > limit * start.sample_rate * (1 if start.encoding == "mulaw" else 2):
            # One call may not hold a recogniser forever (docs/security.md "Input limits").
            if not self.over_audio_limit:
                self.over_audio_limit = True
                await self.conversation.end_by_bot("audio_limit")
            return
        self.recognition.put(chunk)
        if self.bridge.agents or self.bridge.listeners:
            await self.bridge.caller_audio(chunk)

    async def text(self, text: str, language: str) -> None:
        """A caller turn given as text instead of audio (a chat channel, the web page's text box, or
        evaluation scenarios that inject what ASR would have heard)."""
        # The transports refuse longer turns with an error; this cut is the backstop for any other
        # caller of text() so the shared encoder never sees an unbounded string.
        text = text[: self.ctx.services.limits.max_text_chars]
        if self.ended or not text.strip():
            return
        now = self.recognition.audio_seconds
        self.ctx.speech_end_wall = time.monotonic()
        self.ctx.touch()
        await self._turn_q.put(FinalTranscript(text.strip(), language, now, now, confidence=1.0))

    async def typed(self, text: str, language: str) -> None:
        """A turn the caller typed (caller WebSocket, the web page's text box): text() within the
        call's typed-turn budget, else InputRejected (429) and nothing is queued."""
        self._typed_rate.check(time.monotonic(), self._turn_q.qsize())
        await self.text(text, language)

    async def dtmf(self, digit: str) -> None:
        """A key the caller pressed (0-9 * # A-D; ValueError for anything else): pipeline/keypad.py."""
        await self.keypad.press(digit)

    async def rate(self, value: int) -> None:
        await self.ctx.work(self.ctx.services.store.rate_call, self.call_id, value)

    async def close(self, reason: str, status: str = "ended", drain: bool = True) -> None:
        """End the call: finish recognition of what was heard, keep every record, release threads."""
        ctx = self.ctx
        if ctx.ended:
            return
        self.waiting.stop()
        self.keypad.stop()
        if drain:
            await self.recognition.drain(30)
            await self._turn_q.put(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._tasks[0]), 30)
        await self.bridge.close()
        ctx.ended = True
        s = ctx.services
        if s.live_calls is not None:
            s.live_calls.remove(ctx.call_id)
        self._release_bot_slot()
        self.playback.stop()
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await ctx.work(s.store.end_call, ctx.call_id, reason, status)
        for rec in (self.recognition.recorder, self.playback.recorder):
            if rec:
                rec.close()
        if ctx.handoff_id:
            s.bus.publish("call.ended", call_id=ctx.call_id, handoff_id=ctx.handoff_id, reason=reason)
        metrics.ACTIVE_CALLS.dec()
        self.recognition.close()
        ctx.work_pool.shutdown(wait=False)

    # --- people on the call (pipeline/bridge.py) ---------------------------------------------------
    async def connect_agent(self, leg: Leg) -> None:
        """An agent's leg joins: the bot says so and steps back; the caller and agent hear each other."""
        self.conversation.bridged = True
        self.waiting.stop()
        await self.bridge.connect_agent(leg)

    async def agent_audio(self, party_id: str, pcm: bytes) -> None:
        """An agent's microphone audio, PCM16 mono 16 kHz."""
        if not self.ended:
            await self.bridge.agent_audio(party_id, pcm)

    async def disconnect_agent(self, party_id: str, end_call: bool = False) -> bool:
        """The agent leaves: hung up (end_call: the caller hears goodbye and the call ends), or
        transferred / dropped (the caller waits for the next person)."""
        was = await self.bridge.disconnect_agent(party_id)
        if not self.bridge.connected:
            self.conversation.bridged = False
            if not end_call:
                self.waiting.start()  # transferred or dropped: the caller waits for the next person
        if was and end_call and not self.bridge.connected and not self.ended:
            await self.playback.say(self.voice.prompt_text("goodbye", self.language))
            await self.conversation.end_by_bot("agent_hung_up")
        return was

    async def set_hold(self, on: bool) -> None:
        await self.bridge.set_hold(on)

    def set_mute(self, party_id: str, muted: bool) -> None:
        self.bridge.set_mute(party_id, muted)

    def add_listener(self, leg: Leg) -> None:
        self.bridge.add_listener(leg)

    def remove_listener(self, party_id: str) -> bool:
        return self.bridge.remove_listener(party_id)

    async def say(self, prompt_key: str, **values: object) -> None:
        """A fixed prompt to the caller in their language (e.g. 'transferring')."""
        await self.playback.say(self.voice.prompt_text(prompt_key, self.language, **values))

    # --- recognition events --------------------------------------------------------------------
    async def _on_asr_event(self, event: AsrEvent) -> None:
        ctx = self.ctx
        ctx.touch()
        if isinstance(event, SpeechStarted):
            self._in_utterance = True
            if self.playback.is_playing():
                await self.playback.barge_in()
            await ctx.caller.send_json({"type": "speech_started", "t": event.t_s})
        elif isinstance(event, SpeechStopped):
            ctx.speech_end_wall = self.recognition.arrival_wall(event.t_s)
            await ctx.caller.send_json({"type": "speech_stopped", "t": event.t_s})
        elif isinstance(event, PartialTranscript):
            if self._partials.due(event.text):  # kept if this instance dies mid-sentence
                await ctx.work(save_partial, ctx.services.store, ctx.call_id, event.text)
            await ctx.caller.send_json(
                {
                    "type": "partial",
                    "text": event.text,
                    "committed": event.committed_text,
                    "language": event.language,
                }
            )
        elif isinstance(event, FinalTranscript):
            self._in_utterance = False
            if self._partials.clear_due():
                await ctx.work(save_partial, ctx.services.store, ctx.call_id, None)
            if not event.text.strip():
                return
            if ctx.speech_end_wall is not None:
                metrics.ASR_FINAL_LATENCY.observe(time.monotonic() - ctx.speech_end_wall)
                ctx.turn_clock = metrics.TurnClock(ctx.speech_end_wall)
                ctx.turn_clock.lap("asr")
            await self._turn_q.put(event)

    async def _turn_loop(self) -> None:
        while (final := await self._turn_q.get()) is not None:
            self._turn_busy = True
            try:
                if isinstance(final, FinalTranscript):
                    await self.conversation.handle(final)
                else:  # a keypad action, in turn with what the caller says
                    await final()
            finally:
                self._turn_busy = False
                self.ctx.touch()
                if self.ctx.handoff_id:
                    self._release_bot_slot()

    def _release_bot_slot(self) -> None:
        """A caller handed to a person no longer needs the bot: their place is free for the next
        caller (their words are still transcribed for the agent and screened for danger)."""
        admission = self.ctx.services.admission
        if admission is not None and self.admitted:
            admission.release()
            self.admitted = False

    # --- silence ---------------------------------------------------------------------------------
    def _caller_turn_in_progress(self) -> bool:
        """The caller spoke and the bot has not answered yet: speech still being recognised, audio
        waiting for the recogniser, or a turn being understood. Silence is not counted then."""
        return self._in_utterance or self.recognition.decoding or self._turn_busy or not self._turn_q.empty()

    async def _silence_watch(self) -> None:
        ctx = self.ctx
        while not ctx.ended:
            await asyncio.sleep(0.5)
            if self._caller_turn_in_progress():
                ctx.touch()  # the timer runs from the end of the turn
                continue
            idle = time.monotonic() - max(ctx.last_activity, self.playback.playing_until)
            if idle < ctx.services.silence_timeout_s or ctx.handoff_id or self.playback.is_playing():
                continue
            decision = on_silence(ctx.state, ctx.services.policy)
            ctx.state = decision.state
            ctx.touch()
            await ctx.work(ctx.services.store.add_decision, ctx.call_id, decision.action, decision.reason)
            if decision.action == "end":
                await self.playback.say(self.voice.prompt_text("goodbye", self.language))
                await self.conversation.end_by_bot("silence")
                return
            await self.playback.say(self.voice.prompt_text("still_there", self.language))

    def _agent_recorder(self) -> WavRecorder:
        folder = call_recording_dir(self.ctx.services.recordings_dir, self.call_id)
        return WavRecorder(folder / "agent.wav", 16000, "pcm16")
