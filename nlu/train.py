"""Training the classifier from JSONL rows: encode, fit heads, calibrate, choose thresholds, export.

Rows are ``{"text", "label"}`` with optional ``"lang"``, ``"request_type"`` and ``"urgency"``;
label ``oos`` marks out-of-scope; a row may carry only ``urgency``. Without a validation file a
stratified fifth of the training rows is held out to calibrate and choose thresholds, then the
heads are refitted on everything (temperatures and thresholds kept).
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from models.encoders import load_encoder
from nlu.embeddings import encode_texts, texts_hash
from nlu.heads import (
    HeadOptions,
    LinearHead,
    calibrate,
    choose_oos_threshold,
    choose_recall_threshold,
    export_onnx,
    fit_head,
)
from nlu.taxonomy import DEFAULT_TAXONOMY, OOS, Taxonomy

MODEL_FORMAT = 1
DATA_DIR = Path(__file__).resolve().parent / "data"
SEED_TRAIN = [DATA_DIR / "seed_train_zh.jsonl", DATA_DIR / "seed_train_en.jsonl"]
SEED_HELDOUT = [DATA_DIR / "heldout_zh.jsonl", DATA_DIR / "heldout_en.jsonl"]
DEFAULT_ENCODER = "usem3+e5-small"


@dataclass(frozen=True)
class TrainOptions:
    encoder: str = DEFAULT_ENCODER
    """Sentence encoder spec (see models.encoders.load_encoder)."""
    head: HeadOptions = field(default_factory=HeadOptions)
    val_fraction: float = 0.2
    """Share of training rows held out for calibration when no validation rows are given."""
    oos_min_recall: float = 0.85
    """Out-of-scope recall the threshold must reach on validation data (see choose_oos_threshold)."""
    emergency_max_threshold: float = 0.95
    """The emergency score threshold never goes above this, whatever validation says."""
    emergency_max_false_alarm: float = 0.01
    """The urgency head may flag at most this share of validation non-emergencies (after the rules):
    the rules and the semantic layer carry recall, the head must not cry wolf."""
    seed: int = 13
    cache_dir: Path | None = None
    """Where encoded embeddings are cached; None disables the cache."""
    threads: int = 2
    device: str = "cpu"
    taxonomy: Path = DEFAULT_TAXONOMY
    emergency_bank: Path | None = None
    """Emergency descriptions and contrast sentences (nlu/emergency_bank.yaml) added as urgency-only
    rows: the urgency head then learns from every dispatch category, not only the seed's few."""


@dataclass(frozen=True)
class TrainReport:
    out_dir: Path
    rows: int
    val_rows: int
    heads: dict[str, list[str]]
    temperatures: dict[str, float]
    oos_threshold: float
    emergency_threshold: float
    encode_s: float
    fit_s: float
    val_label_accuracy: float | None


def iter_jsonl(paths: list[Path] | Path) -> Iterator[tuple[Path, int, dict]]:
    """(file, line number, row) for every non-blank line of JSONL files (a folder stands for its
    *.jsonl); errors name the file and line so a hotline can fix its own data."""
    for path in [paths] if isinstance(paths, Path) else paths:
        path = Path(path)
        for f in sorted(path.glob("*.jsonl")) if path.is_dir() else [path]:
            for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f"{f}:{n}: not valid JSON ({e})") from e
                if not str(row.get("text", "")).strip():
                    raise ValueError(f"{f}:{n}: the row has no 'text'")
                yield f, n, row


def load_jsonl(paths: list[Path] | Path) -> list[dict]:
    """Labelled training rows: each needs 'text' and a 'label' or an 'urgency'."""
    rows: list[dict] = []
    for f, n, row in iter_jsonl(paths):
        if not (row.get("label") or row.get("urgency")):
            raise ValueError(f"{f}:{n}: each row needs 'text' and a 'label' or an 'urgency'")
        rows.append(row)
    return rows


def bank_rows(path: Path) -> list[dict]:
    """Urgency-only training rows from an emergency bank YAML (no topic label, no request type)."""
    from nlu.semantic import DEFAULT_BANK, EXTRA_BANK, load_bank

    positives, contrast = load_bank(path, EXTRA_BANK if Path(path) == DEFAULT_BANK else None)
    return [{"text": t, "lang": lang, "urgency": "emergency"} for t, lang, _ in positives] + [
        {"text": t, "lang": lang, "urgency": "routine"} for t, lang in contrast
    ]


def _urgency_target(row: dict, taxonomy: Taxonomy) -> str | None:
    if row.get("urgency"):
        return str(row["urgency"])
    if row.get("label") in taxonomy.intents or row.get("label") == OOS:
        return "routine"  # saying yes, goodbye or asking about the weather is never urgent
    return None


def _split(rows: list[dict], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        key = f"{row.get('label')}|{row.get('urgency')}|{row.get('lang')}"
        groups.setdefault(key, []).append(row)
    rng = random.Random(seed)
    train, val = [], []
    for key in sorted(groups):
        items = groups[key][:]
        rng.shuffle(items)
        k = round(len(items) * fraction) if len(items) >= 3 else 0
        val.extend(items[:k])
        train.extend(items[k:])
    return train, val


def data_fingerprint(rows: list[dict]) -> str:
    h = hashlib.sha256(json.dumps(rows, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return h.hexdigest()[:16]


def _targets(rows: list[dict], taxonomy: Taxonomy) -> dict[str, list[str | None]]:
    return {
        "label": [r.get("label") for r in rows],
        "request_type": [r.get("request_type") for r in rows],
        "urgency": [_urgency_target(r, taxonomy) for r in rows],
    }


def _fit_all(x: np.ndarray, targets: dict[str, list[str | None]], options: HeadOptions) -> list[LinearHead]:
    heads = []
    for name, ys in targets.items():
        idx = [i for i, y in enumerate(ys) if y]
        if len({ys[i] for i in idx}) >= 2:
            heads.append(fit_head(name, x[idx], [str(ys[i]) for i in idx], options))
    return heads


def train(
    rows: list[dict], out_dir: Path, options: TrainOptions | None = None, val_rows: list[dict] | None = None
) -> TrainReport:
    options = options or TrainOptions()
    taxonomy = Taxonomy.load(options.taxonomy)
    refit = val_rows is None
    fit_rows, val_rows = (
        _split(rows, options.val_fraction, options.seed) if val_rows is None else (rows, val_rows)
    )
    if options.emergency_bank is not None:  # fit rows only: the validation split stays the data's own
        fit_rows = fit_rows + bank_rows(options.emergency_bank)
    if not any(r.get("label") for r in fit_rows):
        raise ValueError("no row carries a 'label': at least the label head needs training data")

    encoder = load_encoder(options.encoder, options.device, options.threads)
    t0 = time.perf_counter()
    x_fit = encode_texts(encoder, [r["text"] for r in fit_rows], options.cache_dir)
    x_val = encode_texts(encoder, [r["text"] for r in val_rows], options.cache_dir)
    encode_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    fit_targets, val_targets = _targets(fit_rows, taxonomy), _targets(val_rows, taxonomy)
    heads = _fit_all(x_fit, fit_targets, options.head)
    heads = [calibrate(h, x_val, [y or "" for y in val_targets[h.name]]) for h in heads]
    by_name = {h.name: h for h in heads}

    oos_threshold, val_acc = 0.0, None
    label_head = by_name["label"]
    val_labels = val_targets["label"]
    if any(val_labels):
        scores, preds = in_scope_scores(label_head.labels, label_head.probs(x_val))
        is_oos = np.array([y == OOS for y in val_labels])
        has = np.array([bool(y) for y in val_labels])
        correct = np.array([p == y for p, y in zip(preds, val_labels, strict=True)])
        if is_oos.any():
            oos_threshold = choose_oos_threshold(
                scores[has & ~is_oos], correct[has & ~is_oos], scores[is_oos], options.oos_min_recall
            )
        val_acc = float(np.mean(correct[has & ~is_oos])) if (has & ~is_oos).any() else None

    emergency_threshold = options.emergency_max_threshold
    if "urgency" in by_name and "emergency" in by_name["urgency"].labels:
        head = by_name["urgency"]
        ys = val_targets["urgency"]
        idx = [i for i, y in enumerate(ys) if y]
        if idx:
            em = head.probs(x_val[idx])[:, head.labels.index("emergency")]
            em = _system_scores(em, [val_rows[i]["text"] for i in idx])
            positive = np.array([ys[i] == "emergency" for i in idx])
            emergency_threshold = choose_recall_threshold(
                em,
                positive,
                options.emergency_max_threshold,
                max_false_alarm=options.emergency_max_false_alarm,
            )

    if refit:  # use every row for the weights; keep the calibration learnt on the held-out part
        all_rows = fit_rows + val_rows
        x_all = np.vstack([x_fit, x_val])
        refitted = _fit_all(x_all, _targets(all_rows, taxonomy), options.head)
        heads = [
            LinearHead(
                h.name,
                h.labels,
                h.weight / by_name[h.name].temperature,
                h.bias / by_name[h.name].temperature,
                by_name[h.name].temperature,
            )
            for h in refitted
        ]
    fit_s = time.perf_counter() - t0

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    export_onnx(heads, encoder.dim, out_dir / "heads.onnx")
    if Path(options.taxonomy).resolve() != (out_dir / "taxonomy.yaml").resolve():
        shutil.copyfile(options.taxonomy, out_dir / "taxonomy.yaml")
    meta: dict[str, object] = {
        "format": MODEL_FORMAT,
        "encoder": options.encoder,
        "dim": encoder.dim,
        "heads": {h.name: h.labels for h in heads},
        "temperatures": {h.name: h.temperature for h in heads},
        "oos_threshold": oos_threshold,
        "emergency_threshold": emergency_threshold,
        "rows": len(rows),
        "val_rows": len(val_rows),
        "refit_on_all": refit,
        "data_fingerprint": data_fingerprint(rows),
        "texts_hash": texts_hash([r["text"] for r in rows]),
        "options": {
            k: (Path(v).name if isinstance(v, Path) else v)
            for k, v in asdict(options).items()
            if k != "cache_dir"  # a local path: the shipped model's meta stays machine-independent
        },
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "encode_s": round(encode_s, 2),
        "fit_s": round(fit_s, 2),
        "val_label_accuracy": val_acc,
    }
    (out_dir / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=2), encoding="utf-8")
    return TrainReport(
        out_dir,
        len(rows),
        len(val_rows),
        {h.name: h.labels for h in heads},
        {h.name: h.temperature for h in heads},
        oos_threshold,
        emergency_threshold,
        encode_s,
        fit_s,
        val_acc,
    )


def _system_scores(model: np.ndarray, texts: list[str]) -> np.ndarray:
    """The emergency score as the whole decision sees it: a live rule hit settles it (1.0); a
    cancelled one lets the model through only above the strict bar. The model's threshold is then
    chosen for what the rules leave, not for the model alone."""
    from nlu.classifier import STRICT_MODEL_BAR
    from nlu.rules import EmergencyRules, live_hits

    rules = EmergencyRules.load()
    out = model.copy()
    for i, text in enumerate(texts):
        hits = rules.scan(text)
        if live_hits(hits):
            out[i] = 1.0
        elif hits and out[i] < STRICT_MODEL_BAR:
            out[i] = 0.0
    return out


def in_scope_scores(labels: list[str], probs: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The best in-scope label per row and its probability (0 where the oos class itself wins)."""
    if OOS not in labels:
        best = probs.argmax(axis=1)
        return probs.max(axis=1), [labels[i] for i in best]
    oos = labels.index(OOS)
    inside = [i for i in range(len(labels)) if i != oos]
    sub = probs[:, inside]
    best = sub.argmax(axis=1)
    score = np.where(probs.argmax(axis=1) == oos, 0.0, sub.max(axis=1))
    return score, [labels[inside[i]] for i in best]
