"""SIGTERM drains an instance instead of cutting its calls (docs/scale-out.md).

On the first SIGTERM the runtime stops taking calls (the caller WebSocket refuses new ones with a
clear message and /health says ``draining``, so the load balancer sends callers elsewhere) while
live calls continue; the server exits once none is left or ``drain_timeout_s`` has passed (calls
still open then end as dropped, so their waiting emergencies become call-back tasks). A second
signal, or SIGINT, exits at once as before."""

from __future__ import annotations

import logging
import signal
import threading
import time
from types import FrameType

import uvicorn
from fastapi import FastAPI

from pipeline.runtime import Runtime

log = logging.getLogger(__name__)


class DrainingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI, drain_timeout_s: float) -> None:
        super().__init__(config)
        self.app = app
        self.drain_timeout_s = drain_timeout_s
        self._draining = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        runtime = getattr(self.app.state, "runtime", None)
        if sig != signal.SIGTERM or self._draining or runtime is None or self.drain_timeout_s <= 0:
            super().handle_exit(sig, frame)
            return
        self._draining = True
        runtime.drain()
        log.warning(
            "SIGTERM: draining; %d live calls may continue up to %.0f s, new calls are refused",
            runtime.live_call_count(),
            self.drain_timeout_s,
        )
        threading.Thread(target=self._exit_when_drained, args=(runtime,), daemon=True).start()

    def _exit_when_drained(self, runtime: Runtime) -> None:
        deadline = time.monotonic() + self.drain_timeout_s
        while time.monotonic() < deadline and runtime.live_call_count() > 0:
            time.sleep(0.2)
        log.warning("drained: exiting")
        self.should_exit = True  # a finished drain exits with status 0 (the signal is not re-raised)


def serve_draining(
    app: FastAPI, host: str, port: int, drain_timeout_s: float, log_level: str = "info"
) -> None:
    # ws_max_size: a WebSocket frame over 1 MiB is refused by the server before it is read into
    # memory (the caller WebSocket's own limit, TRIAGE_MAX_MESSAGE_KB, is far below it).
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, lifespan="on", ws_max_size=1 << 20
    )
    DrainingServer(config, app, drain_timeout_s).run()
