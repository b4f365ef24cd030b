"""Run comparison (deltas judged by higher_is_better) and the converters, on small files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from cli.main import app
from eval.compare import compare
from eval.convert import ConvertError, asr_manifest, clinc150, csv_to_jsonl
from eval.runner import RunResult, StageOutput, write_run
from eval.tasks import parse_task


def fake_run(folder: Path, figures: dict) -> Path:
    spec = parse_task(
        {
            "name": "asr",
            "kind": "asr",
            "dataset": str(folder),
            "metrics": [
                {"name": "wer_en", "higher_is_better": False},
                {"name": "accuracy", "higher_is_better": True},
                {"name": "rtf", "higher_is_better": False},
                {"name": "recall", "higher_is_better": True},
            ],
        },
        check_files=False,
    )
    folder.mkdir(parents=True)
    write_run(RunResult(spec, folder, StageOutput(figures), 1.0), dt.datetime.now(dt.UTC))
    return folder


def test_compare_judges_each_metric_by_its_direction(tmp_path: Path) -> None:
    a = fake_run(tmp_path / "a", {"wer_en": 0.20, "accuracy": 0.90, "rtf": 0.3, "recall": None})
    b = fake_run(tmp_path / "b", {"wer_en": 0.10, "accuracy": 0.80, "rtf": 0.3, "recall": 0.5})
    deltas = {d.metric: d for d in compare(a, b)}
    assert deltas["wer_en"].verdict == "better" and deltas["wer_en"].delta == pytest.approx(-0.10)
    assert deltas["accuracy"].verdict == "worse" and deltas["accuracy"].delta == pytest.approx(-0.10)
    assert deltas["rtf"].verdict == "same"
    assert deltas["recall"].verdict == "n/a"
    out = CliRunner().invoke(app, ["eval", "compare", str(a), str(b)])
    assert out.exit_code == 0, out.output
    assert "| wer_en | 0.2000 | 0.1000 | -0.1000 | better |" in out.output
    assert "1 better, 1 worse: accuracy" in out.output


def test_compare_refuses_a_folder_without_results(tmp_path: Path) -> None:
    out = CliRunner().invoke(app, ["eval", "compare", str(tmp_path), str(tmp_path)])
    assert out.exit_code == 2 and "no results.json" in out.output


def test_csv_of_text_label(tmp_path: Path) -> None:
    src = tmp_path / "calls.csv"
    src.write_text(
        'text,label,urgency\n我家停电了,power,urgent\n"My bus card, lost",transport,\n', encoding="utf-8"
    )
    out = csv_to_jsonl(src, tmp_path / "calls.jsonl")
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows == [
        {"text": "我家停电了", "label": "power", "lang": "zh", "urgency": "urgent"},
        {"text": "My bus card, lost", "label": "transport", "lang": "en"},
    ]
    (tmp_path / "bad.csv").write_text("sentence,intent\nhello,x\n", encoding="utf-8")
    with pytest.raises(ConvertError, match="'text' and 'label'"):
        csv_to_jsonl(tmp_path / "bad.csv", tmp_path / "x.jsonl")


def test_clinc150_data_full(tmp_path: Path) -> None:
    data = {
        "train": [["how do i pay my bill", "pay_bill"]],
        "oos_train": [["what is the meaning of life", "oos"]],
        "val": [["pay my bill", "pay_bill"]],
        "oos_val": [],
        "test": [["bill payment", "pay_bill"]],
        "oos_test": [["sing me a song", "oos"]],
    }
    src = tmp_path / "data_full.json"
    src.write_text(json.dumps(data), encoding="utf-8")
    out = CliRunner().invoke(app, ["eval", "convert", "clinc150", str(src), "--out", str(tmp_path / "c")])
    assert out.exit_code == 0, out.output
    test = (tmp_path / "c" / "clinc150_test.jsonl").read_text().splitlines()
    assert [json.loads(x)["label"] for x in test] == ["pay_bill", "oos"]
    assert len(clinc150(src, tmp_path / "d")) == 3


def test_asr_manifest_from_nemo_style(tmp_path: Path) -> None:
    audio = tmp_path / "audio"
    audio.mkdir()
    sf.write(audio / "a.wav", np.zeros(1600, np.float32), 16000)
    src = tmp_path / "nemo.jsonl"
    src.write_text(
        json.dumps({"audio_filepath": "audio/a.wav", "text": "hello there", "duration": 0.1})
        + "\n"
        + json.dumps({"audio_filepath": "audio/a.wav", "text": "你好", "lang": "zh-CN"})
        + "\n",
        encoding="utf-8",
    )
    out = asr_manifest(src, tmp_path / "out" / "manifest.jsonl")
    rows = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert rows[0] == {"file": "../audio/a.wav", "reference": "hello there", "lang": "en"}
    assert rows[1]["lang"] == "zh"
    assert (out.parent / rows[0]["file"]).is_file()
    src.write_text(json.dumps({"audio_filepath": "audio/missing.wav", "text": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(ConvertError, match=r"line 1: audio file .*missing.wav not found"):
        asr_manifest(src, tmp_path / "m.jsonl")
