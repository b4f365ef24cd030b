"""CLINC150 (Larson et al., 2019): converter to our JSONL format, and the benchmark.

The benchmark trains on train + oos_train, chooses the out-of-scope threshold on val + oos_val,
and reports test + oos_test: in-scope accuracy (a rejected in-scope query counts as wrong) and
out-of-scope recall, the standard pair. Embeddings are cached, so a rerun only refits the heads.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from models.encoders import load_encoder
from nlu.embeddings import encode_texts
from nlu.heads import HeadOptions, OnnxHeads
from nlu.taxonomy import OOS
from nlu.train import TrainOptions, in_scope_scores, train

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "clinc150" / "data_full.json"
TARGETS = {"in_scope_accuracy": 0.93, "oos_recall": 0.70}


def convert(path: Path = DEFAULT_PATH) -> dict[str, list[dict]]:
    """data_full.json -> {'train': rows, 'val': rows, 'test': rows}, out-of-scope rows labelled 'oos'."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise FileNotFoundError(f"CLINC150 not found at {path}; pass --data PATH/TO/data_full.json") from e
    out: dict[str, list[dict]] = {}
    for split in ("train", "val", "test"):
        rows = raw[split] + raw.get(f"oos_{split}", [])
        out[split] = [
            {"text": t, "label": OOS if label == "oos" else label, "lang": "en"} for t, label in rows
        ]
    return out


def write_jsonl(splits: dict[str, list[dict]], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for split, rows in splits.items():
        p = out_dir / f"clinc150_{split}.jsonl"
        p.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        paths.append(p)
    return paths


@dataclass(frozen=True)
class ClincResult:
    encoder: str
    in_scope_accuracy: float
    oos_recall: float
    oos_precision: float
    accuracy: float
    argmax_in_scope_accuracy: float
    """In-scope accuracy with no rejection: the ceiling the threshold trades against."""
    oos_threshold: float
    train_rows: int
    val_rows: int
    test_rows: int
    encode_s: float
    """Seconds encoding train + val; near zero when the embedding cache already held them."""
    fit_s: float
    """Seconds fitting, calibrating and choosing the threshold."""
    train_s: float
    test_encode_s: float
    data_sha256: str
    meets_targets: bool


def run(
    path: Path = DEFAULT_PATH,
    encoder: str = "usem3+e5-small",
    out_dir: Path | None = None,
    cache_dir: Path | None = None,
    threads: int = 2,
    head: HeadOptions | None = None,
    oos_min_recall: float = 0.85,
) -> ClincResult:
    splits = convert(path)
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    out_dir = out_dir or Path("var") / "bench" / "clinc150-model"
    options = TrainOptions(
        encoder=encoder,
        head=head or HeadOptions(c=30.0, class_weight=None),
        oos_min_recall=oos_min_recall,
        cache_dir=cache_dir,
        threads=threads,
    )
    t0 = time.perf_counter()
    report = train(splits["train"], out_dir, options, val_rows=splits["val"])
    train_s = time.perf_counter() - t0

    enc = load_encoder(encoder, "cpu", threads)
    t0 = time.perf_counter()
    x = encode_texts(enc, [r["text"] for r in splits["test"]], cache_dir)
    test_encode_s = time.perf_counter() - t0
    heads = OnnxHeads(out_dir / "heads.onnx")
    probs = heads(x)["label"]
    labels = report.heads["label"]
    scores, preds = in_scope_scores(labels, probs)
    gold = [r["label"] for r in splits["test"]]
    rejected = scores < report.oos_threshold
    final = [OOS if rej else p for p, rej in zip(preds, rejected, strict=True)]
    inside = np.array([g != OOS for g in gold])
    correct = np.array([f == g for f, g in zip(final, gold, strict=True)])
    argmax_ok = np.array([p == g for p, g in zip(preds, gold, strict=True)])
    said_oos = np.array([f == OOS for f in final])
    in_acc = float(correct[inside].mean())
    oos_rec = float(said_oos[~inside].mean())
    return ClincResult(
        encoder=encoder,
        in_scope_accuracy=round(in_acc, 4),
        oos_recall=round(oos_rec, 4),
        oos_precision=round(float((said_oos & ~inside).sum() / max(1, said_oos.sum())), 4),
        accuracy=round(float(correct.mean()), 4),
        argmax_in_scope_accuracy=round(float(argmax_ok[inside].mean()), 4),
        oos_threshold=round(report.oos_threshold, 4),
        train_rows=len(splits["train"]),
        val_rows=len(splits["val"]),
        test_rows=len(splits["test"]),
        encode_s=round(report.encode_s, 1),
        fit_s=round(report.fit_s, 1),
        train_s=round(train_s, 1),
        test_encode_s=round(test_encode_s, 1),
        data_sha256=digest,
        meets_targets=in_acc >= TARGETS["in_scope_accuracy"] and oos_rec >= TARGETS["oos_recall"],
    )


def as_dict(result: ClincResult) -> dict:
    return {**asdict(result), "targets": TARGETS}
