"""Import and export knowledge bases as JSONL, CSV and YAML.

Every error names the file and the line of the bad entry and says how to fix it; duplicate ids
name both lines. The format follows the file suffix (.jsonl, .csv, .yaml/.yml).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path

import yaml

from kb.entry import LANGS, KbEntry, KbEntryError, detect_lang, entry_from_record
from kb.importers import SUFFIXES as IMPORT_SUFFIXES
from kb.importers import KbImportError, import_entries


class KbFormatError(ValueError):
    """A knowledge-base file cannot be read; the message names the file and line."""


FORMATS = ("jsonl", "csv", "yaml")
CSV_COLUMNS = (
    "id", "question", *(f"answer_{x}" for x in LANGS), "topic", "request_type", "tags", "updated",
    "department", "valid_from", "valid_until",
)  # fmt: skip
QUESTION_SEP = " | "


def format_of(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix in ("jsonl", "ndjson"):
        return "jsonl"
    if suffix in ("yaml", "yml"):
        return "yaml"
    if suffix == "csv":
        return "csv"
    raise KbFormatError(
        f"{path}: unknown knowledge-base format {path.suffix!r}: use .jsonl, .csv, .yaml, .xlsx, .json, "
        ".html or .md"
    )


def load_entries(path: str | Path) -> list[KbEntry]:
    path = Path(path)
    if path.suffix.lower() in IMPORT_SUFFIXES:  # Excel, JSON, HTML and Markdown FAQ pages
        try:
            return import_entries(path)
        except KbImportError as e:
            raise KbFormatError(str(e)) from None
    fmt = format_of(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise KbFormatError(f"{path}: no such knowledge-base file") from None
    except UnicodeDecodeError as e:
        raise KbFormatError(f"{path}: not UTF-8 text ({e}): save the file as UTF-8") from None
    return parse_entries(text, fmt, str(path))


def parse_entries(text: str, fmt: str, name: str = "<text>") -> list[KbEntry]:
    records = {"jsonl": _jsonl_records, "csv": _csv_records, "yaml": _yaml_records}[fmt](text, name)
    entries: list[KbEntry] = []
    seen: dict[str, int] = {}
    for line, record in records:
        try:
            entry = entry_from_record(record)
        except KbEntryError as e:
            raise KbFormatError(f"{name}, line {line}: {e}") from None
        if entry.id in seen:
            raise KbFormatError(
                f"{name}, line {line}: duplicate id {entry.id!r} (first on line {seen[entry.id]}): "
                "give each entry its own id"
            )
        seen[entry.id] = line
        entries.append(entry)
    if not entries:
        raise KbFormatError(f"{name}: no entries found")
    return entries


def _jsonl_records(text: str, name: str) -> list[tuple[int, dict]]:
    out = []
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as e:
            raise KbFormatError(f"{name}, line {n}: not valid JSON ({e.msg} at column {e.colno})") from None
        out.append((n, record))
    return out


def _csv_records(text: str, name: str) -> list[tuple[int, dict]]:
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    if "id" not in header or "question" not in header:
        wanted = ", ".join(f"answer_{x}" for x in LANGS)
        raise KbFormatError(
            f"{name}, line 1: the CSV header needs columns id, question and answer (or {wanted}); "
            f"found {', '.join(header)}"
        )
    out = []
    start = reader.line_num + 1
    for row in reader:
        if None in row:
            raise KbFormatError(
                f"{name}, line {start}: more cells than header columns: quote cells that hold commas"
            )
        record: dict = {k: v for k, v in row.items() if k and v is not None and v.strip() != ""}
        if record:
            if "question" in record:
                record["question"] = [q for q in record["question"].split("|") if q.strip()]
            out.append((start, record))
        start = reader.line_num + 1
    return out


class _LineLoader(yaml.SafeLoader):
    """Records the line each mapping starts on, so errors can name it."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _yaml_records(text: str, name: str) -> list[tuple[int, dict]]:
    try:
        data = yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise KbFormatError(f"{name}{where}: not valid YAML ({getattr(e, 'problem', e)})") from None
    if isinstance(data, dict) and "entries" in data:
        data = data["entries"]
    if not isinstance(data, list):
        raise KbFormatError(f"{name}, line 1: expected a list of entries (or a mapping with 'entries:')")
    out = []
    for item in data:
        if not isinstance(item, dict):
            raise KbFormatError(f"{name}: every entry must be a mapping with id, question and answer")
        line = item.pop("__line__")
        out.append((line, {k: _strip_lines(v) for k, v in item.items()}))
    return out


def _strip_lines(value: object) -> object:
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def dump_entries(entries: Iterable[KbEntry], fmt: str) -> str:
    entries = list(entries)
    if fmt == "jsonl":
        return "".join(json.dumps(e.to_record(), ensure_ascii=False) + "\n" for e in entries)
    if fmt == "yaml":
        return yaml.safe_dump(
            {"entries": [e.to_record() for e in entries]}, allow_unicode=True, sort_keys=False, width=100
        )
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
        writer.writeheader()
        for e in entries:
            if any("|" in q for q in e.questions):
                raise KbFormatError(
                    f"entry {e.id!r}: a question contains '|', which CSV uses between questions"
                )
            row = {
                "id": e.id,
                "question": QUESTION_SEP.join(e.questions),
                "topic": e.topic or "",
                "request_type": e.request_type or "",
                "tags": ";".join(e.tags),
                "updated": e.updated,
                "department": e.department or "",
                "valid_from": e.valid_from or "",
                "valid_until": e.valid_until or "",
            }
            for lang in LANGS:
                row[f"answer_{lang}"] = e.answers.get(lang, "")
            writer.writerow(row)
        return buf.getvalue()
    raise KbFormatError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


def save_entries(entries: Iterable[KbEntry], path: str | Path, fmt: str | None = None) -> None:
    path = Path(path)
    text = dump_entries(entries, fmt or format_of(path))
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def questions_by_lang(entry: KbEntry) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for q in entry.questions:
        out.setdefault(detect_lang(q), []).append(q)
    return out
