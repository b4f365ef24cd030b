"""Text helpers of the recogniser: Simplified Chinese, prompts, word units, repetition checks."""

from __future__ import annotations

import functools
import re
import zlib
from typing import Any

# CJK ideographs (and the extension blocks Whisper emits) are one unit each: Mandarin has no spaces.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_UNIT_RE = re.compile(rf"[{_CJK}][^\s{_CJK}\w]*|[^\s{_CJK}]+")
_KEY_STRIP_RE = re.compile(r"[^\w]+")


@functools.lru_cache(maxsize=1)
def _t2s() -> Any:
    try:
        import opencc
    except ImportError as e:  # pragma: no cover - broken install
        raise RuntimeError("opencc is not installed: `.venv/bin/pip install opencc`") from e
    return opencc.OpenCC("t2s")


def has_cjk(text: str) -> bool:
    return re.search(f"[{_CJK}]", text) is not None


def to_simplified(text: str) -> str:
    """Traditional -> Simplified Chinese; text without CJK characters comes back unchanged."""
    if not has_cjk(text):
        return text
    return str(_t2s().convert(text))


def build_prompt(language: str | None, vocabulary: tuple[str, ...], zh_prompt: str) -> str | None:
    """The initial prompt for a decode in ``language`` (None when nothing useful to say).

    Mandarin gets a Simplified-Chinese sentence (steers the script) followed by the vocabulary;
    other languages get only the vocabulary entries written without Chinese characters, so an
    English call is not nudged towards Chinese. The language itself is detected before any
    prompt is used (from the encoder output alone), so prompts cannot bias the detection.
    """
    if language == "zh":
        if not vocabulary:
            return zh_prompt
        return f"{zh_prompt}常见地名和部门：{'、'.join(vocabulary)}。"
    latin = [v for v in vocabulary if not has_cjk(v)]
    if latin:
        return ", ".join(latin) + "."
    return None


def split_units(text: str) -> list[str]:
    """Split text into the units LocalAgreement compares: words, and single CJK characters.

    Punctuation stays attached to the unit before it ("you," / "话。") so joining units back
    gives readable text.
    """
    return _UNIT_RE.findall(text)


def join_units(units: list[str]) -> str:
    """Inverse of split_units: no space between two CJK units, one space otherwise."""
    out = ""
    prev_cjk = False
    for unit in units:
        cjk = has_cjk(unit[0])
        if out and not (prev_cjk and cjk):
            out += " "
        out += unit
        prev_cjk = cjk
    return out


def unit_key(unit: str) -> str:
    """Comparison key: case and punctuation do not make two hypotheses disagree."""
    return _KEY_STRIP_RE.sub("", unit).lower()


def compression_ratio(text: str) -> float:
    """gzip ratio of the text; Whisper's sign of a repetition loop when above ~2.4."""
    raw = text.encode("utf-8")
    if not raw:
        return 0.0
    return len(raw) / len(zlib.compress(raw))
