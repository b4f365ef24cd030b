"""The waiting caller's estimated wait, from their place, the agents who could take them and the
recent handle time; spoken in whole minutes."""

from __future__ import annotations

import pytest

from pipeline.wait_estimate import DEFAULT_HANDLE_S, estimate_wait_s, mean_handle_s, spoken_minutes


def test_mean_handle_time_defaults_to_four_minutes_and_skips_nonsense() -> None:
    assert mean_handle_s([]) == DEFAULT_HANDLE_S == 240.0
    assert mean_handle_s([120.0, 360.0]) == 240.0
    assert mean_handle_s([0.0, -5.0, 300.0]) == 300.0  # resolved without accepting, clock skew
    assert mean_handle_s([-1.0], default_s=90.0) == 90.0


@pytest.mark.parametrize(
    ("position", "free", "busy", "handle_s", "expected_s"),
    [
        (1, 1, 0, 240.0, 0.0),  # an agent is free: next
        (2, 2, 3, 240.0, 0.0),
        (1, 0, 1, 240.0, 120.0),  # the one agent is halfway through a call
        (2, 0, 1, 240.0, 360.0),  # then one more whole call
        (3, 0, 2, 240.0, 360.0),  # two agents: the third caller waits two rounds
        (4, 1, 1, 300.0, 450.0),  # one free takes #1; #2-#3 first round, #4 second
        (10, 0, 5, 180.0, 270.0),
    ],
)
def test_estimated_wait(position: int, free: int, busy: int, handle_s: float, expected_s: float) -> None:
    assert estimate_wait_s(position, free, busy, handle_s) == pytest.approx(expected_s)


def test_more_agents_or_a_better_place_never_lengthen_the_wait() -> None:
    for position in range(1, 12):
        for able in range(1, 6):
            here = estimate_wait_s(position, 0, able, 240.0)
            assert here is not None
            assert estimate_wait_s(position, 0, able + 1, 240.0) <= here  # type: ignore[operator]
            assert estimate_wait_s(position + 1, 0, able, 240.0) >= here  # type: ignore[operator]


def test_no_agent_who_could_take_the_call_means_no_estimate() -> None:
    assert estimate_wait_s(1, 0, 0, 240.0) is None
    with pytest.raises(ValueError, match="1 or more"):
        estimate_wait_s(0, 1, 0, 240.0)


@pytest.mark.parametrize(
    ("seconds", "minutes"),
    [(0.0, 1), (20.0, 1), (89.0, 1), (90.0, 2), (150.0, 3), (180.0, 3), (209.0, 3), (210.0, 4), (1800.0, 30)],
)
def test_spoken_in_whole_minutes_never_zero(seconds: float, minutes: int) -> None:
    assert spoken_minutes(seconds) == minutes
