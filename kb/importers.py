"""Knowledge bases in the forms hotlines keep them: Excel sheets, JSON, Markdown and HTML FAQ pages.

- **Excel (.xlsx)**: the first sheet, one row per entry, a header row naming the columns as in CSV
  (``id``, ``question``, ``answer`` or ``answer_zh``/``answer_en``, ``topic``, ``department``,
  ``valid_from``, ``valid_until``, ``tags``); other phrasings in extra columns (``question_2``,
  ``alt_question``, ...). Rows without an id get ``<file>-<row>``; blank rows are skipped.
- **JSON (.json)**: a list of entry objects, or ``{"entries": [...]}``.
- **HTML (.html/.htm)**: a FAQ page: each ``h2``-``h6`` heading, ``<dt>`` or ``<summary>`` is a
  question, the text after it (up to the next question) its answer; the ``h1``/``h2`` section a
  question sits under becomes its department.
- **Markdown (.md)**: ``#`` headings are questions in the same way.

Errors name the file and the row or question, as kb/formats.py does.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

from kb.entry import KbEntry, KbEntryError, entry_from_record

SUFFIXES = (".xlsx", ".json", ".html", ".htm", ".md", ".markdown")
_QUESTION_TAGS = {"h2", "h3", "h4", "h5", "h6", "dt", "summary"}
_SECTION_TAGS = {"h1", "h2"}
_SKIP_TAGS = {"script", "style", "nav", "header", "footer", "noscript"}
_BLOCK_TAGS = {"p", "li", "dd", "div", "br", "tr", "td", "section", "article", "details", "blockquote"}


class KbImportError(ValueError):
    """A file cannot be imported; the message names the file and where."""


def import_entries(path: str | Path) -> list[KbEntry]:
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise KbImportError(f"{path}: no such knowledge-base file")
    if suffix == ".xlsx":
        records = _excel_records(path)
    elif suffix == ".json":
        records = _json_records(path)
    elif suffix in (".html", ".htm"):
        records = _page_records(path, _html_pairs(_read(path)))
    elif suffix in (".md", ".markdown"):
        records = _page_records(path, _markdown_pairs(_read(path)))
    else:
        raise KbImportError(f"{path}: cannot import {suffix!r}: use one of {', '.join(SUFFIXES)}")
    entries: list[KbEntry] = []
    seen: dict[str, str] = {}
    for where, record in records:
        try:
            entry = entry_from_record(record)
        except KbEntryError as e:
            raise KbImportError(f"{path}, {where}: {e}") from None
        if entry.id in seen:
            raise KbImportError(f"{path}, {where}: duplicate id {entry.id!r} (first at {seen[entry.id]})")
        seen[entry.id] = where
        entries.append(entry)
    if not entries:
        raise KbImportError(f"{path}: no entries found (see kb/README.md for the layouts read)")
    return entries


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise KbImportError(f"{path}: not UTF-8 text ({e}): save the file as UTF-8") from None


def _excel_records(path: Path) -> list[tuple[str, dict]]:
    try:
        from openpyxl import load_workbook
    except ImportError as e:
        raise KbImportError("Excel import needs `pip install openpyxl`") from e
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises several kinds for a file that is not a workbook
        raise KbImportError(f"{path}: not a readable .xlsx workbook ({e})") from None
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = [str(c).strip().lower().replace(" ", "_") if c is not None else "" for c in next(rows, ())]
    if "question" not in header:
        raise KbImportError(
            f"{path}, sheet {sheet.title!r}, row 1: the header needs a 'question' column and 'answer' "
            f"(or answer_zh / answer_en); found {', '.join(h for h in header if h)}"
        )
    out = []
    for n, row in enumerate(rows, 2):
        record: dict = {}
        for name, value in zip(header, row, strict=False):
            if not name or value is None or (isinstance(value, str) and not value.strip()):
                continue
            record[name] = value.strip() if isinstance(value, str) else value
        if not record:
            continue
        if isinstance(record.get("question"), str):
            record["question"] = [q for q in record["question"].split("|") if q.strip()]
        for key in ("id", "tags"):
            if key in record and not isinstance(record[key], str):
                record[key] = str(record[key])
        record.setdefault("id", f"{path.stem}-{n}")
        out.append((f"sheet {sheet.title!r}, row {n}", record))
    book.close()
    return out


def _json_records(path: Path) -> list[tuple[str, dict]]:
    try:
        data = json.loads(_read(path))
    except json.JSONDecodeError as e:
        raise KbImportError(f"{path}: not valid JSON ({e.msg}, line {e.lineno})") from None
    if isinstance(data, dict) and "entries" in data:
        data = data["entries"]
    if not isinstance(data, list):
        raise KbImportError(f'{path}: expected a list of entries or {{"entries": [...]}}')
    return [(f"entry {i}", r) for i, r in enumerate(data, 1)]


def _page_records(path: Path, pairs: list[tuple[str, str, str]]) -> list[tuple[str, dict]]:
    out = []
    used: set[str] = set()
    for n, (section, question, answer) in enumerate(pairs, 1):
        base = _slug(question) or f"{path.stem}-{n}"
        entry_id, k = base, 2
        while entry_id in used:
            entry_id, k = f"{base}-{k}", k + 1
        used.add(entry_id)
        record = {"id": entry_id, "question": [question], "answer": answer}
        if section:
            record["department"] = section
        out.append((f"question {n} ({question[:40]!r})", record))
    return out


def _slug(text: str) -> str:
    ascii_words = re.findall(r"[a-z0-9]+", text.lower())
    if ascii_words:
        return "-".join(ascii_words)[:60]
    return ""


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


class _FaqParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[list[str]] = []  # [section, question, answer parts...]
        self.section = ""
        self._skip = 0
        self._in: str | None = None  # the question or section tag being read
        self._buf: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag in _QUESTION_TAGS | _SECTION_TAGS and self._in is None and not self._skip:
            self._in, self._buf = tag, []
        elif tag in _BLOCK_TAGS and self.items:
            self.items[-1].append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip = max(0, self._skip - 1)
        elif tag == self._in:
            text = _clean("".join(self._buf))
            self._in = None
            if not text:
                return
            if tag == "h1" or (tag == "h2" and not _looks_like_question(text)):
                self.section = text
            else:
                self.items.append([self.section, text])

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._in is not None:
            self._buf.append(data)
        elif self.items:
            self.items[-1].append(data)


_QUESTIONISH = re.compile(
    r"[?？]|吗|怎么|如何|什么|哪|多少|^(how|what|when|where|why|who|can|do|does|is|are)\b", re.I
)


def _looks_like_question(text: str) -> bool:
    return bool(_QUESTIONISH.search(text))


def _html_pairs(html: str) -> list[tuple[str, str, str]]:
    parser = _FaqParser()
    parser.feed(html)
    parser.close()
    return _pairs(parser.items)


def _markdown_pairs(text: str) -> list[tuple[str, str, str]]:
    items: list[list[str]] = []
    section = ""
    for line in text.splitlines():
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m:
            level, heading = len(m.group(1)), _clean(m.group(2))
            if level == 1 or (level == 2 and not _looks_like_question(heading)):
                section = heading
            else:
                items.append([section, heading])
        elif items:
            items[-1].append(re.sub(r"^\s*([-*+]|\d+\.)\s+", "", line) + "\n")
    return _pairs(items)


def _pairs(items: list[list[str]]) -> list[tuple[str, str, str]]:
    out = []
    for section, question, *parts in items:
        paragraphs = [_clean(p) for p in "".join(parts).split("\n")]
        answer = " ".join(p for p in paragraphs if p)
        answer = re.sub(r"[*_`]{1,3}([^*_`]+)[*_`]{1,3}", r"\1", answer)  # Markdown emphasis
        if answer:
            out.append((section, question, answer))
    return out
