"""Knowledge-base evaluation: recall@k, MRR, and answered precision against answer rate.

Queries are JSONL rows ``{"text", "answer_id"}`` (``answer_id`` null when nothing should be
answered; optional ``lang``). A query counts as answered when the top hit's confidence reaches the
threshold; an answer is right only when that hit is the expected entry, so answering a query
that should not be answered counts against precision. Also fits the confidence calibration and
picks the answer threshold on a development split (never on the test queries).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from kb.confidence import FEATURES, SCALE_FREE, Calibration, fit_calibration
from kb.entry import KbEntry, detect_lang
from kb.knowledge_base import KnowledgeBase


class QueryFileError(ValueError):
    """A query file line is malformed; the message names the line."""


@dataclass(frozen=True)
class KbQuery:
    text: str
    answer_id: str | None
    lang: str
    relevant: frozenset[str] = frozenset()
    """Every entry that answers it (qrels); empty means just ``answer_id``. With no ``answer_id``
    (an ambiguous question), the entries it fits: asking "X or Y?" about them is right, answering
    with one of them is not."""

    @property
    def right_ids(self) -> frozenset[str]:
        if self.relevant:
            return self.relevant
        return frozenset() if self.answer_id is None else frozenset([self.answer_id])


@dataclass(frozen=True)
class QueryResult:
    query: KbQuery
    top_id: str | None
    confidence: float
    rank: int  # 1-based rank of the expected entry among the hits, 0 when absent or not answerable
    top_lang: str | None  # language of the answer text returned
    narrowed: tuple[str, ...] = ()  # the two entries the bot would ask about instead of answering


@dataclass
class KbEvalReport:
    n_queries: int
    n_answerable: int
    threshold: float
    recall_at_1: float
    recall_at_5: float
    mrr: float
    answer_precision: float
    answer_rate: float
    answerable_answered: float  # share of answerable queries that got an answer (right or wrong)
    unanswerable_answered: float  # share of should-not-answer queries that got an answer
    answer_in_caller_lang: float  # share of answered queries answered in the query's language
    narrow_rate: float = 0.0  # share of queries the bot asks "X or Y?" about instead of answering
    narrow_holds_right: float = 0.0  # of those, share whose right entry is one of the two (none: never)
    by_lang: dict[str, dict[str, float]] = field(default_factory=dict)
    curve: list[tuple[float, float, float]] = field(default_factory=list)  # (threshold, rate, precision)

    def to_json(self) -> dict:
        return asdict(self)


def load_queries(path: str | Path) -> list[KbQuery]:
    out = []
    for n, raw in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
            text = row["text"]
            answer_id = row.get("answer_id")
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise QueryFileError(f'{path}, line {n}: expected {{"text", "answer_id"}} ({e})') from None
        if not isinstance(text, str) or not text.strip():
            raise QueryFileError(f"{path}, line {n}: 'text' must be a non-empty string")
        lang = row.get("lang") or detect_lang(text)
        relevant = row.get("relevant") or {}
        if not isinstance(relevant, dict | list):
            raise QueryFileError(f"{path}, line {n}: 'relevant' must map entry ids to grades")
        rel = frozenset(str(r) for r in relevant)
        out.append(KbQuery(text, None if answer_id is None else str(answer_id), lang, rel))
    if not out:
        raise QueryFileError(f"{path}: no queries")
    return out


BENCHMARKS = Path(__file__).resolve().parent.parent.parent / "shared" / "benchmarks" / "faq"


def benchmark_files(name_or_path: str | Path) -> tuple[Path, Path]:
    """(kb.jsonl, queries) of a benchmark folder, or of a set under shared/benchmarks/faq by name;
    the queries are qrels.jsonl when there is one (several entries can be right), else queries.jsonl."""
    folder = Path(name_or_path)
    if not folder.is_dir():
        folder = BENCHMARKS / str(name_or_path)
    if not folder.is_dir():
        raise QueryFileError(
            f"benchmark {name_or_path!r} not found: give a folder with kb.jsonl and queries.jsonl "
            f"(or qrels.jsonl), or a set name under {BENCHMARKS}"
        )
    kb = folder / "kb.jsonl"
    queries = folder / "qrels.jsonl" if (folder / "qrels.jsonl").is_file() else folder / "queries.jsonl"
    missing = [p.name for p in (kb, queries) if not p.is_file()]
    if missing:
        raise QueryFileError(f"benchmark {folder} lacks {', '.join(missing)}")
    return kb, queries


def restrict_questions(entries: list[KbEntry], lang: str) -> list[KbEntry]:
    """Keep only questions written in ``lang`` (answers untouched): measures cross-lingual retrieval."""
    out = []
    for e in entries:
        qs = tuple(q for q in e.questions if detect_lang(q) == lang)
        if qs:
            out.append(replace(e, questions=qs))
    return out


def run_queries(kb: KnowledgeBase, queries: list[KbQuery], k: int = 5) -> list[QueryResult]:
    from kb.narrowing import choose

    vectors = _encode(kb, [q.text for q in queries])
    results = []
    for q, v in zip(queries, vectors, strict=True):
        choice = choose(kb, q.text, q.lang, query_vector=v)
        narrowed = tuple(o.entry_id for o in choice.options) if choice.action == "narrow" else ()
        hits = kb.search(q.text, lang=q.lang, k=k, query_vector=v)
        ids = [h.entry_id for h in hits]
        right = q.right_ids
        rank = next((i for i, e in enumerate(ids, 1) if e in right), 0)
        top = hits[0] if hits else None
        results.append(
            QueryResult(
                q,
                top.entry_id if top else None,
                top.confidence if top else 0.0,
                rank,
                top.answer_lang if top else None,
                narrowed,
            )
        )
    return results


def _encode(kb: KnowledgeBase, texts: list[str]) -> np.ndarray:
    parts = [kb.encoder.encode_queries(texts[i : i + 128]) for i in range(0, len(texts), 128)]
    return np.concatenate(parts) if parts else np.zeros((0, kb.encoder.dim), np.float32)


def score(results: list[QueryResult], threshold: float, per_lang: bool = True) -> KbEvalReport:
    answerable = [r for r in results if r.query.answer_id is not None]
    unanswerable = [r for r in results if r.query.answer_id is None]
    answered = [r for r in results if r.top_id is not None and r.confidence >= threshold]
    right = [r for r in answered if _answered_right(r)]
    unsure = [r for r in results if r.confidence < threshold]  # not answered: asked "X or Y?" or handed on
    report = KbEvalReport(
        n_queries=len(results),
        n_answerable=len(answerable),
        threshold=threshold,
        recall_at_1=_mean([r.rank == 1 for r in answerable]),
        recall_at_5=_mean([1 <= r.rank <= 5 for r in answerable]),
        mrr=_mean([1.0 / r.rank if r.rank else 0.0 for r in answerable]),
        answer_precision=len(right) / len(answered) if answered else 1.0,
        answer_rate=len(answered) / len(results) if results else 0.0,
        answerable_answered=_mean([r.confidence >= threshold for r in answerable]),
        unanswerable_answered=_mean([r.confidence >= threshold for r in unanswerable]),
        answer_in_caller_lang=_mean([r.top_lang == r.query.lang for r in answered]),
        narrow_rate=_mean([bool(r.narrowed) for r in unsure]) * len(unsure) / max(len(results), 1),
        narrow_holds_right=_mean([bool(set(r.narrowed) & r.query.right_ids) for r in unsure if r.narrowed]),
        curve=precision_rate_curve(results),
    )
    for lang in sorted({r.query.lang for r in results}) if per_lang else []:
        sub = [r for r in results if r.query.lang == lang]
        if sub:
            s = score(sub, threshold, per_lang=False)
            report.by_lang[lang] = {
                "n": s.n_queries,
                "recall_at_1": s.recall_at_1,
                "recall_at_5": s.recall_at_5,
                "mrr": s.mrr,
                "answer_precision": s.answer_precision,
                "answer_rate": s.answer_rate,
                "answerable_answered": s.answerable_answered,
                "unanswerable_answered": s.unanswerable_answered,
                "narrow_rate": s.narrow_rate,
            }
    return report


def outcome_rows(results: list[QueryResult], threshold: float) -> list[dict]:
    """One row per query: what the bot did with it and whether that was right (the run folder's
    answers.jsonl, for reading the mistakes)."""
    rows = []
    for r in results:
        if r.top_id is not None and r.confidence >= threshold:
            outcome = "answered right" if _answered_right(r) else "answered wrong"
        elif r.narrowed:
            holds = set(r.narrowed) & r.query.right_ids
            outcome = "asked, right among the two" if holds else "asked, neither right"
        else:
            outcome = "handed on"
        rows.append({
            "text": r.query.text, "lang": r.query.lang, "expected": sorted(r.query.right_ids) or None,
            "top": r.top_id, "confidence": round(r.confidence, 4), "rank": r.rank,
            "narrowed": list(r.narrowed) or None, "outcome": outcome,
        })  # fmt: skip
    return rows


def _answered_right(r: QueryResult) -> bool:
    """An answer is right only to an answerable question, and only from an entry that answers it."""
    return r.query.answer_id is not None and r.top_id is not None and r.top_id in r.query.right_ids


def _mean(values: list) -> float:
    return float(np.mean(values)) if values else 0.0


def precision_rate_curve(results: list[QueryResult]) -> list[tuple[float, float, float]]:
    """(threshold, answer rate, answered precision) at every distinct confidence, highest first."""
    ordered = sorted(results, key=lambda r: -r.confidence)
    curve, right = [], 0
    for i, r in enumerate(ordered, 1):
        right += int(_answered_right(r))
        if i == len(ordered) or ordered[i].confidence < r.confidence:
            curve.append((round(r.confidence, 6), i / len(ordered), right / i))
    return curve


def plot_curve(report: KbEvalReport, path: str | Path, title: str = "knowledge base") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = [c[1] for c in report.curve]
    precs = [c[2] for c in report.curve]
    fig, ax = plt.subplots(figsize=(6, 4.2))
    ax.plot(rates, precs, lw=2)
    ax.scatter(
        [report.answer_rate],
        [report.answer_precision],
        color="red",
        zorder=3,
        label=f"threshold {report.threshold:.2f}",
    )
    ax.set_xlabel("answer rate (share of all queries answered)")
    ax.set_ylabel("answered precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    ax.set_title(f"{title}: {report.n_queries} queries, {report.n_answerable} answerable")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def choose_threshold(results: list[QueryResult], target_precision: float) -> float:
    """The lowest threshold (most answers) whose answered precision on these dev results meets the target."""
    best = 1.0
    for threshold, _rate, precision in precision_rate_curve(results):
        if precision >= target_precision:
            best = threshold
    return best


LEX_WEIGHTS = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)


def calibrate(
    kb: KnowledgeBase, dev: list[KbQuery], target_precision: float = 0.9, scale_free: bool = False
) -> Calibration:
    """Fit on dev queries: the lexical weight of the ranking mix (best dev MRR), the logistic
    confidence over candidates, then the threshold reaching ``target_precision`` on dev answers."""
    vectors = _encode(kb, [q.text for q in dev])
    per_query = []
    for q, v in zip(dev, vectors, strict=True):
        ids, f = kb.candidate_features(q.text, query_vector=v)
        if ids:
            per_query.append((np.array([i == q.answer_id for i in ids]), f))

    def dev_mrr(w: float) -> float:
        ranks = []
        for labels, f in per_query:
            if labels.any():
                order = np.argsort(-(f["z"] + w * f["lex"]), kind="stable")
                ranks.append(1.0 / (1 + int(np.flatnonzero(labels[order])[0])))
        return float(np.mean(ranks)) if ranks else 0.0

    lex_weight = max(LEX_WEIGHTS, key=dev_mrr)
    feats: dict[str, list[float]] = {f: [] for f in FEATURES}
    labels: list[int] = []
    for lab, f in per_query:
        g = dict(f)
        g["mix"] = f["z"] + lex_weight * f["lex"]
        g["margin_mix"] = _margins(g["mix"])
        for name in FEATURES:
            feats[name] += list(g[name])
        labels += list(lab.astype(int))
    name = "*" if scale_free else kb.encoder.name
    arrays = {k: np.asarray(v) for k, v in feats.items()}
    cal = fit_calibration(arrays, np.asarray(labels), name, SCALE_FREE if scale_free else FEATURES)
    cal = replace(cal, lex_weight=lex_weight)
    saved = kb.calibration
    kb.calibration = cal
    try:
        threshold = choose_threshold(run_queries(kb, dev), target_precision)
    finally:
        kb.calibration = saved
    note = (
        f"fitted on {len(dev)} dev queries; lex_weight by dev MRR ({dev_mrr(lex_weight):.3f}); "
        f"threshold = lowest with dev answered precision >= {target_precision}"
    )
    return replace(cal, threshold=threshold, note=note)


def _margins(mix: np.ndarray) -> np.ndarray:
    if len(mix) < 2:
        return np.full_like(mix, 3.0)
    order = np.argsort(-mix)
    others_best = np.where(np.arange(len(mix)) == order[0], mix[order[1]], mix[order[0]])
    return mix - others_best
