"""The decode scheduler with a scripted fake decoder: finals before speculative finals before
partials, partials only with spare capacity, finals of several calls batched, failures contained."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from asr.scheduler import DecodeScheduler, SchedulerOptions


class FakeDecoder:
    """Records what it decoded, in order; the first decode blocks until released."""

    def __init__(self, batch: bool = True) -> None:
        self.log: list[tuple[str, ...]] = []
        self.gate = threading.Event()
        self.first = True
        if not batch:
            self.decode_batch = None  # type: ignore[assignment]

    def decode(self, audio: np.ndarray, **kwargs: Any) -> str:
        if self.first:
            self.first = False
            self.gate.wait(5)
        if kwargs.get("fail"):
            raise RuntimeError("broken audio")
        self.log.append((str(audio[0]),))
        return f"text {audio[0]}"

    def decode_batch(self, audios: list[np.ndarray], **kwargs: Any) -> list[str]:
        self.log.append(tuple(str(a[0]) for a in audios))
        return [f"text {a[0]}" for a in audios]


def clip(name: str) -> np.ndarray:
    return np.array([name], dtype=object)


def test_finals_go_first_and_wait_together_in_one_batch() -> None:
    dec = FakeDecoder()
    sched = DecodeScheduler(dec, SchedulerOptions(max_batch=8))
    blocker = sched.submit("partial", clip("p0"), beam_size=1, prefix="x")
    time.sleep(0.05)  # the worker is now busy with p0
    later_partial = sched.submit("partial", clip("p1"), beam_size=1, prefix="y")
    spec = sched.submit("speculative", clip("s1"), beam_size=5)
    finals = [sched.submit("final", clip(f"f{i}"), beam_size=5) for i in range(3)]
    dec.gate.set()
    assert [f.result(5) for f in finals] == ["text f0", "text f1", "text f2"]
    assert spec.result(5) == "text s1" and later_partial.result(5) == "text p1" and blocker.result(5)
    # p0 was running; then every waiting final and the speculative final in one batch, finals
    # first; the queued partial last.
    assert dec.log == [("p0",), ("f0", "f1", "f2", "s1"), ("p1",)]
    assert sched.stats.batches == 1 and sched.stats.batched_items == 4
    sched.close()


def test_partials_only_with_spare_capacity() -> None:
    dec = FakeDecoder()
    sched = DecodeScheduler(dec)
    busy = sched.submit("final", clip("f0"), beam_size=5)
    time.sleep(0.05)
    assert sched.try_partial(clip("p"), beam_size=1) is None  # a caller's final is being decoded
    assert sched.stats.partials_skipped == 1
    dec.gate.set()
    busy.result(5)
    time.sleep(0.05)
    idle = sched.try_partial(clip("p"), beam_size=1)
    assert idle is not None and idle.result(5) == "text p"
    sched.close()


def test_without_batching_finals_still_go_first() -> None:
    dec = FakeDecoder(batch=False)
    sched = DecodeScheduler(dec)
    blocker = sched.submit("final", clip("f0"), beam_size=5)
    time.sleep(0.05)
    p = sched.submit("partial", clip("p1"), beam_size=1)
    f = sched.submit("final", clip("f1"), beam_size=5)
    dec.gate.set()
    for fut in (blocker, p, f):
        fut.result(5)
    assert dec.log == [("f0",), ("f1",), ("p1",)]
    sched.close()


def test_a_failed_decode_fails_its_caller_not_the_scheduler() -> None:
    dec = FakeDecoder(batch=False)
    dec.gate.set()
    sched = DecodeScheduler(dec)
    with pytest.raises(RuntimeError, match="broken audio"):
        sched.submit("final", clip("x"), fail=True).result(5)
    assert sched.submit("final", clip("ok"), beam_size=5).result(5) == "text ok"
    sched.close()


def test_a_cancelled_speculative_decode_is_not_run() -> None:
    dec = FakeDecoder()
    sched = DecodeScheduler(dec)
    blocker = sched.submit("final", clip("f0"), beam_size=5)
    time.sleep(0.05)
    spec = sched.submit("speculative", clip("s"), beam_size=5, prefix="solo")
    assert spec.cancel()  # the caller went on speaking before it started
    dec.gate.set()
    blocker.result(5)
    time.sleep(0.1)
    assert ("s",) not in dec.log and sched.stats.cancelled == 1
    sched.close()


class BeamRecorder(FakeDecoder):
    """Also records the beam each batch ran with."""

    def __init__(self) -> None:
        super().__init__()
        self.beams: list[tuple[int, int, float | None]] = []

    def decode_batch(self, audios: list[np.ndarray], **kwargs: Any) -> list[str]:
        self.beams.append((len(audios), kwargs["beam_size"], kwargs.get("min_window_s")))
        return super().decode_batch(audios, **kwargs)


@pytest.mark.parametrize(
    ("waiting", "beam", "window"), [(2, 5, None), (3, 3, 6.0), (5, 3, 6.0), (6, 3, 4.0), (7, 3, 4.0)]
)
def test_a_big_batch_of_finals_runs_with_the_loaded_beam_and_window(
    waiting: int, beam: int, window: float | None
) -> None:
    dec = BeamRecorder()
    options = SchedulerOptions(
        max_batch=8,
        loaded_beam_size=3,
        loaded_window_s=6.0,
        loaded_batch=3,
        crowded_window_s=4.0,
        crowded_batch=6,
    )
    sched = DecodeScheduler(dec, options)
    blocker = sched.submit("final", clip("f0"), beam_size=5)
    time.sleep(0.05)  # busy with f0: the next finals wait together
    finals = [sched.submit("final", clip(f"f{i + 1}"), beam_size=5) for i in range(waiting)]
    dec.gate.set()
    assert blocker.result(5) == "text f0" and all(f.result(5) for f in finals)
    # A lone caller and a pair keep the full beam and window; three or more calls finishing
    # together share the cheaper ones, and a burst of six or more a shorter window still.
    assert dec.beams == [(waiting, beam, window)]
    assert sched.stats.reduced_beam == (1 if beam == 3 else 0)
    assert sched.stats.crowded == (1 if window == 4.0 else 0)
    sched.close()


def test_the_loaded_beam_and_window_can_be_switched_off() -> None:
    dec = BeamRecorder()
    off = SchedulerOptions(loaded_beam_size=None, loaded_window_s=None, crowded_window_s=None)
    sched = DecodeScheduler(dec, off)
    blocker = sched.submit("final", clip("f0"), beam_size=5)
    time.sleep(0.05)
    finals = [sched.submit("final", clip(f"f{i + 1}"), beam_size=5) for i in range(7)]
    dec.gate.set()
    blocker.result(5)
    [f.result(5) for f in finals]
    assert dec.beams == [(7, 5, None)]
    sched.close()


def test_no_partials_while_many_callers_speak_at_once() -> None:
    dec = FakeDecoder()
    dec.gate.set()
    sched = DecodeScheduler(dec, SchedulerOptions(partial_max_speakers=4, speaker_window_s=5.0))
    callers = [object() for _ in range(4)]
    first = sched.try_partial(clip("p0"), source=callers[0], beam_size=1)
    assert first is not None and first.result(5) == "text p0"  # one speaker: captions as usual
    for c in callers[1:3]:
        sched.try_partial(clip("p"), source=c, beam_size=1)
        time.sleep(0.05)
    assert sched.try_partial(clip("p4"), source=callers[3], beam_size=1) is None  # the fourth speaker
    assert sched.stats.partials_skipped >= 1
    sched.close()


def test_the_stats_say_how_long_decodes_waited_and_ran() -> None:
    dec = FakeDecoder()
    sched = DecodeScheduler(dec, SchedulerOptions(max_batch=8))
    blocker = sched.submit("partial", clip("p0"), beam_size=1, prefix="x")
    time.sleep(0.05)
    finals = [sched.submit("final", clip(f"f{i}"), beam_size=5) for i in range(3)]
    time.sleep(0.2)  # the finals wait behind the partial the decoder is busy with
    dec.gate.set()
    [f.result(5) for f in finals]
    blocker.result(5)
    st = sched.stats
    assert st.runs == {"partial": 1, "final": 1}  # the three finals ran as one batch
    assert st.decode_s["partial"] >= 0.2  # the partial held the decoder until released
    assert st.wait_s["final"] >= 3 * 0.2  # each of the three waited at least that long
    assert st.wait_s["partial"] < 0.2
    sched.close()


def _speaking(sched: DecodeScheduler, n: int) -> list[object]:
    """n calls asked for a caption just now (refused: partial_max_speakers=1), so n are speaking;
    their streams are returned (kept alive: the scheduler tells calls apart by identity)."""
    streams = [object() for _ in range(n)]
    for stream in streams:
        assert sched.try_partial(clip("p"), source=stream) is None
    return streams


def test_finals_of_callers_who_stop_together_wait_for_each_other_in_one_batch() -> None:
    dec = FakeDecoder()
    dec.gate.set()
    sched = DecodeScheduler(dec, SchedulerOptions(max_batch=8, partial_max_speakers=1, gather_s=30))
    streams = _speaking(sched, 4)
    first = sched.submit("final", clip("f0"), beam_size=5)
    time.sleep(0.1)  # the others' pauses are detected a moment later
    rest = [sched.submit("final", clip(f"f{i}"), beam_size=5) for i in (1, 2, 3)]
    # all four in one run, which starts as soon as the fourth arrives (not after gather_s)
    assert first.result(10) == "text f0" and [f.result(10) for f in rest] == ["text f1", "text f2", "text f3"]
    assert dec.log == [("f0", "f1", "f2", "f3")] and sched.stats.gathered == 1
    sched.close()
    assert len(streams) == 4


@pytest.mark.parametrize("speakers", [1, 2])
def test_a_final_with_few_callers_speaking_does_not_wait_for_others(speakers: int) -> None:
    dec = FakeDecoder()
    dec.gate.set()
    sched = DecodeScheduler(dec, SchedulerOptions(max_batch=8, partial_max_speakers=1, gather_s=30))
    streams = _speaking(sched, speakers)
    assert sched.submit("final", clip("f0"), beam_size=5).result(5) == "text f0"  # not 30 s later
    assert dec.log == [("f0",)] and sched.stats.gathered == 0 and len(streams) == speakers
    sched.close()
