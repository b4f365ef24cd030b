from __future__ import annotations

from fastapi import HTTPException, Request

from pipeline.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime | None = getattr(request.app.state, "runtime", None)
    if runtime is None:
        raise HTTPException(503, "The service is still starting: models are loading.")
    return runtime
