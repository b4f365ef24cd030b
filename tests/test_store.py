"""The records store on SQLite (the default) and on a real PostgreSQL when one is reachable."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from pipeline.db import Base
from pipeline.routing import TransitionError
from pipeline.store import NotFoundError, Store

PG_URL = os.environ.get("TRIAGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_available() -> bool:
    try:
        with create_engine(PG_URL, connect_args={"connect_timeout": 2}).connect() as conn:
            conn.execute(text("select 1"))
        return True
    except Exception:
        return False


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        yield Store(f"sqlite:///{tmp_path / 'calls.db'}")
        return
    if not _postgres_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI expects PostgreSQL at {PG_URL} for the real-database path")
        pytest.skip(f"no PostgreSQL at {PG_URL} (set TRIAGE_TEST_POSTGRES_URL)")
    engine = create_engine(PG_URL)
    Base.metadata.drop_all(engine)
    engine.dispose()
    yield Store(PG_URL)


def test_call_transcript_and_decisions_are_recorded_in_order(store: Store) -> None:
    call = store.start_call("13800000000", "zh")
    store.add_utterance(call.id, "caller", "我家停水了", "zh", 0.4, 1.9, 0.9)
    store.add_utterance(call.id, "bot", "请问您的地址是哪里？", "zh")
    store.add_decision(call.id, "clarify", "low confidence 0.41 < 0.55", topic="water", confidence=0.41)
    store.end_call(call.id, "caller_hung_up")
    store.end_call(call.id, "second_reason_ignored")
    saved = store.get_call(call.id)
    assert [u.text for u in saved.utterances] == ["我家停水了", "请问您的地址是哪里？"]
    assert [u.seq for u in saved.utterances] == [1, 2]
    assert saved.decisions[0].reason.startswith("low confidence")
    assert saved.end_reason == "caller_hung_up" and saved.ended_at is not None


def test_unknown_ids_raise_a_clear_error(store: Store) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        store.add_utterance("nope", "caller", "hello")
    with pytest.raises(NotFoundError):
        store.get_handoff("missing")


def test_queue_orders_by_urgency_then_wait_and_respects_skills(store: Store) -> None:
    calls = [store.start_call(f"1000{i}", "en") for i in range(3)]
    routine = store.create_handoff(calls[0].id, "routine", "asked for a person", topic="water", language="en")
    time.sleep(0.01)
    urgent = store.create_handoff(calls[1].id, "urgent", "no water", topic="water", language="zh")
    time.sleep(0.01)
    emergency = store.create_handoff(calls[2].id, "emergency", "rule: fire", topic="health", language="en")
    assert [h.id for h in store.waiting()] == [emergency.id, urgent.id, routine.id]

    agent, token = store.create_agent("Li", topics=["water"], languages=["en"])
    assert store.agent_by_token(token).id == agent.id  # type: ignore[union-attr]
    assert store.agent_by_token("wrong") is None
    assert [h.id for h in store.queue_for(agent.id)] == [emergency.id, routine.id]

    store.accept_handoff(emergency.id, agent.id)
    assert store.get_agent(agent.id).status == "busy"
    with pytest.raises(ValueError, match="not waiting"):
        store.accept_handoff(emergency.id, agent.id)
    store.resolve_handoff(emergency.id, agent.id, "fire brigade dispatched")
    assert store.get_handoff(emergency.id).status == "resolved"
    assert [h.id for h in store.waiting()] == [urgent.id, routine.id]


def test_ending_a_call_abandons_its_waiting_handoff(store: Store) -> None:
    call = store.start_call("139", "en")
    handoff = store.create_handoff(call.id, "routine", "asked for a person")
    store.end_call(call.id, "caller_hung_up", status="dropped")
    assert store.get_handoff(handoff.id).status == "abandoned"


def test_work_order_lifecycle_with_notes_and_caller_history(store: Store) -> None:
    first = store.start_call("13900001111", "zh")
    store.end_call(first.id, "goodbye")
    order = store.create_work_order(
        "路灯不亮",
        author="li",
        call_id=first.id,
        topic="roads_streetlights",
        details={"address": "解放路12号"},
    )
    assert order.caller_number == "13900001111" and order.status == "new"
    store.update_work_order(order.id, "agent-li", status="assigned", assigned_to="streetlight team")
    store.update_work_order(order.id, "agent-li", status="in_progress", note="crew on the way")
    with pytest.raises(TransitionError):
        store.update_work_order(order.id, "agent-li", status="new")
    done = store.update_work_order(order.id, "agent-li", status="resolved", note="bulb replaced")
    # The refused transition left no note behind.
    assert [n.status_to for n in done.notes] == ["new", "assigned", "in_progress", "resolved"]
    assert done.notes[-1].text == "bulb replaced"

    second = store.start_call("13900001111", "zh")
    history = store.caller_history("13900001111", exclude_call=second.id)
    assert [c.id for c in history.calls] == [first.id]
    assert [o.id for o in history.work_orders] == [order.id]


def test_rating_is_bounded(store: Store) -> None:
    call = store.start_call(None, "en")
    assert store.rate_call(call.id, 5).rating == 5
    with pytest.raises(ValueError, match="1 to 5"):
        store.rate_call(call.id, 9)


def test_records_survive_reopening_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'calls.db'}"
    call = Store(url).start_call("1", "en")
    Store(url).create_handoff(call.id, "emergency", "rule: not breathing")
    assert [h.call_id for h in Store(url).waiting()] == [call.id]
