"""The live agent WebSocket against a real uvicorn server: what an agent's console is pushed, and
what it must never see. The bus is published on from plain threads, as call sessions do."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_ws import agent_protocols
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from api.server_thread import running_server
from core.settings import Settings
from pipeline.runtime import Runtime


@pytest.fixture()
def live(tmp_path: Path) -> Iterator[tuple[Runtime, str]]:
    import serve

    runtime = Runtime.start(Settings(data_dir=tmp_path), load_models=False)
    with running_server(serve.create_app(runtime)) as url:
        yield runtime, url.replace("http://", "ws://") + "/v1/agents/stream"


def receive(ws: ClientConnection, kind: str, timeout_s: float = 5.0) -> dict[str, Any]:
    """The next message of one type (others, such as queue refreshes, are skipped)."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {kind!r} message within {timeout_s} s")
        message = json.loads(ws.recv(timeout=left))
        if message["type"] == kind:
            return message


def in_thread(fn: Any, *args: Any, **kw: Any) -> None:
    t = threading.Thread(target=fn, args=args, kwargs=kw)
    t.start()
    t.join()


def test_a_bad_token_is_told_and_closed_with_4401(live: tuple[Runtime, str]) -> None:
    _, url = live
    with connect(url, subprotocols=agent_protocols("wrong")) as ws:
        assert json.loads(ws.recv(timeout=5))["status"] == 401
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def test_hello_then_live_transcript_lines_for_visible_calls_only(live: tuple[Runtime, str]) -> None:
    runtime, url = live
    store, bus = runtime.store, runtime.bus
    _, token = store.create_agent("water", "agent", ["water"], ["zh"])
    mine_call = store.start_call("13900000000", "zh")
    mine = store.create_handoff(mine_call.id, "routine", "asked for a person", topic="water", language="zh")
    other_call = store.start_call("13900000001", "en")
    store.create_handoff(other_call.id, "routine", "asked for a person", topic="power", language="en")
    with connect(url, subprotocols=agent_protocols(token)) as ws:
        hello = receive(ws, "hello")
        assert [h["id"] for h in hello["waiting"]] == [mine.id] and hello["agent"]["name"] == "water"

        def speak(call_id: str, handoff_id: str | None, text: str) -> None:
            store.add_utterance(call_id, "caller", text)
            bus.publish(
                "transcript.appended", call_id=call_id, handoff_id=handoff_id, speaker="caller", text=text
            )

        in_thread(speak, other_call.id, None, "my account number is 1234")  # not theirs: never sent
        in_thread(speak, mine_call.id, mine.id, "水一直没来")
        line = receive(ws, "transcript")
        assert line["call_id"] == mine_call.id and line["handoff_id"] == mine.id
        assert line["utterance"]["text"] == "水一直没来" and line["utterance"]["seq"] == 1


def test_a_new_emergency_is_pushed_as_top_of_the_queue(live: tuple[Runtime, str]) -> None:
    runtime, url = live
    store, bus = runtime.store, runtime.bus
    _, token = store.create_agent("power", "agent", ["power"], ["en"])
    routine_call = store.start_call("1", "en")
    store.create_handoff(routine_call.id, "routine", "asked", topic="power", language="en")
    with connect(url, subprotocols=agent_protocols(token)) as ws:
        receive(ws, "hello")
        call = store.start_call("2", "zh")
        handoff = store.create_handoff(call.id, "emergency", "rule: 着火了", topic="other", language="zh")
        in_thread(bus.publish, "handoff.created", handoff_id=handoff.id, call_id=call.id, urgency="emergency")
        event = receive(ws, "handoff.created")
        assert event["top"] is True and event["position"] == 1 and event["handoff"]["id"] == handoff.id
        queue = receive(ws, "queue")
        assert queue["waiting"][0]["id"] == handoff.id


def test_a_handoff_outside_the_agents_skills_is_not_pushed(live: tuple[Runtime, str]) -> None:
    runtime, url = live
    store, bus = runtime.store, runtime.bus
    _, token = store.create_agent("power", "agent", ["power"], ["en"])
    with connect(url, subprotocols=agent_protocols(token)) as ws:
        receive(ws, "hello")
        water = store.create_handoff(store.start_call("3", "zh").id, "routine", "asked", topic="water")
        in_thread(
            bus.publish, "handoff.created", handoff_id=water.id, call_id=water.call_id, urgency="routine"
        )
        power = store.create_handoff(store.start_call("4", "en").id, "urgent", "asked", topic="power")
        in_thread(
            bus.publish, "handoff.created", handoff_id=power.id, call_id=power.call_id, urgency="urgent"
        )
        assert receive(ws, "handoff.created")["handoff"]["id"] == power.id  # the water one never came


def test_accepting_over_rest_updates_every_console(live: tuple[Runtime, str]) -> None:
    import httpx

    runtime, url = live
    store = runtime.store
    _, a_token = store.create_agent("a", "agent")
    _, b_token = store.create_agent("b", "agent")
    handoff = store.create_handoff(store.start_call("5", "zh").id, "routine", "asked", topic="water")
    base = url.replace("ws://", "http://").removesuffix("/v1/agents/stream")
    with connect(url, subprotocols=agent_protocols(b_token)) as ws:
        assert [h["id"] for h in receive(ws, "hello")["waiting"]] == [handoff.id]
        r = httpx.post(
            f"{base}/v1/agents/handoffs/{handoff.id}/accept", headers={"Authorization": f"Bearer {a_token}"}
        )
        assert r.status_code == 200
        assert receive(ws, "queue")["waiting"] == []  # gone from b's queue without a reload
