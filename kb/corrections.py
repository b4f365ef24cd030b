"""Corrections: an agent's word on a bot answer (the caller's question, the right entry or none).

Kept as JSON Lines beside the knowledge-base index (``<kb_index_dir>/corrections.jsonl``), one
record a line, written and flushed to disk before the agent is told it is saved. `triage kb eval`
and `triage kb calibrate` read them as labelled queries; `triage kb export-corrections` writes them.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kb.entry import detect_lang, now_iso

FILE_NAME = "corrections.jsonl"


class CorrectionError(ValueError):
    """A correction is missing its question or names an unknown entry."""


@dataclass(frozen=True)
class Correction:
    question: str
    entry_id: str | None  # the entry that answers it; None: no entry does (the bot should not answer)
    lang: str = ""
    bot_entry_id: str | None = None  # what the bot answered
    call_id: str | None = None
    agent: str | None = None
    source: str = "marked_wrong"  # or "taken_over": an agent took over a call the bot answered
    at: str = field(default_factory=now_iso)

    def __post_init__(self) -> None:
        if not self.question or not self.question.strip():
            raise CorrectionError("a correction needs the caller's question")
        object.__setattr__(self, "question", self.question.strip())
        object.__setattr__(self, "lang", self.lang or detect_lang(self.question))

    def as_query(self) -> dict:
        """The row `triage eval kb` reads: {"text", "answer_id", "lang"}."""
        return {"text": self.question, "answer_id": self.entry_id, "lang": self.lang, "source": "correction"}


class CorrectionLog:
    _lock = threading.Lock()

    def __init__(self, index_dir: Path) -> None:
        self.path = Path(index_dir) / FILE_NAME

    def add(self, correction: Correction) -> Correction:
        line = json.dumps(asdict(correction), ensure_ascii=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())
        return correction

    def read(self) -> list[Correction]:
        if not self.path.is_file():
            return []
        out = []
        for raw in self.path.read_text(encoding="utf-8").splitlines():
            if raw.strip():
                try:
                    out.append(Correction(**json.loads(raw)))
                except (json.JSONDecodeError, TypeError, CorrectionError):
                    continue  # a torn last line after a crash: the rest still counts
        return out

    def export(self, out: Path, as_queries: bool = False) -> int:
        rows = self.read()
        text = "".join(
            json.dumps(c.as_query() if as_queries else asdict(c), ensure_ascii=False) + "\n" for c in rows
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
        return len(rows)
