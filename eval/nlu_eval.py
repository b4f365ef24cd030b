"""Scoring the classifier on labelled JSONL: labels, out-of-scope, urgency and emergencies.

``evaluate(classifier, rows)`` returns an ``NluEvaluation`` of counts and corpus-level rates;
``write_report`` writes the flat JSON, a Markdown table and the confusion-matrix PNG side by side.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from nlu.classifier import IntentClassifier
from nlu.result import NluResult
from nlu.taxonomy import OOS


@dataclass(frozen=True)
class ClassScore:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class NluEvaluation:
    rows: int
    accuracy: float | None = None
    in_scope_accuracy: float | None = None
    macro_f1: float | None = None
    oos_recall: float | None = None
    oos_precision: float | None = None
    request_type_accuracy: float | None = None
    urgency_accuracy: float | None = None
    emergency_recall: float | None = None
    emergency_false_alarm_rate: float | None = None
    emergency_rule_share: float | None = None
    """Of the emergencies caught, the share the rule layer (not the model) decided."""
    per_class: list[ClassScore] = field(default_factory=list)
    confusion_labels: list[str] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    """Misclassified rows (text, expected, predicted), for people improving the data."""

    def flat(self) -> dict:
        d = asdict(self)
        for k in ("per_class", "confusion", "confusion_labels", "errors"):
            d.pop(k)
        d["per_class"] = {
            c.label: {"precision": c.precision, "recall": c.recall, "f1": c.f1, "support": c.support}
            for c in self.per_class
        }
        return d


def predicted_label(r: NluResult) -> str:
    if r.out_of_scope:
        return OOS
    if r.intent is not None:
        return r.intent.code
    return r.topic.code if r.topic is not None else OOS


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def evaluate(classifier: IntentClassifier, rows: list[dict], batch: int = 64) -> NluEvaluation:
    results: list[NluResult] = []
    for i in range(0, len(rows), batch):
        chunk = rows[i : i + batch]
        results.extend(classifier.predict_many([r["text"] for r in chunk], [r.get("lang") for r in chunk]))
    ev = NluEvaluation(rows=len(rows))

    labelled = [(row, res) for row, res in zip(rows, results, strict=True) if row.get("label")]
    if labelled:
        gold = [str(row["label"]) for row, _ in labelled]
        pred = [predicted_label(res) for _, res in labelled]
        ev.accuracy = _rate(sum(g == p for g, p in zip(gold, pred, strict=True)), len(gold))
        inside = [(g, p) for g, p in zip(gold, pred, strict=True) if g != OOS]
        ev.in_scope_accuracy = _rate(sum(g == p for g, p in inside), len(inside))
        n_oos = sum(g == OOS for g in gold)
        if n_oos:
            ev.oos_recall = _rate(sum(g == OOS and p == OOS for g, p in zip(gold, pred, strict=True)), n_oos)
            ev.oos_precision = _rate(
                sum(g == OOS and p == OOS for g, p in zip(gold, pred, strict=True)),
                sum(p == OOS for p in pred),
            )
        labels = sorted(set(gold) | set(pred))
        index = {label: i for i, label in enumerate(labels)}
        matrix = np.zeros((len(labels), len(labels)), dtype=int)
        for g, p in zip(gold, pred, strict=True):
            matrix[index[g], index[p]] += 1
        for label in sorted(set(gold)):
            i = index[label]
            tp = int(matrix[i, i])
            prec = tp / max(1, int(matrix[:, i].sum()))
            rec = tp / max(1, int(matrix[i, :].sum()))
            f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
            ev.per_class.append(
                ClassScore(label, round(prec, 4), round(rec, 4), round(f1, 4), int(matrix[i].sum()))
            )
        ev.macro_f1 = round(float(np.mean([c.f1 for c in ev.per_class])), 4)
        ev.confusion_labels, ev.confusion = labels, matrix.tolist()
        ev.errors = [
            {"text": row["text"], "expected": g, "predicted": p}
            for (row, _), g, p in zip(labelled, gold, pred, strict=True)
            if g != p
        ]

    typed = [(row, res) for row, res in zip(rows, results, strict=True) if row.get("request_type")]
    if typed:
        ev.request_type_accuracy = _rate(
            sum(
                res.request_type is not None and res.request_type.code == row["request_type"]
                for row, res in typed
            ),
            len(typed),
        )
    urgent = [(row, res) for row, res in zip(rows, results, strict=True) if row.get("urgency")]
    if urgent:
        ev.urgency_accuracy = _rate(sum(res.urgency == row["urgency"] for row, res in urgent), len(urgent))
        pos = [res for row, res in urgent if row["urgency"] == "emergency"]
        neg = [res for row, res in urgent if row["urgency"] != "emergency"]
        caught = [r for r in pos if r.emergency.flagged]
        ev.emergency_recall = _rate(len(caught), len(pos))
        ev.emergency_false_alarm_rate = _rate(sum(r.emergency.flagged for r in neg), len(neg))
        ev.emergency_rule_share = _rate(sum(r.emergency.source == "rule" for r in caught), len(caught))
        ev.errors.extend(
            {"text": r.text, "expected": "emergency", "predicted": r.urgency, "reason": r.emergency.reason}
            for r in pos
            if not r.emergency.flagged
        )
        ev.errors.extend(
            {
                "text": r.text,
                "expected": "not emergency",
                "predicted": "emergency",
                "reason": r.emergency.reason,
            }
            for r in neg
            if r.emergency.flagged
        )
    return ev


def markdown(ev: NluEvaluation) -> str:
    lines = ["| metric | value |", "|---|---|"]
    for k, v in ev.flat().items():
        if k != "per_class" and v is not None:
            lines.append(f"| {k} | {v} |")
    lines += ["", "| class | precision | recall | f1 | support |", "|---|---|---|---|---|"]
    lines += [f"| {c.label} | {c.precision} | {c.recall} | {c.f1} | {c.support} |" for c in ev.per_class]
    return "\n".join(lines) + "\n"


def write_report(ev: NluEvaluation, json_path: Path, extra: dict | None = None) -> dict[str, Path]:
    """``<name>.json`` (flat metrics), ``<name>.md``, ``<name>.confusion.png`` and ``<name>.errors.jsonl``."""
    from eval.plots import confusion_png

    json_path = Path(json_path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    data = {**ev.flat(), **(extra or {})}
    json_path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    stem = json_path.with_suffix("")
    paths = {"json": json_path, "markdown": stem.with_suffix(".md")}
    paths["markdown"].write_text(markdown(ev), encoding="utf-8")
    if ev.confusion:
        paths["confusion"] = confusion_png(
            np.array(ev.confusion), ev.confusion_labels, Path(f"{stem}.confusion.png"), "label confusion"
        )
    paths["errors"] = Path(f"{stem}.errors.jsonl")
    paths["errors"].write_text(
        "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in ev.errors), encoding="utf-8"
    )
    return paths
