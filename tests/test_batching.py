"""pipeline/batching.py: requests from many threads run together, in order, failures kept apart."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from pipeline.batching import MicroBatcher


class Gate:
    """A batch function that holds its first batch until released, recording every batch."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.first_running = threading.Event()
        self.release = threading.Event()

    def __call__(self, items: list[int]) -> list[int]:
        self.batches.append(list(items))
        if len(self.batches) == 1:
            self.first_running.set()
            assert self.release.wait(10)
        if any(i < 0 for i in items):
            raise ValueError("negative")
        return [i * 10 for i in items]


def test_requests_that_arrive_while_a_batch_runs_go_together_in_the_next():
    gate = Gate()
    batcher = MicroBatcher(gate, max_batch=16)
    first = batcher.submit(1)
    assert gate.first_running.wait(10)
    later = [batcher.submit(i) for i in range(2, 9)]
    gate.release.set()
    assert first.result(10) == 10
    assert [f.result(10) for f in later] == [i * 10 for i in range(2, 9)]
    assert gate.batches == [[1], list(range(2, 9))]
    assert (batcher.batches, batcher.items) == (2, 8)
    batcher.close()


def test_each_caller_gets_its_own_result_from_many_threads():
    batcher: MicroBatcher[int, int] = MicroBatcher(lambda items: [i * i for i in items], max_batch=4)
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(batcher, range(50)))
    assert results == [i * i for i in range(50)]
    assert batcher.items == 50
    batcher.close()


def test_a_failing_batch_fails_its_own_requests_only():
    gate = Gate()
    batcher = MicroBatcher(gate)
    first = batcher.submit(1)
    assert gate.first_running.wait(10)
    bad, also_bad = batcher.submit(-1), batcher.submit(2)  # same batch as the bad item
    gate.release.set()
    assert first.result(10) == 10
    with pytest.raises(ValueError):
        bad.result(10)
    with pytest.raises(ValueError):
        also_bad.result(10)
    assert batcher(3) == 30  # the worker goes on
    batcher.close()


def test_a_batch_function_that_loses_items_is_an_error_not_a_wrong_answer():
    batcher: MicroBatcher[int, int] = MicroBatcher(lambda items: items[:-1])
    with pytest.raises(RuntimeError, match="results"):
        batcher(1)
    batcher.close()


def test_closed_batcher_refuses_new_work_and_cancels_waiting():
    gate = Gate()
    batcher = MicroBatcher(gate)
    batcher.submit(1)
    assert gate.first_running.wait(10)
    waiting = batcher.submit(2)
    batcher.close()
    gate.release.set()
    assert waiting.cancelled()
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit(3)
