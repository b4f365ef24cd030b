"""The knowledge base's dense rows: one vector per question and per question-and-answer text of
every entry (kb/candidates.py ``row_keys``), each tied to its entry's slot.

Rows of a removed entry are marked dead (slot -1) and compacted away once they are many, so edits
stay cheap; ``slot_scores`` gives every slot its best question cosine blended with its best
question-and-answer cosine.
"""

from __future__ import annotations

import numpy as np

from kb.candidates import is_qa


class DenseRows:
    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.vec = np.zeros((0, dim), np.float32)
        self.slot = np.zeros(0, np.int64)
        self.qa = np.zeros(0, bool)  # a question-and-answer row, not a question
        self.text: list[str] = []  # the row's key
        self.n = 0
        self.dead = 0

    def add(self, slot: int, keys: list[str], vectors: dict[str, np.ndarray]) -> None:
        need = self.n + len(keys)
        if need > len(self.vec):
            cap = max(need, 2 * len(self.vec), 64)
            self.vec = np.resize(self.vec, (cap, self.dim))
            self.slot = np.resize(self.slot, cap)
            self.qa = np.resize(self.qa, cap)
        for key in keys:
            self.vec[self.n], self.slot[self.n], self.qa[self.n] = vectors[key], slot, is_qa(key)
            self.text.append(key)
            self.n += 1

    def remove(self, slot: int) -> None:
        rows = self.slot[: self.n] == slot
        self.slot[: self.n][rows] = -1
        self.dead += int(rows.sum())
        if self.dead > max(64, self.n // 2):
            self._compact()

    def _compact(self) -> None:
        keep = np.flatnonzero(self.slot[: self.n] >= 0)
        self.vec, self.slot, self.qa = self.vec[keep].copy(), self.slot[keep].copy(), self.qa[keep].copy()
        self.text = [self.text[i] for i in keep]
        self.n, self.dead = len(keep), 0

    def of(self, slot: int | None) -> list[int]:
        """The rows of a slot (dead ones excluded)."""
        if slot is None:
            return []
        return [int(i) for i in np.flatnonzero(self.slot[: self.n] == slot)]

    def vectors_of(self, slot: int | None) -> dict[str, np.ndarray]:
        return {self.text[i]: self.vec[i] for i in self.of(slot)}

    def similarities(self, qv: np.ndarray) -> np.ndarray:
        return self.vec[: self.n] @ qv

    def slot_scores(self, sims: np.ndarray, n_slots: int, answer_weight: float) -> np.ndarray:
        """Per slot: (1 - w) * best question cosine + w * best question-and-answer cosine (the
        question cosine alone where a slot has no live question-and-answer row); -inf: no rows."""
        live, qa = self.slot[: self.n], self.qa[: self.n]
        dense = _best_per_slot(sims, np.where((live >= 0) & ~qa, live, n_slots), n_slots)
        if answer_weight <= 0:
            return dense
        with_answer = _best_per_slot(sims, np.where((live >= 0) & qa, live, n_slots), n_slots)
        both = np.isfinite(dense) & np.isfinite(with_answer)
        w = answer_weight
        return np.where(both, (1 - w) * dense + w * with_answer, dense).astype(np.float32)

    def best_question(self, sims: np.ndarray, slot: int) -> str:
        """The slot's question row most similar to the query (what a hit shows as its question)."""
        rows = np.flatnonzero((self.slot[: self.n] == slot) & ~self.qa[: self.n])
        return self.text[int(rows[np.argmax(sims[rows])])]


def _best_per_slot(sims: np.ndarray, row_slot: np.ndarray, n_slots: int) -> np.ndarray:
    """Each slot's best row similarity (-inf for none); rows marked ``n_slots`` are ignored."""
    best = np.full(n_slots + 1, -np.inf, np.float32)
    np.maximum.at(best, row_slot, sims)
    return best[:n_slots]
