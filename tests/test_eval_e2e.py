"""Scenario calls through the real service over its WebSocket, with the real models: English and
Mandarin turns spoken by the bot's own voices (Mandarin also over an 8 kHz mu-law line), and
Mandarin turns injected as text (the second mode)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.settings import Settings
from eval.e2e_bench import _trim, live_service
from eval.e2e_scenarios import run_scenario
from eval.load_bench import caller_pool, run_level
from eval.scenarios import ScenarioResult, load_scenarios, summarise
from tts.interface import WEB_PCM16_16K

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


SPOKEN_ZH = {
    "language": "zh",
    "scenarios": [
        {
            "name": "zh-fire-spoken",
            "text": "厨房着火了，快来人！",
            "expect": {"action": "handoff", "urgency": "emergency"},
        },
        {
            "name": "zh-water-bill-spoken",
            "text": "水费怎么交",
            "expect": {"action": "answer", "kb_entry": "water-bill-payment"},
        },
    ],
}


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory, model_cache_dir: Path) -> dict[str, list[ScenarioResult]]:
    """One live service; the calls in each mode."""
    folder = tmp_path_factory.mktemp("scenarios")
    (folder / "calls.yaml").write_text(yaml.safe_dump(CALLS, allow_unicode=True), encoding="utf-8")
    (folder / "spoken.yaml").write_text(yaml.safe_dump(SPOKEN_ZH, allow_unicode=True), encoding="utf-8")
    built = Settings().resolved_nlu_model_dir()
    settings = Settings(
        cache_dir=model_cache_dir,
        nlu_model_dir=built.resolve(),
        kb_index_dir=(REPO / "var" / "kb-index").resolve(),
        tts_cache_dir=model_cache_dir / "tts-prompts",
    )
    with live_service(settings) as (url, runtime):
        synth = runtime.loaded["tts"]

        def synthesize(text: str, language: str) -> bytes:
            audio: bytes = synth.synthesize(text, language, WEB_PCM16_16K).audio
            return audio

        injected = [
            run_scenario(url, c, synthesize, True, "inject") for c in load_scenarios(folder / "calls.yaml")
        ]
        spoken = load_scenarios(folder / "spoken.yaml")
        # Two callers finishing together, run from their own process as `triage bench e2e` does.
        questions = ["How can I pay my electricity bill?", "Where can I renew my passport?"]
        voice = runtime.session_services.voice_for("pcm16-16k")
        still_there = (voice.prompt_text("still_there", "en"),)
        with caller_pool() as pool:
            scheduler = runtime.session_services.recognizer_factory.scheduler
            clips = [_trim(synthesize(q, "en")) for q in questions]
            load = run_level(url, clips, 2, still_there, pool, scheduler)
        return {
            "injected": injected,
            "spoken": [run_scenario(url, c, synthesize, True, "speak") for c in spoken],
            "phone": [run_scenario(url, spoken[0], synthesize, True, "speak", "phone")],
            "load": [load],  # type: ignore[list-item]
        }


@pytest.fixture(scope="module")
def results(calls: dict[str, list[ScenarioResult]]) -> list[ScenarioResult]:
    return calls["injected"]


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


def test_a_spoken_mandarin_call_reaches_the_right_decision(calls: dict[str, list[ScenarioResult]]) -> None:
    """The Mandarin caller is heard from audio (the neural voice), as an English caller is."""
    fire, bill = calls["spoken"]
    assert fire.passed, (fire.failures, fire.outcomes[0].heard)
    assert fire.outcomes[0].handoff is not None and fire.outcomes[0].handoff["urgency"] == "emergency"
    heard = fire.outcomes[0].heard
    assert "火" in heard and "快来人" in heard, heard  # Whisper base may hear 着火 as 找火
    assert bill.passed, (bill.failures, bill.outcomes[0].heard)
    for call in (fire, bill):
        v2v = call.outcomes[0].voice_to_voice_s
        assert v2v is not None and 0 < v2v < 30 and call.outcomes[0].text_to_voice_s is None
    figures = summarise(calls["spoken"])
    assert figures["emergency_recall_zh"] == 1.0 and figures["voice_turns_zh"] == 2


def test_a_spoken_mandarin_emergency_over_a_phone_line_is_handed_off(
    calls: dict[str, list[ScenarioResult]],
) -> None:
    (fire,) = calls["phone"]
    assert fire.passed, (fire.failures, fire.outcomes[0].heard)
    assert fire.outcomes[0].voice_to_voice_s is not None


def test_a_load_level_reports_every_caller_and_where_the_time_went(calls: dict[str, list]) -> None:
    """`triage bench e2e`'s load level: callers in their own process, figures of the service's."""
    (row,) = calls["load"]
    assert row["admitted_share"] == 1.0 and not row["errors"], row
    assert row["voice_to_voice_p95_s"] is not None and row["voice_to_voice_p95_s"] < 30, row
    assert {"asr", "nlu", "tts"} <= set(row["stage_mean_s"]), row
    assert row["false_silence_prompts"] == 0 and row["peak_rss_mb"] > 100, row
    assert row["asr_decodes"]["runs"] >= 1 and row["asr_decodes"]["run_mean_s"] > 0, row
