"""Caller side: the live WebSocket and the recorded-call upload."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, UploadFile, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field, ValidationError, model_validator

from api.auth import upload_client
from api.deps import get_runtime
from pipeline.input_limits import (
    InputRejected,
    check_message_size,
    check_rating,
    check_text_turn,
    check_upload_audio,
    limits_from_settings,
    wav_header,
)
from pipeline.keypad import KEYS
from pipeline.runtime import NOT_READY, Runtime
from pipeline.session import CallSession, CallStart

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/calls", tags=["calls"])

OUTPUT_FORMATS = ("pcm16-16k", "pcm16-8k", "mulaw-8k", "pcm16-22k")


class StartMessage(BaseModel):
    """The first WebSocket message of a call."""

    type: Literal["start"]
    sample_rate: Literal[8000, 16000] = 16000
    encoding: Literal["pcm16", "mulaw"] = "pcm16"
    language: Literal["zh", "en"] | None = None
    """Greeting language; None uses the deployment's TRIAGE_GREETING_LANGUAGE."""
    caller_number: str | None = Field(None, max_length=32)
    output_format: Literal["pcm16-16k", "pcm16-8k", "mulaw-8k", "pcm16-22k"] = "pcm16-16k"

    @model_validator(mode="after")
    def _mulaw_is_8k(self) -> StartMessage:
        if self.encoding == "mulaw" and self.sample_rate != 8000:
            raise ValueError("mu-law audio is 8000 Hz; send sample_rate 8000 or encoding pcm16")
        return self


class TriageResult(BaseModel):
    call_id: str
    transcript: list[dict[str, Any]]
    decisions: list[dict[str, Any]]
    handoff_id: str | None
    events: list[dict[str, Any]]


async def _reject(ws: WebSocket, message: str, code: int = 1003) -> None:
    with contextlib.suppress(Exception):
        await ws.send_json({"type": "error", "message": message})
        await ws.close(code)


@router.websocket("/stream")
async def call_stream(ws: WebSocket) -> None:
    """A live call. Protocol: see README "Caller WebSocket protocol"."""
    await ws.accept()
    runtime: Runtime | None = getattr(ws.app.state, "runtime", None)
    if runtime is None:
        await _reject(ws, NOT_READY, 1013)
        return
    services = runtime.services_for_new_call()
    if services is None:  # loading, or SIGTERM is draining this instance
        await _reject(ws, runtime.refusal(), 1013)
        return
    try:
        first = await asyncio.wait_for(ws.receive(), timeout=10)
        text = first.get("text")
        if text is None:
            raise ValueError("the first message must be the JSON start message, not audio")
        start = StartMessage.model_validate(json.loads(text))
    except (ValidationError, ValueError) as e:
        await _reject(ws, f"Bad start message: {e}")
        return
    except (TimeoutError, WebSocketDisconnect):
        await _reject(ws, "No start message within 10 s.", 1008)
        return

    greeting: str = start.language or runtime.settings.greeting_language
    limits = limits_from_settings(runtime.settings)
    send_lock = asyncio.Lock()

    async def send_json(payload: dict[str, Any]) -> None:
        async with send_lock:
            with contextlib.suppress(Exception):  # a dropped socket must not break the call's records
                await ws.send_json(payload)

    async def send_audio(data: bytes) -> None:
        async with send_lock:
            with contextlib.suppress(Exception):
                await ws.send_bytes(data)

    session = CallSession(
        services,
        CallStart(
            start.sample_rate,
            start.encoding,
            greeting,
            start.caller_number,
            "stream",
            start.output_format,
        ),
        send_json,
        send_audio,
    )
    await session.open()
    reason, status = "caller_hung_up", "ended"
    hangup_wait = asyncio.create_task(session.hangup.wait())
    try:
        while True:
            receive = asyncio.create_task(ws.receive())
            done, _ = await asyncio.wait({receive, hangup_wait}, return_when=asyncio.FIRST_COMPLETED)
            if hangup_wait in done:
                receive.cancel()
                reason = session.end_reason or "bot_ended"
                break
            message = receive.result()
            if message["type"] == "websocket.disconnect":
                reason, status = "caller_dropped", "dropped"
                break
            raw: bytes | str = (
                message["bytes"] if message.get("bytes") is not None else message.get("text") or ""
            )
            try:
                check_message_size(len(raw), limits)
            except InputRejected as e:
                await send_json({"type": "error", "code": e.code, "message": str(e)})
                continue
            if isinstance(raw, bytes):
                await session.audio(raw)
                continue
            try:
                control = json.loads(raw)
            except (json.JSONDecodeError, RecursionError):
                await send_json(
                    {"type": "error", "message": 'Text messages must be JSON, e.g. {"type": "hangup"}.'}
                )
                continue
            kind = control.get("type") if isinstance(control, dict) else None
            if kind == "hangup":
                break
            if kind == "text":
                lang = control.get("language", "en")
                if lang not in ("zh", "en"):
                    await send_json(
                        {"type": "error", "message": "A text turn needs text and language zh or en."}
                    )
                    continue
                try:
                    await session.typed(check_text_turn(control.get("text"), limits), lang)
                except InputRejected as e:
                    await send_json({"type": "error", "code": e.code, "message": str(e)})
                continue
            if kind == "rating":
                try:
                    value = check_rating(control.get("value"))
                    await session.rate(value)
                    await send_json({"type": "rated", "value": value})
                except ValueError as e:
                    await send_json({"type": "error", "code": "bad_rating", "message": f"Bad rating: {e}"})
                continue
            if kind == "dtmf":
                digit = control.get("digit")
                if not isinstance(digit, str) or len(digit) != 1 or digit.upper() not in KEYS:
                    await send_json(
                        {"type": "error", "message": f"Bad dtmf digit {digit!r}: one of 0-9 * # A-D."}
                    )
                    continue
                await session.dtmf(digit.upper())
                continue
            await send_json(
                {
                    "type": "error",
                    "message": f"Unknown message type {kind!r}: use hangup, text, dtmf or rating.",
                }
            )
    except WebSocketDisconnect:
        reason, status = "caller_dropped", "dropped"
    finally:
        hangup_wait.cancel()
        await session.close(reason, status)
        await send_json({"type": "ended", "call_id": session.call_id, "reason": reason})
        with contextlib.suppress(Exception):
            await ws.close()


def probe_audio(data: bytes) -> tuple[int | None, float | None]:
    """Declared sample rate and length from the file's header, without decoding (None: unknown)."""
    header = wav_header(data)
    if header is not None:
        return header
    import io

    import soundfile

    try:
        info = soundfile.info(io.BytesIO(data))
    except Exception:  # not a format libsndfile reads: FFmpeg decodes it straight to 16 kHz
        return None, None
    return int(info.samplerate), float(info.duration)


@router.post("/upload", response_model=TriageResult, summary="Triage a recorded call")
async def upload_call(
    file: UploadFile,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    _client: Annotated[str, Depends(upload_client)],
    language: Literal["zh", "en"] = "en",
    caller_number: Annotated[str | None, Query(max_length=32)] = None,
) -> TriageResult:
    """Run a recorded call (wav, flac, mp3, mu-law wav) through the bot as if it were live, faster
    than real time, and return what it heard and decided. The call is recorded like a live one."""
    from asr.audio import AudioDecodeError, load_audio
    from core.codec import float_to_pcm16_bytes

    limit = runtime.settings.max_upload_mb * 1024 * 1024
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(
            413, f"Upload larger than {runtime.settings.max_upload_mb} MB (TRIAGE_MAX_UPLOAD_MB)."
        )
    try:
        check_upload_audio(
            *await asyncio.to_thread(probe_audio, data), limits_from_settings(runtime.settings)
        )
        samples = await asyncio.to_thread(load_audio, data)
        check_upload_audio(None, len(samples) / 16000, limits_from_settings(runtime.settings))
    except InputRejected as e:
        raise HTTPException(e.status, str(e)) from e
    except AudioDecodeError as e:
        raise HTTPException(422, f"Could not read the audio: {e}") from e
    services = runtime.services_for_new_call()
    if services is None:  # models not loaded, or SIGTERM is draining this instance
        raise HTTPException(503, runtime.refusal())
    events: list[dict[str, Any]] = []

    async def collect(payload: dict[str, Any]) -> None:
        events.append(payload)

    async def drop_audio(_: bytes) -> None:
        return None

    session = CallSession(
        services, CallStart(16000, "pcm16", language, caller_number, "upload"), collect, drop_audio
    )
    call_id = await session.open()
    pcm = float_to_pcm16_bytes(samples)
    step = 16000 * 2 // 5  # 200 ms frames
    for i in range(0, len(pcm), step):
        await session.audio(pcm[i : i + step])
    # Trailing silence so the last utterance reaches its end of speech.
    await session.audio(b"\x00\x00" * 16000 * 2)
    await session.close("upload_complete")
    call = await asyncio.to_thread(runtime.store.get_call, call_id)
    return TriageResult(
        call_id=call_id,
        transcript=[{"speaker": u.speaker, "text": u.text, "language": u.language} for u in call.utterances],
        decisions=[
            {"action": d.action, "reason": d.reason, "urgency": d.urgency, "topic": d.topic}
            for d in call.decisions
        ],
        handoff_id=session.handoff_id,
        events=[e for e in events if e.get("type") not in ("partial",)],
    )
