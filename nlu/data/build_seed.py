"""Turn the hand-written seed_<lang>.txt files into training and held-out JSONL.

Run once after editing the text files: ``python -m nlu.data.build_seed``. Every 8th utterance
of each class (by position) goes to heldout_<lang>.jsonl, so held-out phrasings never appear in
training; the split is deterministic so the default model is reproducible.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUEST = {"i": "inquiry", "f": "fault", "c": "complaint", "t": "tip_off", "s": "suggestion", "p": "praise"}
CONVERSATIONAL = {"ask_human", "repeat", "goodbye", "yes", "no", "oos"}
HELDOUT_EVERY = 8


def parse(path: Path, lang: str) -> list[dict]:
    rows: list[dict] = []
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("# "):
            continue
        if line.startswith("## "):
            section = line[3:].strip()
            continue
        code, text = line.split("|", 1)
        row: dict = {"text": text.strip(), "lang": lang}
        if section == "hard_negatives":
            topic, rt = code.split(":")
            row.update(label=topic, request_type=REQUEST[rt], urgency="routine", hard_negative=True)
        elif section == "urgency_only":
            row.update(urgency="emergency" if code == "E" else "routine")
        elif section in CONVERSATIONAL:
            row.update(label=section)
        else:
            row.update(label=section, request_type=REQUEST[code[0]])
            row["urgency"] = {"E": "emergency", "U": "urgent"}.get(code[1:2], "routine")
        rows.append(row)
    return rows


def split(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    train: list[dict] = []
    held: list[dict] = []
    seen: dict[str, int] = {}
    for row in rows:
        key = "hard" if row.get("hard_negative") else row.get("label") or f"urgency:{row['urgency']}"
        n = seen.get(key, 0)
        seen[key] = n + 1
        (held if n % HELDOUT_EVERY == HELDOUT_EVERY - 1 else train).append(row)
    return train, held


def write(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main() -> None:
    for lang in ("zh", "en"):
        rows = parse(HERE / f"seed_{lang}.txt", lang)
        texts = [r["text"] for r in rows]
        dupes = {t for t in texts if texts.count(t) > 1}
        if dupes:
            raise SystemExit(f"duplicate utterances in seed_{lang}.txt: {sorted(dupes)[:5]}")
        train, held = split(rows)
        write(HERE / f"seed_train_{lang}.jsonl", train)
        write(HERE / f"heldout_{lang}.jsonl", held)
        print(f"{lang}: {len(train)} train, {len(held)} held out")


if __name__ == "__main__":
    main()
