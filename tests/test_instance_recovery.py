"""An instance dies, nothing is lost; an instance told to stop drains (docs/scale-out.md).

A real service process with scripted stages (tests/scale_instance.py) holds a call on the
shared PostgreSQL and bus; this test process runs the survivor instance."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.sync.client import ClientConnection, connect

from api.server_thread import free_port
from core.settings import Settings
from pipeline.callbacks import Callbacks
from pipeline.db import Instance
from pipeline.runtime import Runtime

ROOT = Path(__file__).resolve().parents[1]
SENT_S = 3.0


def start_instance(db_url: str, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "scale_instance.py"), db_url, str(data_dir), str(port)],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the instance exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("the instance did not start in 60 s")


def recv(ws: ClientConnection, kind: str, timeout_s: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        raw = ws.recv(timeout=left)
        if isinstance(raw, str) and (message := json.loads(raw))["type"] == kind:
            return message
    raise AssertionError(f"no {kind!r} message in {timeout_s} s")


def tone(seconds: float) -> bytes:
    t = np.arange(int(16000 * seconds)) / 16000
    return (np.sin(2 * math.pi * 440 * t) * 8000).astype("<i2").tobytes()


@pytest.fixture()
def survivor(postgres_url: str, tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=postgres_url,
        bus_url=postgres_url,
        instance_heartbeat_s=0.5,
        instance_dead_after_s=3.0,
    )
    runtime = Runtime.start(settings, load_models=False)
    yield runtime
    runtime.close()


def test_kill_9_mid_call_a_survivor_drops_the_call_keeps_the_emergency_the_audio_and_the_last_words(
    survivor: Runtime, postgres_url: str, tmp_path: Path
) -> None:
    proc, url = start_instance(postgres_url, tmp_path)  # same data dir: the shared recordings path
    try:
        with connect(url.replace("http://", "ws://") + "/v1/calls/stream") as call:
            call.send(json.dumps({"type": "start", "language": "en", "caller_number": "13900001515"}))
            call_id = recv(call, "started")["call_id"]
            call.send(json.dumps({"type": "text", "text": "there is a fire next door", "language": "en"}))
            handoff = recv(call, "handoff")
            assert handoff["urgency"] == "emergency"
            audio = tone(SENT_S)
            for i in range(0, len(audio), 640):  # 20 ms frames, as a phone line sends them
                call.send(audio[i : i + 640])
            call.send(b"S|P:my neighbour is trapped on the third|")
            partial = recv(call, "partial")  # the session saved it before echoing it
            assert partial["text"] == "my neighbour is trapped on the third"
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            killed_at = time.monotonic()
    finally:
        if proc.poll() is None:
            proc.kill()
    store = survivor.store
    assert store.get_handoff(handoff["handoff_id"]).call_id == call_id
    bound_s = survivor.settings.instance_dead_after_s + 2 * survivor.settings.instance_heartbeat_s + 5
    while store.get_call(call_id).status != "dropped":
        assert time.monotonic() - killed_at < bound_s, "no survivor closed the call in time"
        time.sleep(0.2)
    ended = store.get_call(call_id)
    assert ended.end_reason == "instance_lost"
    tasks = Callbacks(store).of_call(call_id)
    assert [(t.handoff_id, t.status, t.urgency) for t in tasks] == [
        (handoff["handoff_id"], "open", "emergency")
    ]
    last = ended.utterances[-1]
    assert (last.speaker, last.text, last.unfinished) == (
        "caller",
        "my neighbour is trapped on the third",
        True,
    )
    assert ended.caller_audio_path
    with wave.open(ended.caller_audio_path, "rb") as wav:  # a valid header, the audio it holds
        assert (wav.getframerate(), wav.getnchannels()) == (16000, 1)
        assert abs(wav.getnframes() / 16000 - SENT_S) < 0.1
        samples = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
        assert np.abs(samples[: 16000 * 2]).max() > 7000  # the tone itself, not zeros
    with store.session() as s:
        dead = s.get(Instance, ended.instance_id)
        assert dead is not None and dead.status == "dead" and dead.reaped_by == survivor.instance_id


def test_sigterm_drains_new_calls_refused_the_live_call_continues_then_the_process_exits(
    survivor: Runtime, postgres_url: str, tmp_path: Path
) -> None:
    proc, url = start_instance(postgres_url, tmp_path)
    ws_url = url.replace("http://", "ws://") + "/v1/calls/stream"
    try:
        with connect(ws_url) as live:
            live.send(json.dumps({"type": "start", "language": "en"}))
            live.send(json.dumps({"type": "text", "text": "how do I pay my bill", "language": "en"}))
            recv(live, "decision")
            proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            while not httpx.get(f"{url}/health", timeout=2).json()["calls"].startswith("draining"):
                assert time.monotonic() < deadline, "health never said draining"
                time.sleep(0.1)
            with connect(ws_url) as refused:  # told at once, before its start message
                error = recv(refused, "error")
                assert "shutting down" in error["message"] and "停机" in error["message"]
            live.send(json.dumps({"type": "text", "text": "and my water bill", "language": "en"}))
            assert recv(live, "decision")["action"]  # the live call is still served while draining
            assert proc.poll() is None
        proc.wait(15)  # the last call ended: the instance exits on its own
        assert proc.returncode == 0
        with survivor.store.session() as s:
            rows = {i.status for i in s.query(Instance).where(Instance.pid == proc.pid)}
        assert rows == {"stopped"}
    finally:
        if proc.poll() is None:
            proc.kill()
