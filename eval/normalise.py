"""Named text normalisers for scoring transcripts. Every score names the normaliser it used.

``basic``: NFKC, lower case, punctuation and symbols removed, whitespace collapsed.
``zh``: ``basic``, then Traditional -> Simplified (OpenCC t2s) and all spaces removed, for CER on
characters. References and hypotheses always go through the same normaliser.
``zh-spoken`` / ``en-spoken``: the bot's own speech normaliser first (tts/normalise_*.py: numbers,
times, money, codes written out as they are said), then ``zh`` (with 幺 read as 一) / ``basic``, so a
transcript that writes "12345" or "15:30" for speech that said them scores as the same words.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from typing import Any

Normaliser = Callable[[str], str]

_SPACE_RE = re.compile(r"\s+")


def _strip_punctuation(text: str) -> str:
    # Unicode categories P* (punctuation) and S* (symbols) become spaces: "you,ask" -> "you ask".
    return "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)


def basic(text: str) -> str:
    """NFKC, lower case, punctuation removed, single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    # Apostrophes inside words stay joined ("neighbor's" -> "neighbors"), as both sides get it.
    text = re.sub(r"(?<=\w)['’](?=\w)", "", text)
    return _SPACE_RE.sub(" ", _strip_punctuation(text)).strip()


@functools.lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def zh(text: str) -> str:
    """``basic`` + Traditional -> Simplified + no spaces (for character error rate)."""
    return _SPACE_RE.sub("", str(_t2s().convert(basic(text))))


def zh_spoken(text: str) -> str:
    """``zh`` of the text as the bot's voice says it (digits, times, money in characters; 幺 as 一)."""
    from tts.normalise_zh import normalise_zh

    return zh(normalise_zh(text)).replace("幺", "一")


def en_spoken(text: str) -> str:
    """``basic`` of the text as the bot's voice says it (numbers in words)."""
    from tts.normalise_en import normalise_en

    spoken = basic(normalise_en(text).replace("-", " "))
    return re.sub(r"\b([ap]) m\b", r"\1m", spoken)  # 'p m' (as the voice is told) = 'pm'


NORMALISERS: dict[str, Normaliser] = {
    "basic": basic,
    "zh": zh,
    "zh-spoken": zh_spoken,
    "en-spoken": en_spoken,
}


def get_normaliser(name: str) -> Normaliser:
    try:
        return NORMALISERS[name]
    except KeyError:
        raise KeyError(f"unknown normaliser {name!r}; known: {', '.join(NORMALISERS)}") from None
