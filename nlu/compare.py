"""Choosing the encoder by measurement: k-fold label accuracy on the seed data, per language.

Each fold trains the label and request-type heads on the other folds (no threshold, argmax) so the
figure measures what the encoder's geometry gives a linear head, not the threshold policy.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.encoders import load_encoder
from nlu.embeddings import encode_texts
from nlu.heads import HeadOptions, fit_head


@dataclass(frozen=True)
class EncoderScore:
    encoder: str
    lang: str
    rows: int
    label_accuracy: float
    request_type_accuracy: float
    folds: int


def kfold_scores(
    rows: list[dict],
    encoder: str,
    lang: str,
    folds: int = 5,
    cache_dir: Path | None = None,
    head: HeadOptions | None = None,
    seed: int = 13,
) -> EncoderScore:
    head = head or HeadOptions(c=30.0)
    rows = [r for r in rows if r.get("label") and r.get("lang", lang) == lang]
    enc = load_encoder(encoder, "cpu", 2)
    x = encode_texts(enc, [r["text"] for r in rows], cache_dir)
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    fold_of = {i: k % folds for k, i in enumerate(order)}
    label_hits, rt_hits, rt_total = 0, 0, 0
    for f in range(folds):
        tr = [i for i in range(len(rows)) if fold_of[i] != f]
        te = [i for i in range(len(rows)) if fold_of[i] == f]
        h = fit_head("label", x[tr], [rows[i]["label"] for i in tr], head)
        pred = h.probs(x[te]).argmax(axis=1)
        label_hits += sum(h.labels[p] == rows[i]["label"] for p, i in zip(pred, te, strict=True))
        tr_rt = [i for i in tr if rows[i].get("request_type")]
        te_rt = [i for i in te if rows[i].get("request_type")]
        if tr_rt and te_rt:
            hr = fit_head("request_type", x[tr_rt], [rows[i]["request_type"] for i in tr_rt], head)
            pr = hr.probs(x[te_rt]).argmax(axis=1)
            rt_hits += sum(hr.labels[p] == rows[i]["request_type"] for p, i in zip(pr, te_rt, strict=True))
            rt_total += len(te_rt)
    return EncoderScore(
        encoder,
        lang,
        len(rows),
        round(label_hits / max(1, len(rows)), 4),
        round(rt_hits / max(1, rt_total), 4),
        folds,
    )


def latency_ms(encoder: str, texts: list[str], repeats: int = 1) -> tuple[float, float]:
    """Median and 90th-percentile milliseconds to encode one utterance at a time."""
    import time

    enc = load_encoder(encoder, "cpu", 2)
    enc.encode_queries(texts[:2])
    times = []
    for _ in range(repeats):
        for t in texts:
            start = time.perf_counter()
            enc.encode_queries([t])
            times.append((time.perf_counter() - start) * 1000)
    arr = np.array(times)
    return float(np.median(arr)), float(np.percentile(arr, 90))
