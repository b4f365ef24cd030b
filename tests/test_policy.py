from dataclasses import replace

from pipeline.policy import DialogueState, PolicyConfig, TurnFacts, decide, on_silence

CFG = PolicyConfig()
START = DialogueState()


def facts(**kw: object) -> TurnFacts:
    base = TurnFacts(text="x", language="en", topic="power", request_type="inquiry", confidence=0.9)
    return replace(base, **kw)  # type: ignore[arg-type]


def test_emergency_is_handed_off_at_once_even_with_a_kb_answer() -> None:
    d = decide(
        facts(
            emergency=True, emergency_reason="rule fire_now: 着火了", kb_entry_id="kb1", kb_confidence=0.99
        ),
        START,
        CFG,
    )
    assert d.action == "handoff" and d.urgency == "emergency" and "着火了" in d.reason


def test_confident_kb_match_is_answered_and_asks_for_feedback() -> None:
    d = decide(facts(kb_entry_id="outage-schedule", kb_confidence=0.8), START, CFG)
    assert d.action == "answer" and d.kb_entry_id == "outage-schedule"
    assert d.state.awaiting_feedback
    yes = decide(facts(intent="yes"), d.state, CFG)
    assert yes.action == "anything_else" and not yes.state.awaiting_feedback


def test_answer_that_did_not_help_goes_to_a_person_not_a_loop() -> None:
    answered = decide(facts(kb_entry_id="a", kb_confidence=0.8), START, CFG)
    no = decide(facts(intent="no"), answered.state, CFG)
    assert no.action == "handoff" and "did not help" in no.reason


def test_the_same_answer_is_never_given_twice() -> None:
    answered = decide(facts(kb_entry_id="a", kb_confidence=0.8), START, CFG)
    again = decide(facts(kb_entry_id="a", kb_confidence=0.8), answered.state, CFG)
    assert again.action != "answer"


def test_low_confidence_clarifies_once_then_hands_off() -> None:
    first = decide(facts(confidence=0.2), START, CFG)
    assert first.action == "clarify"
    second = decide(facts(confidence=0.2), first.state, CFG)
    assert second.action == "handoff" and "clarifying" in second.reason


def test_out_of_scope_clarifies_with_that_reason() -> None:
    assert decide(facts(out_of_scope=True), START, CFG).reason == "clarify once: out of scope"


def test_asking_for_a_person_works_at_any_moment() -> None:
    for state in (START, DialogueState(awaiting_feedback=True), DialogueState(clarifications=1)):
        assert decide(facts(intent="ask_human"), state, CFG).action == "handoff"


def test_complaints_go_to_a_person_and_fault_reports_to_a_work_order() -> None:
    assert decide(facts(request_type="complaint"), START, CFG).action == "handoff"
    assert decide(facts(request_type="fault", topic="roads_streetlights"), START, CFG).action == "work_order"


def test_repeat_and_goodbye() -> None:
    assert decide(facts(intent="repeat"), START, CFG).action == "repeat"
    assert decide(facts(intent="goodbye"), START, CFG).action == "end"


def test_urgent_without_answer_goes_to_a_person() -> None:
    d = decide(facts(urgency="urgent", topic="water"), START, CFG)
    assert d.action == "handoff" and d.urgency == "urgent"


def test_silence_is_prompted_once_then_the_call_ends_politely() -> None:
    first = on_silence(START, CFG)
    assert first.action == "still_there"
    assert on_silence(first.state, CFG).action == "end"


def test_a_question_the_kb_entry_names_no_answer_to_goes_to_a_person_without_clarifying() -> None:
    # "how much does a passport cost": the KB found the passport entry, which names no fee;
    # asking the caller to say it again in other words cannot help
    d = decide(facts(kb_entry_id="passport-apply", kb_confidence=0.0, kb_lacks=("amount",)), START, CFG)
    assert d.action == "handoff" and "passport-apply names no amount" in d.reason
    plain = decide(facts(kb_entry_id="passport-apply", kb_confidence=0.1), START, CFG)
    assert plain.action == "clarify"
