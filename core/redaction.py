"""Masking of personal numbers and secrets in text people or logs see (docs/security.md).

``mask_pii`` hides ID numbers, bank cards and phone numbers in free text (a transcript line, a
work-order summary), keeping the last four digits so an agent can confirm with the caller.
``redact_secrets`` hides tokens (``token=...``, ``Bearer ...``). ``RedactingFilter`` applies both
to every log record that passes a handler: the backstop for anything that still logs them, such
as uvicorn's access lines with a caller number in a history URL.
"""

from __future__ import annotations

import logging
import re
from typing import Any

# Chinese resident ID (18 characters, last may be X; the old 15-digit form too).
_ID = re.compile(r"(?<![0-9A-Za-z-])(\d{17}[\dXx]|\d{15})(?![0-9A-Za-z-])")
# Bank cards: 16-19 digits, optionally grouped by spaces or dashes in fours.
_CARD = re.compile(r"(?<![0-9A-Za-z-])(\d{4}[ -]?){3}\d{4}(?:[ -]?\d{1,3})?(?![0-9A-Za-z-])")
# Phone numbers: runs of 7-18 digits that may be grouped by spaces ("138 1234 5678",
# "+1 415 555 0100"), and landlines written with a dash after the area code ("010-65521234").
# Digits inside ids (hex, dashed uuids) and dates (2026-12-01) are left alone.
_PHONE = re.compile(r"(?<![0-9A-Za-z-])(?:\+?\d[\d ]{5,16}\d|0\d{2,3}-\d{7,8})(?![0-9A-Za-z-])")
_TOKEN_PARAM = re.compile(r"(?i)(\b(?:token|access_token|api_key|key)=)[^&\s\"']+")
_BEARER = re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]+")
_SUBPROTOCOL_TOKEN = re.compile(r"(\btoken\.)[A-Za-z0-9_-]{8,}")


def _keep_last4(match: re.Match[str]) -> str:
    raw = match.group(0)
    digits = [c for c in raw if c.isalnum()]
    if len(digits) < 7:  # short numbers (110, 12345, a house number) are not personal
        return raw
    return "*" * (len(digits) - 4) + "".join(digits[-4:])


def mask_pii(text: str) -> str:
    """ID numbers, bank cards and phone numbers in ``text`` masked to their last four digits.
    Idempotent: masked values contain no digit run long enough to match again."""
    if not text or not any(c.isdigit() for c in text):
        return text
    for pattern in (_ID, _CARD, _PHONE):
        text = pattern.sub(_keep_last4, text)
    return text


CONTACT_KEYS = frozenset({"phone", "phones", "callback_number", "contact"})
"""Detail fields holding numbers the caller gave to be called back on: they stay readable."""


def mask_pii_deep(value: Any, contact: bool = False) -> Any:
    """``mask_pii`` on every string inside dicts and lists, except anywhere under a contact key."""
    if isinstance(value, dict):
        return {k: mask_pii_deep(v, contact or str(k).lower() in CONTACT_KEYS) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_pii_deep(v, contact) for v in value]
    if isinstance(value, str) and not contact:
        return mask_pii(value)
    return value


def redact_secrets(text: str) -> str:
    text = _TOKEN_PARAM.sub(r"\1***", text)
    text = _BEARER.sub(r"\1***", text)
    return _SUBPROTOCOL_TOKEN.sub(r"\1***", text)


def redact(text: str) -> str:
    return mask_pii(redact_secrets(text))


class RedactingFilter(logging.Filter):
    """Rewrites each record's message with secrets and personal numbers masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is the logger's problem, not ours
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


_FILTER = RedactingFilter()


def install_log_redaction(*logger_names: str) -> None:
    """Attach the filter to the root logger's handlers and to the named loggers and their handlers
    (uvicorn's access and error loggers by default). Safe to call more than once."""
    names = logger_names or ("uvicorn.access", "uvicorn.error", "uvicorn")
    targets: list[Any] = [logging.getLogger()]
    targets += [logging.getLogger(n) for n in names]
    for logger in targets:
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
        for handler in logger.handlers:
            if _FILTER not in handler.filters:
                handler.addFilter(_FILTER)
