"""The persisted index: a snapshot built from the source file, plus a journal of edits.

Layout under the index folder (``<data_dir>/kb-index`` by default)::

    <source-hash>-<encoder>/meta.json, rows.jsonl, vectors.npy, tokens.json   (the snapshot)
    <source-hash>.journal.jsonl                                              (upserts, deletes)

The snapshot is keyed by the hash of the source file's content and the encoder's name, so an
edited source file or another encoder builds a fresh one and a stale index is never read. Edits
made through the API or `triage kb import` are appended to the journal (with their vectors, so
reopening does not re-encode them) and replayed on open; another process sees them on its next
search. The journal belongs to the source content, not the encoder, so edits survive a change of
encoder.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.entry import KbEntry, entry_from_record

SNAPSHOT_VERSION = 1


def content_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[-60:]


@dataclass
class Snapshot:
    rows: list[tuple[str, str]]  # (entry id, question text), aligned with vectors
    vectors: np.ndarray
    tokens: dict[str, list[str]]


@dataclass(frozen=True)
class JournalOp:
    op: str  # "upsert" | "delete"
    entry: KbEntry | None
    entry_id: str
    vectors: dict[str, np.ndarray]  # question -> vector, when written by the same encoder


class KbStore:
    def __init__(self, index_dir: Path, source_key: str, encoder_name: str, dim: int) -> None:
        self.index_dir = Path(index_dir)
        self.source_key = source_key
        self.encoder_name = encoder_name
        self.dim = dim
        self.snapshot_dir = self.index_dir / f"{source_key}-{_safe(encoder_name)}"
        self.journal_path = self.index_dir / f"{source_key}.journal.jsonl"
        self._offset = 0

    # --- snapshot ---------------------------------------------------------------------------
    def load_snapshot(self, expected_rows: list[tuple[str, str]]) -> Snapshot | None:
        """The saved snapshot when it matches these rows and this encoder; None means rebuild."""
        try:
            meta = json.loads((self.snapshot_dir / "meta.json").read_text(encoding="utf-8"))
            if meta.get("version") != SNAPSHOT_VERSION or meta.get("encoder") != self.encoder_name:
                return None
            rows = [
                tuple(json.loads(line))
                for line in (self.snapshot_dir / "rows.jsonl").read_text(encoding="utf-8").splitlines()
            ]
            vectors = np.load(self.snapshot_dir / "vectors.npy")
            tokens = json.loads((self.snapshot_dir / "tokens.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if rows != [tuple(r) for r in expected_rows] or vectors.shape != (len(rows), self.dim):
            return None
        return Snapshot([(str(a), str(b)) for a, b in rows], vectors.astype(np.float32), tokens)

    def save_snapshot(self, snapshot: Snapshot) -> None:
        tmp = self.snapshot_dir.with_name(self.snapshot_dir.name + f".tmp{os.getpid()}")
        tmp.mkdir(parents=True, exist_ok=True)
        with open(tmp / "rows.jsonl", "w", encoding="utf-8") as f:
            for row in snapshot.rows:
                f.write(json.dumps(list(row), ensure_ascii=False) + "\n")
        np.save(tmp / "vectors.npy", snapshot.vectors.astype(np.float32))
        (tmp / "tokens.json").write_text(json.dumps(snapshot.tokens, ensure_ascii=False), encoding="utf-8")
        meta = {"version": SNAPSHOT_VERSION, "encoder": self.encoder_name, "dim": self.dim,
                "rows": len(snapshot.rows)}  # fmt: skip
        (tmp / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        if self.snapshot_dir.exists():
            for p in self.snapshot_dir.iterdir():
                p.unlink()
            self.snapshot_dir.rmdir()
        tmp.replace(self.snapshot_dir)

    # --- journal ----------------------------------------------------------------------------
    def append(self, op: str, entry: KbEntry | None, entry_id: str, vectors: dict[str, np.ndarray]) -> None:
        """Append one edit the caller has already applied in memory."""
        record: dict = {"op": op, "id": entry_id}
        if entry is not None:
            record["entry"] = entry.to_record()
            record["encoder"] = self.encoder_name
            record["vectors"] = {q: _b64(v) for q, v in vectors.items()}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        self.index_dir.mkdir(parents=True, exist_ok=True)
        with open(self.journal_path, "a", encoding="utf-8") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                before = os.fstat(f.fileno()).st_size
                f.write(line)
                f.flush()
                if before == self._offset:  # nobody else wrote since our last read: skip our own line
                    self._offset = os.fstat(f.fileno()).st_size
                # else the next read_new applies the others' lines and re-applies ours (idempotent)
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def journal_size(self) -> int:
        try:
            return self.journal_path.stat().st_size
        except FileNotFoundError:
            return 0

    def has_news(self) -> bool:
        return self.journal_size() != self._offset

    def read_new(self) -> list[JournalOp]:
        """Edits appended since the last read (by this process or another)."""
        if not self.journal_path.is_file():
            self._offset = 0
            return []
        ops = []
        with open(self.journal_path, "rb") as f:
            fcntl.flock(f, fcntl.LOCK_SH)
            try:
                f.seek(self._offset)
                data = f.read()
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
        end = data.rfind(b"\n") + 1  # a half-written last line waits for the next read
        self._offset += end
        for raw in data[:end].decode("utf-8").splitlines():
            if raw.strip():
                ops.append(self._parse(json.loads(raw)))
        return ops

    def _parse(self, record: dict) -> JournalOp:
        if record["op"] == "delete":
            return JournalOp("delete", None, record["id"], {})
        entry = entry_from_record(record["entry"])
        vectors: dict[str, np.ndarray] = {}
        if record.get("encoder") == self.encoder_name:
            for q, b64 in record.get("vectors", {}).items():
                v = np.frombuffer(base64.b64decode(b64), dtype=np.float32)
                if v.shape == (self.dim,):
                    vectors[q] = v
        return JournalOp("upsert", entry, entry.id, vectors)


def _b64(vector: np.ndarray) -> str:
    return base64.b64encode(vector.astype(np.float32).tobytes()).decode("ascii")
