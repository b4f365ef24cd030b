"""Per-knowledge-base calibration from the entries themselves, leave-one-out style.

A confidence fitted on one knowledge base does not transfer to another (a KB of many
near-duplicate entries makes wrong answers look confident). So every knowledge base is calibrated
on pseudo-queries made from its own entries:

- **held-out phrasing** (answerable): an entry's question (and a generated paraphrase of it) asked
  while that question's own dense row and words are taken out of the index, so only the entry's
  other phrasings and its answer can find it; an entry with one question keeps it, and only the
  paraphrase is asked (optimistic, so the threshold leans on the negatives below);
- **held-out entry** (unanswerable): the same queries asked with the whole entry taken out: any
  answer is wrong, and in a KB of near-duplicates the runner-up looks right. These set how
  confident a wrong top candidate gets, which is what a precision target needs.

A logistic fit on the top candidate's features (its score, its margin to the runner-up, its
cosine and lexical share) gives p(top is right); the threshold is the lowest whose pseudo-query
answered precision reaches the target (default 0.95). Pseudo-queries are half unanswerable, more
than callers ask, so the threshold errs on the side of handing off.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kb.confidence import FEATURES, Calibration
from kb.entry import KbEntry, detect_lang
from kb.lexical import tokenize

if TYPE_CHECKING:
    from kb.knowledge_base import KnowledgeBase

MAX_QUESTIONS_PER_ENTRY = 3
MAX_ENTRIES = 600  # a larger KB is calibrated on a fixed random sample of its entries

_EN_LEAD = re.compile(
    r"^(please\s+)?(can|could|would|will|do|does|did|is|are|am|was|were|should|may|how|what|when|where|"
    r"why|who|which)\b(\s+(i|you|we|they|it|there|is|are|do|does|much|long|many|to))*\s*",
    re.I,
)
_ZH_FILLER = re.compile(
    r"(请问|你好|您好|我想问一下|我想问|想问一下|想问|麻烦问一下|一下|吗|呢|呀|啊|吧|？|\?|。|，|,)"
)


@dataclass(frozen=True)
class PseudoQuery:
    text: str
    entry_id: str  # the entry it was made from
    held_question: str | None  # the question taken out of the index (None: nothing)
    held_entry: bool  # the whole entry is taken out: the right outcome is to decline


@dataclass(frozen=True)
class SelfCalibration:
    calibration: Calibration
    curve: list[tuple[float, float, float]]  # (threshold, answer rate, answered precision)
    n_answerable: int
    n_unanswerable: int
    fingerprint: str

    def to_json(self) -> dict:
        return {
            "calibration": asdict(self.calibration),
            "curve": self.curve,
            "n_answerable": self.n_answerable,
            "n_unanswerable": self.n_unanswerable,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_json(cls, data: dict) -> SelfCalibration:
        return cls(
            Calibration(**data["calibration"]),
            [(float(c[0]), float(c[1]), float(c[2])) for c in data["curve"]],
            int(data["n_answerable"]),
            int(data["n_unanswerable"]),
            str(data["fingerprint"]),
        )


def fingerprint(entries: list[KbEntry], encoder: str) -> str:
    h = hashlib.sha256(encoder.encode())
    for e in sorted(entries, key=lambda e: e.id):
        h.update(json.dumps([e.id, e.questions, sorted(e.answers.items())], ensure_ascii=False).encode())
    return h.hexdigest()[:16]


def paraphrase(text: str, rng: random.Random) -> str:
    """A cheap different wording: question words and fillers dropped, one content word dropped."""
    if detect_lang(text) == "zh":
        core = _ZH_FILLER.sub("", text)
        from kb.lexical import _jieba

        words = [w for w in _jieba().lcut(core) if w.strip()] or [core]
        if len(words) > 2:
            words.pop(rng.randrange(len(words)))
        return "".join(words) or text
    core = _EN_LEAD.sub("", text.strip().rstrip("?.! ")).strip()
    words = core.split()
    if len(words) > 3:
        words.pop(rng.randrange(len(words)))
    return " ".join(words) or text


def pseudo_queries(entries: list[KbEntry], seed: int = 13) -> list[PseudoQuery]:
    rng = random.Random(seed)
    chosen = entries if len(entries) <= MAX_ENTRIES else rng.sample(entries, MAX_ENTRIES)
    out: list[PseudoQuery] = []
    for e in chosen:
        for q in e.questions[:MAX_QUESTIONS_PER_ENTRY]:
            para = paraphrase(q, rng)
            several = len(e.questions) > 1
            texts = [q, para] if several else [para]
            for t in dict.fromkeys(texts):
                out.append(PseudoQuery(t, e.id, q if several else None, held_entry=False))
                out.append(PseudoQuery(t, e.id, None, held_entry=True))
    return out


@contextmanager
def held_out(kb: KnowledgeBase, entry_id: str, question: str | None, whole: bool) -> Iterator[None]:
    """Take an entry (or one of its questions) out of the index for the duration; the KB lock is held."""
    with kb._lock:
        slot = kb._slot[entry_id]
        rows = kb._rows_of(entry_id)
        hide = rows if whole else [i for i in rows if question and kb._rows_text[i] == question]
        kb._rows_slot[hide] = -1
        if whole:
            kb._bm25.remove(slot)
        elif hide:
            entry = kb._entries[entry_id]
            tokens = [t for q in entry.questions if q != question for t in tokenize(q) * 2]
            tokens += [t for a in entry.answers.values() for t in tokenize(a)]
            kb._bm25.add(slot, tokens)
        try:
            yield
        finally:
            kb._rows_slot[hide] = slot
            kb._bm25.add(slot, kb._tokens[entry_id])


def top_features(ids: list[str], feats: dict[str, np.ndarray]) -> tuple[str | None, dict[str, float]]:
    if not ids:
        return None, {}
    i = int(np.argmax(feats["mix"]))
    return ids[i], {f: float(feats[f][i]) for f in FEATURES}


UNANSWERABLE_SHARE = 0.2
"""Share of callers' questions the KB does not hold, assumed when weighing the held-out-entry queries."""


def calibrate_kb(
    kb: KnowledgeBase,
    target_precision: float = 0.95,
    seed: int = 13,
    unanswerable_share: float = UNANSWERABLE_SHARE,
) -> SelfCalibration:
    """Fit p(top is right) and the answer threshold on this KB's own pseudo-queries."""
    from sklearn.linear_model import LogisticRegression

    entries = kb.entries()
    pq = pseudo_queries(entries, seed)
    texts = list(dict.fromkeys(p.text for p in pq))
    vecs = np.concatenate([kb.encoder.encode_queries(texts[i : i + 128]) for i in range(0, len(texts), 128)])
    vec_of = dict(zip(texts, vecs, strict=True))
    x, y, held = [], [], []
    for p in pq:
        with held_out(kb, p.entry_id, p.held_question, p.held_entry):
            ids, feats = kb.candidate_features(p.text, query_vector=vec_of[p.text])
        top, f = top_features(ids, feats)
        if top is None:
            continue
        x.append([f[k] for k in FEATURES])
        y.append(int(not p.held_entry and top == p.entry_id))
        held.append(p.held_entry)
    xa, ya, ha = np.asarray(x), np.asarray(y), np.asarray(held, bool)
    base = kb.calibration
    if len(set(ya.tolist())) < 2:  # too few entries to learn from: keep the fit in use, stay strict
        cal = replace(base, threshold=max(base.threshold, 0.9), note="self-calibration: too few entries")
        fp = fingerprint(entries, kb.encoder.name)
        return SelfCalibration(cal, [], int(ya.sum()), int(len(ya) - ya.sum()), fp)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(xa, ya)
    cal = Calibration(
        encoder=kb.encoder.name,
        weights={f: float(w) for f, w in zip(FEATURES, model.coef_[0], strict=True)},
        bias=float(model.intercept_[0]),
        threshold=1.0,
        lex_weight=base.lex_weight,
    )
    probs = cal.probability({f: xa[:, i] for i, f in enumerate(FEATURES)})
    n_neg, n_pos = max(int(ha.sum()), 1), max(int((~ha).sum()), 1)
    share = min(max(unanswerable_share, 0.01), 0.99)
    weight = np.where(ha, share / (1 - share) * n_pos / n_neg, 1.0)
    curve = precision_curve(probs, ya.astype(bool), weight)
    threshold = threshold_for(curve, target_precision)
    n_pos = sum(not p.held_entry for p in pq)
    note = (
        f"self-calibrated on {len(entries)} entries: {n_pos} held-out phrasings, {len(pq) - n_pos} held-out "
        f"entries; threshold = lowest with pseudo-query answered precision >= {target_precision}"
    )
    cal = replace(cal, threshold=threshold, note=note)
    return SelfCalibration(cal, curve, n_pos, len(pq) - n_pos, fingerprint(entries, kb.encoder.name))


def precision_curve(
    confidence: np.ndarray, right: np.ndarray, weight: np.ndarray | None = None
) -> list[tuple[float, float, float]]:
    """(threshold, answer rate, answered precision) at every distinct confidence, highest first;
    ``weight`` counts each query that many times (held-out entries weighed to the assumed share)."""
    w = np.ones(len(confidence)) if weight is None else np.asarray(weight, np.float64)
    order = np.argsort(-confidence, kind="stable")
    c, r, w = confidence[order], right[order], w[order]
    hits, answered, total = np.cumsum(r * w), np.cumsum(w), float(w.sum())
    curve = []
    for i in range(len(c)):
        if i == len(c) - 1 or c[i + 1] < c[i]:
            curve.append((round(float(c[i]), 6), float(answered[i]) / total, float(hits[i] / answered[i])))
    return curve


def threshold_for(curve: list[tuple[float, float, float]], target: float) -> float:
    """The lowest threshold whose answered precision meets the target (1.0 when none does)."""
    best = 1.0
    for threshold, _rate, precision in curve:
        if precision >= target:
            best = threshold
    return best


def load_or_calibrate(
    kb: KnowledgeBase, path: Path | None, target_precision: float = 0.95
) -> SelfCalibration:
    """The stored self-calibration when it matches the KB's entries and encoder, else a fresh one (saved)."""
    fp = fingerprint(kb.entries(), kb.encoder.name)
    if path is not None and path.is_file():
        try:
            stored = SelfCalibration.from_json(json.loads(path.read_text(encoding="utf-8")))
            if stored.fingerprint == fp:
                return stored
        except (ValueError, KeyError, TypeError):
            pass  # unreadable or from an older version: fit again
    fitted = calibrate_kb(kb, target_precision)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(fitted.to_json(), ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(path)
    return fitted
