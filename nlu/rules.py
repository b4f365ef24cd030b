"""The auditable emergency rule layer: bilingual phrases from rules.yaml, with negation and tense.

Pure logic, no model: ``EmergencyRules.load().scan(text)`` returns every hit with the reason it was
cancelled, if it was. The classifier combines the live hits with the urgency head's score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from nlu.pinyin_match import pattern_to_pinyin, to_pinyin, word_boundaries
from nlu.result import RuleHit

DEFAULT_RULES = Path(__file__).resolve().parent / "rules.yaml"
_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_APOSTROPHES = re.compile("[\u2018\u2019\u02bc`]")


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    patterns: dict[str, tuple[re.Pattern[str], ...]]
    service: str = "medical"
    """The dispatch service the category belongs to: medical, police, fire or traffic."""
    label_en: str = ""
    label_zh: str = ""
    sound: tuple[re.Pattern[str], ...] = ()
    """The Mandarin patterns as tone-numbered pinyin (nlu/pinyin_match.py): homophones match too."""
    reassurable: bool = False
    """An explicit "nobody is hurt" cancels this rule's hits (a bumped car is not an emergency; a
    burning house with everyone out still is)."""

    def label(self, lang: str) -> str:
        return (self.label_zh if lang == "zh" else self.label_en) or self.name


def _cue_regex(cues: list[str], lang: str) -> re.Pattern[str] | None:
    if not cues:
        return None
    # A cue is a plain phrase, or a regular expression after "re:" (没(?!了): 没了 means "gone").
    alts = sorted(
        (str(c)[3:] if str(c).startswith("re:") else re.escape(str(c).lower()) for c in cues),
        key=len,
        reverse=True,
    )
    body = "|".join(alts)
    return re.compile(body if lang == "zh" else rf"(?<![a-z'])(?:{body})(?![a-z'])")


class EmergencyRules:
    def __init__(self, config: dict) -> None:
        self.rules: list[Rule] = []
        for r in config.get("rules") or []:
            patterns = {
                lang: tuple(re.compile(p, re.IGNORECASE) for p in r.get(lang) or []) for lang in ("zh", "en")
            }
            label = r.get("label") or {}
            sound = tuple(
                re.compile(q) for q in (pattern_to_pinyin(p) for p in r.get("zh") or []) if q is not None
            )
            self.rules.append(
                Rule(
                    str(r["name"]),
                    str(r.get("description", "")),
                    patterns,
                    str(r.get("service", "medical")),
                    str(label.get("en", "")),
                    str(label.get("zh", "")),
                    sound,
                    bool(r.get("reassurable", False)),
                )
            )
        self.by_name = {r.name: r for r in self.rules}
        self.neg_window = {
            k: int(v) for k, v in (config.get("negation_window") or {"zh": 4, "en": 3}).items()
        }
        self.past_window = {k: int(v) for k, v in (config.get("past_window") or {"zh": 12, "en": 8}).items()}
        self.cues: dict[str, dict[str, re.Pattern[str] | None]] = {}
        for kind in ("negation", "past", "present", "inquiry", "hypothetical"):
            section = config.get(kind) or {}
            self.cues[kind] = {lang: _cue_regex(list(section.get(lang) or []), lang) for lang in ("zh", "en")}
        fig = config.get("figurative") or {}
        self.figurative = {lang: [str(p).lower() for p in fig.get(lang) or []] for lang in ("zh", "en")}
        safe = config.get("reassurance") or {}
        self.reassurance = {lang: [str(p).lower() for p in safe.get(lang) or []] for lang in ("zh", "en")}
        spoken = config.get("dispatcher") or {}
        self.dispatcher = [
            re.compile(p if lang == "zh" else rf"(?<![a-z']){p}(?![a-z'])", re.IGNORECASE)
            for lang in ("zh", "en")
            for p in spoken.get(lang) or []
        ]

    @classmethod
    def load(cls, path: Path | None = None) -> EmergencyRules:
        path = Path(path) if path else DEFAULT_RULES
        try:
            return cls(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        except (OSError, yaml.YAMLError, re.error, KeyError) as e:
            raise ValueError(
                f"emergency rules {path} could not be read ({e}); fix the YAML or its regexes"
            ) from e

    def scan(self, text: str) -> list[RuleHit]:
        """Every rule hit in ``text``, each live or with the reason its context cancels it."""
        text = _APOSTROPHES.sub("'", text)
        low = text.lower()
        hits: list[RuleHit] = []
        seen: set[tuple[int, int]] = set()
        for rule in self.rules:
            for lang, patterns in rule.patterns.items():
                for pattern in patterns:
                    for m in pattern.finditer(low):
                        if (m.start(), m.end()) in seen:
                            continue
                        seen.add((m.start(), m.end()))
                        reason = self._suppression(low, m.start(), m.end(), lang)
                        hits.append(RuleHit(rule.name, text[m.start() : m.end()], m.start(), reason))
        if _CJK.search(low):
            hits += self._sound_hits(text, low, hits, seen)
        # Figurative distress (我快急死了, "this is killing me") and explicit reassurance ("he is
        # breathing fine") are recorded as cancelled hits too, so the model alone cannot flag them.
        for kind, phrases in (("figurative", self.figurative), ("reassurance", self.reassurance)):
            for lang in ("zh", "en"):
                for phrase in phrases[lang]:
                    i = low.find(phrase)
                    if kind == "reassurance" and i >= 0 and _contradicted(low, i + len(phrase)):
                        continue
                    if i >= 0 and not any(
                        h.start <= i < h.start + len(h.phrase) or i <= h.start < i + len(phrase) for h in hits
                    ):
                        hits.append(RuleHit(kind, text[i : i + len(phrase)], i, f"{kind}: {phrase}"))
        said_safe = next(
            (
                p
                for lang in ("zh", "en")
                for p in self.reassurance[lang]
                if p in low and _UNHURT.search(p) and not _contradicted(low, low.find(p) + len(p))
            ),
            None,
        )
        if said_safe is not None:
            hits = [
                RuleHit(h.rule, h.phrase, h.start, f"reassurance: {said_safe}")
                if h.suppressed_by is None and h.rule in self.by_name and self.by_name[h.rule].reassurable
                else h
                for h in hits
            ]
        hits.sort(key=lambda h: h.start)
        return hits

    def _sound_hits(
        self, text: str, low: str, found: list[RuleHit], seen: set[tuple[int, int]]
    ) -> list[RuleHit]:
        """Mandarin hits heard as homophones (着伙 for 着火): patterns matched on pinyin, mapped back."""
        spoken, source = to_pinyin(low)
        words = word_boundaries(low)
        hits: list[RuleHit] = []
        for rule in self.rules:
            for pattern in rule.sound:
                for m in pattern.finditer(spoken):
                    if m.end() <= m.start():
                        continue
                    start, end = source[m.start()], source[m.end() - 1] + 1
                    # A homophone must be a whole word of the sentence: 政务服务 holds the sounds
                    # of 误服 across two words, 举报诈骗 those of 爆炸.
                    if start not in words or end not in words:
                        continue
                    if (start, end) in seen or any(
                        h.rule == rule.name and h.start < end and start < h.start + len(h.phrase)
                        for h in (*found, *hits)
                    ):
                        continue
                    seen.add((start, end))
                    reason = self._suppression(low, start, end, "zh")
                    hits.append(RuleHit(rule.name, text[start:end], start, reason))
        return hits

    def without_dispatcher(self, text: str) -> str:
        """The caller's words alone: a transcript of the whole line also carries the call-taker's
        opening ("911 what's your emergency", "110你好请讲"), which says nothing about the caller."""
        low = _APOSTROPHES.sub("'", text.lower())
        for pattern in self.dispatcher:
            low = pattern.sub(" ", low)
        return " ".join(low.split())

    def past_context(self, text: str) -> str | None:
        """The past-time cue that places the whole utterance in the past ("last year my house burned
        down"), unless a present cue says it is happening again now; None otherwise. The semantic
        layer compares meaning, not tense, so it defers to this."""
        low = text.lower()
        for lang in ("zh", "en"):
            present = self.cues["present"][lang]
            for kind in ("past", "inquiry", "hypothetical"):
                cue = self.cues[kind][lang]
                m = cue.search(low) if cue is not None else None
                if m and not (present is not None and present.search(low)):
                    return f"{kind}: {m.group(0)}"
        return None

    def _suppression(self, low: str, start: int, end: int, lang: str) -> str | None:
        for phrase in self.figurative[lang]:
            i = low.find(phrase)
            while i >= 0:
                if i <= start and end <= i + len(phrase):  # the hit lies inside the figure of speech
                    return f"figurative: {phrase}"
                i = low.find(phrase, i + 1)
        before, after = self._windows(low, start, end, lang, self.neg_window[lang])
        neg = self.cues["negation"][lang]
        if neg is not None:
            # A negation in an earlier clause is about something else: "half her face isn't
            # moving and she's slurring" still reports slurred speech.
            m = neg.search(_CLAUSE[lang].split(before)[-1])
            if m:
                return f"negation: {m.group(0)}"
        before, after = self._windows(low, start, end, lang, self.past_window[lang])
        past, present = self.cues["past"][lang], self.cues["present"][lang]
        if past is None:
            return None
        # A present cue between the past cue and the hit ("去年…现在又着火了") keeps the hit live;
        # one after it ("上个月着火了现在保险怎么赔") is about the call, not the event.
        # "以前从来没有过" (never before) dates nothing: it says this is new.
        offset = start - len(before)
        earlier = [m for m in past.finditer(before) if not _NEVER.match(low, offset + m.end())]
        if earlier:
            between = before[earlier[-1].end() :]
            if not (present is not None and present.search(between)):
                return f"past: {earlier[-1].group(0)}"
        later = next((m for m in past.finditer(after) if not _NEVER.match(low, end + m.end())), None)
        if later and not (present is not None and present.search(before + " " + after[: later.start()])):
            return f"past: {later.group(0)}"
        supposed = self.cues["hypothetical"][lang]
        for h in supposed.finditer(low) if supposed is not None else ():
            if h.start() <= start and end <= h.end():
                return f"hypothetical: {h.group(0)[:40]}"
        asked = self.cues["inquiry"][lang]
        m = asked.search(low) if asked is not None else None
        if m and not (present is not None and present.search(low)):
            return f"inquiry: {m.group(0)}"
        return None

    @staticmethod
    def _windows(low: str, start: int, end: int, lang: str, n: int) -> tuple[str, str]:
        """The n characters (Chinese) or n words (English) before and after a hit."""
        if lang == "zh":
            return low[max(0, start - n) : start], low[end : end + n]
        before_words = [m.start() for m in _WORD.finditer(low[:start])]
        b = low[before_words[-n] : start] if len(before_words) >= n else low[:start]
        after_words = [m.end() for m in _WORD.finditer(low, end)]
        a = low[end : after_words[n - 1]] if len(after_words) >= n else low[end:]
        return b, a


_CLAUSE = {
    "en": re.compile(r"[,;.!?]|\b(?:and|but|then|so)\b"),
    "zh": re.compile(r"[，。；！？,;.!?]|但是|可是|而且|然后"),
}
"""Clause boundaries: a negation before the last one does not reach the hit."""

_NEVER = re.compile(r"\s*(?:从来|从没|都没|never)")
_CONTRAST = re.compile(r"\b(?:but|yet|though|although|now|except)\b|但|可是|不过|现在|结果")


def _contradicted(low: str, end: int) -> bool:
    """A reassurance the caller takes back ("she says she's fine but she's fighting for every
    breath", "当时说没事，现在一直吐"): a contrast within the next few words voids it."""
    return bool(_CONTRAST.search(low[end : end + 40]))


_UNHURT = re.compile(
    r"hurt|injur|fine|serious|not ill|got (straight|back) up|stopped bleeding"
    r"|受伤|没事|严重|好得很|爬起来|止住|没生病"
)
"""The reassurances that say nobody is hurt: only these cancel the injury-only categories."""


def live_hits(hits: list[RuleHit]) -> list[RuleHit]:
    return [h for h in hits if h.suppressed_by is None]


def looks_chinese(text: str) -> bool:
    return len(_CJK.findall(text)) >= max(1, len(text.strip()) // 5)
