"""Recordings survive a crash (pipeline/recording.py) and partials are saved sparingly
(pipeline/partials.py): pure, fast checks beside the process-level test in
tests/test_instance_recovery.py."""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np

from pipeline.partials import PartialKeeper
from pipeline.recording import WavRecorder, repair


def duration(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / w.getframerate()


def test_a_recording_never_closed_plays_and_repair_makes_its_header_exact(tmp_path: Path) -> None:
    path = tmp_path / "caller.wav"
    rec = WavRecorder(path, 16000, "pcm16")
    second = (np.ones(16000, "<i2") * 1000).tobytes()
    rec.write(second)
    time.sleep(1.05)  # the header is rewritten at most once a second
    rec.write(second)
    rec.write(second[:16000])  # half a second more, not yet in the header
    # the process dies here: no close(); the file as it is plays its first two seconds
    assert duration(path) == 2.0
    assert repair(path) == 2.5
    assert duration(path) == 2.5
    rec.close()  # (the test's own handle) and a closed file's header is exact too
    assert duration(path) == 2.5


def test_repair_leaves_what_is_not_a_wav_of_ours_alone(tmp_path: Path) -> None:
    other = tmp_path / "x.wav"
    other.write_bytes(b"not a wav at all, just bytes" * 4)
    assert repair(other) is None and other.read_bytes().startswith(b"not a wav")
    assert repair(tmp_path / "missing.wav") is None


def test_partials_are_saved_at_most_once_a_second_and_cleared_by_the_final() -> None:
    keeper = PartialKeeper(1.0)
    assert keeper.due("my neigh", now=10.0)
    assert not keeper.due("my neighbour", now=10.5)
    assert keeper.due("my neighbour is", now=11.0)
    assert not keeper.due("   ", now=20.0)
    assert keeper.clear_due() and not keeper.clear_due()
    assert keeper.due("next utterance", now=11.1)  # a new utterance is saved at once
