"""Two service instances on one PostgreSQL and one shared bus (docs/scale-out.md): a call taken
on instance A is seen, accepted and resolved by an agent connected to instance B, and accepting
stays exactly-once across instances. Stages are scripted (tests/scale_fakes.py); the servers,
sockets, database and bus are real."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from agent_ws import agent_protocols
from scale_fakes import scripted_services
from websockets.sync.client import ClientConnection, connect

from api.server_thread import running_server
from core.settings import Settings
from pipeline.callbacks import Callbacks
from pipeline.runtime import Runtime
from pipeline.shared_bus import PgBus


def receive(ws: ClientConnection, pred: Any, timeout_s: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    seen = []
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = json.loads(ws.recv(timeout=left))
        except TimeoutError:
            break
        seen.append(message.get("type"))
        if pred(message):
            return message
    raise AssertionError(f"nothing matched within {timeout_s} s; got {seen}")


@pytest.fixture(scope="module")
def two_instances(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[tuple[Runtime, str]]]:
    import serve

    shared = tmp_path_factory.mktemp("shared-data")  # the recordings folder all instances share
    out = []
    runtimes = []
    try:
        for _ in range(2):
            settings = Settings(data_dir=shared, database_url=postgres_url, bus_url=postgres_url)
            runtime = Runtime.start(settings, load_models=False)
            runtimes.append(runtime)
            runtime.session_services = scripted_services(runtime.store, runtime.bus, shared / "recordings")
            assert isinstance(runtime.bus, PgBus)
        with (
            running_server(serve.create_app(runtimes[0])) as a,
            running_server(serve.create_app(runtimes[1])) as b,
        ):
            out = [(runtimes[0], a), (runtimes[1], b)]
            yield out
    finally:
        for runtime in runtimes:
            runtime.close()


def test_a_call_on_instance_a_is_seen_accepted_and_resolved_from_instance_b(
    two_instances: list[tuple[Runtime, str]],
) -> None:
    (rt_a, url_a), (_, url_b) = two_instances
    assert rt_a.instance_id != two_instances[1][0].instance_id
    agent, token = rt_a.store.create_agent("scale-b", role="supervisor")
    rt_a.store.set_agent_status(agent.id, "available")
    auth = {"Authorization": f"Bearer {token}"}
    ws_b = url_b.replace("http://", "ws://")
    with connect(f"{ws_b}/v1/agents/stream", subprotocols=agent_protocols(token)) as agent_ws:
        receive(agent_ws, lambda m: m["type"] == "hello")
        with connect(url_a.replace("http://", "ws://") + "/v1/calls/stream") as call:
            call.send(json.dumps({"type": "start", "language": "en", "caller_number": "13900000015"}))
            call.send(json.dumps({"type": "text", "text": "there is a fire in my kitchen", "language": "en"}))
            handoff = receive(agent_ws, lambda m: m["type"] == "handoff.created")["handoff"]
            assert handoff["urgency"] == "emergency"
            # what the caller says next, on A, is a live transcript line on B
            call.send(json.dumps({"type": "text", "text": "smoke everywhere now", "language": "en"}))
            line = receive(
                agent_ws, lambda m: m["type"] == "transcript" and m["utterance"]["speaker"] == "caller"
            )
            assert line["utterance"]["text"] == "smoke everywhere now" and line["handoff_id"] == handoff["id"]

            accepted = httpx.post(
                f"{url_b}/v1/agents/handoffs/{handoff['id']}/accept", headers=auth, timeout=10
            )
            assert accepted.status_code == 200, accepted.text
            again = httpx.post(f"{url_a}/v1/agents/handoffs/{handoff['id']}/accept", headers=auth, timeout=10)
            assert again.status_code == 409, again.text
            resolved = httpx.post(
                f"{url_b}/v1/agents/handoffs/{handoff['id']}/resolve",
                json={"resolution": "fire brigade sent"},
                headers=auth,
                timeout=10,
            )
            assert resolved.status_code == 200, resolved.text
            assert rt_a.store.get_handoff(handoff["id"]).status == "resolved"


def test_events_published_on_one_instance_reach_the_other_even_when_too_big_for_a_notification(
    two_instances: list[tuple[Runtime, str]],
) -> None:
    (rt_a, _), (_, url_b) = two_instances
    _, token = rt_a.store.create_agent("scale-big", role="supervisor")
    call = rt_a.store.start_call("13900000016", "zh")
    long_text = "漏水" * 3000  # 18 KB of UTF-8: over PostgreSQL's 8000-byte notification limit
    with connect(
        url_b.replace("http://", "ws://") + "/v1/agents/stream", subprotocols=agent_protocols(token)
    ) as agent_ws:
        receive(agent_ws, lambda m: m["type"] == "hello")
        rt_a.store.add_utterance(call.id, "caller", long_text)
        rt_a.bus.publish(
            "transcript.appended", call_id=call.id, handoff_id=None, speaker="caller", text=long_text
        )
        line = receive(agent_ws, lambda m: m["type"] == "transcript")
        assert line["utterance"]["text"] == long_text


def test_a_new_instance_leaves_the_waiting_emergencies_of_live_instances_alone(
    two_instances: list[tuple[Runtime, str]], postgres_url: str, tmp_path: Path
) -> None:
    (rt_a, _), _ = two_instances
    call = rt_a.store.start_call("13900000017", "en")  # held by A, which heartbeats
    handoff = rt_a.store.create_handoff(call.id, "emergency", "fire", topic="fire", language="en")
    settings = Settings(data_dir=tmp_path, database_url=postgres_url, bus_url=postgres_url)
    third = Runtime.start(settings, load_models=False)
    try:
        assert third.instances is not None
        third.instances.reap(settings.instance_dead_after_s, third.bus)
        assert Callbacks(third.store).of_call(call.id) == []
        assert third.store.get_handoff(handoff.id).status == "waiting"
    finally:
        third.close()


def test_the_default_bus_is_in_process(tmp_path: Path) -> None:
    runtime = Runtime.start(Settings(data_dir=tmp_path), load_models=False)
    try:
        assert type(runtime.bus).__name__ == "EventBus"
    finally:
        runtime.close()
