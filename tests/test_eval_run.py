"""`triage eval run`: a real task writes JSON + Markdown + PNG into its own folder; telephone copies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from cli.main import app
from eval.runner import run_task
from eval.tasks import load_task
from eval.telephone import telephone_copy


def test_an_nlu_run_folder_holds_json_markdown_and_a_confusion_png(tmp_path: Path) -> None:
    spec = load_task("nlu")
    result = run_task(spec, tmp_path, log=lambda _: None)
    assert result.folder.parent == tmp_path and result.folder.name.endswith("-nlu")
    data = json.loads((result.folder / "results.json").read_text(encoding="utf-8"))
    assert set(data["metrics"]) == {m.name for m in spec.metrics}
    assert data["higher_is_better"]["emergency_false_alarm_rate"] is False
    assert 0.5 < data["metrics"]["accuracy"] <= 1.0  # the shipped model on held-out phrasings
    report = (result.folder / "report.md").read_text(encoding="utf-8")
    assert "| accuracy |" in report and "| power |" in report  # metric table and per-class table
    png = result.folder / "confusion.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_run_on_the_command_line_with_a_kb_task(tmp_path: Path) -> None:
    out = CliRunner().invoke(app, ["eval", "run", "kb", "--out", str(tmp_path)])
    assert out.exit_code == 0, out.output
    (folder,) = tmp_path.iterdir()
    assert "recall_at_1" in out.output and str(folder) in out.output
    assert {"results.json", "report.md", "answer_rate_curve.png"} <= {p.name for p in folder.iterdir()}


def test_a_bad_task_file_is_refused_with_its_reason(tmp_path: Path) -> None:
    bad = tmp_path / "t.yaml"
    bad.write_text("name: x\nkind: nlu\ndataset: nowhere.jsonl\nmetrics: []\n", encoding="utf-8")
    out = CliRunner().invoke(app, ["eval", "run", str(bad), "--out", str(tmp_path)])
    assert out.exit_code == 2 and "dataset not found" in out.output


def _tone(hz: float, rate: int = 16000) -> np.ndarray:
    t = np.arange(rate) / rate
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x[2000:-2000] ** 2)))


def test_the_telephone_copy_keeps_the_voice_band_and_drops_the_rest() -> None:
    speech_band = telephone_copy(_tone(1000))
    assert len(speech_band) == 16000
    assert _rms(speech_band) > 0.8 * _rms(_tone(1000))
    assert _rms(telephone_copy(_tone(6000))) < 0.02  # above the 4 kHz Nyquist of an 8 kHz line
    assert _rms(telephone_copy(_tone(100))) < 0.15  # below the 300 Hz band edge
    # mu-law leaves quantisation noise: not a bit-exact copy even in the band
    assert not np.allclose(speech_band, _tone(1000), atol=1e-4)
