"""One live call: caller audio in, recognised turns through the policy, bot speech or a handoff out.

Blocking work never runs on the event loop: each call owns one thread for speech recognition
(audio must be fed in order) and one for everything else (classifier, knowledge base, synthesis,
records). Records are committed before the caller is told anything about them.
Barge-in: a SpeechStarted while the bot is playing cancels the rest of the bot's speech at once
and tells the client to drop what it has buffered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from core.codec import Encoding
from core.events import AsrEvent, FinalTranscript, PartialTranscript, SpeechStarted, SpeechStopped
from pipeline import metrics
from pipeline.admission import Admission
from pipeline.bus import EventBus
from pipeline.policy import Decision, DialogueState, PolicyConfig, decide, on_silence
from pipeline.recording import WavRecorder, call_recording_dir
from pipeline.routing import QueueItem, can_be_served, queue_position
from pipeline.store import Store
from pipeline.turns import Knowledge, Recognizer, Understander, Understanding, Voice

log = logging.getLogger(__name__)
T = TypeVar("T")
SendJson = Callable[[dict[str, Any]], Awaitable[None]]
SendAudio = Callable[[bytes], Awaitable[None]]


@dataclass(frozen=True)
class CallStart:
    """The caller's start message."""

    sample_rate: int = 16000
    encoding: Encoding = "pcm16"
    language: str = "en"
    """Greeting language until the caller's own language is heard."""
    caller_number: str | None = None
    channel: str = "stream"
    output_format: str = "pcm16-16k"
    """Format of the bot audio sent back."""


@dataclass
class SessionServices:
    """What every call shares: loaded stages, records, the bus, the policy."""

    store: Store
    bus: EventBus
    recognizer_factory: Callable[[int, Encoding], Recognizer]
    understander: Understander
    knowledge: Knowledge
    voice_for: Callable[[str], Voice]
    """The bot's voice for an output format name (pcm16-16k, pcm16-8k, mulaw-8k, pcm16-22k)."""
    recordings_dir: Path
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    silence_timeout_s: float = 10.0
    admission: Admission | None = None
    """Capacity of the bot; None serves every caller."""


def work_order_reference(order_id: str) -> str:
    """A six-digit number the caller can note down and read back (ids are hex)."""
    return f"{int(order_id[:10], 16) % 1_000_000:06d}"


class CallSession:
    def __init__(
        self, services: SessionServices, start: CallStart, send_json: SendJson, send_audio: SendAudio
    ):
        self.s = services
        self.start = start
        self._send_json = send_json
        self._send_audio = send_audio
        self.voice = services.voice_for(start.output_format)
        self.call_id = ""
        self.language = start.language if start.language in ("zh", "en") else "en"
        self.state = DialogueState()
        self.handoff_id: str | None = None
        self._handoff_urgency: str | None = None
        self.ended = False
        self.end_reason = ""
        self._asr_pool = ThreadPoolExecutor(1, thread_name_prefix="call-asr")
        self._work_pool = ThreadPoolExecutor(1, thread_name_prefix="call-work")
        self._recognizer: Recognizer | None = None
        self._audio_q: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._turn_q: asyncio.Queue[FinalTranscript | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._speech: asyncio.Task[None] | None = None
        self._playing_until = 0.0
        self._last_bot_text = ""
        self._last_activity = time.monotonic()
        self._received_samples = 0
        self._arrivals: list[tuple[float, float]] = []  # (audio seconds received, wall time)
        self._speech_end_wall: float | None = None
        self._details: dict[str, Any] = {}
        self._understood: Understanding | None = None
        self._awaiting_rating = False
        self._caller_rec: WavRecorder | None = None
        self.hangup = asyncio.Event()
        """Set when the bot has ended the call (goodbye, silence); the transport then closes."""
        self._bot_rec: WavRecorder | None = None
        self.admitted = True
        """False when the bot was at capacity: the caller waits for a person instead."""
        self._in_utterance = False
        """Between the caller's speech onset and its final transcript (however slow the decode)."""
        self._asr_since: float | None = None
        """When the recogniser call in progress began (None between calls)."""
        self._turn_busy = False

    # --- lifecycle -----------------------------------------------------------------------------
    async def open(self) -> str:
        call = await self._work(
            self.s.store.start_call, self.start.caller_number, self.language, self.start.channel
        )
        self.call_id = call.id
        folder = call_recording_dir(self.s.recordings_dir, call.id)
        self._caller_rec = WavRecorder(folder / "caller.wav", self.start.sample_rate, self.start.encoding)
        self._bot_rec = WavRecorder(folder / "bot.wav", self.voice.sample_rate, self.voice.encoding)
        await self._work(
            self.s.store.update_call,
            call.id,
            caller_audio_path=str(self._caller_rec.path),
            bot_audio_path=str(self._bot_rec.path),
        )
        self._recognizer = await self._asr(
            self.s.recognizer_factory, self.start.sample_rate, self.start.encoding
        )
        metrics.CALLS.labels(self.start.channel).inc()
        metrics.ACTIVE_CALLS.inc()
        await self._send_json({"type": "started", "call_id": call.id})
        self._tasks = [
            asyncio.create_task(self._asr_loop()),
            asyncio.create_task(self._turn_loop()),
            asyncio.create_task(self._silence_watch()),
        ]
        if self.s.admission is not None:
            self.admitted = self.s.admission.try_admit()
        if self.admitted:
            await self._say(self.voice.prompt_text("greeting", self.language))
        else:
            # Everyone would wait if the bot took one more call: this caller goes to a person now,
            # and what they say is still screened (a danger word raises the handoff to emergency).
            await self._say(self.voice.prompt_text("lines_busy", self.language))
            await self._handoff(Decision("handoff", "bot at capacity: caller queued for a person"))
        return call.id

    async def audio(self, chunk: bytes) -> None:
        if not self.ended:
            await self._audio_q.put(chunk)

    async def text(self, text: str, language: str) -> None:
        """A caller turn given as text instead of audio (a chat channel, or evaluation scenarios
        that inject what ASR would have heard, e.g. Mandarin that espeak cannot voice)."""
        if self.ended or not text.strip():
            return
        now = self._received_samples / self.start.sample_rate
        self._speech_end_wall = time.monotonic()
        self._last_activity = time.monotonic()
        await self._turn_q.put(FinalTranscript(text.strip(), language, now, now, confidence=1.0))

    async def rate(self, value: int) -> None:
        await self._work(self.s.store.rate_call, self.call_id, value)

    async def close(self, reason: str, status: str = "ended", drain: bool = True) -> None:
        """End the call: finish recognition of what was heard, keep every record, release threads."""
        if self.ended:
            return
        if drain:
            await self._audio_q.put(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._tasks[0]), 30)
            await self._turn_q.put(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._tasks[1]), 30)
        self.ended = True
        if self.s.admission is not None and self.admitted:
            self.s.admission.release()
            self.admitted = False
        if self._speech:
            self._speech.cancel()
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await self._work(self.s.store.end_call, self.call_id, reason, status)
        for rec in (self._caller_rec, self._bot_rec):
            if rec:
                rec.close()
        if self.handoff_id:
            self.s.bus.publish("call.ended", call_id=self.call_id, handoff_id=self.handoff_id, reason=reason)
        metrics.ACTIVE_CALLS.dec()
        self._asr_pool.shutdown(wait=False)
        self._work_pool.shutdown(wait=False)

    # --- threads -------------------------------------------------------------------------------
    async def _asr(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._asr_pool, lambda: fn(*args))

    async def _work(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._work_pool, lambda: fn(*args, **kwargs))

    # --- recognition ---------------------------------------------------------------------------
    async def _asr_loop(self) -> None:
        assert self._recognizer is not None
        recognizer = self._recognizer
        bytes_per_sample = 2 if self.start.encoding == "pcm16" else 1
        done = False
        while not done:
            chunks = [await self._audio_q.get()]
            while not self._audio_q.empty():  # catch up on whatever queued while we decoded
                chunks.append(self._audio_q.get_nowait())
            done = None in chunks
            data = b"".join(c for c in chunks if c)
            if data:
                self._received_samples += len(data) // bytes_per_sample
                self._arrivals.append((self._received_samples / self.start.sample_rate, time.monotonic()))
                if self._caller_rec:
                    self._caller_rec.write(data)
                self._asr_since = time.monotonic()
                try:
                    events = await self._asr(recognizer.feed, data)
                finally:
                    self._asr_since = None
            else:
                events = []
            if done:
                events += await self._asr(recognizer.finish)
            for event in events:
                await self._on_asr_event(event)

    def _arrival_wall(self, t_s: float) -> float:
        for audio_s, wall in self._arrivals:
            if audio_s >= t_s:
                return wall
        return time.monotonic()

    async def _on_asr_event(self, event: AsrEvent) -> None:
        self._last_activity = time.monotonic()
        if isinstance(event, SpeechStarted):
            self._in_utterance = True
            if self._is_playing():
                await self._barge_in()
            await self._send_json({"type": "speech_started", "t": event.t_s})
        elif isinstance(event, SpeechStopped):
            self._speech_end_wall = self._arrival_wall(event.t_s)
            await self._send_json({"type": "speech_stopped", "t": event.t_s})
        elif isinstance(event, PartialTranscript):
            await self._send_json(
                {
                    "type": "partial",
                    "text": event.text,
                    "committed": event.committed_text,
                    "language": event.language,
                }
            )
        elif isinstance(event, FinalTranscript):
            self._in_utterance = False
            if not event.text.strip():
                return
            if self._speech_end_wall is not None:
                metrics.ASR_FINAL_LATENCY.observe(time.monotonic() - self._speech_end_wall)
            await self._turn_q.put(event)

    # --- turns ---------------------------------------------------------------------------------
    async def _turn_loop(self) -> None:
        while (final := await self._turn_q.get()) is not None:
            self._turn_busy = True
            try:
                await self._handle_turn(final)
            except Exception:
                log.exception("call %s: turn failed; handing off so the caller is not stranded", self.call_id)
                if not self.handoff_id:
                    await self._handoff(Decision("handoff", "internal error while handling the turn"))
            finally:
                self._turn_busy = False
                self._last_activity = time.monotonic()

    async def _handle_turn(self, final: FinalTranscript) -> None:
        language = "zh" if final.language.startswith("zh") else "en"
        self.language = language
        utterance = await self._work(
            self.s.store.add_utterance,
            self.call_id,
            "caller",
            final.text,
            language,
            final.start_s,
            final.end_s,
            final.confidence,
        )
        await self._send_json(
            {
                "type": "final",
                "text": final.text,
                "language": language,
                "start": final.start_s,
                "end": final.end_s,
            }
        )
        if self.handoff_id:
            # Already with (or waiting for) a person: the transcript keeps growing on their screen.
            self.s.bus.publish(
                "transcript.appended",
                handoff_id=self.handoff_id,
                call_id=self.call_id,
                speaker="caller",
                text=final.text,
                language=language,
                seq=utterance.seq,
            )
            await self._escalate_if_danger(final.text, language)
            return
        if self._awaiting_rating:
            if not await self._escalate_if_danger(final.text, language):
                await self._take_rating(final.text)
            return
        understanding = await self._work(self.s.understander.understand, final.text, language)
        facts = understanding.facts
        self._understood = understanding
        for kind, found in understanding.details.items():
            known = self._details.setdefault(kind, [])
            known.extend(item for item in found if item not in known)
        if not facts.emergency and facts.intent is None:
            reply = await self._work(self.s.knowledge.lookup, final.text, language, facts.topic)
            if reply:
                facts = replace(facts, kb_entry_id=reply.entry_id, kb_confidence=reply.confidence)
        else:
            reply = None
        decision = decide(facts, self.state, self.s.policy)
        await self._record_decision(decision, facts)
        self.state = decision.state
        await self._act(decision, reply.answer if reply and decision.action == "answer" else "")

    async def _record_decision(self, decision: Decision, facts: Any) -> None:
        await self._work(
            self.s.store.add_decision,
            self.call_id,
            decision.action,
            decision.reason,
            topic=facts.topic,
            request_type=facts.request_type,
            urgency=decision.urgency,
            confidence=facts.confidence,
            kb_entry_id=decision.kb_entry_id,
        )
        metrics.DECISIONS.labels(decision.action).inc()
        await self._send_json(
            {
                "type": "decision",
                "action": decision.action,
                "reason": decision.reason,
                "urgency": decision.urgency,
                "topic": facts.topic,
                "request_type": facts.request_type,
                "confidence": round(facts.confidence, 3),
                "kb_entry_id": decision.kb_entry_id,
            }
        )

    async def _act(self, decision: Decision, answer: str) -> None:
        v, lang = self.voice, self.language
        if decision.action == "answer":
            await self._say(f"{answer} {v.prompt_text('did_that_help', lang)}")
        elif decision.action == "clarify":
            await self._say(v.prompt_text("clarify", lang))
        elif decision.action == "handoff":
            await self._handoff(decision)
        elif decision.action == "work_order":
            order = await self._work(
                self.s.store.create_work_order,
                self._summary(),
                "bot",
                call_id=self.call_id,
                topic=self._facts_attr("topic"),
                request_type=self._facts_attr("request_type"),
                urgency=decision.urgency,
                details=self._details,
            )
            await self._say(
                v.prompt_text("work_order_created", lang, reference=work_order_reference(order.id))
            )
            self.state = DialogueState(answers_tried=self.state.answers_tried)
        elif decision.action == "repeat":
            await self._say(self._last_bot_text or v.prompt_text("clarify", lang))
        elif decision.action == "anything_else":
            await self._say(v.prompt_text("anything_else", lang))
        elif decision.action == "still_there":
            await self._say(v.prompt_text("still_there", lang))
        elif decision.action == "end":
            self._awaiting_rating = True
            await self._say(v.prompt_text("rate_call", lang))

    def _facts_attr(self, name: str) -> Any:
        return getattr(self._understood.facts, name) if self._understood else None

    def _summary(self) -> str:
        return self._understood.facts.text if self._understood else ""

    async def _take_rating(self, text: str) -> None:
        digits = {
            "1": 1,
            "2": 2,
            "3": 3,
            "4": 4,
            "5": 5,
            "一": 1,
            "二": 2,
            "两": 2,
            "三": 3,
            "四": 4,
            "五": 5,
        }
        words = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
        value = next((n for ch, n in digits.items() if ch in text), None)
        value = value or next((n for w, n in words.items() if w in text.lower()), None)
        if value:
            await self.rate(value)
        self._awaiting_rating = False
        await self._say(self.voice.prompt_text("goodbye", self.language))
        await self._end_by_bot("goodbye")

    async def _handoff(self, decision: Decision) -> None:
        facts = self._understood.facts if self._understood else None
        handoff = await self._work(
            self.s.store.create_handoff,
            self.call_id,
            decision.urgency,
            decision.reason,
            topic=facts.topic if facts else None,
            request_type=facts.request_type if facts else None,
            language=self.language,
            confidence=facts.confidence if facts else None,
            details=self._details,
            answers_tried=list(self.state.answers_tried),
        )
        self.handoff_id = handoff.id
        self._handoff_urgency = decision.urgency
        metrics.HANDOFFS.labels(decision.urgency).inc()
        self.s.bus.publish(
            "handoff.created",
            handoff_id=handoff.id,
            call_id=self.call_id,
            urgency=decision.urgency,
            reason=decision.reason,
        )
        await self._send_json({"type": "handoff", "handoff_id": handoff.id, "urgency": decision.urgency})
        v, lang = self.voice, self.language
        if decision.urgency == "emergency":
            await self._say(v.prompt_text("emergency", lang))
            return
        waiting = await self._work(self.s.store.waiting)
        items = [QueueItem(h.id, h.urgency, h.created_at, h.topic, h.language) for h in waiting]
        me = next((i for i in items if i.id == handoff.id), None)
        agents = await self._work(self.s.store.agent_skills)
        if me is None or not can_be_served(me, agents):
            await self._say(v.prompt_text("no_agent_callback", lang))
            return
        position = queue_position(handoff.id, items) or 1
        await self._say(
            f"{v.prompt_text('connecting_agent', lang)} {v.prompt_text('queue_position', lang, n=position)}"
        )

    async def _escalate_if_danger(self, text: str, language: str) -> bool:
        """A later turn that reveals danger (while waiting for a person, or answering the rating
        question) escalates at once: a waiting handoff becomes an emergency at the top of the queue,
        or a new emergency handoff is made. True when it did."""
        understanding = await self._work(self.s.understander.understand, text, language)
        if not understanding.facts.emergency:
            return False
        reason = f"emergency: {understanding.facts.emergency_reason}"
        self._understood = understanding
        self._awaiting_rating = False
        if not self.handoff_id:
            decision = Decision("handoff", reason, "emergency", state=replace(self.state, handed_off=True))
            await self._record_decision(decision, understanding.facts)
            self.state = decision.state
            await self._handoff(decision)
            return True
        if self._handoff_urgency == "emergency":
            return False
        handoff = await self._work(
            self.s.store.update_handoff, self.handoff_id, urgency="emergency", reason=reason
        )
        self._handoff_urgency = "emergency"
        await self._work(self.s.store.add_decision, self.call_id, "escalate", reason, urgency="emergency")
        self.s.bus.publish(
            "handoff.updated",
            handoff_id=handoff.id,
            call_id=self.call_id,
            status=handoff.status,
            urgency="emergency",
        )
        self.s.bus.publish("queue.changed", reason="handoff.escalated", handoff_id=handoff.id)
        await self._send_json({"type": "handoff", "handoff_id": handoff.id, "urgency": "emergency"})
        await self._say(self.voice.prompt_text("emergency", self.language))
        return True

    async def _end_by_bot(self, reason: str) -> None:
        if self._speech:
            with contextlib.suppress(asyncio.CancelledError):
                await self._speech
        self.end_reason = reason
        await self._send_json({"type": "hangup", "reason": reason})
        self.hangup.set()

    # --- speaking ------------------------------------------------------------------------------
    def _is_playing(self) -> bool:
        return (
            self._speech is not None and not self._speech.done()
        ) or time.monotonic() < self._playing_until

    async def _barge_in(self) -> None:
        if self._speech and not self._speech.done():
            self._speech.cancel()
        self._playing_until = 0.0
        metrics.BARGE_INS.inc()
        await self._send_json({"type": "playback_stopped", "reason": "barge_in"})

    async def _say(self, text: str) -> None:
        """Record the bot's words, then stream their audio; returns once streaming has started."""
        if self._speech and not self._speech.done():
            with contextlib.suppress(asyncio.CancelledError):
                await self._speech
        self._last_bot_text = text
        said = await self._work(self.s.store.add_utterance, self.call_id, "bot", text, self.language)
        await self._send_json({"type": "bot_text", "text": text, "language": self.language})
        if self.handoff_id:
            self.s.bus.publish(
                "transcript.appended",
                handoff_id=self.handoff_id,
                call_id=self.call_id,
                speaker="bot",
                text=text,
                language=self.language,
                seq=said.seq,
            )
        self._speech = asyncio.create_task(self._stream_speech(text, self.language))

    async def _stream_speech(self, text: str, language: str) -> None:
        chunks: Iterator[bytes] = await self._work(self.voice.speak, text, language)
        try:
            await self._play(chunks)
        finally:
            # On barge-in this task is cancelled: stop synthesising the rest, in the thread that owns it.
            close = getattr(chunks, "close", None)
            if close is not None and not self.ended:
                self._work_pool.submit(close)
        self._last_activity = time.monotonic()

    async def _play(self, chunks: Iterator[bytes]) -> None:
        rate = self.voice.sample_rate
        bytes_per_sample = 2 if self.voice.encoding == "pcm16" else 1
        first = True
        while (chunk := await self._work(next, chunks, None)) is not None:
            if first and self._speech_end_wall is not None:
                latency = time.monotonic() - self._speech_end_wall
                metrics.VOICE_TO_VOICE.observe(latency)
                await self._send_json({"type": "latency", "voice_to_voice_s": round(latency, 3)})
                self._speech_end_wall = None
            first = False
            now = time.monotonic()
            self._playing_until = max(self._playing_until, now) + len(chunk) / bytes_per_sample / rate
            if self._bot_rec:
                self._bot_rec.write(chunk)
            await self._send_audio(chunk)

    def _caller_turn_in_progress(self) -> bool:
        """The caller spoke and the bot has not answered yet: speech still being recognised, audio
        waiting for the recogniser, or a turn being understood. Silence is not counted then."""
        # A recogniser call that lasts is a decode (voice activity alone takes milliseconds): the
        # audio it holds may be the caller's words, not yet seen as speech under load.
        decoding = self._asr_since is not None and time.monotonic() - self._asr_since > 0.25
        return self._in_utterance or decoding or self._turn_busy or not self._turn_q.empty()

    async def _silence_watch(self) -> None:
        while not self.ended:
            await asyncio.sleep(0.5)
            if self._caller_turn_in_progress():
                self._last_activity = time.monotonic()  # the timer runs from the end of the turn
                continue
            idle = time.monotonic() - max(self._last_activity, self._playing_until)
            if idle < self.s.silence_timeout_s or self.handoff_id or self._is_playing():
                continue
            decision = on_silence(self.state, self.s.policy)
            self.state = decision.state
            self._last_activity = time.monotonic()
            await self._work(self.s.store.add_decision, self.call_id, decision.action, decision.reason)
            if decision.action == "end":
                await self._say(self.voice.prompt_text("goodbye", self.language))
                await self._end_by_bot("silence")
                return
            await self._say(self.voice.prompt_text("still_there", self.language))
