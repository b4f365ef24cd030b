"""How many callers the bot serves at once, and what happens to the next one.

On two cores a handful of callers get a sub-second answer; more make everyone wait (the decoder
is shared). Beyond ``capacity`` a caller is not served by the bot at the others' expense: they
hear a short "all lines are busy" in their language and wait for a person (or a call-back), while
their first words are still screened for danger so an emergency jumps the queue. /health and
/metrics say the service is saturated, so a load balancer can send calls elsewhere.
"""

from __future__ import annotations

import os
import threading

from pipeline import metrics

CALLS_PER_CORE = 4
"""Measured with `triage bench e2e --capacity 16` on the 2-core machine (2026-12-01), callers who
stop speaking at the same moment, their finals decoded as one batch: 8 got voice-to-voice p95
1.15-1.18 s, 12 got 1.55-1.59 s, 16 got 1.89-1.92 s. Four per core keeps every admitted caller
under the 1.5 s target; the rest are deferred rather than slowed. (Before the finals of a burst
waited for each other, 2026-11-30: 8 got 1.45-1.85 s, and this was 2.) The bench's questions are
short (1.5-2.8 s); a batch of eight real short requests decodes 0.25-0.45 s slower (`triage bench
asr-batch`). A deployment that accepts more, or fewer, sets TRIAGE_MAX_BOT_CALLS."""


def auto_capacity(cpu_count: int | None = None) -> int:
    """Bot calls one machine serves within the latency target when nothing is configured."""
    cores = cpu_count if cpu_count is not None else (os.cpu_count() or 1)
    return max(1, CALLS_PER_CORE * cores)


class Admission:
    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1 bot call, got {capacity}")
        self.capacity = capacity
        self._active = 0
        self._lock = threading.Lock()
        metrics.BOT_CAPACITY.set(capacity)

    @property
    def active(self) -> int:
        return self._active

    @property
    def saturated(self) -> bool:
        return self._active >= self.capacity

    def try_admit(self) -> bool:
        """True and counted when the bot can take one more call; False when it is full."""
        with self._lock:
            if self._active >= self.capacity:
                metrics.CALLS_DEFERRED.inc()
                return False
            self._active += 1
            metrics.BOT_CALLS.set(self._active)
            metrics.SATURATED.set(int(self._active >= self.capacity))
            return True

    def release(self) -> None:
        with self._lock:
            self._active = max(0, self._active - 1)
            metrics.BOT_CALLS.set(self._active)
            metrics.SATURATED.set(int(self._active >= self.capacity))
