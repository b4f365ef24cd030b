"""The rest of a long answer, sent by SMS when the caller asks for it.

After a shortened answer (kb/spoken.py) the bot offers the full text by SMS; if the caller's next
words ask for it ("text me", "发短信") the sender gets it. Senders are pluggable: anything with
``send(number, text, language)``; the default writes the message to the log (no SMS gateway is
configured in this project).
"""

from __future__ import annotations

import logging
import re
from collections import deque
from typing import Protocol

from kb.spoken import spoken_answer

log = logging.getLogger(__name__)

_WANTS_SMS = re.compile(r"\b(text|sms|message|send)\b|短信|发给我|发我|发一下|发过来", re.I)
_REFUSES = re.compile(r"\b(no|don't|do not|not)\b|不用|不要|不需要", re.I)


class SmsSender(Protocol):
    def send(self, number: str, text: str, language: str) -> None: ...


class LogSmsSender:
    """Writes each message to the service log; keeps the last few for inspection."""

    def __init__(self, keep: int = 100) -> None:
        self.sent: deque[tuple[str, str, str]] = deque(maxlen=keep)

    def send(self, number: str, text: str, language: str) -> None:
        masked = number[:3] + "****" + number[-4:] if len(number) >= 8 else "****"
        log.info("SMS to %s (%s): %s", masked, language, text)
        self.sent.append((number, text, language))


def wants_sms(text: str) -> bool:
    return bool(_WANTS_SMS.search(text)) and not _REFUSES.search(text)


class SmsOffer:
    """One call's pending offer: the full answer, sent if the caller's next turn asks for it."""

    def __init__(self, sender: SmsSender) -> None:
        self.sender = sender
        self.pending: tuple[str, str] | None = None  # (full answer, language)

    def shorten(self, answer: str, language: str, caller_number: str | None) -> tuple[str, bool]:
        """(what to say, whether to offer the rest by SMS): only a caller with a number is offered."""
        said, rest = spoken_answer(answer, language)
        self.pending = None
        if not rest or not caller_number:
            return answer if not caller_number else said, False
        self.pending = (answer, language)
        return said, True

    def hear(self, text: str, caller_number: str | None) -> bool:
        """True when this turn asked for the SMS and it was sent; the offer lapses either way."""
        pending, self.pending = self.pending, None
        if pending is None or not caller_number or not wants_sms(text):
            return False
        self.sender.send(caller_number, pending[0], pending[1])
        return True
