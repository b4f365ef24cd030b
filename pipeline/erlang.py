"""Queueing formulas for staffing: Erlang C (callers wait forever) and Erlang A (callers give up).

Pure functions, no I/O. Units: rates per second, times in seconds.

- Erlang C, the M/M/n queue: ``A = λ·AHT`` Erlangs offered to ``n`` agents; the chance a caller
  waits ``C(n, A)``; service level ``SL(t) = 1 - C·exp(-(n - A)·t/AHT)``; average speed of answer
  ``ASA = C·AHT/(n - A)``. Defined only for ``n > A``.
- Erlang A, the M/M/n+M queue (Palm; Garnett, Mandelbaum and Reiman 2002): the same with callers
  who hang up after an exponential patience of mean ``patience_s``. Solved exactly as a birth-death
  chain (truncated where the tail mass is negligible); always stable, so it gives sensible staffing
  when offered load exceeds the agents. Service level here is the share of *all* offered callers
  answered within ``t`` (abandoned callers count as missed), the definition most centres report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def erlang_b(n: int, a: float) -> float:
    """Blocking probability of ``n`` servers offered ``a`` Erlangs (stable recurrence)."""
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(n: int, a: float) -> float:
    """Probability an arriving caller has to wait, ``n`` agents, ``a`` Erlangs; 1.0 when n <= a."""
    if n <= a:
        return 1.0
    b = erlang_b(n, a)
    return n * b / (n - a * (1 - b))


@dataclass(frozen=True)
class Staffing:
    """Performance of ``agents`` agents against a load (one half hour, say)."""

    agents: int
    erlangs: float
    wait_probability: float
    service_level: float
    """Share of offered callers answered within the target time."""
    asa_s: float
    """Average speed of answer over all answered callers, seconds."""
    abandon_rate: float = 0.0
    """Share of offered callers who hang up waiting (Erlang A only)."""
    occupancy: float = 0.0
    mean_wait_s: float = 0.0
    """Mean time in the queue over every offered caller, answered or not (Little's law: mean queue
    length / arrival rate); equal to the ASA under Erlang C, where nobody leaves."""


def erlang_c_staffing(agents: int, calls: float, period_s: float, aht_s: float, target_s: float) -> Staffing:
    a = calls * aht_s / period_s
    if agents <= a:
        return Staffing(agents, a, 1.0, 0.0, math.inf, 0.0, 1.0, math.inf)
    c = erlang_c(agents, a)
    sl = 1.0 - c * math.exp(-(agents - a) * target_s / aht_s)
    asa = c * aht_s / (agents - a)
    return Staffing(agents, a, c, sl, asa, 0.0, a / agents, asa)


def erlang_a_staffing(
    agents: int, calls: float, period_s: float, aht_s: float, target_s: float, patience_s: float
) -> Staffing:
    """M/M/n+M: exact stationary distribution of the number of callers in the system."""
    lam, mu, theta = calls / period_s, 1.0 / aht_s, 1.0 / patience_s
    n = agents
    a = lam / mu
    # p_k ∝ prod of lam / death_rate(j); the queue part decays once n·mu + j·theta > lam.
    logs = [0.0]
    k = 0
    while True:
        k += 1
        death = min(k, n) * mu + max(k - n, 0) * theta
        logs.append(logs[-1] + math.log(lam / death))
        if k > n + 10 and logs[-1] < max(logs) - 40:
            break
    arr = np.array(logs)
    p = np.exp(arr - arr.max())
    p /= p.sum()
    if n == 0:
        return Staffing(0, a, 1.0, 0.0, math.inf, 1.0, 0.0)
    wait_prob = float(p[n:].sum())
    queue = np.arange(len(p)) - n
    # Abandonment rate = theta * E[queue length] / lam (each waiting caller leaves at rate theta).
    mean_queue = float((p[n:] * queue[n:]).sum())
    abandon = theta * mean_queue / lam
    # A caller arriving with j ahead in the queue moves up at rate n·mu + i·theta while i are ahead
    # and is answered after j+1 such steps, unless their own patience (rate theta) runs out first.
    depth = len(p) - n
    served_by_t = _answered_within(depth, n * mu, theta, target_s)
    step = np.array([1.0 / (n * mu + i * theta + theta) for i in range(depth)])
    stay = np.array([(n * mu + i * theta) / (n * mu + i * theta + theta) for i in range(depth)])
    served = np.cumprod(stay)  # served[j]: answered at all, starting with j ahead
    wait_if = served * np.cumsum(step)  # E[wait · 1{answered}] starting with j ahead
    sl = float(p[:n].sum() + (p[n:] * served_by_t).sum())
    answered = 1.0 - abandon
    asa = float((p[n:] * wait_if).sum()) / answered if answered > 0 else math.inf
    busy = float((p * np.minimum(np.arange(len(p)), n)).sum())
    return Staffing(n, a, wait_prob, sl, asa, abandon, busy / n, mean_queue / lam)


def _answered_within(depth: int, service_rate: float, theta: float, t: float) -> np.ndarray:
    """For each number ahead j < depth: the chance a waiting caller is answered within ``t``.

    States 0..depth-1 are 'i callers ahead'; i -> i-1 at ``service_rate + i·theta`` (0 -> answered
    at ``service_rate``); every state -> gone at ``theta``. One matrix exponential gives every start."""
    from scipy.linalg import expm

    answered = depth
    q = np.zeros((depth + 2, depth + 2))
    for i in range(depth):
        move = service_rate + i * theta
        q[i, i - 1 if i > 0 else answered] = move
        q[i, depth + 1] = theta
        q[i, i] = -(move + theta)
    return np.asarray(expm(q * t)[:depth, answered])


def agents_needed(
    calls: float,
    period_s: float,
    aht_s: float,
    target_s: float,
    service_level: float,
    patience_s: float | None = None,
    max_agents: int = 2000,
) -> Staffing:
    """The fewest agents reaching ``service_level`` within ``target_s``: Erlang A when a mean
    patience is given, else Erlang C. Zero calls need zero agents."""
    if calls <= 0:
        return Staffing(0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0)
    a = calls * aht_s / period_s
    start = max(1, math.floor(a) + 1) if patience_s is None else 1
    for n in range(start, max_agents + 1):
        if patience_s is None:
            s = erlang_c_staffing(n, calls, period_s, aht_s, target_s)
        else:
            s = erlang_a_staffing(n, calls, period_s, aht_s, target_s, patience_s)
        if s.service_level >= service_level:
            return s
    raise ValueError(f"{calls} calls need more than {max_agents} agents for that service level")
