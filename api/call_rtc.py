"""Caller side over WebRTC: the web caller page (/call/) talks to the bot from a browser.

``POST /v1/calls/rtc`` takes the browser's SDP offer (microphone track + an "events" data channel)
and returns the answer; the call then runs like a caller WebSocket call (api/calls.py): the
microphone goes to the call session as PCM16 16 kHz, the bot's voice comes back on the audio track,
and the session's events (partial, final, bot_text, handoff, hangup, ended...) go over the data
channel, which also takes the caller's messages: ``{"type": "text", "text": ..., "language": ...}``
for a typed turn, ``{"type": "rating", "value": 1..5}`` and ``{"type": "hangup"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from api.deps import get_runtime
from pipeline.input_limits import InputRejected, check_rating, check_text_turn
from pipeline.runtime import Runtime
from pipeline.session import CallSession, CallStart
from transport.webrtc import RtcOfferError, RtcPeer

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/calls", tags=["calls"])

GOODBYE_DRAIN_S = 15.0
"""When the bot ends the call, how long its last words may still play before the line closes."""
ENDED_GRACE_S = 2.0
"""After "ended" is sent, how long the page has to close its side before the service does."""

_live: set[asyncio.Task[None]] = set()
"""The running calls' lifecycle tasks (kept referenced so they are not collected mid-call)."""


class RtcOffer(BaseModel):
    """The browser's offer: ``pc.localDescription`` once ICE gathering is complete."""

    sdp: str = Field(min_length=1, max_length=200_000)
    type: Literal["offer"]
    language: Literal["zh", "en"] | None = None
    """Greeting language; None uses the deployment's TRIAGE_GREETING_LANGUAGE."""
    caller_number: str | None = Field(None, max_length=32)


class RtcAnswerOut(BaseModel):
    sdp: str
    type: Literal["answer"]
    call_id: str


@router.post(
    "/rtc",
    response_model=RtcAnswerOut,
    summary="Start a call from a browser over WebRTC",
    responses={
        400: {"description": "The offer cannot be answered"},
        503: {"description": "Not ready, or draining (SIGTERM)"},
    },
)
async def start_rtc_call(offer: RtcOffer, runtime: Annotated[Runtime, Depends(get_runtime)]) -> RtcAnswerOut:
    """Answer a browser's WebRTC offer (non-trickle: the answer carries every ICE candidate) and start
    the call. Audio: the microphone track in, the bot's voice out. Events: the "events" data channel,
    one JSON object per message, the same events as the caller WebSocket."""
    services = runtime.services_for_new_call()
    if services is None:  # models not loaded, or SIGTERM is draining this instance
        raise HTTPException(503, runtime.refusal())
    peer = RtcPeer()
    try:
        answer = await peer.accept(offer.sdp, offer.type)
    except RtcOfferError as e:
        raise HTTPException(400, f"Bad WebRTC offer: {e}") from e

    async def send_json(payload: dict[str, Any]) -> None:
        if payload.get("type") == "playback_stopped":
            peer.clear_audio()  # barge-in: what the browser has not heard yet is dropped now
        await peer.send_json(payload)

    session = CallSession(
        services,
        CallStart(
            16000,
            "pcm16",
            offer.language or runtime.settings.greeting_language,
            offer.caller_number,
            "web",
            "pcm16-16k",
        ),
        send_json,
        peer.send_audio,
    )
    hangup_asked = asyncio.Event()
    peer.on_audio = session.audio
    peer.on_json = lambda message: _on_message(message, session, peer, hangup_asked)
    try:
        call_id = await session.open()
    except Exception:
        await peer.close("session_failed")
        with contextlib.suppress(Exception):
            await session.close("internal_error", "dropped", drain=False)
        raise
    task = asyncio.create_task(_run(session, peer, hangup_asked), name=f"rtc-call-{call_id}")
    _live.add(task)
    task.add_done_callback(_live.discard)
    return RtcAnswerOut(sdp=answer.sdp, type="answer", call_id=call_id)


async def _on_message(
    message: dict[str, Any], session: CallSession, peer: RtcPeer, hangup_asked: asyncio.Event
) -> None:
    kind = message.get("type")
    if kind == "hangup":
        hangup_asked.set()
    elif kind == "text":
        lang = message.get("language", "en")
        if lang not in ("zh", "en"):
            await _error(peer, "bad_text", "A text turn needs text and language zh or en.")
            return
        try:
            await session.typed(check_text_turn(message.get("text"), session.ctx.services.limits), lang)
        except InputRejected as e:
            await _error(peer, e.code, str(e))
    elif kind == "rating":
        try:
            value = check_rating(message.get("value"))
            await session.rate(value)
        except ValueError as e:
            await _error(peer, "bad_rating", str(e))
            return
        await peer.send_json({"type": "rated", "value": value})
    else:
        await _error(peer, "unknown_type", f"Unknown message type {kind!r}: use hangup, rating or text.")


async def _error(peer: RtcPeer, code: str, message: str) -> None:
    await peer.send_json({"type": "error", "code": code, "message": message})


async def _run(session: CallSession, peer: RtcPeer, hangup_asked: asyncio.Event) -> None:
    """One call from open to close: whoever ends it (caller, bot, a dropped line), the records close."""
    ends = {
        asyncio.create_task(peer.closed.wait()): "dropped",
        asyncio.create_task(hangup_asked.wait()): "caller",
        asyncio.create_task(session.hangup.wait()): "bot",
    }
    reason, status = "caller_dropped", "dropped"
    try:
        done, _ = await asyncio.wait(ends, return_when=asyncio.FIRST_COMPLETED)
        who = next(ends[t] for t in ends if t in done)
        if who == "caller":
            reason, status = "caller_hung_up", "ended"
            peer.clear_audio()
        elif who == "bot":
            reason, status = session.end_reason or "bot_ended", "ended"
    finally:
        for t in ends:
            t.cancel()
        try:
            await session.close(reason, status)
        finally:
            await _hang_up(session, peer, reason, drain=status == "ended" and reason != "caller_hung_up")


async def _hang_up(session: CallSession, peer: RtcPeer, reason: str, drain: bool) -> None:
    if not peer.closed.is_set():
        if drain:
            await peer.drain(GOODBYE_DRAIN_S)
        await peer.send_json({"type": "ended", "call_id": session.call_id, "reason": reason})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(peer.closed.wait(), ENDED_GRACE_S)
    await peer.close("call_ended")
    log.info("web call %s ended: %s (%s)", session.call_id, reason, peer.close_reason)
