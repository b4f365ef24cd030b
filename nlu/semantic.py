"""The semantic emergency layer: what the caller said, compared with a bank of emergency descriptions.

The rules catch the phrasings someone wrote a pattern for; callers in danger say things nobody
wrote ("my car is in the water", "the plane came down behind the school"). This layer embeds the
utterance with the classifier's own sentence encoder (no extra encoding per turn) and compares it
with two banks: emergency descriptions per dispatch category (``nlu/emergency_bank.yaml``) and
contrast sentences that are close in words but are not emergencies (the bank's ``contrast`` list
plus every non-emergency row of the seed data). It fires when the nearest emergency examples are
closer than the nearest contrast examples by a margin, and says which category and which example.

The margin is chosen when the bank is built, by leave-one-out on the banks themselves: the
smallest margin at which at most ``target_false_alarm`` of the contrast sentences would fire. No
test data is involved. The layer knows meaning, not tense or negation: the classifier applies the
rule layer's cancellations (negation, past, figures of speech, reassurance) before it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from models.encoders import SentenceEncoder
from nlu.embeddings import encode_texts

DEFAULT_BANK = Path(__file__).resolve().parent / "emergency_bank.yaml"
EXTRA_BANK = Path(__file__).resolve().parent / "emergency_bank_extra.jsonl"
"""More labelled lines (JSONL: text, lang, emergency, category, service), read beside the YAML when
present: the first independent dev set, moved into training once its lessons were taken (the
second dev set, eval/data/emergency_dev2, is what tuning is checked on)."""
SEED_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class BankOptions:
    k: int = 3
    """Similarities averaged over the k nearest examples of each bank (robust to one odd example)."""
    target_false_alarm: float = 0.01
    """Leave-one-out share of contrast sentences allowed above the chosen margin."""
    min_similarity: float = 0.55
    """The nearest emergency example must be at least this close (cosine) whatever the margin."""


@dataclass(frozen=True)
class SemanticMatch:
    fired: bool
    category: str | None
    example: str
    """The nearest emergency example: the 'why' an agent or engineer reads."""
    similarity: float
    contrast: str
    """The nearest non-emergency example."""
    contrast_similarity: float
    margin: float
    threshold: float

    def reason(self) -> str:
        return (
            f"semantic {self.category}: like '{self.example}' ({self.similarity:.2f}) "
            f"more than '{self.contrast}' ({self.contrast_similarity:.2f}); "
            f"margin {self.margin:.3f} vs {self.threshold:.3f}"
        )


def load_bank(
    path: Path | None = None, extra: Path | None = None
) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """([(text, lang, category)], [(text, lang)]) from the bank YAML and, when given and present,
    a JSONL file of more labelled lines."""
    path = Path(path) if path else DEFAULT_BANK
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"emergency bank {path} could not be read ({e}); fix the YAML") from e
    positives = [
        (" ".join(str(t).split()), lang, str(cat))
        for cat, by_lang in (data.get("emergency") or {}).items()
        for lang in ("en", "zh")
        for t in (by_lang or {}).get(lang) or []
    ]
    contrast = [
        (" ".join(str(t).split()), lang)
        for lang in ("en", "zh")
        for t in (data.get("contrast") or {}).get(lang) or []
    ]
    if extra is not None and Path(extra).is_file():
        for line in Path(extra).read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                text = " ".join(str(row["text"]).split())
                if row.get("emergency"):
                    positives.append((text, str(row.get("lang") or ""), str(row.get("category") or "other")))
                else:
                    contrast.append((text, str(row.get("lang") or "")))
    if not positives:
        raise ValueError(f"emergency bank {path} has no emergency examples")
    return positives, contrast


def seed_rows() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(emergency, other) (text, lang) rows of the shipped seed data, train and held-out."""
    em: list[tuple[str, str]] = []
    other: list[tuple[str, str]] = []
    for f in sorted(SEED_DIR.glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            item = (str(row["text"]), str(row.get("lang") or ""))
            (em if row.get("urgency") == "emergency" else other).append(item)
    return em, other


def _topk_mean(sims: np.ndarray, k: int) -> np.ndarray:
    k = min(k, sims.shape[1])
    part = np.partition(sims, sims.shape[1] - k, axis=1)[:, -k:]
    return part.mean(axis=1)


class EmergencyBank:
    def __init__(
        self,
        texts: list[str],
        categories: list[str],
        vectors: np.ndarray,
        contrast_texts: list[str],
        contrast_vectors: np.ndarray,
        options: BankOptions,
        threshold: float | None = None,
    ) -> None:
        self.texts, self.categories = texts, categories
        self.vectors = vectors.astype(np.float32)
        self.contrast_texts = contrast_texts
        self.contrast_vectors = contrast_vectors.astype(np.float32)
        self.options = options
        from threadpoolctl import ThreadpoolController

        self._blas = ThreadpoolController()  # inspected once: the hot path only switches the limit
        self.loo: dict[str, float] = {}
        self.threshold = self._calibrate() if threshold is None else float(threshold)

    @classmethod
    def build(
        cls,
        encoder: SentenceEncoder,
        bank_path: Path | None = None,
        cache_dir: Path | None = None,
        options: BankOptions | None = None,
        with_seed: bool = True,
        categorise: Callable[[str], str] | None = None,
    ) -> EmergencyBank:
        """The bank's own examples, plus the seed data's rows (emergencies, with the category
        ``categorise`` gives them, and the rest as contrast) unless ``with_seed`` is False."""
        positives, contrast = load_bank(bank_path, EXTRA_BANK if bank_path in (None, DEFAULT_BANK) else None)
        texts = [t for t, _, _ in positives]
        cats = [c for _, _, c in positives]
        neg = [t for t, _ in contrast]
        if with_seed:
            em, other = seed_rows()
            neg += [t for t, _ in other]
            for t, _ in em:
                if t not in texts:
                    texts.append(t)
                    cats.append(categorise(t) if categorise else "medical_other")
        neg = list(dict.fromkeys(neg))
        vec = encode_texts(encoder, texts, cache_dir)
        neg_vec = encode_texts(encoder, neg, cache_dir)
        return cls(texts, cats, vec, neg, neg_vec, options or BankOptions())

    def _calibrate(self) -> float:
        """The margin at which at most target_false_alarm of the contrast sentences fire, each scored
        against the banks without itself (leave-one-out)."""
        k = self.options.k
        pos_self = self.vectors @ self.vectors.T
        np.fill_diagonal(pos_self, -1.0)
        neg_self = self.contrast_vectors @ self.contrast_vectors.T
        np.fill_diagonal(neg_self, -1.0)
        neg_margin = _topk_mean(self.contrast_vectors @ self.vectors.T, k) - _topk_mean(neg_self, k)
        neg_top = (self.contrast_vectors @ self.vectors.T).max(axis=1)
        eligible = neg_margin[neg_top >= self.options.min_similarity]
        q = 1.0 - self.options.target_false_alarm * len(neg_margin) / max(1, len(eligible))
        threshold = float(np.quantile(eligible, min(1.0, max(0.0, q)))) if len(eligible) else 0.0
        threshold = max(threshold, 0.0)
        pos_margin = _topk_mean(pos_self, k) - _topk_mean(self.vectors @ self.contrast_vectors.T, k)
        pos_top = pos_self.max(axis=1)
        fired = (pos_margin >= threshold) & (pos_top >= self.options.min_similarity)
        self.loo = {
            "threshold": round(threshold, 4),
            "loo_recall": round(float(fired.mean()), 4),
            "loo_false_alarm": round(
                float(((neg_margin >= threshold) & (neg_top >= self.options.min_similarity)).mean()), 4
            ),
            "emergency_examples": len(self.texts),
            "contrast_examples": len(self.contrast_texts),
        }
        return threshold

    def match(self, vector: np.ndarray) -> SemanticMatch:
        return self.match_many(np.asarray(vector, np.float32)[None, :])[0]

    def match_many(self, x: np.ndarray) -> list[SemanticMatch]:
        k = self.options.k
        # One BLAS thread: a multi-threaded matmul leaves OpenBLAS threads spinning, and the
        # sentence encoder's own threads (e5's C engine) then run at a fraction of their speed.
        with self._blas.limit(limits=1, user_api="blas"):
            pos = x @ self.vectors.T
            neg = x @ self.contrast_vectors.T
        margins = _topk_mean(pos, k) - _topk_mean(neg, k)
        out = []
        for i in range(x.shape[0]):
            j, n = int(pos[i].argmax()), int(neg[i].argmax())
            top = float(pos[i, j])
            fired = bool(margins[i] >= self.threshold and top >= self.options.min_similarity)
            out.append(
                SemanticMatch(
                    fired,
                    self.categories[j],
                    self.texts[j],
                    round(top, 4),
                    self.contrast_texts[n],
                    round(float(neg[i, n]), 4),
                    round(float(margins[i]), 4),
                    round(self.threshold, 4),
                )
            )
        return out
