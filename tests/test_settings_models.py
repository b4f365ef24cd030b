from pathlib import Path

import pytest

from core.settings import Settings
from models.errors import ModelUnavailableError
from models.whisper import WHISPER_BASE_SIZE, assemble_whisper_base, resolve_whisper


def test_settings_read_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRIAGE_DEVICE", "cuda")
    monkeypatch.setenv("TRIAGE_CPU_THREADS", "4")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://u@127.0.0.1/db")
    monkeypatch.setenv("TRIAGE_ASR_VOCABULARY", '["滨海新区", "解放北路"]')
    s = Settings(data_dir=tmp_path)
    assert s.device == "cuda" and s.cpu_threads == 4
    assert s.resolved_database_url() == "postgresql+psycopg://u@127.0.0.1/db"
    assert s.asr_vocabulary == ["滨海新区", "解放北路"]


def test_default_database_is_sqlite_in_data_dir(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, database_url="")
    assert s.resolved_database_url() == f"sqlite:///{tmp_path.resolve() / 'triage.db'}"


def test_settings_reject_unknown_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRIAGE_DEVICE", "tpu")
    with pytest.raises(ValueError):
        Settings()


def test_whisper_base_assembles_verified(model_cache_dir: Path) -> None:
    path = assemble_whisper_base(model_cache_dir)
    assert (path / "model.bin").stat().st_size == WHISPER_BASE_SIZE
    assert {"config.json", "tokenizer.json", "vocabulary.txt"} <= {p.name for p in path.iterdir()}


def test_damaged_assembly_is_rebuilt(tmp_path: Path) -> None:
    path = assemble_whisper_base(tmp_path)
    with (path / "model.bin").open("r+b") as fh:
        fh.truncate(1000)
    rebuilt = assemble_whisper_base(tmp_path)
    assert (rebuilt / "model.bin").stat().st_size == WHISPER_BASE_SIZE


def test_local_folder_without_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match=r"model\.bin"):
        resolve_whisper(str(tmp_path), tmp_path)
