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

from kb.candidates import is_qa, qa_question
from kb.confidence import FEATURES, Calibration
from kb.entry import KbEntry, detect_lang
from kb.lexical import tokenize

if TYPE_CHECKING:
    from kb.knowledge_base import KnowledgeBase

ALGORITHM = 5  # part of the fingerprint: a stored fit from an older way of fitting is made again
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
    ambiguous_with: str | None = None  # the words two near-duplicates share: either fits, so ask


@dataclass(frozen=True)
class SelfCalibration:
    calibration: Calibration
    curve: list[tuple[float, float, float]]  # (threshold, answer rate, answered precision)
    n_answerable: int
    n_unanswerable: int
    fingerprint: str
    group: Calibration | None = None  # p(the right entry is one of the top two): the narrowing question

    def to_json(self) -> dict:
        return {
            "group": asdict(self.group) if self.group else None,
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
            Calibration(**data["group"]) if data.get("group") else None,
        )


def kb_fingerprint(kb: KnowledgeBase, entries: list[KbEntry]) -> str:
    """What a stored fit depends on: the entries, the encoder, the dense blend, the ranking mix's
    lexical weight (from the encoder's shipped calibration) and the precision targets."""
    o = kb.options
    return fingerprint(
        entries,
        f"{kb.encoder.name}/w{o.answer_weight:g}/lex{kb.calibration.lex_weight:g}"
        f"/p{o.target_precision:g}/n{o.narrow_target_precision:g}/u{o.unanswerable_share:g}",
    )


def fingerprint(entries: list[KbEntry], encoder: str) -> str:
    h = hashlib.sha256(f"{ALGORITHM}:{encoder}".encode())
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
    return out + ambiguous_queries(chosen)


def _content_words(text: str) -> list[tuple[str, str]]:
    """(word as written, its search token) for the words that carry meaning (stop words dropped)."""
    from kb.lexical import _jieba

    if detect_lang(text) == "zh":
        words = [w for w in _jieba().lcut(_ZH_FILLER.sub("", text)) if w.strip()]
    else:
        words = re.findall(r"[\w'-]+", text)
    out = []
    for w in words:
        tokens = tokenize(w)
        if tokens:
            out.append((w, tokens[0]))
    return out


def ambiguous_queries(entries: list[KbEntry], min_overlap: float = 0.5) -> list[PseudoQuery]:
    """For each entry, the content words its first question shares with its nearest near-duplicate's
    (e.g. "住院医保怎么报销" from "职工医保住院怎么报销" and "居民医保住院怎么报销"): a question both
    entries fit, which the bot must not answer with one of them (it may ask which)."""
    firsts = [(e, _content_words(e.questions[0])) for e in entries]
    out = []
    for e, words in firsts:
        mine = {t for _, t in words}
        best, best_j, shared_tokens = None, min_overlap, set()
        for other, theirs_words in firsts:
            theirs = {t for _, t in theirs_words}
            if other.id == e.id or detect_lang(other.questions[0]) != detect_lang(e.questions[0]):
                continue
            inter = mine & theirs
            j = len(inter) / len(mine | theirs) if mine | theirs else 0.0
            if j >= best_j and inter != mine and inter != theirs:
                best, best_j, shared_tokens = other, j, inter
        shared = [w for w, t in words if t in shared_tokens]
        if best is not None and len(shared) >= 2:
            text = ("" if detect_lang(e.questions[0]) == "zh" else " ").join(shared)
            out.append(PseudoQuery(text, e.id, None, held_entry=False, ambiguous_with=best.id))
    return out


@contextmanager
def held_out(kb: KnowledgeBase, entry_id: str, question: str | None, whole: bool) -> Iterator[None]:
    """Take an entry (or one of its questions) out of the index for the duration; the KB lock is held."""
    with kb._lock:
        slot, rows = kb._slot[entry_id], kb._rows
        # a held question goes with the question-and-answer row built from it (kb/candidates.py)
        held = {question} if question else set()
        hide = [i for i in rows.of(slot) if whole or {rows.text[i], qa_key_question(rows.text[i])} & held]
        rows.slot[hide] = -1
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
            rows.slot[hide] = slot
            kb._bm25.add(slot, kb._tokens[entry_id])


def calibrate_kb(
    kb: KnowledgeBase,
    target_precision: float = 0.95,
    seed: int = 13,
    unanswerable_share: float | None = None,
    labelled: list[tuple[str, str | None]] | None = None,
) -> SelfCalibration:
    """Fit p(top is right), p(the right entry is one of the top two) and their thresholds on this
    KB's own pseudo-queries, plus ``labelled`` real questions (agents' corrections: the question
    and its right entry, or None when no entry answers it)."""
    entries = kb.entries()
    pq = pseudo_queries(entries, seed)
    known = {e.id for e in entries}
    for text, entry_id in labelled or []:
        if entry_id is None or entry_id in known:  # a correction naming a deleted entry no longer applies
            pq.append(PseudoQuery(text, entry_id or "", None, held_entry=entry_id is None))
    texts = list(dict.fromkeys(p.text for p in pq))
    vecs = np.concatenate([kb.encoder.encode_queries(texts[i : i + 128]) for i in range(0, len(texts), 128)])
    vec_of = dict(zip(texts, vecs, strict=True))
    x, y, gx, gy, held = [], [], [], [], []
    for p in pq:
        if p.entry_id in kb._slot:
            with held_out(kb, p.entry_id, p.held_question, p.held_entry and p.held_question is None):
                ids, feats = kb.candidate_features(p.text, query_vector=vec_of[p.text])
        else:  # a correction whose right answer is "none": nothing to hold out
            ids, feats = kb.candidate_features(p.text, query_vector=vec_of[p.text])
        if not ids:
            continue
        order = np.argsort(-feats["mix"], kind="stable")
        x.append([float(feats[k][order[0]]) for k in FEATURES])
        top_two = {ids[i] for i in order[:2]}
        y.append(int(not p.held_entry and p.ambiguous_with is None and ids[order[0]] == p.entry_id))
        gx.append(group_features(feats, order))
        if p.ambiguous_with is not None:
            gy.append(int(top_two == {p.entry_id, p.ambiguous_with}))
        else:
            gy.append(int(not p.held_entry and p.entry_id in top_two))
        held.append(p.held_entry or p.ambiguous_with is not None)  # weighed as questions not to answer
    ha = np.asarray(held, bool)
    fp = kb_fingerprint(kb, entries)
    n_pos = int((~ha).sum())
    base = kb.calibration
    if len(set(y)) < 2:  # too few entries to learn from: keep the fit in use, stay strict
        cal = replace(base, threshold=max(base.threshold, 0.9), note="self-calibration: too few entries")
        return SelfCalibration(cal, [], n_pos, len(ha) - n_pos, fp)
    share = kb.options.unanswerable_share if unanswerable_share is None else unanswerable_share
    weight = _weights(ha, share)
    name, lex_weight = kb.encoder.name, base.lex_weight
    cal, curve = _fit(np.asarray(x), np.asarray(y), weight, target_precision, name, lex_weight)
    cal = replace(cal, tie_margin=tie_margin(cal, np.asarray(x), np.asarray(y, bool), weight))
    note = (
        f"self-calibrated on {len(entries)} entries: {n_pos} held-out phrasings, {len(ha) - n_pos} held-out "
        f"entries; threshold = lowest with pseudo-query answered precision >= {target_precision}"
    )
    group = None
    if len(set(gy)) == 2:
        narrow = kb.options.narrow_target_precision
        group, _ = _fit(np.asarray(gx), np.asarray(gy), weight, narrow, name, lex_weight)
    return SelfCalibration(replace(cal, note=note), curve, n_pos, len(ha) - n_pos, fp, group)


def tie_margin(cal: Calibration, x: np.ndarray, right: np.ndarray, weight: np.ndarray) -> float:
    """The margin to the runner-up below which this KB's answered pseudo-queries were wrong more
    often than right (0: none): a closer top two is a tie, asked about rather than answered."""
    feats = {f: x[:, i] for i, f in enumerate(FEATURES)}
    answered = cal.probability(feats) >= cal.threshold
    margin, r, w = feats["margin_mix"][answered], right[answered], weight[answered]
    order = np.argsort(margin, kind="stable")
    margin, r, w = margin[order], r[order], w[order]
    hits, seen = np.cumsum(r * w), np.cumsum(w)
    ties = np.flatnonzero(hits < 0.5 * seen)  # the answers up to here: more weight wrong than right
    return float(margin[ties[-1]]) + 1e-6 if len(ties) else 0.0


def group_features(feats: dict[str, np.ndarray], order: np.ndarray) -> list[float]:
    """The top two taken as one entry: the runner-up's features, its margin taken to the third."""
    s = order[1] if len(order) > 1 else order[0]
    margin = float(feats["mix"][s] - feats["mix"][order[2]]) if len(order) > 2 else 3.0
    return [margin if k == "margin_mix" else float(feats[k][s]) for k in FEATURES]


def _weights(held: np.ndarray, unanswerable_share: float) -> np.ndarray:
    n_neg, n_pos = max(int(held.sum()), 1), max(int((~held).sum()), 1)
    share = min(max(unanswerable_share, 0.01), 0.99)
    return np.where(held, share / (1 - share) * n_pos / n_neg, 1.0)


def _fit(
    x: np.ndarray, y: np.ndarray, weight: np.ndarray, target: float, encoder: str, lex_weight: float
) -> tuple[Calibration, list[tuple[float, float, float]]]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
    cal = Calibration(
        encoder=encoder,
        weights={f: float(w) for f, w in zip(FEATURES, model.coef_[0], strict=True)},
        bias=float(model.intercept_[0]),
        threshold=1.0,
        lex_weight=lex_weight,
    )
    probs = cal.probability({f: x[:, i] for i, f in enumerate(FEATURES)})
    curve = precision_curve(probs, y.astype(bool), weight)
    return replace(cal, threshold=threshold_for(curve, target)), curve


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
    fp = kb_fingerprint(kb, kb.entries())
    if path is not None and path.is_file():
        try:
            stored = SelfCalibration.from_json(json.loads(path.read_text(encoding="utf-8")))
            if stored.fingerprint == fp:
                return stored
        except (ValueError, KeyError, TypeError):
            pass  # unreadable or from an older version: fit again
    fitted = calibrate_kb(kb, target_precision)
    if path is not None:
        save_self_calibration(fitted, path)
    return fitted


def save_self_calibration(fitted: SelfCalibration, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(fitted.to_json(), ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)


def qa_key_question(key: str) -> str | None:
    return qa_question(key) if is_qa(key) else None
