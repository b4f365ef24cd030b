"""The calls in progress in this process, so an agent's softphone or a supervisor's listen-in can
reach the call it is about. A process-local index: with several instances, a leg must reach the
instance that holds the call (issue #15 routes it)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.session import CallSession


class LiveCalls:
    def __init__(self) -> None:
        self._calls: dict[str, CallSession] = {}
        self._lock = threading.Lock()

    def add(self, session: CallSession) -> None:
        with self._lock:
            self._calls[session.call_id] = session

    def remove(self, call_id: str) -> None:
        with self._lock:
            self._calls.pop(call_id, None)

    def get(self, call_id: str) -> CallSession | None:
        with self._lock:
            return self._calls.get(call_id)

    def by_handoff(self, handoff_id: str) -> CallSession | None:
        with self._lock:
            return next((c for c in self._calls.values() if c.handoff_id == handoff_id), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)
