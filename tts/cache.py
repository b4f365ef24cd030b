"""Cache of rendered fixed prompts: in memory, and on disk so a restart does not re-synthesise.

Keyed by everything that changes the bytes (text, language, voice, rate, volume, output format,
and a version to bump when the rendering changes), so a settings change never plays stale audio.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from tts.interface import AudioFormat, SynthesizedAudio

log = logging.getLogger(__name__)

CACHE_VERSION = 2  # 2: hotline text normalisation; voice identities


@dataclass(frozen=True)
class CacheKey:
    text: str
    lang: str
    voice: str
    """The voice's identity: engine, voice id or model hash."""
    rate_wpm: int
    volume: float
    audio_format: AudioFormat

    def digest(self) -> str:
        fields = [
            CACHE_VERSION,
            self.text,
            self.lang,
            self.voice,
            self.rate_wpm,
            self.volume,
            self.audio_format.encoding,
            self.audio_format.sample_rate,
        ]
        return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode("utf-8")).hexdigest()


class PromptCache:
    """Thread-safe LRU in memory in front of an optional folder of raw audio files."""

    def __init__(self, folder: Path | None, max_entries: int = 512) -> None:
        self.folder = folder
        self.max_entries = max_entries
        self._memory: OrderedDict[str, SynthesizedAudio] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: CacheKey) -> SynthesizedAudio | None:
        digest = key.digest()
        with self._lock:
            found = self._memory.get(digest)
            if found is not None:
                self._memory.move_to_end(digest)
                self.hits += 1
                return found
        found = self._read_disk(digest, key.audio_format)
        with self._lock:
            if found is None:
                self.misses += 1
                return None
            self.hits += 1
            self._remember(digest, found)
        return found

    def put(self, key: CacheKey, audio: SynthesizedAudio) -> None:
        digest = key.digest()
        with self._lock:
            self._remember(digest, audio)
        self._write_disk(digest, audio)

    def _remember(self, digest: str, audio: SynthesizedAudio) -> None:
        self._memory[digest] = audio
        self._memory.move_to_end(digest)
        while len(self._memory) > self.max_entries:
            self._memory.popitem(last=False)

    def _path(self, digest: str, fmt: AudioFormat) -> Path:
        assert self.folder is not None
        return self.folder / digest[:2] / f"{digest}.{fmt.encoding}-{fmt.sample_rate}.raw"

    def _read_disk(self, digest: str, fmt: AudioFormat) -> SynthesizedAudio | None:
        if self.folder is None:
            return None
        path = self._path(digest, fmt)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            log.warning("TTS cache file %s unreadable (%s); synthesising again", path, e)
            return None
        if len(data) % fmt.bytes_per_sample:
            log.warning("TTS cache file %s is truncated; synthesising again", path)
            return None
        n = len(data) // fmt.bytes_per_sample
        return SynthesizedAudio(data, fmt.sample_rate, fmt.encoding, n / fmt.sample_rate)

    def _write_disk(self, digest: str, audio: SynthesizedAudio) -> None:
        if self.folder is None:
            return
        path = self._path(digest, audio.format)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write then rename: a reader (another worker process) never sees half a file.
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
            with os.fdopen(fd, "wb") as fh:
                fh.write(audio.audio)
            os.replace(tmp, path)
        except OSError as e:
            log.warning("could not write TTS cache file %s (%s); the prompt stays cached in memory", path, e)
