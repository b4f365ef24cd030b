"""A waiting caller who asks to be called back (trigger caller_asked), on SQLite and on a real
PostgreSQL (CI requires it): one task per handoff whatever its urgency, the handoff out of the
waiting queue in the same transaction, and the call's end opens no second task."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine
from test_callbacks_store import all_tasks, race, waiting_handoff

from pipeline.callback_rules import callback_number, task_fields
from pipeline.callbacks import Callbacks
from pipeline.db import Base
from pipeline.store import NotFoundError, Store

PHONES = {
    "phones": [{"kind": "mobile", "text": "139...", "value": "13912345678", "display": "139 1234 5678"}]
}


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'calls.db'}"
    pg: str = request.getfixturevalue("postgres_url")
    engine = create_engine(pg)
    Base.metadata.drop_all(engine)
    engine.dispose()
    return pg


@pytest.fixture()
def store(url: str) -> Iterator[Store]:
    yield Store(url)


def test_the_number_to_ring_is_the_caller_id_else_the_first_number_they_said() -> None:
    phones = PHONES
    assert callback_number("13800001111", phones) == "13800001111"
    assert callback_number(None, phones) == "13912345678"
    assert callback_number("", {"phones": []}) is None
    assert callback_number(None, None) is None


def test_caller_asked_is_a_trigger_for_any_urgency() -> None:
    handoff = SimpleNamespace(id="h1", call_id="c1", urgency="routine", topic=None, language="zh")
    row = task_fields("t1", handoff, None, "caller_asked", datetime(2026, 1, 1, tzinfo=UTC))
    assert (row["trigger"], row["urgency"], row["status"]) == ("caller_asked", "routine", "open")


@pytest.mark.parametrize("urgency", ["routine", "urgent"])
def test_asking_opens_one_task_and_takes_the_handoff_out_of_the_queue(store: Store, urgency: str) -> None:
    handoff = waiting_handoff(store, urgency)
    callbacks = Callbacks(store)
    task, created = callbacks.open_requested(handoff.id)
    assert created and task is not None
    assert (task.handoff_id, task.trigger, task.urgency) == (handoff.id, "caller_asked", urgency)
    assert (task.caller_number, task.status) == ("13800001111", "open")
    assert store.get_handoff(handoff.id).status == "callback"
    assert handoff.id not in [h.id for h in store.waiting()]
    assert callbacks.open_requested(handoff.id) == (None, False)  # asked twice: still one task
    store.end_call(handoff.call_id, "callback_requested")  # the bot ends the call
    store.end_call(handoff.call_id, "caller_hung_up")
    assert [(t.handoff_id, t.trigger) for t in all_tasks(store)] == [(handoff.id, "caller_asked")]
    assert store.get_handoff(handoff.id).status == "callback"


def test_without_caller_id_the_task_keeps_the_number_the_caller_said(store: Store) -> None:
    handoff = waiting_handoff(store, "routine", number=None, details=PHONES)  # type: ignore[arg-type]
    task, _ = Callbacks(store).open_requested(handoff.id)
    assert task is not None and task.caller_number == "13912345678"


def test_an_accepted_handoff_is_not_turned_into_a_call_back(store: Store) -> None:
    handoff = waiting_handoff(store, "urgent")
    agent, _ = store.create_agent("Li")
    store.accept_handoff(handoff.id, agent.id)
    assert Callbacks(store).open_requested(handoff.id) == (None, False)
    assert all_tasks(store) == [] and store.get_handoff(handoff.id).status == "accepted"
    with pytest.raises(NotFoundError):
        Callbacks(store).open_requested("no-such-handoff")


def test_an_emergency_that_already_has_its_task_keeps_that_one(store: Store) -> None:
    handoff = waiting_handoff(store, "emergency", age_s=30)
    callbacks = Callbacks(store)
    [timed_out] = callbacks.open_overdue(timeout_s=20)
    task, created = callbacks.open_requested(handoff.id)
    assert not created and task is not None and task.id == timed_out.id
    assert [t.trigger for t in all_tasks(store)] == ["not_accepted_in_time"]


def test_an_agent_accepting_while_the_caller_asks_one_wins(url: str) -> None:
    first = Store(url)
    handoff = waiting_handoff(first, "urgent")
    agent, _ = first.create_agent("Li")
    stores = [first, Store(url)]

    def act(i: int) -> object:
        if i == 0:
            return stores[0].accept_handoff(handoff.id, agent.id)
        return Callbacks(stores[1]).open_requested(handoff.id)

    accepted, asked = race(2, act)
    status = first.get_handoff(handoff.id).status
    tasks = all_tasks(first)
    if status == "accepted":  # the agent won: no task, the caller is told nothing
        assert asked == (None, False) and tasks == []
        assert not isinstance(accepted, Exception)
    else:  # the caller won: the agent is told it no longer waits
        assert status == "callback" and isinstance(accepted, ValueError)
        assert [t.trigger for t in tasks] == ["caller_asked"]
