"""A knowledge-base entry, its validation, and the topic and request-type ids it may carry.

Topic and request-type ids come from the classifier's taxonomy (``nlu/taxonomy.yaml``) so the
classifier's topic can filter the knowledge base; a few longer spellings are accepted as aliases.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path

import yaml

LANGS = ("zh", "en")

_FALLBACK_TOPICS = (
    "power", "water", "heating", "gas", "roads", "transport", "environment", "housing", "social",
    "health", "education", "market", "public_order", "documents", "other",
)  # fmt: skip
_FALLBACK_REQUEST_TYPES = ("inquiry", "fault", "complaint", "tip_off", "suggestion", "praise")

TOPIC_ALIASES = {
    "roads_streetlights": "roads",
    "public_transport": "transport",
    "noise_environment": "environment",
    "housing_property": "housing",
    "social_security_employment": "social",
    "market_consumer": "market",
    "documents_government": "documents",
}
REQUEST_TYPE_ALIASES = {"fault_report": "fault", "tipoff": "tip_off", "tip-off": "tip_off"}

_LANG_ALIASES = {
    "zh": "zh", "zh-cn": "zh", "zh-hans": "zh", "cmn": "zh", "mandarin": "zh", "chinese": "zh",
    "en": "en", "en-us": "en", "en-gb": "en", "english": "en",
}  # fmt: skip
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


class KbEntryError(ValueError):
    """An entry is missing something or carries an unknown value."""


@lru_cache(maxsize=1)
def _taxonomy() -> tuple[tuple[str, ...], tuple[str, ...]]:
    path = Path(__file__).resolve().parent.parent / "nlu" / "taxonomy.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return tuple(data["topics"]), tuple(data["request_types"])
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return _FALLBACK_TOPICS, _FALLBACK_REQUEST_TYPES


def known_topics() -> tuple[str, ...]:
    return _taxonomy()[0]


def known_request_types() -> tuple[str, ...]:
    return _taxonomy()[1]


def detect_lang(text: str) -> str:
    """'zh' when the text holds Chinese characters, else 'en' (the two languages callers use)."""
    return "zh" if _CJK.search(text) else "en"


def normalise_lang(value: str) -> str:
    lang = _LANG_ALIASES.get(value.strip().lower())
    if lang is None:
        raise KbEntryError(f"unknown language {value!r}: use one of {', '.join(LANGS)}")
    return lang


def normalise_topic(value: str | None) -> str | None:
    if value is None or not str(value).strip():
        return None
    topic = TOPIC_ALIASES.get(str(value).strip(), str(value).strip())
    if topic not in known_topics():
        raise KbEntryError(f"unknown topic {value!r}: use one of {', '.join(known_topics())}")
    return topic


def normalise_request_type(value: str | None) -> str | None:
    if value is None or not str(value).strip():
        return None
    rtype = REQUEST_TYPE_ALIASES.get(str(value).strip(), str(value).strip())
    if rtype not in known_request_types():
        raise KbEntryError(f"unknown request_type {value!r}: use one of {', '.join(known_request_types())}")
    return rtype


log = logging.getLogger(__name__)


def lang_or_detect(lang: str | None, query: str) -> str:
    """A language a caller may use; anything else (an ASR guess like 'ja') falls back to the text's."""
    try:
        return normalise_lang(lang) if lang else detect_lang(query)
    except KbEntryError:
        return detect_lang(query)


def topic_or_none(topic: str | None) -> str | None:
    """A known topic id; an unknown one (a newer classifier, 'out_of_scope') searches every topic."""
    try:
        return normalise_topic(topic)
    except KbEntryError:
        log.warning("knowledge base: unknown topic %r, searching all topics", topic)
        return None


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class KbEntry:
    """One answerable question: several phrasings, the answer in one or both languages."""

    id: str
    questions: tuple[str, ...]
    answers: dict[str, str]  # language -> answer text written to be spoken
    topic: str | None = None
    request_type: str | None = None
    tags: tuple[str, ...] = ()
    updated: str = field(default_factory=now_iso)
    department: str | None = None
    """Who owns the answer (e.g. 'Water Company'); also what a narrowing question may ask about."""
    valid_from: str | None = None
    """First day (ISO date) the answer holds; before it the entry is never spoken."""
    valid_until: str | None = None
    """Last day (ISO date) the answer holds; after it the entry is never spoken."""

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id.strip():
            raise KbEntryError("entry has no id: give every entry a unique non-empty 'id'")
        questions = tuple(q.strip() for q in self.questions if isinstance(q, str) and q.strip())
        if not questions:
            raise KbEntryError(f"entry {self.id!r} has no question: give at least one 'question'")
        answers = {normalise_lang(k): v.strip() for k, v in self.answers.items() if v and v.strip()}
        if not answers:
            raise KbEntryError(f"entry {self.id!r} has no answer: give 'answer' text")
        object.__setattr__(self, "id", self.id.strip())
        object.__setattr__(self, "questions", questions)
        object.__setattr__(self, "answers", answers)
        object.__setattr__(self, "topic", normalise_topic(self.topic))
        object.__setattr__(self, "request_type", normalise_request_type(self.request_type))
        object.__setattr__(self, "tags", tuple(t.strip() for t in self.tags if t and t.strip()))
        object.__setattr__(self, "department", (self.department or "").strip() or None)
        start, end = _iso_day(self.valid_from, "valid_from"), _iso_day(self.valid_until, "valid_until")
        if start and end and end < start:
            raise KbEntryError(f"entry {self.id!r}: valid_until {end} is before valid_from {start}")
        object.__setattr__(self, "valid_from", start)
        object.__setattr__(self, "valid_until", end)

    def is_current(self, day: date | None = None) -> bool:
        """Whether the answer holds on ``day`` (default: today): expired or future entries are not spoken."""
        today = (day or date.today()).isoformat()
        return (self.valid_from is None or self.valid_from <= today) and (
            self.valid_until is None or today <= self.valid_until
        )

    @property
    def langs(self) -> tuple[str, ...]:
        return tuple(sorted(self.answers))

    def answer(self, lang: str) -> tuple[str, str]:
        """(text, language): the requested language when the entry has it, else the other one."""
        lang = normalise_lang(lang)
        if lang in self.answers:
            return self.answers[lang], lang
        other = next(iter(sorted(self.answers)))
        return self.answers[other], other

    def to_record(self) -> dict:
        """The JSONL/YAML form (questions and answers keyed by language)."""
        by_lang: dict[str, list[str]] = {}
        for q in self.questions:
            by_lang.setdefault(detect_lang(q), []).append(q)
        record: dict = {"id": self.id, "question": by_lang, "answer": dict(self.answers)}
        if self.topic:
            record["topic"] = self.topic
        if self.request_type:
            record["request_type"] = self.request_type
        record["lang"] = list(self.langs)
        if self.tags:
            record["tags"] = list(self.tags)
        for key in ("department", "valid_from", "valid_until"):
            if getattr(self, key):
                record[key] = getattr(self, key)
        record["updated"] = self.updated
        return record


def entry_from_record(record: dict) -> KbEntry:
    """Build an entry from a JSONL/YAML/CSV record; raises KbEntryError saying what is wrong.

    ``question``: a string, a list, or a mapping language -> string or list.
    ``answer``: a string (its language from ``lang`` or detected) or a mapping language -> string;
    CSV columns ``answer_zh`` / ``answer_en`` are accepted too.
    """
    if not isinstance(record, dict):
        raise KbEntryError(f"expected an object with id, question and answer, got {type(record).__name__}")
    alternatives = [k for k in record if _ALT_QUESTION.match(str(k))]
    unknown = set(record) - {"id", "question", "questions", "answer", "topic", "request_type", "lang",
                             "tags", "updated", "department", "valid_from", "valid_until",
                             *alternatives, *(f"answer_{x}" for x in LANGS)}  # fmt: skip
    if unknown:
        raise KbEntryError(f"unknown field(s) {', '.join(sorted(unknown))}")
    raw_id = record.get("id")
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
        raise KbEntryError("missing 'id'")
    questions = _questions(record.get("question", record.get("questions")))
    for key in alternatives:  # extra columns of a sheet: question_2, alt_question, ...
        if record[key] not in (None, ""):
            questions += _questions(record[key])
    answers = _answers(record)
    tags = record.get("tags") or ()
    if isinstance(tags, str):
        tags = [t for t in re.split(r"[;,]", tags)]
    if not isinstance(tags, list | tuple):
        raise KbEntryError("'tags' must be a list of strings")
    updated = record.get("updated")
    return KbEntry(
        id=str(raw_id),
        questions=tuple(questions),
        answers=answers,
        topic=record.get("topic") or None,
        request_type=record.get("request_type") or None,
        tags=tuple(str(t) for t in tags),
        updated=str(updated) if updated else now_iso(),
        department=_text_or_none(record.get("department")),
        valid_from=_text_or_none(record.get("valid_from")),
        valid_until=_text_or_none(record.get("valid_until")),
    )


_ALT_QUESTION = re.compile(
    r"^(alt(ernative)?[ _-]?)?questions?[ _-]?(\d+|alt(ernative)?s?)$|^alt(ernative)?[ _-]?questions?$", re.I
)


def _text_or_none(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    return str(value).strip() or None


def _iso_day(value: object, name: str) -> str | None:
    """An ISO date (YYYY-MM-DD) from a date, a datetime or text; KbEntryError otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    text = str(value).strip()
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError:
        raise KbEntryError(f"{name} {text!r} is not a date: write it as YYYY-MM-DD") from None


def _questions(value: object) -> list[str]:
    if value is None:
        raise KbEntryError("missing 'question'")
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        out: list[str] = []
        for lang, qs in value.items():
            normalise_lang(str(lang))
            out.extend(_questions(qs))
        return out
    if isinstance(value, list | tuple) and all(isinstance(q, str) for q in value):
        return list(value)
    raise KbEntryError("'question' must be a string, a list of strings, or a mapping language -> those")


def _answers(record: dict) -> dict[str, str]:
    answers: dict[str, str] = {}
    value = record.get("answer")
    if isinstance(value, dict):
        for lang, text in value.items():
            if not isinstance(text, str):
                raise KbEntryError(f"answer for {lang!r} must be a string")
            answers[normalise_lang(str(lang))] = text
    elif isinstance(value, str) and value.strip():
        lang = record.get("lang")
        if isinstance(lang, list):
            lang = lang[0] if len(lang) == 1 else None
        answers[normalise_lang(lang) if lang else detect_lang(value)] = value
    elif value not in (None, ""):
        raise KbEntryError("'answer' must be a string or a mapping language -> string")
    for lang in LANGS:
        text = record.get(f"answer_{lang}")
        if isinstance(text, str) and text.strip():
            answers[lang] = text
    if not answers:
        raise KbEntryError("missing 'answer'")
    return answers
