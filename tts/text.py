"""Text preparation for speech: cleaning, normalising (numbers and the like), and chunking.

Pure functions with no I/O. Chunking exists for latency: the first chunk is synthesised and
played while the rest is still being synthesised, so a chunk should be a sentence, and a long
sentence is cut at its commas so the caller never waits for a paragraph before hearing anything.
"""

from __future__ import annotations

import re
import unicodedata

from tts.interface import Lang
from tts.normalise_en import normalise_en
from tts.normalise_zh import normalise_zh

# Sentence ends. Chinese full-width marks end a sentence wherever they are; an English mark only
# when followed by whitespace or the end, so "3.5" and "www.gov.cn" stay whole.
_ZH_ENDS = "。！？；!?;…"
_EN_END = re.compile(r"(?<=[.!?;…])[\"')\]]*(?=\s|$)")
_ZH_END = re.compile(rf"(?<=[{_ZH_ENDS}])[”’」』)）\"']*")
# Abbreviations after which a full stop does not end an English sentence.
_EN_ABBREVIATIONS = frozenset(
    {"mr", "mrs", "ms", "dr", "st", "no", "vs", "etc", "e.g", "i.e", "approx", "dept", "ave", "rd", "tel"}
)
_COMMAS = "，、,：:；;"
_SPACES = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Make any string safe to hand to espeak-ng: valid UTF-8, no control or format characters,
    single spaces. Characters the voice cannot say are left to espeak, which skips them."""
    text = text.encode("utf-8", errors="replace").decode("utf-8")
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch in "\t\n\r\f\v":
            kept.append(" ")
        elif category in ("Cc", "Cf", "Cs", "Co", "Cn"):
            continue
        else:
            kept.append(ch)
    return _SPACES.sub(" ", "".join(kept)).strip()


def has_speech(text: str) -> bool:
    """True when the text has at least one letter or digit in any script (something to say)."""
    return any(unicodedata.category(ch)[0] in ("L", "N") for ch in text)


def normalise(text: str, lang: Lang) -> str:
    """Hotline text as the voice should read it: numbers, times, dates, money, phone and work-order
    numbers, rooms and abbreviations written out (tts/normalise_zh.py, tts/normalise_en.py)."""
    return normalise_zh(text) if lang == "zh" else normalise_en(text)


def split_sentences(text: str, lang: Lang) -> list[str]:
    """Split at sentence ends of both scripts (a Mandarin answer may quote English and back)."""
    text = text.strip()
    if not text:
        return []
    cuts = {m.end() for m in _ZH_END.finditer(text)}
    for m in _EN_END.finditer(text):
        if not _ends_with_abbreviation(text[: m.start()]):
            cuts.add(m.end())
    pieces, start = [], 0
    for cut in sorted(cuts):
        pieces.append(text[start:cut])
        start = cut
    pieces.append(text[start:])
    return [p.strip() for p in pieces if p.strip()]


def _ends_with_abbreviation(before: str) -> bool:
    if not before.endswith("."):
        return False
    word = before[:-1].rsplit(maxsplit=1)[-1] if before[:-1].strip() else ""
    return word.lower() in _EN_ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def split_long(sentence: str, max_chars: int) -> list[str]:
    """Cut a sentence longer than ``max_chars`` at commas (then spaces, then anywhere), packing
    the pieces greedily so no chunk is much shorter than it needs to be."""
    if len(sentence) <= max_chars:
        return [sentence]
    parts = _cut_after(sentence, _COMMAS)
    if len(parts) == 1:
        parts = _cut_after(sentence, " ")
    chunks: list[str] = []
    current = ""
    for part in parts:
        if current and len(current) + len(part) > max_chars:
            chunks.append(current.strip())
            current = ""
        current += part
    if current.strip():
        chunks.append(current.strip())
    result: list[str] = []
    for chunk in chunks:
        # A piece with no comma or space (a long run of Chinese characters) is cut by length.
        while len(chunk) > max_chars * 2:
            result.append(chunk[:max_chars])
            chunk = chunk[max_chars:]
        result.append(chunk)
    return [c for c in result if c]


def _cut_after(text: str, marks: str) -> list[str]:
    parts, start = [], 0
    for i, ch in enumerate(text):
        if ch in marks:
            parts.append(text[start : i + 1])
            start = i + 1
    if start < len(text):
        parts.append(text[start:])
    return parts


def split_clauses(sentence: str, max_chars: int) -> list[str]:
    """A sentence cut after every comma, colon and enumeration mark (a clause is the unit a neural
    voice phrases best, and the first one plays sooner); a long clause is cut further."""
    out: list[str] = []
    for clause in _cut_after(sentence, _COMMAS):
        out.extend(split_long(clause.strip(), max_chars))
    return [c for c in out if c]


def chunk_text(text: str, lang: Lang, max_chars: int, clauses: bool = False) -> list[str]:
    """Clean and normalise the text and cut it into speakable chunks in reading order: sentences
    (cut at commas past ``max_chars``), or every clause with ``clauses``; [] when nothing to say."""
    text = normalise(clean_text(text), lang)
    chunks: list[str] = []
    for sentence in split_sentences(text, lang):
        pieces = split_clauses(sentence, max_chars) if clauses else split_long(sentence, max_chars)
        chunks.extend(c for c in pieces if has_speech(c))
    return chunks
