"""The caller's answer to "please rate this call from 1 to 5", as a caller would say it, in both
languages: numbers, stars and points, satisfaction words with negation, and answers that are not
ratings at all (a goodbye, a count, a phone number), which must read as no rating."""

from __future__ import annotations

import pytest

from pipeline.rating import parse_rating

ENGLISH = [
    # a number, bare or in a sentence
    ("5", 5),
    ("Five.", 5),
    ("four", 4),
    ("One!", 1),
    ("Um, four I guess.", 4),
    ("Three, please.", 3),
    ("I'd give it a three.", 3),
    ("I would rate it a 2.", 2),
    ("Give you guys a five.", 5),
    ("That's a four.", 4),
    ("Maybe a four.", 4),
    ("My rating is two.", 2),
    ("Four stars.", 4),
    ("5 stars!", 5),
    ("Two points.", 2),
    ("Five-star service.", 5),
    ("Four out of five.", 4),
    ("4/5", 4),
    ("Okay, five.", 5),
    ("Five, very satisfied.", 5),
    # a score on a scale the caller named: the top is the top
    ("Ten out of ten.", 5),
    ("10/10", 5),
    # satisfaction words
    ("Very satisfied.", 5),
    ("Excellent.", 5),
    ("It was great, thank you.", 5),
    ("Satisfied.", 4),
    ("Good.", 4),
    ("Pretty good.", 4),
    ("Okay.", 3),
    ("It was okay I guess.", 3),
    ("Average.", 3),
    ("So-so.", 3),
    ("Not satisfied.", 2),
    ("Poor.", 2),
    ("Bad.", 2),
    ("Dissatisfied.", 2),
    ("Terrible.", 1),
    ("Very dissatisfied.", 1),
    ("Really bad.", 1),
    # negation
    ("Not good.", 2),
    ("It wasn't very good.", 2),
    ("Not happy with it.", 2),
    ("Not satisfied at all.", 1),
    ("Not bad.", 3),
    ("No, not satisfied.", 2),
]

ENGLISH_NOT_RATINGS = [
    "No thanks, I'm done.",
    "I called five times already.",
    "I waited three hours for someone to pick up.",
    "Give me two minutes.",
    "Bye.",
    "Goodbye.",
    "Good bye.",
    "That's all.",
    "Okay, bye.",
    "Okay, thank you.",
    "I'm good, thanks.",
    "My number is 13800138000.",
    "Call me back on 555 0123.",
    "It's 5 5 5 1 2 3 4.",
    "Ten.",
    "I'd give it a ten.",
    "Can I speak to a person?",
    "",
]

MANDARIN = [
    # a number: digits, numerals, points and stars
    ("5", 5),
    ("五", 5),
    ("五分", 5),
    ("4分", 4),
    ("打五分", 5),
    ("打5分吧", 5),
    ("给个4", 4),
    ("给一个五分", 5),
    ("嗯，四吧", 4),
    ("那就三分吧", 3),
    ("我觉得四分", 4),
    ("两分", 2),
    ("一分", 1),
    ("五星", 5),
    ("三颗星", 3),
    ("五星好评", 5),
    ("５分", 5),
    ("四分吧，还可以", 4),
    ("五分，非常满意", 5),
    # satisfaction words
    ("十分满意", 5),
    ("非常满意", 5),
    ("很满意。", 5),
    ("特别满意", 5),
    ("太好了", 5),
    ("满分", 5),
    ("满意", 4),
    ("比较满意", 4),
    ("挺满意的", 4),
    ("还不错", 4),
    ("一般", 3),
    ("一般般吧", 3),
    ("还行", 3),
    ("还可以吧", 3),
    ("马马虎虎", 3),
    # negation
    ("不太满意", 2),
    ("不满意", 2),
    ("不是很满意", 2),
    ("没有很满意", 2),
    ("不太好", 2),
    ("比较差", 2),
    ("非常不满意", 1),
    ("很不满意", 1),
    ("一点都不满意", 1),
    ("很差", 1),
    ("太差了", 1),
]

MANDARIN_NOT_RATINGS = [
    "不用了谢谢",
    "我等了一下",
    "没有了",
    "好的，谢谢，再见",
    "不好意思，我想再问一下",
    "我打了五次电话了",
    "等了五分钟",
    "我的电话是13800138000",
    "幺三八零零一三八零零零零",
    "打十分",
    "我一直在等",
    "差不多就这样吧",
    "再见",
    "我要找人工",
]


@pytest.mark.parametrize(("text", "value"), ENGLISH)
def test_english_ratings(text: str, value: int) -> None:
    assert parse_rating(text, "en") == value


@pytest.mark.parametrize("text", ENGLISH_NOT_RATINGS)
def test_english_non_ratings(text: str) -> None:
    assert parse_rating(text, "en") is None


@pytest.mark.parametrize(("text", "value"), MANDARIN)
def test_mandarin_ratings(text: str, value: int) -> None:
    assert parse_rating(text, "zh") == value


@pytest.mark.parametrize("text", MANDARIN_NOT_RATINGS)
def test_mandarin_non_ratings(text: str) -> None:
    assert parse_rating(text, "zh") is None


@pytest.mark.parametrize(
    ("text", "language", "value"),
    [("five", "zh", 5), ("五分", "en", 5), ("4", "zh", 4), ("4", "en", 4)],
)
def test_the_words_decide_when_the_language_guess_is_wrong(text: str, language: str, value: int) -> None:
    assert parse_rating(text, language) == value


@pytest.mark.parametrize(
    ("text", "language", "value"),
    [("Four, no, five.", "en", 5), ("四分，不对，五分", "zh", 5)],
)
def test_a_caller_who_corrects_themselves_is_taken_at_their_last_word(
    text: str, language: str, value: int
) -> None:
    assert parse_rating(text, language) == value
