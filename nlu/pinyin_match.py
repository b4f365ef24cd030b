"""Matching Mandarin rule patterns by sound: what a recogniser writes as a homophone still matches.

Whisper hears 着火 and may write 着伙, 救护车 as 就护车, 爆炸 as 报炸: the same syllables with the
same tones, other characters. Each Chinese character of a pattern and of the transcript becomes
its tone-numbered pinyin syllable (one reading per character, chosen without context, so the same
character always maps to the same syllable on both sides); the rest of the regular expression is
kept. Tones stay: toneless pinyin would confuse 起火 (qi3 huo3) with 期货 (qi1 huo4, futures).
"""

from __future__ import annotations

import re
from functools import lru_cache

_CJK = re.compile(r"[\u3400-\u9fff]")
_HAN = "[\u3400-\u9fff]"
_SYLLABLE = rf"(?:(?<![^ ])[a-z]+[1-5]{_HAN} |.)"
"""What one character of the original text became ('huo3火 '), or itself."""


@lru_cache(maxsize=20000)
def syllable(ch: str) -> str:
    from pypinyin import Style, pinyin

    return str(pinyin(ch, style=Style.TONE3, heteronym=False, neutral_tone_with_five=True)[0][0])


def to_pinyin(text: str) -> tuple[str, list[int]]:
    """The text with every Chinese character replaced by 'syllable+character ' (火 -> 'huo3火 '),
    and for every character of the result the index of the source character it came from."""
    out: list[str] = []
    source: list[int] = []
    for i, ch in enumerate(text):
        piece = f"{syllable(ch)}{ch} " if _CJK.match(ch) else ch
        out.append(piece)
        source.extend([i] * len(piece))
    return "".join(out), source


def pattern_to_pinyin(pattern: str) -> str | None:
    """The regular expression for the pinyin text. A Chinese character inside a word of the pattern
    (a run of two or more) matches any character with its syllable: 着火 matches 着伙. A character
    standing alone ((塌|倒), [一二]) must be itself: one syllable alone has too many homophones
    (倒 and 道 are both dao4). '.' is one character. None when the pattern has no Chinese."""
    if not _CJK.search(pattern):
        return None
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
        elif ch == "[":
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            if _CJK.search(body) and not body.startswith("^"):
                out.append("(?:" + "|".join(_syllable_group(c, exact=True) for c in body) + ")")
            else:
                out.append(pattern[i : end + 1])
            i = end + 1
        elif ch == "." and (i == 0 or pattern[i - 1] != "\\"):
            out.append(_SYLLABLE)
            i += 1
        elif _CJK.match(ch):
            in_word = bool(_CJK.match(pattern[i - 1 : i]) or _CJK.match(pattern[i + 1 : i + 2]))
            out.append(_syllable_group(ch, exact=not in_word))
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _syllable_group(ch: str, exact: bool) -> str:
    if not _CJK.match(ch):
        return re.escape(ch)
    which = re.escape(ch) if exact else _HAN
    return f"(?:(?<![^ ]){re.escape(syllable(ch))}{which} )"


def word_boundaries(text: str) -> set[int]:
    """Offsets where a word starts or ends (jieba's segmentation), for whole-word sound matches."""
    import jieba

    jieba.setLogLevel(60)
    bounds = {0, len(text)}
    pos = 0
    for token in jieba.cut(text, HMM=False):
        pos += len(token)
        bounds.add(pos)
    return bounds
