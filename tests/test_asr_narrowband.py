"""8 kHz phone-line streams: the stream upsampler matches a one-shot upsample at every chunk edge,
and on the shared clips through a simulated G.711 line the narrowband VAD settings find the same
utterances as the wideband settings do on the original audio (the wideband ones do not).

The recogniser is a recording fake: these tests are about what audio reaches it and where the
end-pointer cuts, not about Whisper (eval `asr-telephone` measures the words).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from asr.audio import load_audio
from asr.decoder import Hypothesis, WhisperDecoder
from asr.options import AsrOptions
from asr.streaming import StreamingTranscriber
from asr.vad import StreamingVad
from core.codec import float_to_pcm16_bytes, mulaw_encode, resample
from core.events import FinalTranscript, SpeechStarted
from eval.telephone import PHONE_RATE, line_signal

WIDE = 16000
LEAD_S, TAIL_S = 0.5, 1.5
# Fixed end of speech: the adaptive one reads the (here fake) transcript.
OPTIONS = AsrOptions(adaptive_end=False)


class RecordingDecoder(WhisperDecoder):
    """Stands in for Whisper: keeps every utterance it is asked to decode, answers 'words'."""

    def __init__(self) -> None:  # no model: nothing is recognised here
        self.audio: list[np.ndarray] = []

    def decode(self, audio: np.ndarray, **kwargs: Any) -> Hypothesis:
        self.audio.append(np.array(audio, dtype=np.float32))
        return Hypothesis("words", "en", 1.0, -0.1, 0.0, 0.0, 0.0)


def _stream(signal: np.ndarray, rate: int, encoding: str, options: AsrOptions = OPTIONS) -> tuple[Any, list]:
    """Feed ``signal`` (float32 at ``rate``) in 20 ms frames; returns the fake and the events."""
    decoder = RecordingDecoder()
    st = StreamingTranscriber(decoder, options, rate, encoding)  # type: ignore[arg-type]
    data = mulaw_encode(signal) if encoding == "mulaw" else float_to_pcm16_bytes(signal)
    step = rate // 50 * (1 if encoding == "mulaw" else 2)
    events: list = []
    for i in range(0, len(data), step):
        events += st.feed(data[i : i + step])
    return decoder, events + st.finish()


def _padded(audio: np.ndarray, rate: int) -> np.ndarray:
    return np.concatenate(
        [np.zeros(int(LEAD_S * rate), np.float32), audio, np.zeros(int(TAIL_S * rate), np.float32)]
    )


@pytest.fixture(scope="module")
def line_clips(asr_clips: dict[str, dict]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every shared clip: (16 kHz original, 8 kHz phone-line signal), both padded with silence."""
    out = {}
    for name, row in asr_clips.items():
        wide = load_audio(row["path"])
        out[name] = (_padded(wide, WIDE), _padded(line_signal(wide), PHONE_RATE))
    return out


def test_chunked_8khz_input_reaches_the_recogniser_as_a_one_shot_upsample(asr_clips: dict[str, dict]) -> None:
    # A real 8 kHz recording, streamed in 20 ms PCM16 frames: every utterance the recogniser gets
    # is a slice of the whole stream upsampled at once, so chunk edges add nothing.
    import soundfile as sf

    native, rate = sf.read(str(asr_clips["en_osr_us_000_0034_8k"]["path"]), dtype="float32")
    assert rate == PHONE_RATE
    signal = _padded(native[: 12 * PHONE_RATE], PHONE_RATE)
    signal = np.round(signal * 32768) / 32768  # what PCM16 carries
    whole = resample(signal, PHONE_RATE, WIDE)
    decoder, events = _stream(signal, PHONE_RATE, "pcm16")
    onsets = [e.start_s for e in events if isinstance(e, FinalTranscript)]
    starts = [max(0, int(t * WIDE) - OPTIONS.pre_speech_ms * WIDE // 1000) for t in onsets]
    assert len(starts) >= 3 and len(decoder.audio) >= len(starts)
    for utt in decoder.audio:  # partial, speculative and final decodes: all from an onset
        fits = [at for at in starts if at + len(utt) <= len(whole)]
        worst = min((float(np.max(np.abs(whole[at : at + len(utt)] - utt))) for at in fits), default=1.0)
        assert worst < 1e-5, f"decoded audio differs from the one-shot upsample by {worst}"
    # No step at the 20 ms edges: sample-to-sample jumps there are like those elsewhere.
    jumps = np.abs(np.diff(np.concatenate(decoder.audio)))
    assert jumps.max() < 0.5


def test_mulaw_and_pcm16_8khz_streams_cut_the_same_utterances(
    line_clips: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    _, line = line_clips["en_jfk"]
    cuts = []
    for encoding in ("mulaw", "pcm16"):
        _, events = _stream(line, PHONE_RATE, encoding)
        cuts.append([round(e.start_s, 2) for e in events if isinstance(e, FinalTranscript)])
    assert cuts[0] == cuts[1] and len(cuts[0]) >= 3


def _utterances(events: list) -> list[tuple[float, float]]:
    return [(e.start_s, e.end_s) for e in events if isinstance(e, FinalTranscript)]


Streamed = dict[str, list]
"""Clip name -> the events of one stream."""

WIDEBAND_ON_LINE = dataclasses.replace(
    OPTIONS, narrowband_vad_threshold=0.5, narrowband_vad_neg_threshold=0.35
)
"""The wideband thresholds applied to 8 kHz streams: what phone calls had before."""


@pytest.fixture(scope="module")
def wide_events(line_clips: dict[str, tuple[np.ndarray, np.ndarray]]) -> Streamed:
    return {name: _stream(wide, WIDE, "pcm16")[1] for name, (wide, _) in line_clips.items()}


@pytest.fixture(scope="module")
def line_events(line_clips: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, Streamed]:
    """The line streams with the narrowband thresholds ("now") and with the wideband ones ("before")."""
    return {
        label: {
            name: _stream(line, PHONE_RATE, "mulaw", options)[1] for name, (_, line) in line_clips.items()
        }
        for label, options in (("now", OPTIONS), ("before", WIDEBAND_ON_LINE))
    }


def _corpus_cuts(wide: Streamed, line: Streamed) -> tuple[int, int, float]:
    """Over all clips: utterances on the wideband original, utterances on the 8 kHz line, and the
    share of wideband speech time (onset to end) the line's utterances also cover."""
    wide_n = line_n = 0
    covered = total = 0.0
    for name in wide:
        w, n = _utterances(wide[name]), _utterances(line[name])
        wide_n, line_n = wide_n + len(w), line_n + len(n)
        for ws, we in w:
            total += we - ws
            covered += sum(max(0.0, min(we, ne) - max(ws, ns)) for ns, ne in n)
    return wide_n, line_n, covered / total


def test_on_a_phone_line_the_corpus_splits_into_the_same_utterances(
    wide_events: Streamed, line_events: dict[str, Streamed]
) -> None:
    wide_n, line_n, covered = _corpus_cuts(wide_events, line_events["now"])
    # Measured: 21 utterances on both, 0.98 of the wideband speech time covered; margins leave room.
    assert abs(line_n - wide_n) <= 2, (wide_n, line_n)
    assert covered >= 0.95
    # The wideband thresholds on the line split sentences and cut into words (measured: 23
    # utterances, 0.92 covered): what the narrowband settings are for.
    _, old_n, old_covered = _corpus_cuts(wide_events, line_events["before"])
    assert old_n > line_n or old_covered < covered - 0.03, (old_n, line_n, old_covered, covered)


def test_speech_starts_on_the_line_where_it_starts_on_the_original(
    wide_events: Streamed, line_events: dict[str, Streamed]
) -> None:
    # A late onset loses the first word ("ask not" heard as "not"): compare onsets clip by clip.
    late = []
    for name, events in wide_events.items():
        w = [e.t_s for e in events if isinstance(e, SpeechStarted)]
        n = [e.t_s for e in line_events["now"][name] if isinstance(e, SpeechStarted)]
        late += [min(abs(t - x) for x in n) for t in w if n]
    # Measured: median 0.0 s, 90th percentile 0.03 s (0.03 s and 0.19 s at the wideband thresholds).
    assert np.median(late) <= 0.05 and np.percentile(late, 90) <= 0.15, late


def test_narrowband_vad_frames_agree_with_wideband_ones(
    line_clips: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    o = AsrOptions()
    agree = []
    for wide, line in line_clips.values():
        pw = np.array(StreamingVad().push(wide))
        pn = np.array(StreamingVad().push(resample(line, PHONE_RATE, WIDE)[: len(wide)]))
        n = min(len(pw), len(pn))
        agree.append((pn[:n] >= o.narrowband_vad_threshold) == (pw[:n] >= o.vad_threshold))
    # Measured 0.974 over the corpus (0.888 at the wideband threshold).
    assert np.mean(np.concatenate(agree)) >= 0.95


def test_narrowband_thresholds_are_checked() -> None:
    with pytest.raises(ValueError, match="narrowband"):
        AsrOptions(narrowband_vad_threshold=0.2, narrowband_vad_neg_threshold=0.3)
