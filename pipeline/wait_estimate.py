"""The waiting caller's estimated wait: pure arithmetic, no I/O (pipeline/waiting.py reads the inputs).

The model is deliberately simple, so an agent can check it in their head:

- ``free`` agents who could take the call are idle now: the first ``free`` callers are next.
- Every other able agent (``busy``) is on average halfway through a call of ``mean_handle_s``.
- The caller at ``position`` behind the free agents waits for ``k = position - free`` calls to
  finish across ``able = free + busy`` agents: ``ceil(k / able)`` rounds, the first of which is half
  a call long (the agents are mid-call), each later one a whole call.

Spoken as whole minutes, never "0": "about 1 minute" is the shortest promise the bot makes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

DEFAULT_HANDLE_S = 240.0
"""Mean handle time before any handoff has been resolved: 4 minutes."""
RECENT_HANDOFFS = 50
"""How many of the most recently resolved handoffs the mean handle time is taken over."""


def mean_handle_s(durations_s: Iterable[float], default_s: float = DEFAULT_HANDLE_S) -> float:
    """Mean of the agents' handle times (accepted → resolved, in seconds); ``default_s`` when there
    are none. Non-positive durations (clock skew, a handoff resolved without being accepted) are skipped."""
    values = [d for d in durations_s if d > 0]
    return sum(values) / len(values) if values else default_s


def estimate_wait_s(position: int, free: int, busy: int, handle_s: float) -> float | None:
    """Seconds until an agent takes the caller at 1-based ``position``; None when no signed-in agent
    could take them (``free + busy == 0``), for then no estimate is honest."""
    if position < 1:
        raise ValueError(f"A queue position is 1 or more, got {position}.")
    able = free + busy
    if able <= 0:
        return None
    ahead = position - free
    if ahead <= 0:
        return 0.0
    rounds = math.ceil(ahead / able)
    return (rounds - 0.5) * handle_s


def spoken_minutes(wait_s: float) -> int:
    """Whole minutes for speech, at least 1 ("about 1 minute", never "about 0 minutes")."""
    return max(1, math.floor(wait_s / 60 + 0.5))
