"""Admission control with scripted fake stages: beyond capacity a caller hears that the lines are
busy and is queued for a person, their words are still screened for danger, and the service says
it is saturated."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from session_fakes import FakeCall

from pipeline.admission import Admission, auto_capacity
from pipeline.bus import EventBus
from pipeline.store import Store


def test_capacity_counts_and_frees() -> None:
    a = Admission(2)
    assert a.try_admit() and a.try_admit() and a.saturated
    assert not a.try_admit()
    a.release()
    assert not a.saturated and a.try_admit()
    assert auto_capacity(2) == 8 and auto_capacity(0) == 1
    with pytest.raises(ValueError):
        Admission(0)


def test_a_caller_beyond_capacity_is_queued_and_an_emergency_still_jumps_the_queue(tmp_path: Path) -> None:
    async def run() -> None:
        admission = Admission(1)
        store, bus = Store(f"sqlite:///{tmp_path / 'calls.db'}"), EventBus()
        first = FakeCall(tmp_path, admission=admission, store=store, bus=bus, silence_timeout_s=60)
        second = FakeCall(tmp_path, admission=admission, store=store, bus=bus, silence_timeout_s=60)
        await first.session.open()
        assert first.session.admitted and first.said() == ["GREETING"]
        await second.session.open()
        assert not second.session.admitted and admission.saturated
        assert second.said()[0] == "LINES_BUSY"
        queued = await second.wait_for(lambda m: m["type"] == "handoff")
        assert queued["urgency"] == "routine"
        handoff = store.get_handoff(queued["handoff_id"])
        assert "capacity" in handoff.reason and handoff.status == "waiting"
        # Their first words are still understood: danger raises the same handoff to emergency.
        await second.session.text("help my kitchen is on fire", "en")
        raised = await second.wait_for(lambda m: m["type"] == "handoff" and m["urgency"] == "emergency")
        assert raised["handoff_id"] == queued["handoff_id"]
        assert store.get_handoff(queued["handoff_id"]).urgency == "emergency"
        await first.session.close("caller_hangup")
        assert not admission.saturated  # the bot's place is free for the next caller
        await second.session.close("caller_hangup")
        assert admission.active == 0

    asyncio.run(run())


def test_health_and_metrics_say_saturated(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from prometheus_client import generate_latest

    from api.health import _calls_state

    admission = Admission(1)
    services = SimpleNamespace(admission=admission)
    runtime = SimpleNamespace(session_services=services, calls_error=None, draining=False)
    assert _calls_state(runtime) == "accepting"  # type: ignore[arg-type]
    assert admission.try_admit()
    assert _calls_state(runtime) == "saturated: 1 of 1 bot calls"  # type: ignore[arg-type]
    exposed = generate_latest().decode()
    assert "triage_saturated 1.0" in exposed and "triage_bot_capacity 1.0" in exposed
    assert not admission.try_admit()
    assert "triage_calls_deferred_total" in generate_latest().decode()
    admission.release()
    assert "triage_saturated 0.0" in generate_latest().decode()


def test_a_caller_handed_to_a_person_frees_their_bot_place(tmp_path: Path) -> None:
    async def run() -> tuple[bool, bool]:
        admission = Admission(1)
        store, bus = Store(f"sqlite:///{tmp_path / 'calls.db'}"), EventBus()
        first = FakeCall(tmp_path, admission=admission, store=store, bus=bus, silence_timeout_s=60)
        await first.session.open()
        await first.session.text("I want to talk to a person", "en")
        await first.wait_for(lambda m: m["type"] == "handoff")
        await asyncio.sleep(0.1)
        second = FakeCall(tmp_path, admission=admission, store=store, bus=bus, silence_timeout_s=60)
        await second.session.open()
        admitted = second.session.admitted
        await second.session.close("caller_hung_up")
        await first.session.close("caller_hung_up")
        return admitted, admission.active == 0

    admitted, all_free = asyncio.run(run())
    assert admitted  # the first caller waits for a person, not for the bot
    assert all_free  # and nothing is released twice or kept
