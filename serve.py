"""The HTTP service: only wires routers; models load in the lifespan, never at import."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI

from api import agent_stream, agents, callbacks, callers, calls, health, metrics, recordings, workorders
from api.body_limit import JsonBodyLimit, settings_limit
from api.call_rtc import router as call_rtc_router
from api.console import mount_console
from api.errors import install_error_handlers
from api.incidents import router as incidents_router
from api.kb_corrections import router as kb_corrections_router
from api.openapi_doc import install_honest_openapi
from api.privacy import router as privacy_router
from api.reports import router as reports_router
from api.review import router as review_router
from api.softphone import router as softphone_router
from api.staffing import router as staffing_router
from api.telephony import router as telephony_router
from api.workorder_followup import router as followup_router
from core.redaction import install_log_redaction
from core.settings import get_settings
from pipeline.callbacks import CallbackWatch
from pipeline.runtime import Runtime
from pipeline.workorder_followup import FollowUpWatch
from transport.audiosocket_server import start_audiosocket
from transport.sip.lifecycle import start_sip


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    logging.basicConfig(level=logging.INFO)
    install_log_redaction()  # tokens and personal numbers never reach the log (docs/security.md)
    started_here = getattr(app.state, "runtime", None) is None  # create_app(runtime) brings its own (tests)
    if started_here:
        # Loading takes seconds; do it off the event loop so the process stays responsive.
        app.state.runtime = await anyio.to_thread.run_sync(Runtime.start, get_settings())
    runtime: Runtime = app.state.runtime
    watch = asyncio.create_task(
        CallbackWatch(runtime.store, runtime.bus, runtime.settings.emergency_accept_timeout_s).run()
    )
    followup = (
        asyncio.create_task(FollowUpWatch(runtime.followup, runtime.settings.followup_sweep_s).run())
        if runtime.followup is not None
        else None
    )
    sip = await start_sip(runtime)  # phone calls from a PBX or SIP trunk when TRIAGE_SIP_ENABLED
    app.state.sip = sip
    audiosocket = await start_audiosocket(runtime)  # Asterisk AudioSocket() when TRIAGE_AUDIOSOCKET_PORT
    app.state.audiosocket = audiosocket
    yield
    if audiosocket is not None:
        await audiosocket.stop()
    if sip is not None:
        await sip.stop()
    if followup is not None:
        followup.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await followup
    watch.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watch
    if started_here:
        app.state.runtime.close()
        app.state.runtime = None


def create_app(runtime: Runtime | None = None) -> FastAPI:
    """``runtime``: an already started Runtime to serve (tests start one without speech models)."""
    app = FastAPI(
        title="hotline-triage",
        version="0.1.0",
        summary="Voice bot for public-service hotlines: answers routine questions, hands urgent calls on.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    app.include_router(health.router)
    for module in (calls, agents, callbacks, agent_stream, workorders, callers, recordings, metrics):
        app.include_router(module.router)
    app.include_router(softphone_router)
    app.include_router(call_rtc_router)
    app.include_router(telephony_router)
    for router in (incidents_router, staffing_router, followup_router):  # supervisors (docs/supervisors.md)
        app.include_router(router)
    app.include_router(kb_corrections_router)
    app.include_router(reports_router)
    app.include_router(review_router)
    app.include_router(privacy_router)  # disable/rotate agents, forget a caller (docs/security.md)
    install_honest_openapi(app)
    app.add_middleware(JsonBodyLimit, limit_of=settings_limit)  # TRIAGE_MAX_JSON_KB
    mount_console(app)
    return app


app = create_app()
