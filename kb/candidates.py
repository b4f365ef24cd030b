"""Helpers of KnowledgeBase: the candidate set of one query, top-n, the lexical document of an entry."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np

from kb.entry import KbEntry, detect_lang
from kb.lexical import tokenize

QA_MARK = "\u241e"
"""A dense row whose key starts with this holds an entry's question and answer read together, not a
question: ``QA_MARK + question + "\x1f" + answer``. A question never starts with it."""
ANSWER_CHARS = 600
"""How much of an answer goes into its question-and-answer row (the start says what it is about)."""


def row_keys(entry: KbEntry) -> list[str]:
    """The dense rows of an entry: each question, then one question-and-answer row per answer
    language (that language's first question with the answer's start)."""
    keys = list(entry.questions)
    for lang, answer in entry.answers.items():
        question = next((q for q in entry.questions if detect_lang(q) == lang), entry.questions[0])
        keys.append(f"{QA_MARK}{question}\x1f{answer[:ANSWER_CHARS]}")
    return keys


def is_qa(key: str) -> bool:
    return key.startswith(QA_MARK)


def qa_question(key: str) -> str:
    """The question inside a question-and-answer row's key."""
    return key[len(QA_MARK) :].split("\x1f", 1)[0]


def text_to_encode(key: str) -> str:
    return key[len(QA_MARK) :].replace("\x1f", " ", 1) if is_qa(key) else key


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
