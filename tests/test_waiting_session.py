"""A caller waiting for a person, with scripted fake stages (tests/session_fakes.py): they hear their
place and estimated wait at the set interval, an urgent or dangerous turn moves them up at once,
"call me back" ends the call with exactly one call-back task, "I'll wait" keeps them waiting, and
the announcements stop once an agent connects."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from session_fakes import FakeCall
from test_call_bridge import FakeLeg

from pipeline.bus import EventBus
from pipeline.callbacks import Callbacks
from pipeline.db import utcnow
from pipeline.store import Store
from pipeline.waiting import queue_place, recent_handle_times_s

NUMBER = "13800001111"


class RecordingBus(EventBus):
    def __init__(self) -> None:
        super().__init__()
        self.published: list[tuple[str, dict[str, Any]]] = []

    def publish(self, topic: str, **data: Any) -> None:
        self.published.append((topic, data))
        super().publish(topic, **data)


def staffed(store: Store, status: str = "busy") -> str:
    """One signed-in agent who takes every topic and language."""
    agent, _ = store.create_agent("Ana")
    store.set_agent_status(agent.id, status)
    return agent.id


def someone_ahead(store: Store, minutes: float = 1) -> str:
    """Another routine caller already waiting for ``minutes``."""
    call = store.start_call("13900002222", "en")
    handoff = store.create_handoff(call.id, "routine", "asked for a person", language="en")
    store.update_handoff(handoff.id, created_at=utcnow() - timedelta(minutes=minutes))
    return handoff.id


def announcements(call: FakeCall) -> list[str]:
    return [t for t in call.said() if t.startswith("WAITING_UPDATE")]


async def waiting_call(tmp_path: Path, interval_s: float = 30.0, ahead: int = 1, **kw: Any) -> FakeCall:
    store = Store(f"sqlite:///{tmp_path / 'calls.db'}")
    staffed(store)
    for _ in range(ahead):
        someone_ahead(store)
    call = FakeCall(tmp_path, store=store, waiting_announce_s=interval_s, silence_timeout_s=60, **kw)
    await call.session.open()
    await call.session.text("I want to talk to a person", "en")
    await call.wait_for(lambda m: m["type"] == "handoff")
    return call


def test_place_and_wait_are_announced_again_at_each_interval(tmp_path: Path) -> None:
    async def run() -> tuple[FakeCall, list[float]]:
        call = await waiting_call(tmp_path, interval_s=0.6)
        heard: list[float] = []
        deadline = time.monotonic() + 6
        while len(heard) < 3 and time.monotonic() < deadline:
            if len(announcements(call)) > len(heard):
                heard.append(time.monotonic())
            await asyncio.sleep(0.02)
        await call.session.close("caller_hung_up")
        return call, heard

    call, heard = asyncio.run(run())
    # Second in line behind one routine caller, one busy agent, no history: 1.5 x 4 min = 6 min.
    assert announcements(call)[:3] == ["WAITING_UPDATE minutes=6 n=2"] * 3
    gaps = [b - a for a, b in itertools.pairwise(heard)]
    # never sooner than the interval; the upper bound only says "again", with room for a loaded machine
    assert len(gaps) == 2 and all(0.5 < g < 4.0 for g in gaps), gaps
    assert call.session.waiting.offered


def test_no_announcement_while_the_caller_speaks(tmp_path: Path) -> None:
    async def run() -> tuple[int, int]:
        call = await waiting_call(tmp_path, interval_s=0.5)
        await call.session.audio(b"S|")  # the caller starts talking and keeps on
        await asyncio.sleep(1.5)
        during = len(announcements(call))
        await call.session.audio(b"E:hello|")
        await call.wait_for(lambda m: m["type"] == "bot_text" and m["text"].startswith("WAITING_UPDATE"), 5)
        after = len(announcements(call))
        await call.session.close("caller_hung_up")
        return during, after

    during, after = asyncio.run(run())
    assert during == 0 and after >= 1


def test_an_urgent_turn_moves_a_routine_caller_up_at_once(tmp_path: Path) -> None:
    async def run() -> FakeCall:
        call = await waiting_call(tmp_path, bus=RecordingBus())
        await call.session.text("it is urgent, the basement is flooding", "en")
        await call.wait_for(lambda m: m["type"] == "bot_text" and m["text"].startswith("WAITING_MOVED_UP"))
        await call.session.close("caller_hung_up")
        return call

    call = asyncio.run(run())
    handoff = call.store.get_handoff(call.session.handoff_id or "")
    assert handoff.urgency == "urgent" and handoff.reason.startswith("urgent:")
    assert "WAITING_MOVED_UP n=1" in call.said()  # ahead of the routine caller who was first
    assert {"type": "handoff", "handoff_id": handoff.id, "urgency": "urgent"} in call.sent
    topics = [(t, d.get("urgency")) for t, d in call.bus.published]  # type: ignore[attr-defined]
    assert ("handoff.updated", "urgent") in topics and ("queue.changed", None) in topics


def test_danger_while_waiting_makes_an_emergency_and_the_wait_chatter_stops(tmp_path: Path) -> None:
    async def run() -> tuple[FakeCall, int]:
        call = await waiting_call(tmp_path, interval_s=0.4)
        await call.session.text("there is a fire in the stairwell", "en")
        await call.wait_for(lambda m: m["type"] == "bot_text" and m["text"] == "EMERGENCY")
        before = len(announcements(call))
        await asyncio.sleep(1.2)
        after = len(announcements(call))
        await call.session.close("caller_hung_up")
        return call, after - before

    call, more = asyncio.run(run())
    assert call.store.get_handoff(call.session.handoff_id or "").urgency == "emergency"
    assert more == 0 and not call.session.waiting.active


def test_call_me_back_opens_one_task_confirms_the_number_and_ends_the_call(tmp_path: Path) -> None:
    async def run() -> FakeCall:
        call = await waiting_call(tmp_path, bus=RecordingBus(), caller_number=NUMBER)
        await call.session.text("this is urgent", "en")  # an urgent handoff: hanging up alone opens a task
        await call.wait_for(lambda m: m["type"] == "bot_text" and m["text"].startswith("WAITING_MOVED_UP"))
        await call.session.text("please call me back later", "en")
        await asyncio.wait_for(call.session.hangup.wait(), 5)
        await call.session.close(call.session.end_reason)
        return call

    call = asyncio.run(run())
    assert call.said()[-1] == f"CALLBACK_CONFIRMED number={NUMBER}"
    assert call.session.end_reason == "callback_requested"
    [task] = Callbacks(call.store).tasks()
    assert (task.trigger, task.urgency, task.caller_number) == ("caller_asked", "urgent", NUMBER)
    assert task.handoff_id == call.session.handoff_id
    assert call.store.get_handoff(task.handoff_id).status == "callback"  # out of the waiting queue
    assert task.handoff_id not in [h.id for h in call.store.waiting()]
    published = call.bus.published  # type: ignore[attr-defined]
    assert [d["callback_id"] for t, d in published if t == "callback.created"] == [task.id]
    assert ("handoff.updated", "callback") in [(t, d.get("status")) for t, d in published]


def test_a_routine_caller_without_a_number_in_mandarin_gets_a_task_too(tmp_path: Path) -> None:
    async def run() -> FakeCall:
        call = await waiting_call(tmp_path, interval_s=0.4)
        await call.wait_for(lambda m: m["type"] == "bot_text" and m["text"].startswith("WAITING_UPDATE"))
        await call.session.text("我不等了", "zh")  # answers the offer the announcement made
        await call.wait_for(lambda m: m["type"] == "bot_text" and m["text"] == "CALLBACK_ASK_NUMBER")
        await call.session.text("我没有电话", "zh")  # no caller id and no number given
        await asyncio.wait_for(call.session.hangup.wait(), 5)
        await call.session.close(call.session.end_reason)
        return call

    call = asyncio.run(run())
    assert call.said()[-1] == "CALLBACK_CONFIRMED_NO_NUMBER"
    [task] = Callbacks(call.store).tasks()
    assert (task.trigger, task.urgency, task.caller_number) == ("caller_asked", "routine", None)


def test_ill_wait_confirms_and_keeps_the_caller_in_the_queue(tmp_path: Path) -> None:
    async def run() -> FakeCall:
        call = await waiting_call(tmp_path, interval_s=0.5)
        await call.session.text("I'll wait", "en")
        await call.wait_for(lambda m: m["type"] == "bot_text" and m["text"] == "WAITING_KEEP")
        await call.wait_for(lambda m: m["type"] == "bot_text" and m["text"].startswith("WAITING_UPDATE"), 5)
        assert not call.session.hangup.is_set()
        await call.session.close("caller_hung_up")
        return call

    call = asyncio.run(run())
    assert Callbacks(call.store).tasks() == []
    assert (
        call.store.get_handoff(call.session.handoff_id or "").status == "abandoned"
    )  # hung up while waiting


def test_announcements_stop_once_an_agent_connects(tmp_path: Path) -> None:
    async def run() -> tuple[FakeCall, int]:
        call = await waiting_call(tmp_path, interval_s=0.4)
        await call.wait_for(lambda m: m["type"] == "bot_text" and m["text"].startswith("WAITING_UPDATE"), 5)
        await call.session.connect_agent(FakeLeg("agent", "a1").leg)
        assert not call.session.waiting.active
        before = len(announcements(call))
        await asyncio.sleep(1.2)
        after = len(announcements(call))
        await call.session.close("caller_hung_up")
        return call, after - before

    call, more = asyncio.run(run())
    assert more == 0
    assert call.said()[-1] == "AGENT_CONNECTED"


def test_queue_place_reads_the_recent_handle_time_and_the_able_agents(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'calls.db'}")
    agent = staffed(store, "available")
    staffed(store, "busy")
    off, _ = store.create_agent("Off")  # offline: not counted
    assert off.status == "offline"
    done = store.create_handoff(store.start_call(None, "en").id, "routine", "asked")
    store.accept_handoff(done.id, agent)
    store.resolve_handoff(done.id, agent, "answered")
    accepted = store.get_handoff(done.id).accepted_at
    assert accepted is not None
    store.update_handoff(done.id, resolved_at=accepted + timedelta(seconds=90))
    first, second, third = someone_ahead(store, 3), someone_ahead(store, 2), someone_ahead(store, 1)
    assert recent_handle_times_s(store) == [90.0]
    place = queue_place(store, third)
    assert place is not None
    assert (place.position, place.free, place.busy, place.handle_s) == (3, 1, 1, 90.0)
    assert place.wait_s == 45.0  # one free takes #1, #2 and #3 in the first half-round
    head = queue_place(store, first)
    assert head is not None and (head.position, head.wait_s) == (1, 0.0)  # the free agent is next
    assert queue_place(store, second).wait_s == 45.0  # type: ignore[union-attr]
    assert queue_place(store, "no-such-handoff") is None
