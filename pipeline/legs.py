"""Call legs: each party of a call is a transport that moves audio both ways and carries events.

A call has one caller leg (the caller WebSocket, a browser over WebRTC, later SIP/RTP or a
telephony media stream) and zero or more agent legs (an agent's console softphone) and listener
legs (a supervisor listening in). The call session only sees this interface, never the transport.

Audio between legs (the bridge) is PCM16 mono at ``BRIDGE_RATE`` (16 kHz), in frames of any
length (20 ms is what WebRTC produces). The caller leg keeps its own input and output formats
(``CallStart.encoding``/``sample_rate`` and ``output_format``); the session converts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

BRIDGE_RATE = 16000
"""Sample rate of the PCM16 mono audio agent and listener legs send and receive."""

SendJson = Callable[[dict[str, Any]], Awaitable[None]]
SendAudio = Callable[[bytes], Awaitable[None]]
Role = Literal["caller", "agent", "listener"]


async def _drop_json(_: dict[str, Any]) -> None:
    return None


@dataclass
class Leg:
    """One party's transport, as the session sees it.

    send_audio: audio *to* this party (caller leg: in the call's output format; agent and listener
    legs: PCM16 16 kHz mono). send_json: events to this party (the caller WebSocket and the web
    caller page show them as captions; agent legs may ignore them: the console gets the transcript
    from the bus). Audio *from* a party is pushed into the session by its transport
    (``CallSession.audio`` for the caller, ``CallSession.agent_audio`` for an agent).
    """

    role: Role
    send_audio: SendAudio
    send_json: SendJson = _drop_json
    party_id: str = ""
    """The agent's or supervisor's id ('' for the caller)."""
    muted: bool = field(default=False)
    """An agent leg whose microphone is muted: its audio reaches neither the caller nor the record."""
