"""Who may sign in, from where, how often (docs/security.md).

- Failed sign-ins are counted per client address; past ``signin_max_failures`` within
  ``signin_window_s`` that address gets 429 with Retry-After until the window has passed. The count
  lives in this process (each instance of a scale-out counts its own; the load balancer's sticky
  address hashing keeps one client on one instance).
- The agents' WebSocket takes its token from the ``token.<token>`` subprotocol (browsers may set
  Sec-WebSocket-Protocol but no other header) or from a first ``{"type": "auth", "token": ...}``
  message, never from the URL, which access logs keep.
- A browser page may open the agents' WebSocket only from the service's own origin or one listed
  in ``allowed_origins``; clients that send no Origin (not browsers) are not checked.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from fastapi import WebSocket

SUBPROTOCOL = "triage.v1"
TOKEN_PREFIX = "token."


class FailedSignins:
    """Sliding-window count of failed sign-ins per client address. Thread-safe, no I/O."""

    def __init__(self, max_failures: int = 10, window_s: float = 60.0) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.setdefault(client, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def failed(self, client: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        with self._lock:
            self._recent(client, now).append(now)
            if len(self._failures) > 10_000:  # forget quiet addresses so the table stays small
                for key in [k for k, v in self._failures.items() if not v or v[-1] <= now - self.window_s]:
                    del self._failures[key]

    def retry_after(self, client: str, now: float | None = None) -> int:
        """Seconds this address must wait before it may try again; 0 when it may try now."""
        now = time.monotonic() if now is None else now
        with self._lock:
            times = self._recent(client, now)
            if len(times) < self.max_failures:
                return 0
            return max(1, math.ceil(times[-self.max_failures] + self.window_s - now))


def signin_guard(app: Any, settings: Any) -> FailedSignins:
    """The app's one counter (created on first use with the settings' limits)."""
    guard: FailedSignins | None = getattr(app.state, "signin_guard", None)
    if guard is None:
        guard = FailedSignins(settings.signin_max_failures, settings.signin_window_s)
        app.state.signin_guard = guard
    return guard


def ws_token_from_subprotocols(offered: Sequence[str]) -> tuple[str | None, str | None]:
    """(subprotocol to accept with, token) from the offered Sec-WebSocket-Protocol values."""
    token = next((p[len(TOKEN_PREFIX) :] for p in offered if p.startswith(TOKEN_PREFIX)), None)
    accept = SUBPROTOCOL if SUBPROTOCOL in offered else None
    return accept, token


async def first_message_token(ws: WebSocket, timeout_s: float = 10.0) -> str | None:
    """The token of a first ``{"type": "auth", "token": ...}`` message; None for anything else."""
    try:
        message = await asyncio.wait_for(ws.receive(), timeout_s)
    except TimeoutError:
        return None
    text = message.get("text")
    if not text or len(text) > 4096:
        return None
    try:
        payload = json.loads(text)
    except json.JSONDecodeError:
        return None
    if isinstance(payload, dict) and payload.get("type") == "auth" and isinstance(payload.get("token"), str):
        return str(payload["token"])
    return None


def origin_allowed(headers: Mapping[str, str], allowed: Sequence[str]) -> bool:
    """No Origin (not a browser), the service's own origin, or one listed in ``allowed``."""
    origin = headers.get("origin")
    if not origin:
        return True
    if "*" in allowed or origin.rstrip("/") in {a.rstrip("/") for a in allowed}:
        return True
    return urlsplit(origin).netloc.lower() == (headers.get("host") or "").lower()
