"""Answer, narrow, or give up: what the bot may do with a caller's question and the knowledge base.

When the top entry is not sure enough but the top two together are (treated as one entry: the
runner-up's score and its margin to the third), the two usually differ by one detail (residents or
businesses, district A or B). The bot then asks one narrowing question built from the words that
tell the two apart, and `resolve_choice` reads the caller's reply back to one of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

from kb.autocal import group_features
from kb.confidence import FEATURES
from kb.entry import KbEntry, detect_lang
from kb.lexical import _jieba, tokenize

if TYPE_CHECKING:
    from kb.knowledge_base import KnowledgeBase

MAX_LABEL_WORDS = 6
MAX_LABEL_CHARS_ZH = 14

_EN_STOP = {
    "a", "an", "the", "is", "are", "do", "does", "did", "i", "my", "me", "we", "our", "you", "your", "it",
    "to", "of", "for", "in", "on", "at", "and", "or", "can", "how", "what", "when", "where", "who", "which",
    "why", "should", "will", "would", "could", "there", "be", "with", "about", "this", "that", "much", "many",
}  # fmt: skip
_ZH_STOP = set("的了吗呢吧啊呀是我我们你您在有和与或要想请问怎么如何什么哪里多少可以能")
_FIRST = re.compile(r"\b(first|former|the first one|number one)\b|第一|前一个|前者|头一个|前面那个", re.I)
_SECOND = re.compile(r"\b(second|latter|number two|last one)\b|第二|后一个|后者|后面那个", re.I)
_NEITHER = re.compile(r"\b(neither|none|nor|not either)\b|都不是|都不对|两个都不|不是这两", re.I)


@dataclass(frozen=True)
class KbOption:
    entry_id: str
    label: str  # what tells this entry apart from the other, in the caller's language
    answer: str
    answer_lang: str
    keys: tuple[str, ...] = ()  # words of this entry (questions, label) that the other lacks


@dataclass(frozen=True)
class KbChoice:
    action: Literal["answer", "narrow", "none"]
    confidence: float  # of the top entry
    options: tuple[KbOption, ...] = ()  # answer: the entry; narrow: the two to choose from
    group_confidence: float = 0.0  # that the right entry is one of the top two
    top: KbOption | None = None  # the best candidate, whatever the action
    lacks: tuple[str, ...] = ()  # what the question asks for that the top entry names none of


def choose(
    kb: KnowledgeBase,
    query: str,
    lang: str,
    topic: str | None = None,
    query_vector: np.ndarray | None = None,
    threshold: float | None = None,
) -> KbChoice:
    """Answer when the top entry reaches the threshold; narrow when the top two together do."""
    threshold = kb.threshold if threshold is None else threshold
    kb.refresh()  # another process's edits (triage kb import) count from the next question on
    ids, feats = kb.candidate_features(query, topic, query_vector)
    if not ids:
        return KbChoice("none", 0.0)
    prob = kb.calibration.probability(feats)
    order = np.argsort(-feats["mix"], kind="stable")
    top = int(order[0])
    entries = [kb.get(ids[int(i)]) for i in order[:2]]
    if entries[0] is None:
        return KbChoice("none", 0.0)
    p_top = float(prob[top])
    best = KbOption(entries[0].id, "", *entries[0].answer(lang))
    if p_top >= threshold:
        return KbChoice("answer", p_top, (best,), top=best)
    if "gives" in feats and not feats["gives"][top]:  # the likeliest entry lacks what is asked: a person
        return KbChoice("none", p_top, top=best, lacks=kb.lacks(best.entry_id, query))
    second = entries[1] if len(entries) > 1 else None
    if second is None:
        return KbChoice("none", p_top, top=best)
    gfeats = group_features(feats, order)
    group_cal = kb.group_calibration or replace(kb.calibration, tie_margin=0.0)  # the pair is not a tie
    one = {f: np.array([v]) for f, v in zip(FEATURES, gfeats, strict=True)}
    p_group = float(group_cal.probability(one)[0])
    group_threshold = group_cal.threshold if kb.group_calibration else threshold
    if p_group < group_threshold:
        return KbChoice("none", p_top, group_confidence=p_group, top=best)
    label_a, label_b = distinguishing_labels(entries[0], second, lang)
    if not label_a or not label_b or label_a == label_b:
        return KbChoice("none", p_top, group_confidence=p_group, top=best)
    ta = _entry_tokens(entries[0]) | set(tokenize(label_a))
    tb = _entry_tokens(second) | set(tokenize(label_b))
    options = (
        KbOption(entries[0].id, label_a, *entries[0].answer(lang), tuple(sorted(ta - tb))),
        KbOption(second.id, label_b, *second.answer(lang), tuple(sorted(tb - ta))),
    )
    return KbChoice("narrow", p_top, options, p_group, best)


def _question_in(entry: KbEntry, lang: str) -> str:
    return next((q for q in entry.questions if detect_lang(q) == lang), entry.questions[0])


def _words(text: str) -> list[str]:
    if detect_lang(text) == "zh":
        return [w for w in _jieba().lcut(re.sub(r"[？?。，,！!、]", "", text)) if w.strip()]
    return re.findall(r"[\w'-]+", text)


def _content(word: str) -> bool:
    w = word.lower()
    return bool(w.strip()) and w not in _EN_STOP and not (len(w) == 1 and w in _ZH_STOP)


def _entry_tokens(entry: KbEntry) -> set[str]:
    return {t for q in (*entry.questions, entry.department or "") for t in tokenize(q)}


def distinguishing_labels(a: KbEntry, b: KbEntry, lang: str) -> tuple[str, str]:
    """What sets each entry apart, in the caller's language: the words of their departments that
    differ (when written in that language), else those of their questions; whole questions when
    the difference is not short."""
    da, db = a.department or "", b.department or ""
    if da and db and da != db and detect_lang(da) == lang == detect_lang(db):
        la, lb = _differing_words(da, db, lang)
        if la and lb:
            return la, lb
    qa, qb = _question_in(a, lang), _question_in(b, lang)
    la, lb = _differing_words(qa, qb, lang)
    if not la or not lb:
        return _strip_question(qa), _strip_question(qb)
    return la, lb


def _differing_words(qa: str, qb: str, lang: str) -> tuple[str, str]:
    """The content words of each text that the other lacks ('' when none, or when not short)."""
    wa, wb = _words(qa), _words(qb)
    la, lb = {w.lower() for w in wa}, {w.lower() for w in wb}
    only_a = [w for w in wa if w.lower() not in lb and _content(w)]
    only_b = [w for w in wb if w.lower() not in la and _content(w)]
    joiner = "" if lang == "zh" else " "
    da, db = joiner.join(only_a), joiner.join(only_b)
    if not _short(da, lang) or not _short(db, lang):
        return "", ""
    return da.strip(" ,，"), db.strip(" ,，")


def _short(text: str, lang: str) -> bool:
    return len(text) <= MAX_LABEL_CHARS_ZH if lang == "zh" else len(text.split()) <= MAX_LABEL_WORDS


def _strip_question(q: str) -> str:
    return q.strip().rstrip("?？.。!！")


def said_neither(reply: str) -> bool:
    return bool(_NEITHER.search(reply))


def resolve_choice(reply: str, options: tuple[KbOption, ...]) -> KbOption | None:
    """The option the caller's reply picks (its words, or first/second), None when unclear or neither."""
    if len(options) != 2 or _NEITHER.search(reply):
        return None
    said = set(tokenize(reply))
    overlap = [len(said & (set(o.keys) | set(tokenize(o.label)))) for o in options]
    if overlap[0] != overlap[1]:
        return options[0] if overlap[0] > overlap[1] else options[1]
    first, second = bool(_FIRST.search(reply)), bool(_SECOND.search(reply))
    if first != second:
        return options[0] if first else options[1]
    zh = detect_lang(reply) == "zh"
    chars = [len((set(reply) & set(o.label)) - _ZH_STOP) for o in options] if zh else [0, 0]
    if chars[0] != chars[1]:
        return options[0] if chars[0] > chars[1] else options[1]
    return None
