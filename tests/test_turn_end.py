"""Adaptive end of turn: complete requests end sooner, half-said numbers and phrases later."""

from __future__ import annotations

import pytest

from asr.endpoint import Endpointer
from asr.turn_end import end_of_speech_s, judge


@pytest.mark.parametrize(
    ("text", "lang", "verdict"),
    [
        ("How can I pay my electricity bill?", "en", "complete"),
        ("There is no water in my flat since this morning.", "en", "complete"),
        ("My phone number is 138 1234", "en", "incomplete"),
        ("my account number is one three eight", "en", "incomplete"),
        ("I live at number 12 and", "en", "incomplete"),
        ("the address is, um", "en", "incomplete"),
        ("Hello", "en", "unknown"),
        ("请问电费怎么交？", "zh", "complete"),
        ("我家停水了", "zh", "complete"),
        ("我的电话号码是一三八", "zh", "incomplete"),
        ("我家住在", "zh", "incomplete"),
        ("工单号是325", "zh", "incomplete"),
        ("我想问一下那个", "zh", "incomplete"),
        ("喂", "zh", "unknown"),
    ],
)
def test_judge(text: str, lang: str, verdict: str) -> None:
    assert judge(text, lang) == verdict


def test_the_verdict_sets_the_silence() -> None:
    assert end_of_speech_s("complete", 0.6, 0.35, 1.1) == 0.35
    assert end_of_speech_s("incomplete", 0.6, 0.35, 1.1) == 1.1
    assert end_of_speech_s("unknown", 0.6, 0.35, 1.1) == 0.6


def _frames_to_end(ep: Endpointer, shorten_to: float | None) -> int:
    for _ in range(10):
        ep.update(0.9)  # speech
    n = 0
    while True:
        n += 1
        event = ep.update(0.0)
        if event is not None and event.kind == "pause" and shorten_to is not None:
            ep.set_end_s(shorten_to)
        if event is not None and event.kind == "end":
            return n


def test_the_endpointer_ends_sooner_or_later_and_resets_per_utterance() -> None:
    def make() -> Endpointer:
        return Endpointer(
            threshold=0.5, neg_threshold=0.35, frame_s=0.032, start_frames=2, speculative_s=0.192, end_s=0.6
        )

    default = _frames_to_end(make(), None)
    sooner = _frames_to_end(make(), 0.35)
    later = _frames_to_end(make(), 1.1)
    assert sooner < default < later
    ep = make()
    _frames_to_end(ep, 1.1)
    assert _frames_to_end(ep, None) == default  # the next utterance starts from the configured silence
