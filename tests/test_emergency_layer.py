"""The emergency layer: every dispatch category in both languages, clean and as ASR hears it; the
cancellations (negation, past, figures of speech, questions about a topic); the semantic layer that
catches what no rule was written for, and says why; and `triage eval emergency`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from nlu.rules import EmergencyRules, live_hits

DATA = Path(__file__).resolve().parent / "data"
CASES = yaml.safe_load((DATA / "emergency_categories.yaml").read_text(encoding="utf-8"))
ALL_CASES = [(cat, lang, text) for cat, by in CASES.items() for lang, texts in by.items() for text in texts]

CANCELLED = {
    "zh": [
        "去年我家着过火现在想问保险怎么理赔",
        "三年前我爸中风过一次现在想申请残疾补贴",
        "没有人受伤就是两辆车剐蹭了想问责任怎么认定",
        "气死我了快递又送错了",
        "楼上吵得要死天天半夜跳绳",
        "遇到家暴应该去哪里求助",
        "我想报名急救培训课程学心肺复苏",
        "燃气表没气了怎么充值",
        "楼上的落水管堵了一直往下漏水",
        "几年前小区被盗过现在想多装几个监控",
        "楼下装修天天电钻 吵得我脑袋要炸了",
        "一氧化碳报警器买哪种才对",
    ],
    "en": [
        "there was a fire in our block last year how do we claim the insurance",
        "my father had a stroke years ago how do i apply for a disability parking badge",
        "nobody is hurt it was a small bump i need the police report number",
        "this noise is killing me every single night",
        "my boss will kill me if i am late again because of these buses",
        "where can i get help with domestic violence counselling",
        "how much does a first aid course cost",
        "the website is not responding when i try to pay",
        "there is a break in the water main on our street",
        "the traffic is not moving on the ring road again",
        "this water bill is daylight robbery",
        "a while back my neighbour overdosed and i want to thank the crew",
        "suppose someone collapsed at our football match could we use the defibrillator",
        "the temporary traffic lights on the bridge are murder in the mornings",
    ],
}


@pytest.fixture(scope="module")
def rules() -> EmergencyRules:
    return EmergencyRules.load()


def test_every_dispatch_category_has_cases_in_both_languages(rules: EmergencyRules) -> None:
    assert {r.name for r in rules.rules} == set(CASES)
    for cat, by in CASES.items():
        assert set(by) == {"en", "zh"}, cat
        assert {rules.by_name[cat].service} <= {"medical", "police", "fire", "traffic"}
        assert rules.by_name[cat].label("zh") and rules.by_name[cat].label("en")


@pytest.mark.parametrize("category,lang,text", ALL_CASES)
def test_the_rule_for_each_category_fires(rules: EmergencyRules, category: str, lang: str, text: str) -> None:
    live = {h.rule for h in live_hits(rules.scan(text))}
    assert category in live, (text, live, rules.scan(text))


@pytest.mark.parametrize("lang,text", [(lang, t) for lang, texts in CANCELLED.items() for t in texts])
def test_negated_past_figurative_and_informational_mentions_do_not_fire(
    rules: EmergencyRules, lang: str, text: str
) -> None:
    assert not live_hits(rules.scan(text)), rules.scan(text)


def test_just_happened_is_an_emergency_but_long_ago_is_not(rules: EmergencyRules) -> None:
    for text in ("he was shot", "我妈刚被车撞了", "shots fired officer down", "我爸低血糖晕过去了"):
        assert live_hits(rules.scan(text)), text
    for text in ("last year my house burned down", "he was shot years ago and now needs a care home"):
        assert not live_hits(rules.scan(text)), text


@pytest.mark.parametrize(
    "text",
    [
        # a negation in an earlier clause is about something else
        "half his face isn't moving and he's slurring",
        # a reassurance the caller takes back
        "she says she's fine but she can't breathe properly and her lips are blue",
        "我爸摔了一跤 当时说没事 现在叫不醒了",
        # "never before" dates nothing
        "我儿子倒在地上全身抽搐 以前从来没有过",
    ],
)
def test_what_the_caller_takes_back_does_not_cancel(rules: EmergencyRules, text: str) -> None:
    assert live_hits(rules.scan(text)), text


def test_the_call_takers_words_are_not_the_callers(rules: EmergencyRules) -> None:
    heard = rules.without_dispatcher("911 what's the address of your emergency uh my husband collapsed")
    assert heard == "uh my husband collapsed"
    assert rules.without_dispatcher("110你好请讲 我家被盗了") == "我家被盗了"
    assert rules.past_context("last year our kitchen caught fire") == "past: last year"
    assert rules.past_context("last year it flooded and now it is flooding again") is None


# ---- the whole classifier, real encoder and bank --------------------------------------------


@pytest.fixture(scope="module")
def classifier():
    from nlu import IntentClassifier

    return IntentClassifier.load()


@pytest.mark.slow
def test_the_classifier_flags_every_category_case_and_names_its_category(classifier) -> None:
    results = classifier.predict_many([t for _, _, t in ALL_CASES], [lang for _, lang, _ in ALL_CASES])
    missed = [t for (_, _, t), r in zip(ALL_CASES, results, strict=True) if not r.emergency.flagged]
    assert not missed
    for (_cat, _, text), r in zip(ALL_CASES, results, strict=True):
        assert r.urgency == "emergency" and r.emergency.category, text
        assert r.emergency.service in {"medical", "police", "fire", "traffic"}, text


@pytest.mark.slow
def test_the_classifier_keeps_the_cancellations(classifier) -> None:
    texts = [t for texts in CANCELLED.values() for t in texts]
    flagged = [r.text for r in classifier.predict_many(texts) if r.emergency.flagged]
    assert not flagged


@pytest.mark.slow
def test_the_semantic_layer_catches_what_no_rule_covers_and_says_why(classifier) -> None:
    # Phrasings with no rule pattern in them (checked first): only the bank can catch them.
    unruled = [
        ("there is a little boy face down in the pond and he is not coming up", "en"),
        ("my grandfather went grey and slumped over at the dinner table", "en"),
        ("some men with balaclavas are inside the jewellery shop smashing the cases", "en"),
        ("我家孩子把一整板降压药都吞下去了", "zh"),
        ("隔壁的老人从早上到现在一动不动地趴在楼梯上", "zh"),
    ]
    rules = classifier.rules
    for text, _ in unruled:
        assert not live_hits(rules.scan(text)), (text, rules.scan(text))
    results = classifier.predict_many([t for t, _ in unruled], [lang for _, lang in unruled])
    semantic = [r for r in results if r.emergency.source == "semantic"]
    assert len(semantic) >= 3, [(r.text, r.emergency.reason) for r in results]
    for r in semantic:
        assert r.emergency.flagged and r.emergency.category and r.emergency.example
        assert "like '" in r.emergency.reason and r.emergency.category in r.emergency.reason


@pytest.mark.slow
def test_the_semantic_layer_defers_to_the_past_tense(classifier) -> None:
    r = classifier.predict("years ago a little boy was found face down in our pond, can the council fence it")
    assert not r.emergency.flagged, r.emergency.reason


@pytest.mark.slow
def test_bank_calibration_is_reported(classifier) -> None:
    loo = classifier.bank.loo
    assert loo["loo_false_alarm"] <= 0.02
    assert loo["loo_recall"] >= 0.8
    assert loo["emergency_examples"] >= 37 * 2 * 5


@pytest.mark.slow
def test_eval_emergency_command_reports_per_category_and_language(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    rows = [{"text": t, "lang": lang, "category": c, "variant": "clean"} for c, lang, t in ALL_CASES[:12]]
    (tmp_path / "positives.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    negatives = [
        {"text": t, "lang": lang, "category": "routine"} for lang, ts in CANCELLED.items() for t in ts
    ]
    (tmp_path / "negatives.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in negatives), encoding="utf-8"
    )
    out = tmp_path / "figures.json"
    result = CliRunner().invoke(
        app,
        ["eval", "emergency", "--data", str(tmp_path), "--json", str(out), "--out", str(tmp_path / "runs")],
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text(encoding="utf-8"))["emergency"]
    assert figures["emergency_recall"] == 1.0 and figures["emergency_false_alarm_rate"] == 0.0
    assert figures["recall_lang_en"] == 1.0 and figures["recall_lang_zh"] == 1.0
    assert "| cardiac | recall |" in result.output
    run = next((tmp_path / "runs").iterdir())
    assert (run / "results.json").is_file() and (run / "recall_by_category.png").is_file()
