from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import get_runtime
from pipeline.runtime import Runtime

router = APIRouter(tags=["health"])


@router.get("/health")
def health(runtime: Annotated[Runtime, Depends(get_runtime)]) -> dict[str, Any]:
    """Liveness plus which models loaded (and why one did not)."""
    models = [
        {
            "role": s.role,
            "spec": s.spec,
            "location": s.location,
            "loaded": s.loaded,
            "load_s": round(s.load_s, 3),
            "error": s.error,
            "notes": list(s.notes),
        }
        for s in runtime.model_status
    ]
    ok = all(m["loaded"] for m in models) and runtime.session_services is not None
    return {
        "status": "ok" if ok else "degraded",
        "calls": _calls_state(runtime),
        "models": models,
    }


class ReadyOut(BaseModel):
    ready: bool
    calls: str
    """accepting / saturated: ... / draining: ... / disabled: ..."""


@router.get(
    "/ready",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "Send new calls elsewhere (see `calls`)"}},
)
def ready(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Any:
    """For a load balancer's health check: 200 while this instance takes new calls and its bot has
    room; 503 while models load, when the bot is at capacity, and from SIGTERM until exit
    (draining: live calls finish, new ones are refused). /health stays 200 for liveness."""
    calls = _calls_state(runtime)
    body = ReadyOut(ready=calls == "accepting", calls=calls)
    return body if body.ready else JSONResponse(body.model_dump(), status_code=503)


def _calls_state(runtime: Runtime) -> str:
    """accepting, saturated (the bot is at capacity: new callers wait for a person), draining
    (SIGTERM: live calls finish, new ones are refused), or disabled."""
    services = runtime.session_services
    if runtime.draining:
        return f"draining: {runtime.live_call_count()} calls finishing, no new calls"
    if services is None:
        return f"disabled: {runtime.calls_error}"
    admission = services.admission
    if admission is not None and admission.saturated:
        return f"saturated: {admission.active} of {admission.capacity} bot calls"
    return "accepting"
