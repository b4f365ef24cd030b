"""Simultaneous callers, each streaming a question in real time and finishing at the same moment.

For each number of callers (1, 2, 4, 8, 12, 16 by default) this reports, from outside the
service: voice-to-voice p50/p95 of the callers the bot served, first-partial latency (first
caption after the caller started speaking), the share of callers admitted (the others heard "all
lines are busy" and waited for a person), false "are you still there?" prompts, the share of CPU
used (both cores = 1.0) and the process's peak memory. `triage bench e2e` prints it as a table and
writes it to the JSON, with a plot.
"""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from eval.call_client import CallClient
from eval.e2e_bench import first_bot_audio, line_kept_open

LEVELS = (1, 2, 4, 8, 12, 16)


@dataclass
class CallResult:
    admitted: bool
    voice_to_voice_s: float | None = None
    first_partial_s: float | None = None
    silence_prompts: int = 0
    error: str | None = None


def one_call(
    url: str, pcm: bytes, still_there: tuple[str, ...], barrier: threading.Barrier, lead_s: float = 0.0
) -> CallResult:
    call = CallClient(url + "/v1/calls/stream")
    try:
        call.wait_for(lambda e: e["type"] == "bot_text", timeout=60)  # greeting, or "lines busy"
        time.sleep(0.3)
        if call.events("handoff"):  # over capacity: queued for a person before saying anything
            barrier.wait(timeout=60)
            return CallResult(admitted=False)
        barrier.wait(timeout=60)
        time.sleep(lead_s)  # shorter questions start later: everyone stops speaking at the same moment
        started = time.monotonic()
        call.send_audio(pcm, realtime=True)
        end = time.monotonic()
        with line_kept_open(call):
            first = first_bot_audio(call, end, ("decision", "handoff"))
        partial = next((r.at for r in call.received if r.event and r.event["type"] == "partial"), None)
        prompts = sum(1 for e in call.events("bot_text") if e["text"] in still_there)
        return CallResult(
            True,
            None if first is None else first - end,
            None if partial is None else partial - started,
            prompts,
        )
    except Exception as e:  # a call that fails is reported, not hidden
        return CallResult(admitted=True, error=f"{type(e).__name__}: {e}")
    finally:
        call.hangup()


def run_level(
    url: str,
    clips: list[bytes],
    n: int,
    still_there: tuple[str, ...],
    pool: Executor | None = None,
    scheduler: Any = None,
) -> dict[str, Any]:
    """One load level. pool: a one-process pool (``caller_pool``) where the callers run, so they
    do not share the service's interpreter (and its GIL), as remote callers would not; without one
    they run as threads in this process. CPU and peak memory are the service process's (this one).
    scheduler: the service's asr.scheduler.DecodeScheduler, to say how its decodes went."""
    from pipeline.metrics import stage_totals

    stages0 = stage_totals()
    asr0 = _asr_totals(scheduler)
    if pool is None:
        row = _callers(url, clips, n, still_there, os.getpid())
    else:
        row = pool.submit(_callers, url, clips, n, still_there, os.getpid()).result()
    row["stage_mean_s"] = _stage_means(stages0, stage_totals())
    if scheduler is not None:
        row["asr_decodes"] = _asr_means(asr0, _asr_totals(scheduler))
    return row


def _asr_totals(scheduler: Any) -> dict[str, float]:
    if scheduler is None:
        return {}
    st = scheduler.stats
    finals = ("final", "speculative")
    return {
        "runs": sum(st.runs.get(k, 0) for k in finals),
        "run_s": sum(st.decode_s.get(k, 0.0) for k in finals),
        "items": sum(st.by_kind.get(k, 0) for k in finals),
        "wait_s": sum(st.wait_s.get(k, 0.0) for k in finals),
        "partial_runs": st.runs.get("partial", 0),
        "partial_s": st.decode_s.get("partial", 0.0),
    }


def _asr_means(before: dict[str, float], after: dict[str, float]) -> dict[str, float | None]:
    """The level's end-of-utterance decodes (finals and speculative finals): how many decoder
    runs, how many utterances per run, the mean time of a run and the mean wait in the queue; and
    the partial (caption) runs and the decoder time they took."""
    d = {k: after[k] - before.get(k, 0.0) for k in after}
    runs, items = d["runs"], d["items"]
    return {
        "runs": int(runs),
        "utterances_per_run": round(items / runs, 2) if runs else None,
        "run_mean_s": round(d["run_s"] / runs, 3) if runs else None,
        "queue_wait_mean_s": round(d["wait_s"] / items, 3) if items else None,
        "partial_runs": int(d["partial_runs"]),
        "partial_s": round(d["partial_s"], 3),
    }


def caller_pool() -> ProcessPoolExecutor:
    """A process for the simulated callers (spawned: no copy of the loaded models)."""
    import multiprocessing

    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))


def _callers(
    url: str, clips: list[bytes], n: int, still_there: tuple[str, ...], service_pid: int
) -> dict[str, Any]:
    import psutil

    proc = psutil.Process(service_pid)
    barrier = threading.Barrier(n)
    results: list[CallResult] = [CallResult(False)] * n
    cpu0, wall0 = proc.cpu_times(), time.monotonic()
    peak = [proc.memory_info().rss]
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak.append(proc.memory_info().rss)
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    chosen = [clips[i % len(clips)] for i in range(n)]
    longest_s = max(len(c) for c in chosen) / 2 / 16000

    def run(i: int) -> None:
        lead_s = longest_s - len(chosen[i]) / 2 / 16000
        results[i] = one_call(url, chosen[i], still_there, barrier, lead_s)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    sampler.join()
    cpu1, wall = proc.cpu_times(), time.monotonic() - wall0
    cores = psutil.cpu_count() or 1
    served = [r for r in results if r.admitted]
    v2v = [r.voice_to_voice_s if r.voice_to_voice_s is not None else float("inf") for r in served]
    partials = [r.first_partial_s for r in served if r.first_partial_s is not None]
    return {
        "calls": n,
        "admitted_share": round(len(served) / n, 3),
        "voice_to_voice_p50_s": percentile_or_none(v2v, 50),
        "voice_to_voice_p95_s": percentile_or_none(v2v, 95),
        "first_partial_p50_s": percentile_or_none(partials, 50),
        "first_partial_share": round(len(partials) / len(served), 3) if served else None,
        "false_silence_prompts": sum(r.silence_prompts for r in served),
        "errors": [r.error for r in served if r.error],
        "cpu_share": round(((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / wall / cores, 3),
        "peak_rss_mb": round(max(peak) / 2**20, 1),
    }


def _stage_means(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]
) -> dict[str, float]:
    """Mean seconds per turn in each stage over the level (the service's own turn clock: where the
    voice-to-voice time went)."""
    means = {}
    for stage, (count, total) in after.items():
        c0, t0 = before.get(stage, (0.0, 0.0))
        if count > c0:
            means[stage] = round((total - t0) / (count - c0), 3)
    return means


def percentile_or_none(values: list[float], q: float) -> float | None:
    if not values:
        return None
    v = float(np.percentile(values, q))
    return round(v, 3) if np.isfinite(v) else None


def plot(levels: list[dict[str, Any]], path: Path, bound_s: float) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [lv["calls"] for lv in levels]
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for key, style in (("voice_to_voice_p50_s", "o-"), ("voice_to_voice_p95_s", "s--")):
        ax.plot(xs, [lv[key] if lv[key] is not None else np.nan for lv in levels], style, label=key)
    ax.axhline(bound_s, color="red", linewidth=0.8, label=f"target {bound_s} s")
    ax2 = ax.twinx()
    ax2.bar(xs, [lv["admitted_share"] for lv in levels], alpha=0.15, color="green", width=0.8)
    ax2.set_ylim(0, 1.05)
    ax2.set_ylabel("share admitted by the bot")
    ax.set_xlabel("callers finishing their question at the same moment")
    ax.set_ylabel("seconds")
    ax.legend(loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
