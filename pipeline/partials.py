"""The caller's utterance in progress, saved cheaply so a crash does not lose it: the latest
partial transcript goes to ``calls.partial_text`` at most once per ``every_s`` and is cleared by
the final transcript. A survivor keeps it as an unfinished utterance (pipeline/instances.py)."""

from __future__ import annotations

import time

from sqlalchemy import update

from pipeline.db import Call
from pipeline.store import Store


class PartialKeeper:
    """When to write the partial (pure: the session does the writing on its work thread)."""

    def __init__(self, every_s: float = 1.0) -> None:
        self.every_s = every_s
        self._at = float("-inf")
        self.pending = False
        """A partial is stored that the final transcript must clear."""

    def due(self, text: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if not text.strip() or now - self._at < self.every_s:
            return False
        self._at, self.pending = now, True
        return True

    def clear_due(self) -> bool:
        was, self.pending, self._at = self.pending, False, float("-inf")
        return was


def save_partial(store: Store, call_id: str, text: str | None) -> None:
    """The latest partial of the utterance in progress (None once it is final)."""
    with store.session() as s:
        s.execute(update(Call).where(Call.id == call_id).values(partial_text=text))
        s.commit()
