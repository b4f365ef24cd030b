"""Helpers of KnowledgeBase: the candidate set of one query, top-n, the lexical document of an entry."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np

from kb.entry import KbEntry
from kb.lexical import tokenize


def cohort_sentences() -> list[str]:
    text = (resources.files("kb") / "data" / "cohort.txt").read_text(encoding="utf-8")
    return [s.strip() for s in text.splitlines() if s.strip() and not s.startswith("#")]


def lexical_tokens(entry: KbEntry) -> list[str]:
    tokens: list[str] = []
    for q in entry.questions:
        tokens += tokenize(q) * 2
    for a in entry.answers.values():
        tokens += tokenize(a)
    return tokens


@dataclass(frozen=True)
class Candidates:
    slots: np.ndarray
    feats: dict[str, np.ndarray]
    sims: np.ndarray  # similarity of every dense row
    dense_rank: np.ndarray  # per candidate, 1-based, 0 = not in the dense top
    lex_rank: np.ndarray


def top_n(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n highest scores, best first."""
    idx = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
    return idx[np.argsort(-scores[idx], kind="stable")]
