"""Converters from common public formats to the JSONL files the evaluation tasks read.

- ``clinc150``: CLINC150 ``data_full.json`` -> ``clinc150_{train,val,test}.jsonl`` ({text, label, lang}).
- ``csv_to_jsonl``: a CSV with a header holding at least ``text`` and ``label`` (optional ``lang``,
  ``request_type``, ``urgency``) -> classifier JSONL.
- ``asr_manifest``: a JSONL manifest of clips in our keys (file, reference, lang) or NeMo's
  (audio_filepath, text), or a Common Voice TSV (path, sentence, locale) -> our manifest, with
  file paths made relative to the output and every clip checked to exist.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any


class ConvertError(ValueError):
    """Input that cannot be converted; the message names the file and line."""


def _detect_lang(text: str) -> str:
    return "zh" if any("\u4e00" <= ch <= "\u9fff" for ch in text) else "en"


def _write_jsonl(rows: list[dict[str, Any]], out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return out


def clinc150(data_full: Path, out_dir: Path) -> list[Path]:
    from eval import clinc150 as c

    return c.write_jsonl(c.convert(data_full), out_dir)


def csv_to_jsonl(path: Path, out: Path, lang: str | None = None) -> Path:
    """CSV of text,label (header row) -> classifier JSONL; language guessed per row unless given."""
    with Path(path).open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        fields = [h.strip().lower() for h in (reader.fieldnames or [])]
        if "text" not in fields or "label" not in fields:
            raise ConvertError(f"{path}: the first row must name the columns, at least 'text' and 'label'")
        rows = []
        for n, raw in enumerate(reader, 2):
            row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
            if not row.get("text") or not row.get("label"):
                raise ConvertError(f"{path}, line {n}: empty text or label")
            out_row = {"text": row["text"], "label": row["label"]}
            out_row["lang"] = row.get("lang") or lang or _detect_lang(row["text"])
            for extra in ("request_type", "urgency"):
                if row.get(extra):
                    out_row[extra] = row[extra]
            rows.append(out_row)
    if not rows:
        raise ConvertError(f"{path}: no rows")
    return _write_jsonl(rows, out)


def _asr_rows(path: Path) -> list[tuple[int, dict[str, Any]]]:
    if path.suffix.lower() == ".tsv":
        with path.open(newline="", encoding="utf-8") as f:
            return list(enumerate(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 2))
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                out.append((n, json.loads(line)))
            except json.JSONDecodeError as e:
                raise ConvertError(f"{path}, line {n}: not JSON ({e})") from None
    return out


def asr_manifest(path: Path, out: Path, lang: str | None = None, audio_dir: Path | None = None) -> Path:
    """Any supported clip list -> our manifest {file, reference, lang} beside ``out``."""
    path, out = Path(path), Path(out)
    base = audio_dir or path.parent
    rows = []
    for n, raw in _asr_rows(path):
        audio = raw.get("file") or raw.get("audio_filepath") or raw.get("path")
        reference = raw.get("reference") if "reference" in raw else raw.get("text", raw.get("sentence"))
        if not audio or reference is None:
            raise ConvertError(
                f"{path}, line {n}: need an audio path (file | audio_filepath | path) and a transcript "
                "(reference | text | sentence)"
            )
        clip = Path(audio) if Path(audio).is_absolute() else (base / audio)
        if not clip.is_file():
            raise ConvertError(f"{path}, line {n}: audio file {clip} not found (use --audio-dir)")
        row_lang = raw.get("lang") or raw.get("locale") or lang or _detect_lang(str(reference))
        row_lang = "zh" if str(row_lang).lower().startswith("zh") else str(row_lang).split("-")[0].lower()
        rel = os.path.relpath(clip.resolve(), out.parent.resolve())
        rows.append({"file": rel, "reference": str(reference), "lang": row_lang})
    if not rows:
        raise ConvertError(f"{path}: no clips")
    return _write_jsonl(rows, out)
