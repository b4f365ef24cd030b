"""Recordings playback (real WAV files in the file store beside the database), the retention purge,
and the `triage agents` / `triage recordings` commands."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from core.settings import Settings, get_settings
from pipeline.db import utcnow
from pipeline.recording import WavRecorder, call_recording_dir
from pipeline.retention import purge_recordings, recordings_dir
from pipeline.runtime import Runtime

RATE = 8000


def record_call(
    runtime: Runtime, number: str, seconds: float, age_days: float = 0, ended: bool = True
) -> str:
    """A call with caller and bot audio written the way the call session writes it."""
    store = runtime.store
    call = store.start_call(number, "zh")
    folder = call_recording_dir(recordings_dir(runtime.settings), call.id)
    t = np.arange(int(seconds * RATE)) / RATE
    for track, freq in (("caller", 440.0), ("bot", 660.0)):
        rec = WavRecorder(folder / f"{track}.wav", RATE, "pcm16")
        rec.write((0.3 * np.sin(2 * np.pi * freq * t) * 32767).astype("<i2").tobytes())
        rec.close()
    store.update_call(
        call.id, caller_audio_path=str(folder / "caller.wav"), bot_audio_path=str(folder / "bot.wav")
    )
    if ended:
        store.end_call(call.id, "goodbye")
    if age_days:
        store.update_call(call.id, started_at=utcnow() - timedelta(days=age_days))
    return call.id


@pytest.fixture()
def runtime(tmp_path: Path) -> Runtime:
    return Runtime.start(Settings(data_dir=tmp_path, recordings_retention_days=30), load_models=False)


@pytest.fixture()
def client(runtime: Runtime) -> Iterator[TestClient]:
    import serve

    with TestClient(serve.create_app(runtime)) as c:
        yield c


def test_an_agent_plays_the_callers_and_the_bots_audio_as_wav(runtime: Runtime, client: TestClient) -> None:
    store = runtime.store
    call_id = record_call(runtime, "13900000000", 1.5, ended=False)
    handoff = store.create_handoff(call_id, "routine", "asked", topic="water", language="zh")
    _, token = store.create_agent("water", "agent", ["water"], ["zh"])
    _, other = store.create_agent("power", "agent", ["power"], ["zh"])
    auth = {"Authorization": f"Bearer {token}"}
    r = client.get(f"/v1/calls/{call_id}/recordings/caller", headers=auth)
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    audio, rate = sf.read(io.BytesIO(r.content))
    assert rate == RATE and len(audio) == int(1.5 * RATE)
    spectrum = np.abs(np.fft.rfft(audio))
    assert np.argmax(spectrum) * RATE / len(audio) == pytest.approx(
        440, abs=2
    )  # the caller's track, not the bot's
    bot, _ = sf.read(io.BytesIO(client.get(f"/v1/calls/{call_id}/recordings/bot", headers=auth).content))
    assert np.argmax(np.abs(np.fft.rfft(bot))) * RATE / len(bot) == pytest.approx(660, abs=2)
    part = client.get(f"/v1/calls/{call_id}/recordings/caller", headers={**auth, "Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100  # the player can seek
    detail = client.get(f"/v1/agents/handoffs/{handoff.id}", headers=auth).json()
    assert detail["call"]["recordings"] == {
        "caller": f"/v1/calls/{call_id}/recordings/caller",
        "bot": f"/v1/calls/{call_id}/recordings/bot",
    }
    assert (
        client.get(
            f"/v1/calls/{call_id}/recordings/caller", headers={"Authorization": f"Bearer {other}"}
        ).status_code
        == 403
    )
    assert client.get(f"/v1/calls/{call_id}/recordings/other", headers=auth).status_code == 422
    assert client.get("/v1/calls/nope/recordings/caller", headers=auth).status_code == 404


def test_purge_deletes_old_recordings_and_keeps_recent_and_active_ones(
    runtime: Runtime, client: TestClient
) -> None:
    old = record_call(runtime, "1", 0.2, age_days=45)
    recent = record_call(runtime, "2", 0.2, age_days=3)
    active_old = record_call(runtime, "3", 0.2, age_days=45, ended=False)
    orphan = recordings_dir(runtime.settings) / "2020-01-01" / "gone" / "caller.wav"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"RIFF")
    os.utime(orphan, (time.time() - 90 * 86400,) * 2)
    old_paths = [
        Path(p)
        for p in (runtime.store.get_call(old).caller_audio_path, runtime.store.get_call(old).bot_audio_path)
        if p
    ]

    dry = purge_recordings(runtime.store, runtime.settings, dry_run=True)
    assert (dry.calls, dry.files, dry.orphans) == (1, 2, 1) and all(p.exists() for p in old_paths)
    report = purge_recordings(runtime.store, runtime.settings)
    assert (report.calls, report.files, report.orphans) == (1, 2, 1)
    assert not any(p.exists() for p in old_paths) and not orphan.exists() and not old_paths[0].parent.exists()
    assert runtime.store.get_call(old).caller_audio_path is None
    assert (
        runtime.store.get_call(recent).caller_audio_path and runtime.store.get_call(active_old).bot_audio_path
    )
    _, token = runtime.store.create_agent("sup", "supervisor")
    r = client.get(f"/v1/calls/{old}/recordings/caller", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 404 and "purged" in r.json()["detail"]
    assert (
        purge_recordings(runtime.store, runtime.settings, older_than_days=0).files == 0
    )  # 0 keeps everything


def test_the_agents_and_recordings_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cli.main import app

    monkeypatch.setenv("TRIAGE_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        r = runner.invoke(app, ["agents", "add", "Li Na", "--topics", "water,power", "--languages", "zh"])
        assert r.exit_code == 0, r.output
        token = r.output.strip().splitlines()[-1]
        runtime = Runtime.start(get_settings(), load_models=False)
        agent = runtime.store.agent_by_token(token)
        assert agent is not None and agent.topics == ["water", "power"] and agent.languages == ["zh"]
        r = runner.invoke(app, ["agents", "add", "Boss", "--role", "chief"])
        assert r.exit_code != 0 and "agent or supervisor" in r.output
        listing = runner.invoke(app, ["agents", "list"]).output
        assert "Li Na" in listing and "water,power" in listing and token not in listing
        record_call(runtime, "1", 0.2, age_days=200)
        r = runner.invoke(app, ["recordings", "purge", "--older-than-days", "100"])
        assert r.exit_code == 0 and "deleted recordings of 1 calls" in r.output and "2 files" in r.output
    finally:
        get_settings.cache_clear()
