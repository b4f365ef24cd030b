"""Error rates as edit counts (jiwer alignments), summed over a corpus before dividing.

A corpus rate is (S + D + I) / N over all utterances, not the mean of per-utterance rates, so
short utterances do not weigh as much as long ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import jiwer

from eval.normalise import get_normaliser


@dataclass(frozen=True)
class EditCounts:
    """Alignment counts of hypothesis against reference units (words or characters)."""

    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    hits: int = 0
    normaliser: str = ""
    unit: str = "word"

    @property
    def reference_length(self) -> int:
        return self.substitutions + self.deletions + self.hits

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def rate(self) -> float:
        """(S + D + I) / N; an empty reference gives 0.0 if the hypothesis is empty too, else 1.0."""
        n = self.reference_length
        if n == 0:
            return 0.0 if self.insertions == 0 else 1.0
        return self.errors / n

    def __add__(self, other: EditCounts) -> EditCounts:
        if (
            self.normaliser
            and other.normaliser
            and (self.normaliser, self.unit) != (other.normaliser, other.unit)
        ):
            raise ValueError("cannot add counts made with different normalisers or units")
        return EditCounts(
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
            self.hits + other.hits,
            other.normaliser or self.normaliser,
            other.unit,
        )


def _counts(reference: str, hypothesis: str, unit: str, normaliser: str) -> EditCounts:
    if not reference:
        inserted = len(hypothesis.split()) if unit == "word" else len(hypothesis)
        return EditCounts(insertions=inserted, normaliser=normaliser, unit=unit)
    if not hypothesis:
        n = len(reference.split()) if unit == "word" else len(reference)
        return EditCounts(deletions=n, normaliser=normaliser, unit=unit)
    out = (
        jiwer.process_words(reference, hypothesis)
        if unit == "word"
        else jiwer.process_characters(reference, hypothesis)
    )
    return EditCounts(out.substitutions, out.deletions, out.insertions, out.hits, normaliser, unit)


def word_errors(reference: str, hypothesis: str, normaliser: str = "basic") -> EditCounts:
    """Word edit counts after the named normaliser."""
    norm = get_normaliser(normaliser)
    return _counts(norm(reference), norm(hypothesis), "word", normaliser)


def char_errors(reference: str, hypothesis: str, normaliser: str = "zh") -> EditCounts:
    """Character edit counts after the named normaliser (spaces ignored)."""
    norm = get_normaliser(normaliser)
    ref, hyp = norm(reference).replace(" ", ""), norm(hypothesis).replace(" ", "")
    return _counts(ref, hyp, "char", normaliser)


def corpus(counts: Iterable[EditCounts]) -> EditCounts:
    """Sum counts over utterances; ``.rate`` is then the corpus-level error rate."""
    total = EditCounts()
    for c in counts:
        total = total + c
    return total


def wer(references: list[str], hypotheses: list[str], normaliser: str = "basic") -> float:
    """Corpus word error rate."""
    return corpus(word_errors(r, h, normaliser) for r, h in zip(references, hypotheses, strict=True)).rate


def cer(references: list[str], hypotheses: list[str], normaliser: str = "zh") -> float:
    """Corpus character error rate."""
    return corpus(char_errors(r, h, normaliser) for r, h in zip(references, hypotheses, strict=True)).rate
