"""LocalAgreement-2 (Machacek et al., whisper_streaming): commit what two consecutive hypotheses
agree on. Pure: hypotheses are lists of units (words, or single CJK characters), no audio."""

from __future__ import annotations

from asr.text import unit_key


class LocalAgreement:
    """Committed units only ever grow; a hypothesis that contradicts them cannot change them.

    Each hypothesis covers the whole utterance so far. Units already committed are matched (by
    ``unit_key``: case and punctuation ignored) and stripped; the remainder is compared with the
    previous hypothesis' remainder, and their common prefix is committed, spelled as in the newer
    hypothesis.
    """

    def __init__(self) -> None:
        self.committed: list[str] = []
        self.tentative: list[str] = []
        self._previous_tail: list[str] | None = None

    def reset(self) -> None:
        self.committed = []
        self.tentative = []
        self._previous_tail = None

    def update(self, hypothesis: list[str]) -> list[str]:
        """Feed the next hypothesis; returns the units newly committed (possibly none)."""
        n = len(self.committed)
        head = [unit_key(u) for u in hypothesis[:n]]
        if len(hypothesis) < n or head != [unit_key(u) for u in self.committed]:
            # Disagrees with what is already committed: nothing to agree with, start over after it.
            self._previous_tail = None
            self.tentative = []
            return []
        tail = list(hypothesis[n:])
        agreed = 0
        if self._previous_tail is not None:
            for old, new in zip(self._previous_tail, tail, strict=False):
                if unit_key(old) != unit_key(new):
                    break
                agreed += 1
        newly = tail[:agreed]
        self.committed.extend(newly)
        self.tentative = tail[agreed:]
        self._previous_tail = self.tentative
        return newly
