"""Emergency recall and false-alarm rate, per category, language, variant and deciding layer.

Data: JSONL rows with ``text`` and ``lang`` and one of: ``emergency`` (true/false), ``urgency``
(the seed format: 'emergency' or not), or no label in a file whose name starts with ``positives``
or ``negatives`` (the independent set's layout). ``category`` (the incident type, or the kind of
negative), ``service`` and ``variant`` (clean / asr) are optional and break the figures down.
A folder stands for every ``*.jsonl`` in it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class EmergencyItem:
    text: str
    lang: str
    emergency: bool
    category: str = ""
    service: str = ""
    variant: str = ""
    source: str = ""


@dataclass
class Rate:
    hits: int = 0
    total: int = 0

    @property
    def rate(self) -> float | None:
        return round(self.hits / self.total, 4) if self.total else None


@dataclass
class EmergencyEval:
    recall: Rate = field(default_factory=Rate)
    false_alarm: Rate = field(default_factory=Rate)
    recall_by: dict[str, dict[str, Rate]] = field(default_factory=lambda: defaultdict(dict))
    false_alarm_by: dict[str, dict[str, Rate]] = field(default_factory=lambda: defaultdict(dict))
    caught_by_layer: dict[str, int] = field(default_factory=dict)
    misses: list[dict[str, Any]] = field(default_factory=list)
    false_alarms: list[dict[str, Any]] = field(default_factory=list)

    def flat(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "emergency_recall": self.recall.rate,
            "emergency_false_alarm_rate": self.false_alarm.rate,
            "positives": self.recall.total,
            "negatives": self.false_alarm.total,
        }
        for dim in ("lang", "variant", "service"):
            for key, r in sorted(self.recall_by.get(dim, {}).items()):
                out[f"recall_{dim}_{key}"] = r.rate
            for key, r in sorted(self.false_alarm_by.get(dim, {}).items()):
                out[f"false_alarm_{dim}_{key}"] = r.rate
        for key, r in sorted(self.false_alarm_by.get("category", {}).items()):
            out[f"false_alarm_{key}"] = r.rate
        for layer, n in sorted(self.caught_by_layer.items()):
            out[f"caught_by_{layer}"] = n
        return out


def _truth(row: dict[str, Any], default: bool | None, where: str) -> bool:
    if "emergency" in row:
        return bool(row["emergency"])
    if "urgency" in row or "label" in row:  # the seed format: out-of-scope rows carry no urgency
        return row.get("urgency") == "emergency"
    if default is None:
        raise ValueError(
            f"{where}: no 'emergency' or 'urgency' field and the file is not positives*/negatives*"
        )
    return default


def load_items(paths: list[Path]) -> list[EmergencyItem]:
    from nlu.train import iter_jsonl

    items = []
    for f, n, row in iter_jsonl(list(paths)):
        default = (
            True if f.name.startswith("positives") else False if f.name.startswith("negatives") else None
        )
        items.append(
            EmergencyItem(
                str(row["text"]),
                str(row.get("lang") or ""),
                _truth(row, default, f"{f}:{n}"),
                str(row.get("category") or ""),
                str(row.get("service") or ""),
                str(row.get("variant") or ""),
                f.name,
            )
        )
    if not items:
        raise ValueError(f"no rows in {', '.join(str(p) for p in paths)}")
    return items


def _add(table: dict[str, dict[str, Rate]], dim: str, key: str, hit: bool) -> None:
    if not key:
        return
    r = table[dim].setdefault(key, Rate())
    r.total += 1
    r.hits += int(hit)


def evaluate(classifier: Any, items: list[EmergencyItem], batch: int = 64) -> EmergencyEval:
    ev = EmergencyEval()
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        results = classifier.predict_many([i.text for i in chunk], [i.lang or None for i in chunk])
        for item, res in zip(chunk, results, strict=True):
            flagged = res.emergency.flagged
            dims = {"lang": res.language, "variant": item.variant, "service": item.service}
            dims["category"] = item.category
            if item.emergency:
                ev.recall.total += 1
                ev.recall.hits += int(flagged)
                for dim, key in dims.items():
                    _add(ev.recall_by, dim, key, flagged)
                if flagged:
                    src = res.emergency.source
                    ev.caught_by_layer[src] = ev.caught_by_layer.get(src, 0) + 1
                else:
                    ev.misses.append(_row(item, res))
            else:
                ev.false_alarm.total += 1
                ev.false_alarm.hits += int(flagged)
                for dim, key in dims.items():
                    _add(ev.false_alarm_by, dim, key, flagged)
                if flagged:
                    ev.false_alarms.append(_row(item, res))
    return ev


def _row(item: EmergencyItem, res: Any) -> dict[str, Any]:
    return {
        "text": item.text,
        "lang": item.lang,
        "category": item.category,
        "variant": item.variant,
        "source": res.emergency.source,
        "reason": res.emergency.reason,
    }


def category_table(ev: EmergencyEval) -> list[dict[str, Any]]:
    """One row per category and language: recall for incident types, false alarms for negatives."""
    rows = []
    for table, measure in ((ev.recall_by, "recall"), (ev.false_alarm_by, "false_alarm_rate")):
        for key, r in sorted(table.get("category", {}).items()):
            rows.append({"category": key, "measure": measure, "value": r.rate, "hits": r.hits, "n": r.total})
    return rows


def markdown(ev: EmergencyEval, title: str = "Emergency recognition") -> str:
    f = ev.flat()
    lines = [
        f"## {title}",
        "",
        f"recall {f['emergency_recall']} on {f['positives']} emergencies; "
        f"false-alarm rate {f['emergency_false_alarm_rate']} on {f['negatives']} non-emergencies",
        "",
        "| slice | recall | n | false-alarm rate | n |",
        "|---|---|---|---|---|",
    ]
    for dim in ("lang", "variant", "service"):
        keys = sorted(set(ev.recall_by.get(dim, {})) | set(ev.false_alarm_by.get(dim, {})))
        for key in keys:
            r = ev.recall_by.get(dim, {}).get(key, Rate())
            a = ev.false_alarm_by.get(dim, {}).get(key, Rate())
            lines.append(f"| {dim}={key} | {r.rate} | {r.total} | {a.rate} | {a.total} |")
    lines += ["", "| category | measure | value | hits / n |", "|---|---|---|---|"]
    for row in category_table(ev):
        lines.append(
            f"| {row['category']} | {row['measure']} | {row['value']} | {row['hits']} / {row['n']} |"
        )
    lines += ["", "caught by layer: " + ", ".join(f"{k} {v}" for k, v in sorted(ev.caught_by_layer.items()))]
    return "\n".join(lines)
