"""Bad audio gives a clear AudioDecodeError or an empty transcript: never a crash or a hang."""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asr.audio import AudioDecodeError, load_audio
from asr.batch import BatchTranscriber
from asr.options import AsrOptions
from asr.streaming import StreamingTranscriber
from core.codec import float_to_pcm16_bytes
from eval.metrics import word_errors
from models.whisper import load_whisper


@pytest.fixture(scope="module")
def batch(model_cache_dir: Path) -> BatchTranscriber:
    return BatchTranscriber(load_whisper("base", model_cache_dir), AsrOptions())


def wav_bytes(samples: np.ndarray, rate: int = 16000) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def test_empty_input_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioDecodeError, match="empty"):
        load_audio(empty)
    with pytest.raises(AudioDecodeError, match="does not exist"):
        load_audio(tmp_path / "missing.wav")


@pytest.mark.parametrize(
    "payload",
    [b"this is a text file, not a recording\n" * 40, os.urandom(4096), b"%PDF-1.4\n" + os.urandom(2000)],
    ids=["text", "random", "pdf"],
)
def test_bytes_that_are_not_audio_are_a_clear_error(payload: bytes, batch: BatchTranscriber) -> None:
    with pytest.raises(AudioDecodeError, match="not audio we can decode"):
        batch.transcribe(payload)


def test_pure_silence_gives_an_empty_transcript(batch: BatchTranscriber) -> None:
    transcript = batch.transcribe(wav_bytes(np.zeros(16000 * 5, np.float32)))
    assert transcript.text == "" and transcript.segments == () and transcript.duration_s == 5.0
    hum = 0.001 * np.sin(2 * np.pi * 50 * np.arange(16000 * 3) / 16000)
    assert batch.transcribe(wav_bytes(hum.astype(np.float32))).text == ""


def test_silence_streamed_gives_no_events(model_cache_dir: Path) -> None:
    st = StreamingTranscriber(load_whisper("base", model_cache_dir), AsrOptions())
    chunk = float_to_pcm16_bytes(np.zeros(320, np.float32))
    events = [e for _ in range(150) for e in st.feed(chunk)]
    assert events + st.finish() == []
    assert st.time_s == pytest.approx(3.0)


def test_truncated_files_give_the_audio_that_is_there(batch: BatchTranscriber, asr_clips: dict) -> None:
    clip = asr_clips["en_jfk"]
    flac = Path(clip["path"]).read_bytes()
    # A recording cut off mid-way still transcribes its beginning.
    head = batch.transcribe(flac[: len(flac) // 2]).text.lower()
    assert "fellow americans" in head
    wav = wav_bytes(load_audio(clip["path"]))
    assert "fellow americans" in batch.transcribe(wav[: len(wav) // 2]).text.lower()
    # Cut inside the header: nothing to decode.
    with pytest.raises(AudioDecodeError):
        load_audio(flac[:30])
    with pytest.raises(AudioDecodeError, match=r"no audio samples|cut off"):
        load_audio(wav[:44])


def test_a_wav_header_that_lies(batch: BatchTranscriber, asr_clips: dict) -> None:
    clip = asr_clips["en_jfk"]
    wav = bytearray(wav_bytes(load_audio(clip["path"])))
    data_size_at = wav.index(b"data") + 4
    # Announces 1 GB of audio: we use the bytes that are really there.
    longer = bytes(wav[:data_size_at]) + struct.pack("<I", 10**9) + bytes(wav[data_size_at + 4 :])
    assert word_errors(clip["reference"], batch.transcribe(longer).text).rate <= 0.1
    # A sample rate of 0 Hz (or 3 GHz) cannot be right: say so.
    for rate in (0, 3_000_000_000):
        bad = bytes(wav[:24]) + struct.pack("<I", rate) + bytes(wav[28:])
        with pytest.raises(AudioDecodeError, match="sample rate"):
            batch.transcribe(bad)


def test_clipped_audio_still_transcribes(batch: BatchTranscriber, asr_clips: dict) -> None:
    clip = asr_clips["en_jfk"]
    audio = load_audio(clip["path"])
    clipped = np.clip(audio * 20.0, -1.0, 1.0)  # heavy clipping, as from a hot telephone line
    assert np.mean(np.abs(clipped) >= 0.999) > 0.05
    assert word_errors(clip["reference"], batch.transcribe(wav_bytes(clipped)).text).rate <= 0.25
    # Float samples beyond full scale are clipped on load rather than rejected.
    assert batch.transcribe(audio * 3.0).text


def test_odd_length_pcm_chunks_are_reassembled(model_cache_dir: Path, asr_clips: dict) -> None:
    st = StreamingTranscriber(load_whisper("base", model_cache_dir), AsrOptions())
    audio = np.concatenate([load_audio(asr_clips["en_jfk"]["path"])[:48000], np.zeros(16000, np.float32)])
    pcm = float_to_pcm16_bytes(audio)
    events = [e for i in range(0, len(pcm), 333) for e in st.feed(pcm[i : i + 333])] + st.finish()
    assert st.time_s == pytest.approx(4.0, abs=0.01)
    assert any("fellow" in getattr(e, "text", "").lower() for e in events)


def test_unsupported_stream_formats_are_refused(model_cache_dir: Path) -> None:
    model = load_whisper("base", model_cache_dir)
    with pytest.raises(ValueError, match="8000 or 16000"):
        StreamingTranscriber(model, AsrOptions(), sample_rate=44100)
    with pytest.raises(ValueError, match="mu-law"):
        StreamingTranscriber(model, AsrOptions(), sample_rate=16000, encoding="mulaw")
