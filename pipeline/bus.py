"""In-process publish/subscribe between call sessions and connected agent consoles.

Publishing never blocks a call: each subscriber has a bounded queue, and a subscriber that
falls behind loses its oldest messages (it re-reads the queue over REST on reconnect) rather
than slowing the caller down. Thread-safe: call sessions publish from worker threads.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BusMessage:
    topic: str
    """handoff.created, handoff.updated, transcript.appended, queue.changed, call.ended, ..."""
    data: dict[str, Any] = field(default_factory=dict)
    origin: str | None = None
    """The instance that published it (pipeline/shared_bus.py); None: this process."""


class Subscription:
    def __init__(self, loop: asyncio.AbstractEventLoop, maxsize: int) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[BusMessage] = asyncio.Queue(maxsize)

    def _put(self, message: BusMessage) -> None:
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(message)

    async def get(self) -> BusMessage:
        return await self.queue.get()


class EventBus:
    def __init__(self, maxsize: int = 1000, instance_id: str = "") -> None:
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()
        self._maxsize = maxsize
        self.instance_id = instance_id

    def publish(self, topic: str, **data: Any) -> None:
        self.deliver(BusMessage(topic, data))

    def is_local(self, message: BusMessage) -> bool:
        """Published by this process (watches that act on an event act on their own instance's only)."""
        return message.origin is None or message.origin == self.instance_id

    def close(self) -> None:
        """Nothing to release in process; the shared bus stops its listener."""

    def deliver(self, message: BusMessage) -> None:
        """Hand ``message`` to every subscriber of this process (from any thread)."""
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            if sub.loop.is_closed():
                continue
            try:
                sub.loop.call_soon_threadsafe(sub._put, message)
            except RuntimeError:  # loop closed between the check and the call
                continue

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        sub = Subscription(asyncio.get_running_loop(), self._maxsize)
        with self._lock:
            self._subs.add(sub)
        try:
            yield sub
        finally:
            with self._lock:
                self._subs.discard(sub)
