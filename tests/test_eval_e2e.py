"""Scenario calls through the real service over its WebSocket, with the real models."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from eval.e2e_scenarios import run_scenarios
from eval.scenarios import load_scenarios, summarise
from pipeline.settings import Settings

REPO = Path(__file__).resolve().parent.parent

CALLS = {
    "language": "en",
    "scenarios": [
        {
            "name": "spoken-bill",
            "say": "How can I pay my electricity bill?",
            "expect": {"action": "answer", "kb_entry": "power-bill-payment"},
        },
        {
            "name": "zh-fire",
            "language": "zh",
            "text": "厨房着火了，快来人！",
            "expect": {"action": "handoff", "urgency": "emergency"},
        },
        {
            "name": "zh-person-then-nothing",
            "language": "zh",
            "turns": [{"text": "我要转人工", "expect": {"action": "answer"}}],  # wrong on purpose
        },
    ],
}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path) -> list:
    folder = tmp_path_factory.mktemp("scenarios")
    (folder / "calls.yaml").write_text(yaml.safe_dump(CALLS, allow_unicode=True), encoding="utf-8")
    built = Settings().resolved_nlu_model_dir()
    settings = Settings(
        cache_dir=model_cache_dir,
        nlu_model_dir=built.resolve(),
        kb_index_dir=(REPO / "var" / "kb-index").resolve(),
    )
    return run_scenarios(settings, load_scenarios(folder))


def test_a_spoken_question_is_answered_and_timed(results: list) -> None:
    bill = results[0]
    assert bill.passed, (bill.failures, [o.heard for o in bill.outcomes])
    assert "electricity bill" in bill.outcomes[0].heard.lower()
    v2v = bill.outcomes[0].voice_to_voice_s
    assert v2v is not None and 0 < v2v < 30


def test_an_injected_mandarin_emergency_is_handed_off(results: list) -> None:
    fire = results[1]
    assert fire.passed, fire.failures
    assert fire.outcomes[0].handoff is not None and fire.outcomes[0].handoff["urgency"] == "emergency"
    assert fire.outcomes[0].text_to_voice_s is not None


def test_a_missed_expectation_fails_the_call_and_the_figures_count_it(results: list) -> None:
    person = results[2]
    assert not person.passed and "action handoff not answer" in person.failures[0]
    figures = summarise(results)
    assert figures["routing_accuracy"] == pytest.approx(2 / 3, abs=1e-3)
    assert figures["emergency_recall"] == 1.0
    assert figures["escalation_rate"] == pytest.approx(2 / 3, abs=1e-3)
    assert figures["containment_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert figures["voice_turns"] == 1 and figures["voice_to_voice_p50_s"] is not None
