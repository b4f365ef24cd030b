"""Speech recognition: Whisper (CTranslate2) with Silero VAD, in batch and streaming.

Public interface: load_audio / AudioDecodeError, AsrOptions, BatchTranscriber -> Transcript,
StreamingTranscriber (feed/finish -> core.events), LocalAgreement.
"""

from asr.agreement import LocalAgreement
from asr.audio import AudioDecodeError, load_audio
from asr.batch import BatchTranscriber, Transcript
from asr.options import AsrOptions, options_from_settings
from asr.streaming import StreamingTranscriber

__all__ = [
    "AsrOptions",
    "AudioDecodeError",
    "BatchTranscriber",
    "LocalAgreement",
    "StreamingTranscriber",
    "Transcript",
    "load_audio",
    "options_from_settings",
]
