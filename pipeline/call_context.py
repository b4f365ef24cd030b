"""What the parts of one call share: the services, the caller's start message, the caller's leg,
the call's work thread, and the call's mutable state (language, dialogue state, handoff).

The parts (recognition, playback, conversation, handoff, bridge) each hold a reference to one
``CallContext`` instead of to each other's attributes, so each can be tested with a fake context.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from core.codec import Encoding
from pipeline.admission import Admission
from pipeline.bus import EventBus
from pipeline.input_limits import InputLimits
from pipeline.legs import Leg
from pipeline.metrics import TurnClock
from pipeline.policy import DialogueState, PolicyConfig
from pipeline.sms_offer import LogSmsSender, SmsSender
from pipeline.store import Store
from pipeline.turns import Knowledge, Recognizer, Understander, Understanding, Voice

if TYPE_CHECKING:
    from pipeline.incidents import IncidentBook
    from pipeline.live_calls import LiveCalls
    from pipeline.workorder_followup import FollowUp

T = TypeVar("T")


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
    live_calls: LiveCalls | None = None
    """The calls in progress in this process, by call id (agents' softphones attach to them)."""
    partial_save_s: float = 1.0
    """The caller's latest partial transcript is saved at most this often (pipeline/partials.py)."""
    waiting_announce_s: float = 30.0
    """While a caller waits for a person: how often they hear their place and estimated wait."""
    sms: SmsSender = field(default_factory=LogSmsSender)
    """Sends the full text of a long knowledge-base answer when the caller asks (pipeline/sms_offer.py)."""
    incidents: IncidentBook | None = None
    """Storm reports and live incident notices (pipeline/incidents.py); None: neither."""
    followup: FollowUp | None = None
    """Work-order due times and status by reference (pipeline/workorder_followup.py); None: off."""
    utc_offset_min: int = 0
    """Local time for times the bot says (a notice's fix time, a work order's due time)."""
    limits: InputLimits = field(default_factory=InputLimits)
    """Bounds on caller input (pipeline/input_limits.py): text turn length, audio per call."""


@dataclass
class CallContext:
    services: SessionServices
    start: CallStart
    caller: Leg
    call_id: str = ""
    language: str = "en"
    state: DialogueState = field(default_factory=DialogueState)
    handoff_id: str | None = None
    handoff_urgency: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    understood: Understanding | None = None
    expects_number: bool = False
    """The bot has just asked the caller for a number: they may key it, ending with '#'."""
    ended: bool = False
    speech_end_wall: float | None = None
    """When the caller's last utterance ended (wall clock), until the bot's answer starts."""
    turn_clock: TurnClock | None = None
    """Laps of the turn being answered (pipeline/metrics.py), from the end of speech to first audio."""
    last_activity: float = field(default_factory=time.monotonic)
    work_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="call-work")
    )
    """The call's one thread for blocking work (classifier, knowledge base, synthesis, records):
    one thread keeps the call's records in order."""

    async def work(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self.work_pool, lambda: fn(*args, **kwargs))

    def publish_transcript(self, speaker: str, text: str, seq: int) -> None:
        """Once a person has the call (or waits to), every line reaches their screen at once."""
        if self.handoff_id:
            self.services.bus.publish(
                "transcript.appended",
                handoff_id=self.handoff_id,
                call_id=self.call_id,
                speaker=speaker,
                text=text,
                language=self.language,
                seq=seq,
            )

    def touch(self) -> None:
        self.last_activity = time.monotonic()
