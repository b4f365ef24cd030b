"""The whole service with the real models, for tests that call it as callers and agents do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.settings import Settings
from pipeline.runtime import Runtime

REPO = Path(__file__).resolve().parent.parent


@contextmanager
def live_runtime(data_dir: Path, cache_dir: Path) -> Iterator[Runtime]:
    """A runtime on a fresh data folder, reusing the built classifier and knowledge-base index."""
    built = Settings().resolved_nlu_model_dir()
    if not (built / "manifest.json").exists() and not any(built.glob("*.onnx")):
        pytest.fail(f"the default classifier is not built at {built}: run scripts/build-artefacts.sh")
    settings = Settings(
        data_dir=data_dir,
        cache_dir=cache_dir,
        nlu_model_dir=built.resolve(),
        kb_index_dir=(REPO / "var" / "kb-index").resolve(),
        silence_timeout_s=60,
        tts_cache_dir=cache_dir / "tts-prompts",  # the fixed prompts, rendered once for all tests
    )
    rt = Runtime.start(settings)
    assert rt.session_services is not None, rt.calls_error
    try:
        yield rt
    finally:
        rt.close()
