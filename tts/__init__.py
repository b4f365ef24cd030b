"""Speech synthesis: pyttsx3 over espeak-ng, for the telephone (8 kHz PCM16 / mu-law) and the web.

The one entry point is :class:`Synthesizer`; see tts/synthesizer.py for usage.
"""

from tts.engine import EspeakEngine, TtsEngineError
from tts.interface import (
    AUDIO_FORMATS,
    TELEPHONE_MULAW,
    TELEPHONE_PCM16,
    WEB_PCM16_16K,
    WEB_PCM16_22K,
    AudioChunk,
    AudioFormat,
    Lang,
    SynthesizedAudio,
    TtsOptions,
    UnsupportedLanguageError,
    parse_audio_format,
)
from tts.prompts import PROMPTS, render_prompt
from tts.synthesizer import Synthesizer

__all__ = [
    "AUDIO_FORMATS",
    "PROMPTS",
    "TELEPHONE_MULAW",
    "TELEPHONE_PCM16",
    "WEB_PCM16_16K",
    "WEB_PCM16_22K",
    "AudioChunk",
    "AudioFormat",
    "EspeakEngine",
    "Lang",
    "SynthesizedAudio",
    "Synthesizer",
    "TtsEngineError",
    "TtsOptions",
    "UnsupportedLanguageError",
    "parse_audio_format",
    "render_prompt",
]
