"""Telephony media streams: the JSON-over-WebSocket protocol cloud telephony providers use to
stream a call's audio (Twilio Media Streams, as published; Telnyx's media streaming, a near copy in
snake case: ``stream_id``, ``media_format`` with encoding PCMU, ``custom_parameters``, the caller in
``start.from``, is read too and answered in its own names).

Pure framing and parsing, no I/O. The provider opens the WebSocket and sends, in order:

- ``connected`` ({"event": "connected", "protocol": "Call", "version": "1.0.0"});
- ``start``: ``streamSid``, and ``start`` with accountSid, callSid, tracks, ``mediaFormat``
  (encoding audio/x-mulaw, sampleRate 8000, channels 1) and ``customParameters`` (the
  ``<Parameter>`` names of the TwiML ``<Stream>``: the caller's number travels there, since the start
  message has no From of its own);
- ``media``: ``media.payload`` base64 mu-law (20 ms = 160 bytes), with track, chunk, timestamp;
- ``dtmf``: ``dtmf.digit`` (track inbound_track);
- ``mark``: ``mark.name``, echoed once the audio sent before that mark has played (or was cleared);
- ``stop``: the call ended.

Every message but ``connected`` carries ``streamSid`` and a ``sequenceNumber``. To the provider
(bidirectional streams, TwiML ``<Connect><Stream>``): ``media`` (base64 mu-law 8 kHz, no header),
``mark`` (a name to be echoed when played) and ``clear`` (drop the audio not yet played: barge-in).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

FRAME_BYTES = 160
"""20 ms of mu-law at 8 kHz: the frame size providers send and expect."""
MAX_MESSAGE_BYTES = 64 * 1024
CALLER_PARAMETERS = ("caller", "From", "from", "caller_number", "callerNumber")
"""customParameters names read as the caller's number, in order."""


class MediaStreamError(ValueError):
    """A message that is not valid media-stream JSON; the text says what was wrong."""


@dataclass(frozen=True)
class Connected:
    protocol: str
    version: str


@dataclass(frozen=True)
class Start:
    stream_sid: str
    call_sid: str = ""
    account_sid: str = ""
    tracks: tuple[str, ...] = ("inbound",)
    encoding: str = "audio/x-mulaw"
    sample_rate: int = 8000
    channels: int = 1
    custom_parameters: dict[str, str] = field(default_factory=dict)
    dialect: str = "twilio"
    """'twilio' (streamSid, camelCase) or 'telnyx' (stream_id, snake_case)."""

    @property
    def sid_key(self) -> str:
        """The stream id's name in messages to this provider."""
        return "stream_id" if self.dialect == "telnyx" else "streamSid"

    @property
    def caller_number(self) -> str | None:
        for name in CALLER_PARAMETERS:
            value = self.custom_parameters.get(name)
            if value:
                return value[:32]
        return None

    @property
    def language(self) -> str | None:
        value = self.custom_parameters.get("language")
        return value if value in ("zh", "en") else None


@dataclass(frozen=True)
class Media:
    payload: bytes
    track: str = "inbound"
    chunk: int = 0
    timestamp_ms: int = 0


@dataclass(frozen=True)
class Dtmf:
    digit: str


@dataclass(frozen=True)
class Mark:
    name: str


@dataclass(frozen=True)
class Stop:
    reason: str = ""


Event = Connected | Start | Media | Dtmf | Mark | Stop


def parse(text: str | bytes) -> Event:
    """One message from the provider. MediaStreamError for anything malformed."""
    if len(text) > MAX_MESSAGE_BYTES:
        raise MediaStreamError(f"message of {len(text)} bytes is over {MAX_MESSAGE_BYTES}")
    try:
        msg = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise MediaStreamError(f"not JSON: {e}") from None
    if not isinstance(msg, dict):
        raise MediaStreamError("a message must be a JSON object with an 'event'")
    event = msg.get("event")
    if event == "connected":
        return Connected(str(msg.get("protocol", "")), str(msg.get("version", "")))
    if event == "start":
        return _start(msg)
    if event == "media":
        return _media(msg)
    if event == "dtmf":
        digit = _part(msg, "dtmf").get("digit")
        if not isinstance(digit, str) or len(digit) != 1 or digit.upper() not in "0123456789*#ABCD":
            raise MediaStreamError(f"dtmf.digit must be one of 0-9 * # A-D, got {digit!r}")
        return Dtmf(digit.upper())
    if event == "mark":
        name = _part(msg, "mark").get("name")
        if not isinstance(name, str):
            raise MediaStreamError("mark.name must be a string")
        return Mark(name)
    if event == "stop":
        return Stop(str(msg.get("stop", {}).get("reason", "")) if isinstance(msg.get("stop"), dict) else "")
    raise MediaStreamError(f"unknown event {event!r}: expected connected, start, media, dtmf, mark or stop")


def _part(msg: dict[str, Any], key: str) -> dict[str, Any]:
    part = msg.get(key)
    if not isinstance(part, dict):
        raise MediaStreamError(f"a {msg.get('event')} message needs a {key!r} object")
    return part


def _start(msg: dict[str, Any]) -> Start:
    start = _part(msg, "start")
    telnyx = "stream_id" in msg  # Telnyx names the fields in snake case
    sid = msg.get("stream_id") if telnyx else (msg.get("streamSid") or start.get("streamSid"))
    if not isinstance(sid, str) or not sid:
        raise MediaStreamError("start needs a streamSid (Twilio) or stream_id (Telnyx)")
    fmt = start.get("media_format" if telnyx else "mediaFormat") or {}
    if not isinstance(fmt, dict):
        raise MediaStreamError("start.mediaFormat must be an object")
    encoding = str(fmt.get("encoding", "audio/x-mulaw"))
    rate = fmt.get("sample_rate" if telnyx else "sampleRate", 8000)
    channels = fmt.get("channels", 1)
    if encoding not in ("audio/x-mulaw", "PCMU") or rate != 8000 or channels != 1:
        raise MediaStreamError(
            f"only mu-law (audio/x-mulaw, PCMU) 8000 Hz mono is supported: got {encoding} {rate} Hz"
            f" x{channels}"
        )
    params = start.get("custom_parameters" if telnyx else "customParameters") or {}
    if not isinstance(params, dict):
        raise MediaStreamError("start.customParameters must be an object")
    params = {str(k): str(v) for k, v in params.items()}
    if telnyx and isinstance(start.get("from"), str):
        params.setdefault("From", start["from"])
    tracks = start.get("tracks") or ["inbound"]
    return Start(
        stream_sid=sid,
        call_sid=str(start.get("call_control_id" if telnyx else "callSid", "")),
        account_sid=str(start.get("user_id" if telnyx else "accountSid", "")),
        tracks=tuple(str(t) for t in tracks) if isinstance(tracks, list) else ("inbound",),
        custom_parameters=params,
        dialect="telnyx" if telnyx else "twilio",
    )


def _media(msg: dict[str, Any]) -> Media:
    media = _part(msg, "media")
    payload = media.get("payload")
    if not isinstance(payload, str):
        raise MediaStreamError("media.payload must be a base64 string")
    try:
        audio = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise MediaStreamError("media.payload is not valid base64") from None
    try:
        chunk, timestamp = int(media.get("chunk", 0)), int(media.get("timestamp", 0))
    except (TypeError, ValueError):
        raise MediaStreamError("media.chunk and media.timestamp must be numbers") from None
    return Media(audio, str(media.get("track", "inbound")), chunk, timestamp)


# --- to the provider ------------------------------------------------------------------------------
def media_message(stream_sid: str, mulaw: bytes, sid_key: str = "streamSid") -> dict[str, Any]:
    return {"event": "media", sid_key: stream_sid, "media": {"payload": base64.b64encode(mulaw).decode()}}


def mark_message(stream_sid: str, name: str, sid_key: str = "streamSid") -> dict[str, Any]:
    return {"event": "mark", sid_key: stream_sid, "mark": {"name": name}}


def clear_message(stream_sid: str, sid_key: str = "streamSid") -> dict[str, Any]:
    return {"event": "clear", sid_key: stream_sid}


def frames(mulaw: bytes, size: int = FRAME_BYTES) -> list[bytes]:
    """Audio cut into 20 ms frames (the last may be shorter)."""
    return [mulaw[i : i + size] for i in range(0, len(mulaw), size)]


def connect_stream_twiml(url: str, parameters: dict[str, str]) -> str:
    """TwiML that connects a call to a bidirectional stream at ``url`` (wss://...), with
    ``<Parameter>``s that reach the start message's customParameters."""
    params = "".join(f'<Parameter name="{_attr(k)}" value="{_attr(v)}"/>' for k, v in parameters.items() if v)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<Response><Connect><Stream url="{_attr(url)}">{params}</Stream></Connect></Response>'
    )


def _attr(value: str) -> str:
    return escape(value, {'"': "&quot;"})
