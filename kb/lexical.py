"""Lexical retrieval: Chinese word segmentation (jieba), English words, and an incremental BM25.

bm25s builds a static index; the knowledge base changes while the service runs, so this BM25
keeps postings in dictionaries and updates them per document (Lucene's BM25 formula, the same
one bm25s uses by default, so scores match a fresh bm25s index over the same tokens).
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections import Counter
from typing import Any

import numpy as np

_WORD = re.compile(r"[a-z0-9]+|[\u3400-\u9fff\uf900-\ufaff]+")
_EN_STOP = frozenset(
    """a an the and or but of to in on at for from by with is are was were be been am do does did i my me we
    our you your it its this that there here what which who whom how when where why can could would should
    will shall may might please hi hello have has had get got not no so if as about just""".split()  # noqa: SIM905
)
_ZH_STOP = frozenset(
    """的 了 吗 呢 吧 啊 呀 嘛 我 你 您 他 她 我们 你们 是 在 有 要 想 请问 请 一下 就 都 也 还 和 跟
    这 那 这个 那个 怎么 怎么样 怎样 什么 哪里 哪儿 能 能不能 可以 可不可以 会 去 到 给 让 被 把 个
    么 嗯 哦 喂 好""".split()  # noqa: SIM905
)
_jieba_lock = threading.Lock()
_jieba_ready = False


def _jieba() -> Any:
    global _jieba_ready
    import jieba

    with _jieba_lock:
        if not _jieba_ready:
            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _jieba_ready = True
    return jieba


def _stem(word: str) -> str:
    """A light English stemmer: enough to match bill/bills, repair/repaired/repairing."""
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: len(word) - len(suffix)] + keep
    return word


def tokenize(text: str) -> list[str]:
    """Lower-cased English stems and jieba search-mode Chinese words, stop words removed."""
    tokens: list[str] = []
    for run in _WORD.findall(text.lower()):
        if run[0].isascii():
            if run not in _EN_STOP:
                tokens.append(_stem(run))
            continue
        for word in _jieba().lcut_for_search(run):
            if word not in _ZH_STOP:
                tokens.append(word)
    return tokens


class Bm25Index:
    """BM25 over integer document slots, with add and remove in place."""

    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._docs: dict[int, Counter[str]] = {}
        self._lengths: dict[int, int] = {}
        self._postings: dict[str, dict[int, int]] = {}
        self._arrays: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._total_len = 0
        self._capacity = 0

    def __len__(self) -> int:
        return len(self._docs)

    def add(self, slot: int, tokens: list[str]) -> None:
        if slot in self._docs:
            self.remove(slot)
        counts = Counter(tokens)
        self._docs[slot] = counts
        self._lengths[slot] = len(tokens)
        self._total_len += len(tokens)
        self._capacity = max(self._capacity, slot + 1)
        for term, tf in counts.items():
            self._postings.setdefault(term, {})[slot] = tf
            self._arrays.pop(term, None)

    def remove(self, slot: int) -> None:
        counts = self._docs.pop(slot, None)
        if counts is None:
            return
        self._total_len -= self._lengths.pop(slot)
        for term in counts:
            posting = self._postings[term]
            del posting[slot]
            if not posting:
                del self._postings[term]
            self._arrays.pop(term, None)

    def _posting_arrays(self, term: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        arrays = self._arrays.get(term)
        if arrays is None:
            posting = self._postings[term]
            slots = np.fromiter(posting.keys(), dtype=np.int64, count=len(posting))
            tfs = np.fromiter(posting.values(), dtype=np.float32, count=len(posting))
            lengths = np.fromiter((self._lengths[s] for s in posting), dtype=np.float32, count=len(posting))
            arrays = (slots, tfs, lengths)
            self._arrays[term] = arrays
        return arrays

    def idf(self, term: str) -> float:
        n = len(self._docs)
        df = len(self._postings.get(term, ()))
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def scores(self, tokens: list[str], size: int | None = None) -> tuple[np.ndarray, float]:
        """(score per slot, the largest score any document could reach for this query).

        The second value normalises a score into the share of the query's weight a document
        matched, which is comparable across queries (0 = nothing matched, 1 = everything).
        """
        size = max(size or 0, self._capacity)
        out = np.zeros(size, dtype=np.float32)
        n = len(self._docs)
        if not n or not tokens:
            return out, 0.0
        avgdl = self._total_len / n
        ceiling = 0.0
        for term, qtf in Counter(tokens).items():
            idf = self.idf(term)
            ceiling += qtf * idf * (self.k1 + 1)
            if term not in self._postings:
                continue
            slots, tfs, lengths = self._posting_arrays(term)
            norm = self.k1 * (1.0 - self.b + self.b * lengths / avgdl)
            out[slots] += qtf * idf * tfs * (self.k1 + 1) / (tfs + norm)
        return out, ceiling
