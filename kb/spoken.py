"""A written answer turned into a spoken one: the first sentences that answer, and the rest.

Staff write knowledge-base answers for reading (several paragraphs, lists of documents, opening
hours of every office). On the phone the caller hears the first sentences, up to about 20 seconds
of speech, and is offered the rest by SMS (pipeline/sms_offer.py).
"""

from __future__ import annotations

import re

from kb.entry import detect_lang

MAX_SPOKEN_CHARS = {"zh": 90, "en": 300}
"""About 20 seconds of speech: Mandarin ~4.5 characters a second, English ~15 characters a second."""

_SENTENCE_END = re.compile(r"(?<=[。！？；!?;])|(?<=[.])\s+(?=[A-Z0-9\"'(])")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s and s.strip()]


def spoken_answer(text: str, lang: str | None = None, max_chars: int | None = None) -> tuple[str, str]:
    """(what to say, what is left): whole sentences up to ``max_chars`` (always the first one)."""
    lang = lang if lang in MAX_SPOKEN_CHARS else detect_lang(text)
    limit = max_chars or MAX_SPOKEN_CHARS[lang]
    parts = sentences(text)
    if not parts:
        return text.strip(), ""
    said, used = [parts[0]], len(parts[0])
    for part in parts[1:]:
        if used + len(part) > limit:
            break
        said.append(part)
        used += len(part)
    joiner = "" if lang == "zh" else " "
    rest = joiner.join(parts[len(said) :])
    return joiner.join(said), rest
