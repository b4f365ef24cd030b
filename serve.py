"""The HTTP service: only wires routers; models load in the lifespan, never at import."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from api import health
from pipeline.runtime import Runtime
from pipeline.settings import get_settings


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    logging.basicConfig(level=logging.INFO)
    # Loading takes seconds; do it off the event loop so the process stays responsive.
    app.state.runtime = await anyio.to_thread.run_sync(Runtime.start, get_settings())
    yield


def create_app() -> FastAPI:
    app = FastAPI(
        title="hotline-triage",
        version="0.1.0",
        summary="Voice bot for public-service hotlines: answers routine questions, hands urgent calls on.",
        lifespan=lifespan,
    )
    app.include_router(health.router)
    return app


app = create_app()
