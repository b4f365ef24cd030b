from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.settings import get_settings


@pytest.fixture()
def client(tmp_path: Path, model_cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    import serve

    monkeypatch.setenv("TRIAGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TRIAGE_CACHE_DIR", str(model_cache_dir))
    monkeypatch.setenv("TRIAGE_TTS_CACHE_DIR", str(model_cache_dir / "tts-prompts"))
    get_settings.cache_clear()
    with TestClient(serve.app) as c:
        yield c
    get_settings.cache_clear()


def test_health_reports_loaded_models(client: TestClient) -> None:
    body = client.get("/health").json()
    roles = {m["role"]: m for m in body["models"]}
    assert body["status"] == "ok"
    assert roles["asr"]["loaded"] and roles["asr"]["location"].endswith("whisper-base")
    assert roles["vad"]["loaded"]


def test_openapi_schema_is_published(client: TestClient) -> None:
    assert "/health" in client.get("/openapi.json").json()["paths"]
