"""Call recordings for the agent console: the caller's, the bot's and the agents' audio as WAV."""

from __future__ import annotations

import io
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import FileResponse, Response

from api.auth import CurrentAgent, StoreDep, check_may_see_call
from api.deps import get_runtime
from pipeline.retention import resolve_recording
from pipeline.runtime import Runtime

router = APIRouter(prefix="/v1/calls", tags=["recordings"])


@router.get(
    "/{call_id}/recordings/{track}",
    summary="Play a call's caller, bot or agent audio (WAV)",
    response_class=FileResponse,
    responses={
        200: {"content": {"audio/wav": {}}, "description": "The recording, 16-bit PCM WAV."},
        403: {"description": "The call has no handoff you may see."},
        404: {"description": "Unknown call, or no recording of that track (never kept, or purged)."},
    },
)
def recording(
    call_id: str,
    track: Literal["caller", "bot", "agent"],
    agent: CurrentAgent,
    store: StoreDep,
    runtime: Annotated[Runtime, Depends(get_runtime)],
) -> Response:
    """Supports HTTP range requests, so the console's player can seek."""
    check_may_see_call(store, agent, call_id)
    call = store.get_call(call_id)
    stored = {"caller": call.caller_audio_path, "bot": call.bot_audio_path, "agent": call.agent_audio_path}[
        track
    ]
    if not stored:
        raise HTTPException(
            404, f"Call {call_id} has no {track} recording (not kept, or purged by retention)."
        )
    path = resolve_recording(runtime.settings, stored)
    if not path.is_file():
        raise HTTPException(404, f"The {track} recording of call {call_id} is missing from the file store.")
    if path.suffix.lower() == ".wav":
        return FileResponse(path, media_type="audio/wav", filename=f"{call_id}-{track}.wav")
    import soundfile as sf  # other containers (flac, ogg) are converted for the browser

    data, rate = sf.read(str(path), dtype="int16")
    buf = io.BytesIO()
    sf.write(buf, data, rate, format="WAV", subtype="PCM_16")
    return Response(buf.getvalue(), media_type="audio/wav")
