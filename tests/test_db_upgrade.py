"""A database made before a column existed is upgraded in place when the service opens it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from pipeline.store import Store


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return str(request.getfixturevalue("postgres_url"))


def test_a_database_without_the_agent_recording_column_is_upgraded(url: str) -> None:
    old = Store(url)
    call = old.start_call("13800000000", "en")
    engine = create_engine(url)
    with engine.begin() as conn:  # what a database from before the agents' softphone looks like
        conn.execute(text("ALTER TABLE calls DROP COLUMN agent_audio_path"))
    assert "agent_audio_path" not in {c["name"] for c in inspect(engine).get_columns("calls")}

    store = Store(url)

    assert "agent_audio_path" in {c["name"] for c in inspect(engine).get_columns("calls")}
    assert store.get_call(call.id).caller_number == "13800000000"  # nothing lost
    store.update_call(call.id, agent_audio_path="/tmp/agent.wav")
    assert store.get_call(call.id).agent_audio_path == "/tmp/agent.wav"
    Store(url)  # opening again changes nothing
    engine.dispose()
