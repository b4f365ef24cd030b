"""The call-back API and live feed over SQLite and a real PostgreSQL (CI requires it), with the
service's own lifespan running (so its call-back watch runs): who sees which task, the detail an
agent rings back with, outcomes and their errors, the timeout, and a restart of the service."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from agent_ws import agent_protocols
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from core.settings import Settings
from pipeline.db import Base, Handoff, utcnow
from pipeline.recording import WavRecorder, call_recording_dir
from pipeline.retention import recordings_dir
from pipeline.runtime import Runtime


@dataclass
class Service:
    runtime: Runtime
    client: TestClient
    tokens: dict[str, str]

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def get(self, path: str, who: str) -> Any:
        return self.client.get(path, headers=self.h(who))

    def post(self, path: str, who: str, **kw: Any) -> Any:
        return self.client.post(path, headers=self.h(who), **kw)

    def open_ids(self, who: str) -> list[str]:
        r = self.get("/v1/callbacks", who)
        assert r.status_code == 200, r.text
        return [c["handoff_id"] for c in r.json()["callbacks"]]


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return Settings(data_dir=tmp_path)
    url: str = request.getfixturevalue("postgres_url")
    engine = create_engine(url)
    Base.metadata.drop_all(engine)
    engine.dispose()
    return Settings(data_dir=tmp_path, database_url=url)


@contextmanager
def serving(settings: Settings, tokens: dict[str, str] | None = None) -> Iterator[Service]:
    """The service as `triage serve` starts it (minus speech models), lifespan included."""
    import serve

    runtime = Runtime.start(settings, load_models=False)
    if tokens is None:
        tokens = {}
        for who, role, topics, langs in (
            ("water_zh", "agent", ["water"], ["zh"]),
            ("power_en", "agent", ["power"], ["en"]),
            ("super", "supervisor", [], []),
        ):
            tokens[who] = runtime.store.create_agent(who, role, topics, langs)[1]
    try:
        with TestClient(serve.create_app(runtime)) as client:
            yield Service(runtime, client, tokens)
    finally:
        runtime.close()  # stops its heartbeat before the test database is dropped


@pytest.fixture()
def service(settings: Settings) -> Iterator[Service]:
    with serving(settings) as s:
        yield s


def emergency_call(
    runtime: Runtime, number: str = "13800001111", urgency: str = "emergency", topic: str = "gas", **kw: Any
) -> Handoff:
    store = runtime.store
    call = store.start_call(number, kw.get("language", "en"))
    store.add_utterance(call.id, "bot", "City hotline, how can I help?", "en")
    store.add_utterance(call.id, "caller", "Strong gas smell, my neighbour fainted, 12 Riverside Road", "en")
    store.add_utterance(call.id, "bot", "Help is being arranged. Please stay on the line.", "en")
    handoff = store.create_handoff(
        call.id,
        urgency,
        "emergency rule: gas smell + person fainted",
        topic=topic,
        language=kw.pop("language", "en"),
        request_type="fault",
        details={"address": "12 Riverside Road", "id_number": "110105199001011234"},
        **kw,
    )
    return handoff


def hang_up(
    runtime: Runtime, handoff: Handoff, reason: str = "caller_hung_up", status: str = "ended"
) -> None:
    """What a call session does when the caller goes: end the call, then tell the bus."""
    runtime.store.end_call(handoff.call_id, reason, status)
    runtime.bus.publish("call.ended", call_id=handoff.call_id, handoff_id=handoff.id, reason=reason)


def eventually(check: Callable[[], Any], what: str, timeout_s: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout_s} s: {what}")


def record_tracks(runtime: Runtime, handoff: Handoff) -> None:
    folder = call_recording_dir(recordings_dir(runtime.settings), handoff.call_id)
    paths = {}
    for track in ("caller", "bot"):
        rec = WavRecorder(folder / f"{track}.wav", 8000, "pcm16")
        rec.write((np.zeros(8000) * 0).astype("<i2").tobytes())
        rec.close()
        paths[f"{track}_audio_path"] = str(folder / f"{track}.wav")
    runtime.store.update_call(handoff.call_id, **paths)


def test_a_hung_up_emergency_is_a_task_every_agent_sees_with_what_they_need_to_call_back(
    service: Service,
) -> None:
    handoff = emergency_call(service.runtime)
    record_tracks(service.runtime, handoff)
    hang_up(service.runtime, handoff)
    # An emergency reaches every agent, whatever their topics and languages, and supervisors.
    for who in ("water_zh", "power_en", "super"):
        assert service.open_ids(who) == [handoff.id]
    [task] = service.get("/v1/callbacks", "water_zh").json()["callbacks"]
    assert task["caller_number"] == "13800001111" and task["trigger"] == "caller_hung_up"
    assert task["urgency"] == "emergency" and task["status"] == "open" and task["caller_on_line"] is False
    assert task["details"]["address"] == "12 Riverside Road"
    assert task["details"]["id_number"].endswith("1234") and "1101" not in task["details"]["id_number"]
    assert task["reason"].startswith("emergency rule")
    detail = service.get(f"/v1/callbacks/{task['id']}", "power_en").json()
    said = [(u["speaker"], u["text"]) for u in detail["transcript"]]
    assert ("caller", "Strong gas smell, my neighbour fainted, 12 Riverside Road") in said
    assert said[-1][1].endswith("stay on the line.")
    assert detail["call"]["status"] == "ended" and detail["call"]["end_reason"] == "caller_hung_up"
    urls = detail["call"]["recordings"]
    assert set(urls) == {"caller", "bot"}
    # The agent can play the recording through the task, though the handoff is no longer theirs.
    played = service.get(urls["caller"], "power_en")
    assert played.status_code == 200 and played.headers["content-type"] == "audio/wav"


def test_an_urgent_task_goes_to_matching_skills_and_supervisors_only(service: Service) -> None:
    handoff = emergency_call(service.runtime, "13700000001", urgency="urgent", topic="water", language="zh")
    hang_up(service.runtime, handoff, "caller_dropped", "dropped")
    assert service.open_ids("water_zh") == [handoff.id] and service.open_ids("super") == [handoff.id]
    assert service.open_ids("power_en") == []
    [task] = service.get("/v1/callbacks", "super").json()["callbacks"]
    assert task["trigger"] == "line_dropped"
    r = service.get(f"/v1/callbacks/{task['id']}", "power_en")
    assert r.status_code == 403 and "outside your topics" in r.json()["detail"]
    r = service.post(f"/v1/callbacks/{task['id']}/outcome", "power_en", json={"outcome": "reached"})
    assert r.status_code == 403


def test_outcomes_close_the_task_and_bad_requests_say_why(service: Service) -> None:
    handoff = emergency_call(service.runtime)
    hang_up(service.runtime, handoff)
    [task] = service.get("/v1/callbacks", "water_zh").json()["callbacks"]
    path = f"/v1/callbacks/{task['id']}/outcome"
    r = service.post(path, "water_zh", json={"outcome": "no_answer", "note": "rang, no answer"})
    assert r.status_code == 200 and r.json()["status"] == "open"
    assert [(a["outcome"], a["agent_name"]) for a in r.json()["attempts"]] == [("no_answer", "water_zh")]
    assert service.open_ids("super") == [handoff.id]  # still there to try again
    r = service.post(path, "water_zh", json={"outcome": "gave_up"})
    assert r.status_code == 422 and "outcome" in r.json()["message"]
    note = "gas company and ambulance sent"
    r = service.post(path, "water_zh", json={"outcome": "dispatched", "note": note})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["outcome"], body["agent_name"]) == ("closed", "dispatched", "water_zh")
    assert body["note"] == note
    assert service.open_ids("water_zh") == [] and service.open_ids("super") == []
    r = service.post(path, "power_en", json={"outcome": "false_alarm"})
    assert r.status_code == 409 and "already closed" in r.json()["detail"]
    closed = service.get("/v1/callbacks?status=closed", "water_zh").json()["callbacks"]
    assert [c["id"] for c in closed] == [task["id"]]  # the closing agent keeps it in their record
    assert service.get("/v1/callbacks/nope", "water_zh").status_code == 404
    r = service.post("/v1/callbacks/nope/outcome", "water_zh", json={"outcome": "reached"})
    assert r.status_code == 404 and "nope" in r.json()["detail"]
    assert service.client.get("/v1/callbacks").status_code == 401


def test_the_live_feed_announces_emergency_tasks_to_everyone_and_urgent_ones_by_skill(
    service: Service,
) -> None:
    urgent = emergency_call(service.runtime, "13700000001", urgency="urgent", topic="water", language="zh")
    handoff = emergency_call(service.runtime)
    with service.client.websocket_connect(
        "/v1/agents/stream", subprotocols=agent_protocols(service.tokens["power_en"])
    ) as ws:
        assert ws.receive_json()["type"] == "hello"
        hang_up(service.runtime, urgent)  # water, Mandarin: not for this agent
        hang_up(service.runtime, handoff)
        created = next(
            m for m in iter(ws.receive_json, None) if m["type"] == "callback.created"
        )  # the first one this agent hears is the emergency: the urgent one was never sent
        assert created["alert"] is True and created["callback"]["handoff_id"] == handoff.id
        task_id = created["callback"]["id"]
        r = service.post(f"/v1/callbacks/{task_id}/outcome", "super", json={"outcome": "false_alarm"})
        assert r.status_code == 200
        closed = next(m for m in iter(ws.receive_json, None) if m["type"] == "callback.closed")
        assert closed["callback"]["id"] == task_id and closed["callback"]["outcome"] == "false_alarm"


def test_an_emergency_not_accepted_in_time_becomes_a_task_and_accepting_it_reaches_the_caller(
    settings: Settings,
) -> None:
    with serving(settings.model_copy(update={"emergency_accept_timeout_s": 2.0})) as service:
        handoff = emergency_call(service.runtime)
        service.runtime.store.update_handoff(handoff.id, created_at=utcnow() - timedelta(seconds=1))
        assert service.open_ids("water_zh") == []  # not yet
        [task] = eventually(
            lambda: service.get("/v1/callbacks", "water_zh").json()["callbacks"], "the timeout's task"
        )
        assert task["trigger"] == "not_accepted_in_time" and task["caller_on_line"] is True
        queue = service.get("/v1/agents/queue", "water_zh").json()
        assert queue["waiting"][0]["id"] == handoff.id  # the caller is still in the queue
        assert service.post(f"/v1/agents/handoffs/{handoff.id}/accept", "water_zh").status_code == 200
        assert service.open_ids("super") == []
        closed = service.get(f"/v1/callbacks/{task['id']}", "water_zh").json()
        assert [closed["status"], closed["outcome"], closed["agent_name"]] == [
            "closed",
            "reached",
            "water_zh",
        ]


def test_tasks_survive_a_restart_and_callers_left_waiting_become_tasks(settings: Settings) -> None:
    with serving(settings) as before:
        hung_up = emergency_call(before.runtime, "13800000001")
        hang_up(before.runtime, hung_up)
        waiting = emergency_call(before.runtime, "13800000002", urgency="urgent", topic="water")
        tokens = before.tokens
    # The process goes away with the urgent caller still in the queue; a new one starts.
    with serving(settings, tokens) as after:
        tasks = {c["handoff_id"]: c for c in after.get("/v1/callbacks", "super").json()["callbacks"]}
        assert list(tasks) == [hung_up.id, waiting.id]  # the emergency first
        assert tasks[hung_up.id]["trigger"] == "caller_hung_up"
        assert tasks[waiting.id]["trigger"] == "service_restarted"
        for c in tasks.values():
            r = after.post(f"/v1/callbacks/{c['id']}/outcome", "super", json={"outcome": "called_back"})
            assert r.status_code == 200 and r.json()["status"] == "closed"
        assert after.open_ids("super") == []
    with serving(settings, tokens) as again:  # closed stays closed; nothing is opened twice
        assert again.open_ids("super") == []
