"""Requests from many calls, run together: one worker takes everything waiting as one batch.

When several callers finish speaking together their finals come out of one batched Whisper
decode at the same moment, and each call's thread then asks the classifier to understand its turn.
Eight classifier calls running at once on two cores fight over them (each runs two sentence
encoders); one ``predict_many`` over the eight costs little more than one. ``MicroBatcher`` adds
no waiting of its own: the first request runs at once, and whatever arrives while it runs goes in
the next batch together (as asr/scheduler.py does for decodes).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    """``batcher(item)`` from any thread gives ``fn([... item ...])``'s result for that item.

    fn: takes a list of items, returns one result per item in the same order. A failure fails
    every request of its batch (and only those); the worker goes on.
    """

    def __init__(self, fn: Callable[[list[T]], list[R]], max_batch: int = 16, name: str = "batcher") -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.fn = fn
        self.max_batch = max_batch
        self.batches = 0
        self.items = 0
        self._waiting: list[tuple[T, Future[R]]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def __call__(self, item: T) -> R:
        return self.submit(item).result()

    def submit(self, item: T) -> Future[R]:
        future: Future[R] = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the batcher is closed")
            self._waiting.append((item, future))
            self._cond.notify()
        return future

    def close(self) -> None:
        with self._cond:
            self._closed = True
            for _, future in self._waiting:
                future.cancel()
            self._waiting.clear()
            self._cond.notify_all()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                batch, self._waiting = self._waiting[: self.max_batch], self._waiting[self.max_batch :]
            live = [(item, f) for item, f in batch if f.set_running_or_notify_cancel()]
            if not live:
                continue
            try:
                results = self.fn([item for item, _ in live])
                if len(results) != len(live):
                    raise RuntimeError(f"batch function gave {len(results)} results for {len(live)} items")
            except Exception as e:  # fails its own requests, never the worker
                log.exception("batch of %d failed", len(live))
                for _, f in live:
                    f.set_exception(e)
                continue
            self.batches += 1
            self.items += len(live)
            for (_, f), result in zip(live, results, strict=True):
                f.set_result(result)
