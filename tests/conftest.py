"""Shared fixtures. Nothing here reaches the network: model hubs are forced offline."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

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
