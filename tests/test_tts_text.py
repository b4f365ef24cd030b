"""Text preparation and the fixed prompts: pure logic, no engine."""

from __future__ import annotations

import string

import pytest

from tts.interface import AUDIO_FORMATS, UnsupportedLanguageError, normalise_lang, parse_audio_format
from tts.prompts import PROMPTS, UnknownPromptError, prompt_fields, render_prompt
from tts.text import chunk_text, clean_text, normalise, split_long, split_sentences


def test_chinese_sentences_split_at_full_width_marks() -> None:
    text = "您好，这里是市民热线。请问有什么可以帮您？停水了！我们马上处理；请稍候"
    assert split_sentences(text, "zh") == [
        "您好，这里是市民热线。",
        "请问有什么可以帮您？",
        "停水了！",
        "我们马上处理；",
        "请稍候",
    ]


def test_english_sentences_split_but_not_inside_numbers_addresses_or_abbreviations() -> None:
    text = "The fee is 3.5 yuan. Ask Dr. Wang at www.gov.cn! Is it open? Yes."
    assert split_sentences(text, "en") == [
        "The fee is 3.5 yuan.",
        "Ask Dr. Wang at www.gov.cn!",
        "Is it open?",
        "Yes.",
    ]


def test_closing_quotes_stay_with_their_sentence() -> None:
    assert split_sentences("他说：“好的。”然后走了。", "zh") == ["他说：“好的。”", "然后走了。"]
    assert split_sentences('She said "stop." Then left.', "en") == ['She said "stop."', "Then left."]


def test_long_sentences_are_cut_at_commas_and_short_ones_are_not() -> None:
    long_en = (
        "If your water is off, first check the notice board in your building, then call the "
        "water company, and if nobody answers within an hour, call us back on this line."
    )
    pieces = split_long(long_en, 60)
    assert len(pieces) >= 3
    assert all(len(p) <= 90 for p in pieces)
    assert " ".join(pieces) == long_en
    assert split_long("Short one, with a comma.", 60) == ["Short one, with a comma."]
    long_zh = (
        "如果您家停水了，请先查看楼道里的通知，然后拨打自来水公司的电话，"
        "如果一小时内没有人接听，请再打给我们。"
    )
    zh_pieces = split_long(long_zh, 20)
    assert "".join(zh_pieces) == long_zh and all(len(p) <= 40 for p in zh_pieces) and len(zh_pieces) >= 3


def test_a_run_without_any_break_is_still_cut() -> None:
    pieces = split_long("很" * 100, 30)
    assert "".join(pieces) == "很" * 100 and max(len(p) for p in pieces) <= 60


def test_numbers_are_read_as_a_hotline_reads_them() -> None:
    assert normalise("请拨打12345热线", "zh") == "请拨打幺二三四五热线"
    assert normalise("Call 12345 now", "en") == "Call one two three four five now"
    # Years, prices and short numbers keep their normal reading.
    assert normalise("2024年 3.5元", "zh") == "二零二四年 三元五角"
    assert normalise("3.14159 dollars", "en") == "three point one four one five nine dollars"
    # Emergency and service numbers to call, however short.
    assert normalise("请立刻拨打110或者打119", "zh") == "请立刻拨打幺幺零或者打幺幺九"
    assert normalise("Hang up and call 120 now.", "en") == "Hang up and call one two zero now."
    assert normalise("It costs 120 yuan, room 1203.", "en") == (
        "It costs one hundred and twenty yuan, room one two oh three."
    )


def test_neural_voices_get_one_clause_per_chunk() -> None:
    text = "您好，这里是12345市民服务热线。请问有什么可以帮您？"
    assert chunk_text(text, "zh", 30) == ["您好，这里是幺二三四五市民服务热线。", "请问有什么可以帮您？"]
    assert chunk_text(text, "zh", 30, clauses=True) == [
        "您好，",
        "这里是幺二三四五市民服务热线。",
        "请问有什么可以帮您？",
    ]


def test_cleaning_removes_what_espeak_cannot_take() -> None:
    assert clean_text("a\x00b\x07c\u200b d\n\te") == "abc d e"
    assert clean_text("\ud800ok") == "?ok"
    assert clean_text("   \n\t ") == ""


def test_chunks_drop_pieces_with_nothing_to_say() -> None:
    assert chunk_text("", "en", 80) == []
    assert chunk_text("  ...  !!! 。。 ", "zh", 30) == []
    assert chunk_text("😀 Hello there. 😀", "en", 80) == ["😀 Hello there."]


def test_languages_and_formats_parse_and_refuse_clearly() -> None:
    assert normalise_lang("zh-CN") == "zh" and normalise_lang("cmn") == "zh"
    assert normalise_lang("en_US") == "en"
    with pytest.raises(UnsupportedLanguageError, match="'en' and 'zh'"):
        normalise_lang("fr")
    assert {parse_audio_format(n).sample_rate for n in AUDIO_FORMATS} == {8000, 16000, 22050}
    with pytest.raises(ValueError, match="mulaw-8k"):
        parse_audio_format("opus")


def test_every_prompt_exists_in_both_languages_with_the_same_placeholders() -> None:
    required = {
        "greeting",
        "did_that_help",
        "connecting_agent",
        "queue_position",
        "no_agent_callback",
        "not_understood",
        "clarify",
        "still_there",
        "goodbye",
        "rate_call",
        "emergency",
    }
    assert required <= PROMPTS.keys()
    for key, texts in PROMPTS.items():
        assert set(texts) == {"en", "zh"}, key
        assert any("\u4e00" <= ch <= "\u9fff" for ch in texts["zh"]), key
        assert all(ord(ch) < 128 for ch in texts["en"]), key
        names = [{n for _, n, _, _ in string.Formatter().parse(t) if n} for t in texts.values()]
        assert names[0] == names[1], key


def test_prompts_render_with_their_values() -> None:
    assert prompt_fields("queue_position") == {"n"}
    said = render_prompt("queue_position", "en", n=3)
    assert said == "You are number 3 in the queue. Please stay on the line."
    assert "第3位" in render_prompt("queue_position", "zh", n=3)
    with pytest.raises(ValueError, match="needs n"):
        render_prompt("queue_position", "en")
    with pytest.raises(UnknownPromptError, match="known prompts"):
        render_prompt("nope", "en")
