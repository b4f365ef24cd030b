"""Named text normalisers for scoring transcripts. Every score names the normaliser it used.

``basic``: NFKC, lower case, punctuation and symbols removed, whitespace collapsed.
``zh``: ``basic``, then Traditional -> Simplified (OpenCC t2s) and all spaces removed, for CER on
characters. References and hypotheses always go through the same normaliser.
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


NORMALISERS: dict[str, Normaliser] = {"basic": basic, "zh": zh}


def get_normaliser(name: str) -> Normaliser:
    try:
        return NORMALISERS[name]
    except KeyError:
        raise KeyError(f"unknown normaliser {name!r}; known: {', '.join(NORMALISERS)}") from None
