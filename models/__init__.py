"""Model resolution: every model is loaded by name, local path or packaged default, once."""

from models.whisper import WhisperResolution, load_whisper, resolve_whisper

__all__ = ["WhisperResolution", "load_whisper", "resolve_whisper"]
