"""Knowledge-base files: round trips through JSONL, CSV and YAML, and clear errors naming the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kb import KbFormatError, default_kb_path, dump_entries, load_entries, save_entries
from kb.entry import KbEntry, detect_lang
from kb.formats import parse_entries


@pytest.fixture(scope="module")
def shipped() -> list[KbEntry]:
    return load_entries(default_kb_path())


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".yaml"])
def test_round_trip_keeps_every_field(shipped: list[KbEntry], tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"kb{suffix}"
    save_entries(shipped, path)
    again = load_entries(path)
    assert again == shipped
    save_entries(again, tmp_path / f"kb2{suffix}")
    assert (tmp_path / f"kb2{suffix}").read_text(encoding="utf-8") == path.read_text(encoding="utf-8")


def test_jsonl_accepts_the_simple_forms_the_issue_names() -> None:
    text = "\n".join(
        json.dumps(r, ensure_ascii=False)
        for r in [
            {"id": "a", "question": "停车费怎么交", "answer": "请到停车场收费处缴纳。", "topic": "roads"},
            {
                "id": "b",
                "question": ["How do I pay parking", "parking fee"],
                "answer": "Pay at the booth.",
                "lang": "en",
                "tags": ["parking"],
                "request_type": "inquiry",
            },
            {"id": "c", "question": {"zh": "你好"}, "answer": {"zh": "您好。", "en": "Hello."}},
        ]
    )
    a, b, c = parse_entries(text, "jsonl")
    assert a.questions == ("停车费怎么交",) and a.answers == {"zh": "请到停车场收费处缴纳。"}
    assert (
        b.questions == ("How do I pay parking", "parking fee")
        and b.langs == ("en",)
        and b.tags == ("parking",)
    )
    assert c.answer("en") == ("Hello.", "en")
    assert c.answer("zh") == ("您好。", "zh")
    assert a.answer("en") == ("请到停车场收费处缴纳。", "zh")  # no English text: says which language it gave


@pytest.mark.parametrize(
    ("fmt", "text", "line", "words"),
    [
        (
            "jsonl",
            '{"id": "a", "question": "q", "answer": "x"}\n\n{"id": "b", "question": "q", answer}\n',
            3,
            "not valid JSON",
        ),
        ("jsonl", '{"id": "a", "question": "q", "answer": "x"}\n{"id": "b", "question": "q"}\n', 2, "answer"),
        (
            "jsonl",
            '{"id": "a", "question": "q", "answer": "x"}\n{"id": "a", "question": "r", "answer": "y"}\n',
            2,
            "duplicate id 'a' (first on line 1)",
        ),
        ("jsonl", '{"id": "a", "question": "q", "answer": "x", "topic": "weather"}\n', 1, "unknown topic"),
        (
            "jsonl",
            '{"id": "a", "question": "q", "answer": "x", "colour": "red"}\n',
            1,
            "unknown field(s) colour",
        ),
        ("csv", "id,question,answer_zh,answer_en\na,q1,甲,A\nb,,乙,B\n", 3, "question"),
        ("csv", "id,question,answer_en\na,q1,A,extra\n", 2, "more cells than header"),
        ("csv", "name,answer\na,A\n", 1, "header needs columns id, question"),
        (
            "yaml",
            "entries:\n- id: a\n  question: q\n  answer: x\n- question: q2\n  answer: y\n",
            5,
            "missing 'id'",
        ),
        ("yaml", "entries:\n- id: a\n  question: [q\n  answer: x\n", 4, "not valid YAML"),
    ],
)
def test_malformed_files_are_rejected_naming_the_line(fmt: str, text: str, line: int, words: str) -> None:
    with pytest.raises(KbFormatError) as err:
        parse_entries(text, fmt, f"bad.{fmt}")
    message = str(err.value)
    assert f"bad.{fmt}, line {line}:" in message
    assert words in message


def test_unknown_suffix_and_missing_file_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(KbFormatError, match=r"use \.jsonl, \.csv, \.yaml, \.xlsx, \.json, \.html or \.md"):
        load_entries(tmp_path / "kb.docx")
    for missing in ("missing.jsonl", "missing.xlsx"):
        with pytest.raises(KbFormatError, match="no such knowledge-base file"):
            load_entries(tmp_path / missing)


def test_shipped_kb_is_bilingual_spoken_and_covers_the_hotline(shipped: list[KbEntry]) -> None:
    from kb.entry import known_topics

    assert len(shipped) >= 80
    assert {e.topic for e in shipped} == set(known_topics())
    for e in shipped:
        assert set(e.answers) == {"zh", "en"}, e.id
        assert detect_lang(e.answers["zh"]) == "zh" and detect_lang(e.answers["en"]) == "en", e.id
        assert {detect_lang(q) for q in e.questions} == {"zh", "en"}, e.id
        for text in e.answers.values():
            assert "http" not in text and "www" not in text and "|" not in text, e.id
            assert not any(ch.isdigit() for ch in text), f"{e.id}: say numbers in words for speech"
    gas = next(e for e in shipped if e.id == "gas-leak-safety")
    assert "hang up" in gas.answers["en"] and "one one nine" in gas.answers["en"]
    assert "挂断" in gas.answers["zh"] and "一一九" in gas.answers["zh"]


def test_dump_refuses_csv_questions_holding_the_separator() -> None:
    entry = KbEntry(id="x", questions=("a | b",), answers={"en": "A."})
    with pytest.raises(KbFormatError, match="contains '\\|'"):
        dump_entries([entry], "csv")
