"""Call-back tasks in the records database, on SQLite and on a real PostgreSQL (CI requires it):
opened by a hang-up, a dropped line, a timeout or a restart, exactly once per handoff, and closed
only by an outcome."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, update

from pipeline.callbacks import CallbackClosedError, Callbacks
from pipeline.db import Base, Callback, Handoff, utcnow
from pipeline.store import NotFoundError, Store


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


def waiting_handoff(
    store: Store, urgency: str, number: str = "13800001111", age_s: float = 0, **fields: Any
) -> Handoff:
    call = store.start_call(number, "en")
    store.add_utterance(call.id, "caller", "There is a strong gas smell and my neighbour fainted", "en")
    handoff = store.create_handoff(
        call.id, urgency, "emergency rule: gas smell + person fainted", topic="gas", language="en", **fields
    )
    if age_s:
        handoff = store.update_handoff(handoff.id, created_at=utcnow() - timedelta(seconds=age_s))
    return handoff


def all_tasks(store: Store) -> list[Callback]:
    with store.session() as s:
        return list(s.scalars(select(Callback)))


def race(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """Run fn(0..n-1) in threads released at the same moment; returns results or raised errors."""
    barrier = threading.Barrier(n)
    out: list[Any] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = fn(i)
        except Exception as e:
            out[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_hanging_up_on_a_waiting_emergency_opens_a_task_with_the_handoff_abandoned(store: Store) -> None:
    handoff = waiting_handoff(store, "emergency", details={"address": "12 Riverside Road"})
    store.end_call(handoff.call_id, "caller_hung_up")
    store.end_call(handoff.call_id, "caller_hung_up")  # ending twice changes nothing
    [task] = Callbacks(store).tasks()
    assert (task.handoff_id, task.call_id, task.caller_number) == (handoff.id, handoff.call_id, "13800001111")
    assert (task.urgency, task.topic, task.language) == ("emergency", "gas", "en")
    assert (task.trigger, task.status, task.outcome) == ("caller_hung_up", "open", None)
    assert store.get_handoff(handoff.id).status == "abandoned"  # out of the live queue, not out of sight


def test_a_dropped_urgent_caller_gets_a_task_and_a_routine_one_does_not(store: Store) -> None:
    urgent = waiting_handoff(store, "urgent", number="13700000001")
    routine = waiting_handoff(store, "routine", number="13700000002")
    store.end_call(urgent.call_id, "caller_dropped", "dropped")
    store.end_call(routine.call_id, "caller_hung_up")
    assert [(t.handoff_id, t.trigger) for t in all_tasks(store)] == [(urgent.id, "line_dropped")]
    assert store.get_handoff(routine.id).status == "abandoned"


def test_an_accepted_emergency_is_not_a_call_back_when_the_caller_hangs_up(store: Store) -> None:
    handoff = waiting_handoff(store, "emergency")
    agent, _ = store.create_agent("Li")
    store.accept_handoff(handoff.id, agent.id)
    store.end_call(handoff.call_id, "caller_hung_up")
    assert all_tasks(store) == []


def test_an_emergency_nobody_accepts_in_time_opens_one_task_and_stays_in_the_queue(store: Store) -> None:
    late = waiting_handoff(store, "emergency", age_s=25)
    fresh = waiting_handoff(store, "emergency", number="13900000000", age_s=5)
    urgent = waiting_handoff(store, "urgent", number="13600000000", age_s=600)
    callbacks = Callbacks(store)
    [task] = callbacks.open_overdue(timeout_s=20)
    assert (task.handoff_id, task.trigger, task.status) == (late.id, "not_accepted_in_time", "open")
    assert callbacks.open_overdue(timeout_s=20) == []  # one task per handoff, however often we scan
    assert store.get_handoff(late.id).status == "waiting"  # the caller may still be on the line
    assert [h.id for h in store.waiting()][:2] == [late.id, fresh.id]
    # The caller then hangs up: the handoff leaves the queue, the task stays the one task.
    store.end_call(late.call_id, "caller_hung_up")
    assert [(t.handoff_id, t.trigger) for t in all_tasks(store)] == [(late.id, "not_accepted_in_time")]
    assert urgent.id not in [t.handoff_id for t in all_tasks(store)]  # the timeout is for emergencies


def test_two_processes_scanning_at_once_open_exactly_one_task(url: str) -> None:
    first, second = Store(url), Store(url)  # two service instances on one database
    handoffs = [waiting_handoff(first, "emergency", number=f"1380000000{i}", age_s=30) for i in range(3)]
    stores = [first, second, Store(url), Store(url)]
    made = race(len(stores), lambda i: Callbacks(stores[i]).open_overdue(timeout_s=20))
    assert not [m for m in made if isinstance(m, Exception)], made
    opened = [t.handoff_id for batch in made for t in batch]
    assert sorted(opened) == sorted(h.id for h in handoffs)  # each announced by exactly one instance
    assert sorted(t.handoff_id for t in all_tasks(first)) == sorted(h.id for h in handoffs)


def test_a_hang_up_racing_the_timeout_scan_still_makes_one_task(url: str) -> None:
    store = Store(url)
    handoffs = [waiting_handoff(store, "emergency", number=f"1370000000{i}", age_s=30) for i in range(4)]
    other = Store(url)

    def act(i: int) -> Any:
        if i % 2:
            return Callbacks(other).open_overdue(timeout_s=20)
        return [store.end_call(h.call_id, "caller_hung_up") for h in handoffs]

    results = race(2, act)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(t.handoff_id for t in all_tasks(store)) == sorted(h.id for h in handoffs)


def test_no_answer_is_logged_and_the_task_stays_until_an_outcome_closes_it(store: Store) -> None:
    handoff = waiting_handoff(store, "emergency")
    store.end_call(handoff.call_id, "caller_hung_up")
    agent, _ = store.create_agent("Wang")
    callbacks = Callbacks(store)
    [task] = callbacks.tasks()
    after_try = callbacks.record(task.id, agent.id, "no_answer", "rang twice, voicemail")
    assert after_try.status == "open" and [a.outcome for a in after_try.attempts] == ["no_answer"]
    assert [t.id for t in callbacks.tasks()] == [task.id]
    closed = callbacks.record(task.id, agent.id, "dispatched", "gas company and ambulance sent")
    assert (closed.status, closed.outcome, closed.agent_id) == ("closed", "dispatched", agent.id)
    assert closed.note == "gas company and ambulance sent" and closed.closed_at is not None
    assert [a.outcome for a in closed.attempts] == ["no_answer", "dispatched"]
    assert callbacks.tasks() == [] and [t.id for t in callbacks.tasks("closed")] == [task.id]
    with pytest.raises(CallbackClosedError, match="already closed"):
        callbacks.record(task.id, agent.id, "false_alarm")
    with pytest.raises(ValueError, match="Unknown call-back outcome"):
        callbacks.record(task.id, agent.id, "gave_up")
    with pytest.raises(NotFoundError, match="nope"):
        callbacks.record("nope", agent.id, "reached")


def test_two_agents_closing_one_task_at_once_exactly_one_wins(store: Store) -> None:
    handoff = waiting_handoff(store, "emergency")
    store.end_call(handoff.call_id, "caller_dropped", "dropped")
    [task] = Callbacks(store).tasks()
    agents = [store.create_agent(f"agent {i}")[0] for i in range(4)]
    results = race(4, lambda i: Callbacks(store).record(task.id, agents[i].id, "called_back", f"by {i}"))
    assert sum(isinstance(r, CallbackClosedError) for r in results) == 3, results
    closed = Callbacks(store).get(task.id)
    assert [a.outcome for a in closed.attempts] == ["called_back"]  # the losers left no trace


def test_accepting_a_timed_out_emergency_closes_its_task_as_reached(store: Store) -> None:
    handoff = waiting_handoff(store, "emergency", age_s=30)
    callbacks = Callbacks(store)
    [task] = callbacks.open_overdue(timeout_s=20)
    agent, _ = store.create_agent("Zhao")
    store.accept_handoff(handoff.id, agent.id)
    reached = callbacks.reached_on_accept(handoff.id, agent.id)
    assert reached is not None and reached.id == task.id
    assert (reached.status, reached.outcome, reached.agent_id) == ("closed", "reached", agent.id)
    assert callbacks.reached_on_accept(handoff.id, agent.id) is None  # already closed


def test_open_tasks_list_emergencies_first_then_the_oldest(store: Store) -> None:
    urgent_old = waiting_handoff(store, "urgent", number="1")
    emergency_new = waiting_handoff(store, "emergency", number="2")
    emergency_old = waiting_handoff(store, "emergency", number="3")
    for h, age in ((urgent_old, 300), (emergency_new, 10), (emergency_old, 60)):
        store.end_call(h.call_id, "caller_hung_up")
        with store.session() as s:  # when the task was opened
            s.execute(
                update(Callback)
                .where(Callback.handoff_id == h.id)
                .values(created_at=utcnow() - timedelta(seconds=age))
            )
            s.commit()
    order = [t.caller_number for t in Callbacks(store).tasks()]
    assert order == ["3", "2", "1"]


def test_after_a_restart_handoffs_left_waiting_become_tasks_once(url: str) -> None:
    before = Store(url)  # the process that crashed with callers in the queue
    emergency = waiting_handoff(before, "emergency", number="1", age_s=8)
    urgent = waiting_handoff(before, "urgent", number="2", age_s=3)
    routine = waiting_handoff(before, "routine", number="3", age_s=3)
    hung_up = waiting_handoff(before, "emergency", number="4", age_s=9)
    before.end_call(hung_up.call_id, "caller_hung_up")
    after = Store(url)  # the new process
    started = utcnow()
    opened = Callbacks(after).open_left_waiting(started)
    assert [(t.handoff_id, t.trigger) for t in opened] == [
        (emergency.id, "service_restarted"),
        (urgent.id, "service_restarted"),
    ]
    assert Callbacks(after).open_left_waiting(started) == []
    assert routine.id not in [t.handoff_id for t in all_tasks(after)]
    # The one opened before the restart is still there, with its own trigger, and can be closed.
    tasks = {t.handoff_id: t for t in Callbacks(after).tasks()}
    assert tasks[hung_up.id].trigger == "caller_hung_up" and len(tasks) == 3
    agent, _ = after.create_agent("Chen")
    assert Callbacks(after).record(tasks[hung_up.id].id, agent.id, "false_alarm").status == "closed"
