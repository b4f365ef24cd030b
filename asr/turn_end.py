"""How long to wait for more words: a complete request ends sooner, a half-said number later.

The end-of-speech silence is most of a caller's wait. When the speculative decode of the first
pause reads as a finished sentence ("How can I pay my electricity bill?"), waiting the full
silence only adds delay; when it stops on a digit or a word that needs a continuation ("my number
is one three eight", "我家在", "and"), ending the turn would cut a caller off mid-dictation, a
known complaint against voice bots. Pure: text in, verdict out, unit-tested directly.
"""

from __future__ import annotations

import re
from typing import Literal

Verdict = Literal["complete", "incomplete", "unknown"]

_TRAIL_EN = {
    "and", "or", "but", "the", "a", "an", "to", "of", "my", "is", "at", "in", "on", "uh", "um",
    "so", "because", "number", "with", "for", "from", "it's", "its", "i'm", "im", "that", "this",
    "street", "road", "flat", "apartment", "account", "reference", "zero", "oh", "one", "two",
    "three", "four", "five", "six", "seven", "eight", "nine", "ten", "hundred", "thousand", "double",
}  # fmt: skip
_TRAIL_ZH = (
    "和", "跟", "还有", "然后", "就是", "那个", "这个", "的", "在", "是", "号码", "地址", "我家",
    "住在", "因为", "所以", "但是", "而且", "或者", "呃", "嗯", "零", "幺", "一", "二", "两", "三",
    "四", "五", "六", "七", "八", "九", "十", "百", "千", "号", "栋", "单元", "路", "街",
)  # fmt: skip
_DIGIT_END = re.compile(r"[0-9０-９]\W*$")
_SENTENCE_END = re.compile(r"[.?!。？！]\s*$")
_ZH_PARTICLE_END = re.compile(r"[吗呢吧啊呀了谢]\s*[。？！.?!]?\s*$")


def judge(text: str, language: str) -> Verdict:
    """complete / incomplete / unknown for a hypothesis of everything said so far."""
    t = text.strip()
    if not t:
        return "unknown"
    if _DIGIT_END.search(t):
        return "incomplete"  # dictating a number: more digits are coming
    bare = re.sub(r"[\s.,，。、?？!！…]+$", "", t)
    if language.startswith("zh"):
        if bare.endswith(_TRAIL_ZH) and not _ZH_PARTICLE_END.search(t):
            return "incomplete"
        return "complete" if _SENTENCE_END.search(t) or _ZH_PARTICLE_END.search(t) else "unknown"
    words = re.findall(r"[a-z']+", bare.lower())
    if words and words[-1] in _TRAIL_EN:
        return "incomplete"
    if t.endswith(","):
        return "incomplete"
    return "complete" if _SENTENCE_END.search(t) and len(words) >= 3 else "unknown"


def end_of_speech_s(verdict: Verdict, default_s: float, short_s: float, long_s: float) -> float:
    """The silence that ends this utterance, given what was said before the pause."""
    return {"complete": short_s, "incomplete": long_s}.get(verdict, default_s)
