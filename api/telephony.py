"""Calls from cloud telephony providers over a media-stream WebSocket (Twilio Media Streams format,
transport/media_stream.py), and the TwiML that points a provider's number at it.

Each stream is the caller leg of a call session: the caller's mu-law 8 kHz audio in, the bot's
voice out as 20 ms ``media`` messages with a ``mark`` after each sentence, ``clear`` when the caller
barges in (or presses a key), ``dtmf`` to the keypad. When the bot ends the call, the socket closes
once the provider has echoed the last mark (the goodbye has played), so the call's TwiML moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from fastapi import APIRouter, Request, Response, WebSocket, WebSocketDisconnect

from pipeline.runtime import Runtime
from pipeline.session import CallSession, CallStart
from transport import media_stream as ms

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/telephony", tags=["telephony"])

GOODBYE_DRAIN_S = 15.0
"""When the bot ends the call: how long to wait for the provider to play its last words."""
START_TIMEOUT_S = 10.0
MAX_BAD_MESSAGES = 100
"""Malformed messages tolerated on one stream before it is closed (each is logged)."""


class TwilioLeg:
    """The provider's side of one stream: what the session sends, framed for the provider."""

    def __init__(self, ws: WebSocket, stream_sid: str, sid_key: str = "streamSid") -> None:
        self.ws = ws
        self.sid = stream_sid
        self.key = sid_key
        self.lock = asyncio.Lock()
        self.sent_marks = 0
        self.played_marks = 0
        self.played = asyncio.Event()
        self.played.set()
        self.cleared = 0

    async def send(self, payload: dict[str, Any]) -> None:
        async with self.lock:
            with contextlib.suppress(Exception):  # a dropped socket must not break the call's records
                await self.ws.send_text(json.dumps(payload))

    async def send_audio(self, mulaw: bytes) -> None:
        for frame in ms.frames(mulaw):
            await self.send(ms.media_message(self.sid, frame, self.key))
        self.sent_marks += 1
        self.played.clear()
        await self.send(ms.mark_message(self.sid, f"bot-{self.sent_marks}", self.key))

    async def send_json(self, event: dict[str, Any]) -> None:
        if event.get("type") == "playback_stopped":
            self.cleared += 1
            await self.send(ms.clear_message(self.sid, self.key))

    def mark_played(self, name: str) -> None:
        if name.startswith("bot-") and name[4:].isdigit():
            self.played_marks = max(self.played_marks, int(name[4:]))
            if self.played_marks >= self.sent_marks:
                self.played.set()


async def _first_start(ws: WebSocket) -> ms.Start:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        text = await asyncio.wait_for(ws.receive_text(), max(0.1, deadline - time.monotonic()))
        event = ms.parse(text)
        if isinstance(event, ms.Start):
            return event
        if not isinstance(event, ms.Connected):
            raise ms.MediaStreamError(
                f"expected connected or start first, got {type(event).__name__.lower()}"
            )


@router.websocket("/twilio")
@router.websocket("/telnyx")
async def twilio_stream(ws: WebSocket) -> None:
    """A call from a provider speaking Twilio Media Streams, or Telnyx's near copy (docs/telephony.md)."""
    await ws.accept()
    runtime: Runtime | None = getattr(ws.app.state, "runtime", None)
    services = runtime.services_for_new_call() if runtime is not None else None
    if runtime is None or services is None:
        reason = "draining: no new calls" if runtime and runtime.draining else "service not ready"
        await ws.close(1013, reason)  # a close reason is at most 123 bytes: ASCII only
        return
    try:
        start = await _first_start(ws)
    except ms.MediaStreamError as e:
        log.warning("media stream refused: %s", e)
        with contextlib.suppress(Exception):
            await ws.close(1003, str(e)[:120])
        return
    except (TimeoutError, WebSocketDisconnect, RuntimeError, KeyError):
        with contextlib.suppress(Exception):
            await ws.close(1008, "no start message")
        return
    leg = TwilioLeg(ws, start.stream_sid, start.sid_key)
    language = start.language or runtime.settings.greeting_language
    session = CallSession(
        services,
        CallStart(8000, "mulaw", language, start.caller_number, "media_stream", "mulaw-8k"),
        leg.send_json,
        leg.send_audio,
    )
    await session.open()
    log.info("media stream %s (call %s) is call %s", start.stream_sid, start.call_sid, session.call_id)
    reason, status = await _serve(ws, session, leg)
    await session.close(reason, status)
    with contextlib.suppress(Exception):
        await ws.close()


async def _serve(ws: WebSocket, session: CallSession, leg: TwilioLeg) -> tuple[str, str]:
    hangup = asyncio.create_task(session.hangup.wait())
    bad = 0
    try:
        while True:
            receive = asyncio.create_task(ws.receive())
            done, _ = await asyncio.wait({receive, hangup}, return_when=asyncio.FIRST_COMPLETED)
            if hangup in done:
                receive.cancel()
                with contextlib.suppress(TimeoutError):  # the goodbye plays out first
                    await asyncio.wait_for(leg.played.wait(), GOODBYE_DRAIN_S)
                return session.end_reason or "bot_ended", "ended"
            message = receive.result()
            if message["type"] == "websocket.disconnect":
                return "caller_dropped", "dropped"
            try:
                event = ms.parse(message.get("text") or message.get("bytes") or b"")
            except ms.MediaStreamError as e:
                bad += 1
                log.warning("call %s: bad media-stream message (%d): %s", session.call_id, bad, e)
                if bad >= MAX_BAD_MESSAGES:
                    return "protocol_error", "dropped"
                continue
            if isinstance(event, ms.Media):
                if event.track in ("inbound", "inbound_track"):
                    await session.audio(event.payload)
            elif isinstance(event, ms.Dtmf):
                await session.dtmf(event.digit)
            elif isinstance(event, ms.Mark):
                leg.mark_played(event.name)
            elif isinstance(event, ms.Stop):
                return "caller_hung_up", "ended"
    except WebSocketDisconnect:
        return "caller_dropped", "dropped"
    finally:
        hangup.cancel()


@router.get("/twilio/twiml", response_class=Response, operation_id="twilio_twiml_get")
@router.post("/twilio/twiml", response_class=Response, operation_id="twilio_twiml_post")
async def twilio_twiml(request: Request) -> Response:
    """TwiML for a provider's voice webhook: connect the call to this service's media stream,
    with the caller's number (the webhook's From) as a stream parameter. Point the number's
    "A call comes in" webhook here. ``?language=zh|en`` sets the greeting language."""
    form: dict[str, Any] = {}
    if request.method == "POST":
        with contextlib.suppress(Exception):
            form = dict(await request.form())
    caller = str(form.get("From") or request.query_params.get("From") or "")
    language = request.query_params.get("language", "")
    scheme = (
        "wss" if request.headers.get("x-forwarded-proto", request.url.scheme) in ("https", "wss") else "ws"
    )
    host = request.headers.get("x-forwarded-host") or request.headers.get("host") or request.url.netloc
    url = f"{scheme}://{host}{router.prefix}/twilio"
    params = {"caller": caller[:32], "language": language if language in ("zh", "en") else ""}
    return Response(ms.connect_stream_twiml(url, params), media_type="application/xml")
