"""What a waiting caller asks for, read from how callers put it: a request to be called back, a
choice to keep waiting, or neither (a report of a past call back, a complaint about the wait)."""

from __future__ import annotations

import pytest

from pipeline.waiting_intents import waiting_intent

CASES = [
    # --- English: asking to be called back
    ("Call me back", "en", "call_back"),
    ("Please call me back later.", "en", "call_back"),
    ("Can you call me back when someone is free?", "en", "call_back"),
    ("Could somebody ring me back", "en", "call_back"),
    ("I'd like a call back please", "en", "call_back"),
    ("can I get a callback", "en", "call_back"),
    ("just have someone call me", "en", "call_back"),
    ("No, I don't want to wait, call me back", "en", "call_back"),
    ("I don't want to wait call me back", "en", "call_back"),  # no punctuation from the recogniser
    ("this is taking forever, just get back to me", "en", "call_back"),
    # --- English: not a request
    ("He called me back yesterday", "en", None),
    ("You never called me back", "en", None),
    ("why didn't you call me back last time", "en", None),
    ("Please don't call me back, I'll wait", "en", "wait"),
    ("you said you would call me back", "en", None),
    ("no need to call me back", "en", None),
    ("I already had a call back about this", "en", None),
    ("my water meter is broken", "en", None),
    # --- English: keeping on waiting
    ("I'll wait", "en", "wait"),
    ("OK, I will wait.", "en", "wait"),
    ("That's fine, I can hold", "en", "wait"),
    ("I'll stay on the line", "en", "wait"),
    ("I don't mind waiting", "en", "wait"),
    ("I'd rather wait", "en", "wait"),
    ("I'll keep holding", "en", "wait"),
    # --- English: not a choice to wait
    ("I've been waiting for an hour", "en", None),
    ("I can't wait", "en", None),  # giving up, but nothing was offered yet
    ("Wait, what did you say?", "en", None),
    # --- Mandarin: asking to be called back
    ("给我回电话", "zh", "call_back"),
    ("回头打给我吧", "zh", "call_back"),
    ("不等了，你们打回来吧", "zh", "call_back"),
    ("麻烦你们稍后联系我", "zh", "call_back"),
    ("能不能给我回个电话", "zh", "call_back"),
    ("我等了二十分钟了，给我回电话吧", "zh", "call_back"),
    ("请回电", "zh", "call_back"),
    # --- Mandarin: not a request
    ("他昨天给我回电话了", "zh", None),
    ("你们上次说好给我回电话的", "zh", None),
    ("你们都没给我回电话", "zh", None),
    ("不用回电话，我等", "zh", "wait"),
    ("我家水管爆了", "zh", None),
    # --- Mandarin: keeping on waiting
    ("我等", "zh", "wait"),
    ("好的，我再等等", "zh", "wait"),
    ("那我继续等吧", "zh", "wait"),
    ("没关系，我不挂", "zh", "wait"),
    # --- Mandarin: not a choice to wait
    ("我等了半个小时了", "zh", None),
    ("我等不了", "zh", None),
    ("我不等了", "zh", None),  # nothing offered: they go on waiting (documented in the module)
    # The recogniser's language tag can be wrong: Chinese characters decide.
    ("给我回电话", "en", "call_back"),
]


@pytest.mark.parametrize(("text", "language", "expected"), CASES)
def test_waiting_intent(text: str, language: str, expected: str | None) -> None:
    assert waiting_intent(text, language) == expected


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("我不等了", "zh"),
        ("不想等了", "zh"),
        ("等不及了", "zh"),
        ("I can't wait any longer", "en"),
        ("I don't want to wait", "en"),
        ("I'm done waiting", "en"),
    ],
)
def test_giving_up_answers_a_call_back_offer_only_once_one_was_made(text: str, language: str) -> None:
    assert waiting_intent(text, language, callback_offered=False) is None
    assert waiting_intent(text, language, callback_offered=True) == "call_back"


def test_an_offer_does_not_turn_a_report_or_a_wait_into_a_request() -> None:
    assert waiting_intent("he called me back yesterday", "en", callback_offered=True) is None
    assert waiting_intent("我再等等", "zh", callback_offered=True) == "wait"
    assert waiting_intent("我等了半个小时了", "zh", callback_offered=True) is None
