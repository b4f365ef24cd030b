"""One queue for every call's Whisper decodes, so callers stop fighting over two cores.

Each call used to decode in its own thread with its own CPU threads: eight callers who finish
speaking together ran eight decodes at once, each at an eighth of the speed, and everyone waited
for the slowest. Here every decode goes through one ``DecodeScheduler`` worked by one thread (the
model's own threads are the parallelism), in the order that matters to callers:

1. **finals**: a caller has stopped speaking and waits for the answer;
2. **speculative finals**: started at the first pause, used if the pause holds;
3. **partials**: captions, never decisions; they run only when nothing above waits
   (``try_partial`` answers None under load) and are never queued behind a final.

Finals (and speculative finals) waiting together are decoded as one batch when the decoder can
(``decode_batch``): one encoder pass and one beam search for up to ``max_batch`` utterances, about
half the time of running them one by one on a CPU (``triage bench asr-batch``); three or more
go through shorter encoder windows with a narrower beam (``loaded_window_s``, ``loaded_beam_size``):
a little accuracy for a lot of time, only while many callers finish together. When several calls
were speaking just now, the first final waits a moment (``gather_s``) for theirs, so callers who stop
together share one batch instead of queueing behind each other's. Voice activity, end-pointing and
barge-in run in each call's own thread and never wait here.

Where a GPU serves many calls this is the same place: a bigger ``max_batch`` fills it.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

log = logging.getLogger(__name__)

Kind = Literal["final", "speculative", "partial"]
PRIORITY: dict[str, int] = {"final": 0, "speculative": 1, "partial": 2}


class Decoder(Protocol):
    """asr.decoder.WhisperDecoder, or a scripted fake: ``decode(audio, **options)``, and optionally
    ``decode_batch(audios, **options)``."""

    @property
    def decode(self) -> Callable[..., Any]: ...


@dataclass(frozen=True)
class SchedulerOptions:
    max_batch: int = 8
    """Most finals decoded in one batch (CPU: 8 measured best; a GPU takes more)."""
    loaded_beam_size: int | None = 3
    """Beam for a batch of ``loaded_batch`` or more finals (None: keep each call's beam). On two
    cores beam 3 gave the same word error as beam 5 on 250 short requests in both languages (``triage
    bench asr-batch``) and costs less; a lone caller and a pair keep the full beam."""
    loaded_window_s: float | None = 6.0
    """Shortest encoder window for a batch of ``loaded_batch`` or more (None: the decoder's own,
    10 s). Eight 6 s windows encode in 0.3 s on two cores, eight 10 s ones in 0.8 s; the price is
    about 1.8 points of English word error on short requests, paid only when many calls finish
    together (``triage bench asr-batch``)."""
    loaded_batch: int = 3
    crowded_window_s: float | None = None
    """Shortest encoder window for a batch of ``crowded_batch`` or more (None: the loaded window).
    Off by default: 4 s was slower than 6 s for a batch of eight on 250 short requests (0.94-1.06 s
    against 0.88-1.02 s on two cores, two runs on 2026-12-01) and less accurate, because the short
    window makes Whisper repeat phrases and each such item is decoded again alone (``triage bench
    asr-batch``)."""
    crowded_batch: int = 6
    partial_max_speakers: int = 4
    """No partials while this many calls or more asked for one within ``speaker_window_s``: with
    that many people speaking at once on two cores, a partial in flight when their finals arrive
    delays every one of them (captions come back when the burst is over)."""
    speaker_window_s: float = 1.5
    gather_s: float = 0.12
    """When a final is taken while ``loaded_batch`` or more calls have been speaking (within
    ``speaker_window_s``), wait this long at most for their finals to join the same batch: callers
    who stop together otherwise split into batches decoded one after another (8 callers: two batches
    of four, the second waiting for the first). 0: never wait."""


@dataclass(order=True)
class _Job:
    priority: int
    seq: int
    kind: str = field(compare=False)
    audio: np.ndarray = field(compare=False, repr=False)
    kwargs: dict[str, Any] = field(compare=False)
    future: Future[Any] = field(compare=False)
    queued_at: float = field(default_factory=time.monotonic, compare=False)


@dataclass
class SchedulerStats:
    decodes: int = 0
    batches: int = 0
    batched_items: int = 0
    partials_skipped: int = 0
    cancelled: int = 0
    reduced_beam: int = 0
    crowded: int = 0
    gathered: int = 0
    """Batches that waited (at most ``gather_s``) for other calls' finals."""
    wait_s: dict[str, float] = field(default_factory=dict)
    """Seconds decodes of each kind waited in the queue before they started (sum)."""
    decode_s: dict[str, float] = field(default_factory=dict)
    """Seconds the decoder worked on runs led by each kind (sum; a batch counts once)."""
    runs: dict[str, int] = field(default_factory=dict)
    """Decoder runs (one batch or one single decode) led by each kind."""
    by_kind: dict[str, int] = field(default_factory=dict)


class DecodeScheduler:
    def __init__(self, decoder: Decoder, options: SchedulerOptions | None = None) -> None:
        self.decoder = decoder
        self.options = options or SchedulerOptions()
        self.stats = SchedulerStats()
        self._queue: list[_Job] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._busy_kind: str | None = None
        self._closed = False
        self._speakers: dict[int, float] = {}
        self._batch: Callable[..., list[Any]] | None = getattr(decoder, "decode_batch", None)
        self._thread = threading.Thread(target=self._work, name="asr-scheduler", daemon=True)
        self._thread.start()

    # --- submitting ------------------------------------------------------------------------------

    def submit(self, kind: Kind, audio: np.ndarray, **kwargs: Any) -> Future[Any]:
        """Queue a decode; the future gives the decoder's Hypothesis (or its exception)."""
        if kind not in PRIORITY:
            raise ValueError(f"kind must be final, speculative or partial, got {kind!r}")
        future: Future[Any] = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the decode scheduler is closed")
            self._queue.append(_Job(PRIORITY[kind], next(self._seq), kind, audio, kwargs, future))
            self._queue.sort()
            self._cond.notify()
        return future

    def try_partial(self, audio: np.ndarray, source: object = None, **kwargs: Any) -> Future[Any] | None:
        """A partial decode if there is spare capacity right now (nothing queued or running, and
        fewer than ``partial_max_speakers`` calls speaking); None otherwise, and the caller simply
        shows no new caption this time. source: the asking call's stream, to count speakers."""
        now = time.monotonic()
        with self._cond:
            if source is not None:
                self._speakers[id(source)] = now
            crowded = self._speaking(now) >= self.options.partial_max_speakers
            if self._queue or self._busy_kind is not None or crowded:
                self.stats.partials_skipped += 1
                return None
        return self.submit("partial", audio, **kwargs)

    def _speaking(self, now: float) -> int:
        """Calls that asked for a caption within ``speaker_window_s`` (older ones forgotten; lock held)."""
        window = self.options.speaker_window_s
        self._speakers = {k: t for k, t in self._speakers.items() if now - t <= window}
        return len(self._speakers)

    def decode(self, audio: np.ndarray, kind: Kind = "final", **kwargs: Any) -> Any:
        """Submit and wait: the synchronous form a call's recogniser thread uses."""
        return self.submit(kind, audio, **kwargs).result()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            for job in self._queue:
                job.future.cancel()
            self._queue.clear()
            self._cond.notify_all()

    # --- working ---------------------------------------------------------------------------------

    def _next(self) -> list[_Job] | None:
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            first = self._queue.pop(0)
            jobs = [first]
            if first.kind != "partial" and self._batch is not None:
                self._gather(first, jobs)
            self._busy_kind = first.kind
            return jobs

    def _gather(self, first: _Job, jobs: list[_Job]) -> None:
        """Every waiting final-like decode with the same settings joins ``first``'s batch; while
        several calls were speaking just now, wait up to ``gather_s`` for theirs (lock held)."""
        o = self.options
        now = time.monotonic()
        deadline, expected = now + o.gather_s, self._speaking(now)
        while True:
            same = [
                j
                for j in self._queue
                if j.kind != "partial" and _batch_key(j.kwargs) == _batch_key(first.kwargs)
            ][: o.max_batch - len(jobs)]
            for j in same:
                self._queue.remove(j)
            jobs += same
            left = deadline - time.monotonic()
            if (
                expected < o.loaded_batch
                or len(jobs) >= min(expected, o.max_batch)
                or left <= 0
                or self._closed
            ):
                if len(jobs) > 1 and o.gather_s and expected >= o.loaded_batch:
                    self.stats.gathered += 1
                return
            self._cond.wait(left)

    def _work(self) -> None:
        while (jobs := self._next()) is not None:
            live = [j for j in jobs if j.future.set_running_or_notify_cancel()]
            self.stats.cancelled += len(jobs) - len(live)
            started = time.monotonic()
            for job in live:
                self.stats.wait_s[job.kind] = self.stats.wait_s.get(job.kind, 0.0) + started - job.queued_at
            try:
                if len(live) > 1 and self._batch is not None:
                    results = self._batch([j.audio for j in live], **self._batch_kwargs(live))
                    self.stats.batches += 1
                    self.stats.batched_items += len(live)
                else:
                    results = [self.decoder.decode(j.audio, **j.kwargs) for j in live]
                for job, result in zip(live, results, strict=True):
                    job.future.set_result(result)
            except Exception as e:  # a decode failure fails its callers, never the scheduler
                log.exception("decode failed")
                for job in live:
                    if not job.future.done():
                        job.future.set_exception(e)
            finally:
                if live:
                    lead = live[0].kind
                    self.stats.runs[lead] = self.stats.runs.get(lead, 0) + 1
                    spent = time.monotonic() - started
                    self.stats.decode_s[lead] = self.stats.decode_s.get(lead, 0.0) + spent
                self.stats.decodes += len(live)
                for job in live:
                    self.stats.by_kind[job.kind] = self.stats.by_kind.get(job.kind, 0) + 1
                with self._cond:
                    self._busy_kind = None

    def _batch_kwargs(self, jobs: list[_Job]) -> dict[str, Any]:
        kwargs = dict(jobs[0].kwargs)
        loaded = self.options.loaded_beam_size
        if len(jobs) < self.options.loaded_batch:
            return kwargs
        if loaded and kwargs.get("beam_size", loaded) > loaded:
            kwargs["beam_size"] = loaded
            self.stats.reduced_beam += 1
        if self.options.loaded_window_s:
            kwargs["min_window_s"] = self.options.loaded_window_s
        if self.options.crowded_window_s and len(jobs) >= self.options.crowded_batch:
            kwargs["min_window_s"] = self.options.crowded_window_s
            self.stats.crowded += 1
        return kwargs


def _batch_key(kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Decodes that can share one batch: the same beam, temperatures and forced language, and no
    per-utterance prefix or context (finals of different calls, as they come)."""
    if kwargs.get("prefix") or kwargs.get("previous_text"):
        return ("solo", id(kwargs))
    return (kwargs.get("beam_size"), tuple(kwargs.get("temperatures") or ()), kwargs.get("language"))
