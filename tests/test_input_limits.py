"""Bounds on every input (issue 15 item 3): each probe of the outsider's report is replayed here.

The caller WebSocket runs over a runtime without speech models whose call sessions use the
scripted fakes (tests/session_fakes.py), so what reaches the shared understander is observable.
"""

from __future__ import annotations

import asyncio
import io
import json
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from fastapi.testclient import TestClient
from session_fakes import FakeCall, FakeUnderstander, fake_services

from core.settings import Settings
from pipeline.input_limits import InputLimits, InputRejected, check_rating, check_text_turn, wav_header
from pipeline.runtime import Runtime
from pipeline.stages import ClassifierUnderstander
from pipeline.turns import Understanding

AUTH: dict[str, str] = {}


class SeenUnderstander(FakeUnderstander):
    """The fake understander, remembering the length of every text it was given."""

    def __init__(self) -> None:
        self.lengths: list[int] = []

    def understand(self, text: str, language: str) -> Understanding:
        self.lengths.append(len(text))
        return super().understand(text, language)


Served = tuple[TestClient, Runtime, SeenUnderstander]


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Served]:
    import serve

    tmp = tmp_path_factory.mktemp("limits")
    settings = Settings(data_dir=tmp, max_text_turn_chars=300, max_message_kb=16, max_upload_seconds=60)
    runtime = Runtime.start(settings, load_models=False)
    seen = SeenUnderstander()
    runtime.session_services = fake_services(
        runtime.store,
        runtime.bus,
        tmp / "recordings",
        understander=seen,
        silence_timeout_s=30,
    )
    _, token = runtime.store.create_agent("uploader", "agent", ["water"], ["en"])
    AUTH["Authorization"] = f"Bearer {token}"
    with TestClient(serve.create_app(runtime)) as client:
        yield client, runtime, seen
    runtime.close()


def next_of(ws: Any, kind: str) -> dict[str, Any]:
    for _ in range(500):
        frame = ws.receive()
        if frame.get("text") is None:
            assert frame["type"] != "websocket.close", frame
            continue  # the bot's audio
        message = json.loads(frame["text"])
        if message["type"] == kind:
            return dict(message)
    raise AssertionError(f"no {kind!r} message")


def test_a_megabyte_text_turn_is_refused_and_the_call_goes_on(
    served: Served,
) -> None:
    client, runtime, seen = served
    with client.websocket_connect("/v1/calls/stream") as ws:
        ws.send_text(json.dumps({"type": "start"}))
        huge = "水" * (1024 * 1024)
        ws.send_text(json.dumps({"type": "text", "text": huge, "language": "zh"}))
        error = next_of(ws, "error")
        assert error["code"] == "message_too_large" and "TRIAGE_MAX_MESSAGE_KB" in error["message"]
        ws.send_text(json.dumps({"type": "text", "text": "x" * 301, "language": "en"}))
        error = next_of(ws, "error")
        assert (
            error["code"] == "text_too_long" and "300" in error["message"] and "文字太长" in error["message"]
        )
        ws.send_text(json.dumps({"type": "text", "text": "how do I pay my water bill", "language": "en"}))
        assert "pay online" in next_of(ws, "bot_text")["text"]
        ws.send_text(json.dumps({"type": "hangup"}))
        call_id = next_of(ws, "ended")["call_id"]
    assert seen.lengths and max(seen.lengths) <= 300
    texts = [u.text for u in runtime.store.get_call(call_id).utterances]
    assert "how do I pay my water bill" in texts and all(len(t) <= 300 for t in texts)


def test_a_rating_of_1e400_is_a_clear_error_not_an_overflow(
    served: Served,
) -> None:
    client, runtime, _ = served
    with client.websocket_connect("/v1/calls/stream") as ws:
        ws.send_text(json.dumps({"type": "start"}))
        ws.send_text('{"type": "rating", "value": 1e400}')
        error = next_of(ws, "error")
        assert error["code"] == "bad_rating" and "1 to 5" in error["message"]
        ws.send_text('{"type": "rating", "value": 4}')
        assert next_of(ws, "rated")["value"] == 4
        ws.send_text(json.dumps({"type": "hangup"}))
        call_id = next_of(ws, "ended")["call_id"]
    assert runtime.store.get_call(call_id).rating == 4


@pytest.mark.parametrize("value", [1e400, -1e400, float("nan"), 10**400, 0, 6, 2.5, True, "1e400", None, [3]])
def test_ratings_outside_1_to_5_are_refused(value: Any) -> None:
    with pytest.raises(InputRejected):
        check_rating(value)


def test_whole_ratings_pass() -> None:
    assert [check_rating(v) for v in (1, 3.0, "4", 5)] == [1, 3, 4, 5]


def wav_bytes(rate: int, frames: int) -> bytes:
    body = b"\x00\x00" * frames
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(body))
        + b"WAVE"
        + b"fmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", len(body))
        + body
    )


def test_a_1_hz_upload_is_refused_before_resampling(
    served: Served,
) -> None:
    client, runtime, _ = served
    recordings = runtime.settings.data_dir / "recordings"
    before = sorted(recordings.rglob("*")) if recordings.exists() else []
    data = wav_bytes(1, 500)  # 1 KB declaring 1 Hz: 500 s that would become 8 million samples
    assert len(data) < 1100 and wav_header(data) == (1, 500.0)
    r = client.post("/v1/calls/upload", files={"file": ("probe.wav", data)}, headers=AUTH)
    assert r.status_code == 422, r.text
    assert "1 Hz" in r.json()["detail"] and "8000" in r.json()["detail"]
    assert (sorted(recordings.rglob("*")) if recordings.exists() else []) == before  # nothing recorded


def test_an_upload_longer_than_the_limit_is_413(served: Served) -> None:
    client, _, _ = served
    r = client.post(
        "/v1/calls/upload", files={"file": ("long.wav", wav_bytes(8000, 8000 * 61))}, headers=AUTH
    )
    assert r.status_code == 413 and "TRIAGE_MAX_UPLOAD_SECONDS" in r.json()["detail"]
    flac = io.BytesIO()
    soundfile.write(flac, np.zeros(4000 * 2, dtype=np.float32), 4000, format="FLAC")
    r = client.post("/v1/calls/upload", files={"file": ("low.flac", flac.getvalue())}, headers=AUTH)
    assert r.status_code == 422 and "4000 Hz" in r.json()["detail"]


def test_a_binary_frame_on_the_agents_socket_is_answered_not_a_crash(
    served: Served,
) -> None:
    client, runtime, _ = served
    _, token = runtime.store.create_agent("binary", "agent", ["water"], ["en"])
    with client.websocket_connect("/v1/agents/stream", subprotocols=["triage.v1", f"token.{token}"]) as ws:
        assert ws.receive_json()["type"] == "hello"
        ws.send_bytes(b"\x00\x01\x02")
        error = ws.receive_json()
        assert error["type"] == "error" and error["status"] == 400
        ws.send_text('{"type": "ping"}')
        assert ws.receive_json()["type"] == "pong"


def test_a_call_is_ended_after_its_audio_limit(tmp_path: Path) -> None:
    async def scenario() -> list[dict[str, Any]]:
        call = FakeCall(tmp_path, silence_timeout_s=30)
        call.services.limits = InputLimits(max_call_audio_s=1.0)
        await call.session.open()
        for _ in range(200):
            await call.session.audio(b"\x00\x00" * 320)  # 20 ms frames of silence
            if call.session.hangup.is_set():
                break
        assert call.session.hangup.is_set() and call.session.end_reason == "audio_limit"
        await call.session.close(call.session.end_reason)
        return call.sent

    sent = asyncio.run(scenario())
    assert {"type": "hangup", "reason": "audio_limit"} in sent


def test_the_classifier_never_gets_more_than_its_limit() -> None:
    class Recording:
        def __init__(self) -> None:
            self.lengths: list[int] = []

        def predict(self, text: str, lang: str) -> Any:
            self.lengths.append(len(text))
            raise RuntimeError("stop after recording")  # the understander's result is not needed here

    classifier = Recording()
    understander = ClassifierUnderstander(classifier, max_chars=200)
    with pytest.raises(RuntimeError):
        understander.understand("字" * 1_000_000, "zh")
    assert classifier.lengths == [200]


def test_text_turn_checks() -> None:
    limits = InputLimits(max_text_chars=6)
    assert check_text_turn("  hi  ", limits) == "hi"
    with pytest.raises(InputRejected) as e:
        check_text_turn(123, limits)
    assert e.value.code == "bad_text"
    with pytest.raises(InputRejected) as e:
        check_text_turn("toolong", limits)
    assert e.value.status == 413


def test_the_knowledge_base_never_gets_more_than_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import kb.narrowing
    from pipeline.stages import KbKnowledge

    seen: list[int] = []

    class NoChoice:
        top = None

    def choose(kb: Any, text: str, language: str, topic: str | None) -> NoChoice:
        seen.append(len(text))
        return NoChoice()

    monkeypatch.setattr(kb.narrowing, "choose", choose)
    assert KbKnowledge(object(), max_chars=300).lookup("水" * 1_000_000, "zh", None) is None
    assert seen == [300]


def test_a_json_body_over_the_limit_is_413_before_it_is_read(served: Served) -> None:
    client, runtime, _ = served
    _, token = runtime.store.create_agent("json", "supervisor", [], [])
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    limit = runtime.settings.max_json_kb * 1024
    body = '{"name": "' + "x" * limit + '", "role": "agent"}'
    r = client.post("/v1/agents", content=body, headers=headers)
    assert r.status_code == 413 and "TRIAGE_MAX_JSON_KB" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield body[: limit // 2].encode()
        yield body[limit // 2 :].encode()

    r = client.post("/v1/agents", content=chunks(), headers=headers)
    assert r.status_code == 413
    r = client.post("/v1/agents", json={"name": "small", "role": "agent"}, headers=headers)
    assert r.status_code == 201


def test_the_web_pages_data_channel_has_the_same_bounds(tmp_path: Path) -> None:
    from api.call_rtc import _on_message

    class Peer:
        def __init__(self) -> None:
            self.sent: list[dict[str, Any]] = []

        async def send_json(self, payload: dict[str, Any]) -> None:
            self.sent.append(payload)

    async def scenario() -> tuple[list[dict[str, Any]], list[int]]:
        call = FakeCall(tmp_path, silence_timeout_s=30)
        seen = SeenUnderstander()
        call.services.understander = seen
        call.services.limits = InputLimits(max_text_chars=100)
        await call.session.open()
        peer = Peer()
        hangup = asyncio.Event()
        for message in (
            {"type": "text", "text": "水" * 1_000_000, "language": "zh"},
            {"type": "rating", "value": float("inf")},
            {"type": "rating", "value": 9},
            {"type": "text", "text": "how do I pay my water bill", "language": "en"},
        ):
            await _on_message(message, call.session, peer, hangup)  # type: ignore[arg-type]
        await call.wait_for(lambda m: m["type"] == "bot_text" and "pay online" in m["text"])
        await call.session.close("caller_hung_up")
        return peer.sent, seen.lengths

    sent, lengths = asyncio.run(scenario())
    assert [m.get("code") for m in sent] == ["text_too_long", "bad_rating", "bad_rating"]
    assert lengths and max(lengths) <= 100


def test_the_erlang_calculator_refuses_figures_that_would_hold_a_worker_for_minutes(served: Served) -> None:
    """Found by schemathesis: agents=10^9 or a day's patience kept one worker busy for minutes."""
    client, runtime, _ = served
    _, token = runtime.store.create_agent("erlang", "supervisor", [], [])
    auth = {"Authorization": f"Bearer {token}"}
    r = client.get("/v1/staffing/erlang?calls=100&agents=1000000000&aht_s=300", headers=auth)
    assert r.status_code == 422
    r = client.get("/v1/staffing/erlang?calls=100000&agents=10&aht_s=300&patience_s=86400", headers=auth)
    assert r.status_code == 422 and "patience_s" in r.json()["detail"]
    r = client.get("/v1/staffing/erlang?calls=100&agents=10&aht_s=300&patience_s=120", headers=auth)
    assert r.status_code == 200 and 0 <= r.json()["service_level"] <= 1


def test_a_flood_of_typed_turns_is_refused_beyond_the_calls_budget(served: Served) -> None:
    """Fifty typed turns sent at once: a few are queued, the rest get "too_fast" (429) errors; the
    shared understander saw no more than the minute's budget (20)."""
    client, _, seen = served
    before = len(seen.lengths)
    with client.websocket_connect("/v1/calls/stream") as ws:
        ws.send_text(json.dumps({"type": "start"}))
        for n in range(50):
            ws.send_text(json.dumps({"type": "text", "text": f"question number {n}", "language": "en"}))
        error = next_of(ws, "error")
        assert error["code"] == "too_fast" and "TRIAGE_MAX_TEXT_TURNS_PER_MIN" in error["message"]
        assert "发送太快" in error["message"]
        ws.send_text(json.dumps({"type": "hangup"}))
        next_of(ws, "ended")
    assert 1 <= len(seen.lengths) - before <= 20


def test_the_typed_turn_budget_counts_a_sliding_minute() -> None:
    from pipeline.input_limits import TurnRate

    rate = TurnRate(InputLimits(max_text_turns_per_min=3, max_pending_text_turns=2))
    for t in (0.0, 1.0, 2.0):
        rate.check(t, pending=0)
    with pytest.raises(InputRejected) as refused:
        rate.check(30.0, pending=0)
    assert refused.value.status == 429
    rate.check(60.5, pending=0)  # the first turn left the window
    with pytest.raises(InputRejected):
        rate.check(61.0, pending=2)  # two already waiting
