"""Shared fixtures. Nothing here reaches the network: model hubs are forced offline."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, make_url, text

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Tests run several callers at once on one service to check behaviour, not latency: admission
# control (two bot calls per core by default) is tested on its own, with its own capacity.
os.environ.setdefault("TRIAGE_MAX_BOT_CALLS", "64")

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO.parent / "shared" / "benchmarks"
ASR_MANIFEST = BENCH / "asr" / "manifest.jsonl"


@pytest.fixture(scope="session")
def asr_clips() -> dict[str, dict]:
    """The shared real clips, keyed by file stem, with absolute paths."""
    if not ASR_MANIFEST.is_file():
        pytest.fail(f"benchmark clips missing: {ASR_MANIFEST} (shared/ must sit beside the repo)")
    rows = {}
    for line in ASR_MANIFEST.read_text().splitlines():
        if line.strip():
            row = json.loads(line)
            row["path"] = ASR_MANIFEST.parent / row["file"]
            rows[Path(row["file"]).stem] = row
    return rows


@pytest.fixture(scope="session")
def model_cache_dir() -> Path:
    """Where packaged weights get assembled; shared with the developer's own cache to save time."""
    return Path(os.environ.get("TRIAGE_CACHE_DIR", Path.home() / ".cache" / "hotline-triage"))


PG_URL = os.environ.get("TRIAGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of our own on the PostgreSQL server, so other test modules' tables are never touched.
    Skipped when no server answers, except under CI=true, where the real-database path is required."""
    try:
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 2})
        with admin.connect() as conn:
            conn.execute(text("select 1"))
    except Exception as e:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI expects PostgreSQL at {PG_URL}: {e}")
        pytest.skip(f"no PostgreSQL at {PG_URL} (set TRIAGE_TEST_POSTGRES_URL)")
    name = f"triage_agents_test_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {name}"))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium for one test module (tests/chromium.py)."""
    from chromium import start_browser

    driver = start_browser(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()
