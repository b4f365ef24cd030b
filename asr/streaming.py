"""Live recognition of one call: audio chunks in, speech / partial / final events out.

``feed`` is synchronous and meant to run in a worker thread: it runs the VAD on every 32 ms frame
and, at most once per call, a Whisper decode. Decodes are throttled (one partial per
``min_decode_interval_s`` of audio, longer when decodes are slow) so the stream keeps up in real
time, and the final decode starts speculatively after ``speculative_ms`` of silence: when the
end-of-speech silence is reached the final is usually ready, so the end-of-speech -> final
latency is about the configured silence. Speech that resumes discards the speculative decode.
"""

from __future__ import annotations

import logging
from collections import deque
from concurrent.futures import Future
from typing import TYPE_CHECKING, Literal

import numpy as np

from asr.agreement import LocalAgreement
from asr.decoder import SAMPLE_RATE, Hypothesis, WhisperDecoder
from asr.endpoint import Endpointer, EndpointEvent
from asr.options import AsrOptions
from asr.scheduler import DecodeScheduler, Kind
from asr.text import join_units, split_units
from asr.turn_end import end_of_speech_s, judge
from asr.vad import FRAME, StreamingVad
from core.codec import AudioFormatError, decode_frame
from core.events import (
    AsrEvent,
    FinalTranscript,
    PartialTranscript,
    SpeechStarted,
    SpeechStopped,
    TranscriptSegment,
)

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

log = logging.getLogger(__name__)

_SPLIT_SEARCH_S = 3.0
"""How far back a too-long utterance looks for its quietest frame to cut at."""


class StreamingTranscriber:
    """Streaming speech recognition for one call (create one per call; not thread-safe)."""

    def __init__(
        self,
        model: WhisperModel | WhisperDecoder,
        options: AsrOptions | None = None,
        sample_rate: int = SAMPLE_RATE,
        encoding: Literal["pcm16", "mulaw"] = "pcm16",
        scheduler: DecodeScheduler | None = None,
    ) -> None:
        """scheduler: the service's shared decode queue (finals first, partials only with spare
        capacity, finals of several calls batched); None decodes in the calling thread."""
        self.options = options or AsrOptions()
        self._scheduler = scheduler
        if sample_rate not in (8000, 16000):
            raise ValueError(f"sample_rate {sample_rate} is not supported: stream 8000 or 16000 Hz audio.")
        if encoding == "mulaw" and sample_rate != 8000:
            raise ValueError("mu-law streams are 8000 Hz telephone audio: pass sample_rate=8000.")
        self.sample_rate = sample_rate
        self.encoding = encoding
        self._decoder = model if isinstance(model, WhisperDecoder) else WhisperDecoder(model, self.options)
        self._resampler = None
        if sample_rate != SAMPLE_RATE:
            import soxr

            self._resampler = soxr.ResampleStream(sample_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        self._vad = StreamingVad()
        o = self.options
        # An 8 kHz stream is a phone line: narrowband speech scores lower (AsrOptions).
        narrow = sample_rate == 8000
        self._endpointer = Endpointer(
            threshold=o.narrowband_vad_threshold if narrow else o.vad_threshold,
            neg_threshold=o.narrowband_vad_neg_threshold if narrow else o.vad_neg_threshold,
            frame_s=FRAME / SAMPLE_RATE,
            start_frames=max(1, round(o.speech_start_ms / 1000 * SAMPLE_RATE / FRAME)),
            speculative_s=o.speculative_ms / 1000,
            end_s=o.end_of_speech_ms / 1000,
        )
        self._agreement = LocalAgreement()
        self._buf = np.zeros(0, dtype=np.float32)
        self._buf_start = 0  # absolute 16 kHz sample index of _buf[0]
        self._vad_pos = 0  # samples handed to the VAD so far
        self._odd_byte = b""
        self._utt_start: int | None = None  # absolute sample where the utterance audio begins
        self._onset_s = 0.0
        self._last_partial_at = -1
        self._partial_interval_s = o.min_decode_interval_s
        self._partial_language: str | None = None
        self._last_partial_text = ""
        self._speculative: tuple[float, Future[Hypothesis]] | None = None
        self._judged = False
        """Whether the speculative hypothesis has set this pause's end-of-speech silence yet."""
        self._finished = False
        self._frames = 0  # VAD frames seen; frame i covers 16 kHz samples [i * FRAME, (i + 1) * FRAME)
        recent = int(_SPLIT_SEARCH_S * SAMPLE_RATE / FRAME)
        self._recent_probs: deque[tuple[int, float]] = deque(maxlen=recent)

    # --- public ----------------------------------------------------------------------------------

    @property
    def time_s(self) -> float:
        """Seconds of call audio received so far."""
        return (self._buf_start + len(self._buf)) / SAMPLE_RATE

    def feed(self, chunk: bytes) -> list[AsrEvent]:
        """Feed encoded audio (any length; 20 ms and up is typical) and get the events it caused."""
        if self._finished:
            raise RuntimeError("this call's transcriber is finished: create a new StreamingTranscriber.")
        data = self._odd_byte + bytes(chunk)
        if self.encoding == "pcm16" and len(data) % 2:
            data, self._odd_byte = data[:-1], data[-1:]
        else:
            self._odd_byte = b""
        try:
            samples = decode_frame(data, self.encoding)
        except AudioFormatError as e:
            raise ValueError(f"cannot decode audio chunk: {e}") from e
        return self.feed_samples(samples)

    def feed_samples(self, samples: np.ndarray) -> list[AsrEvent]:
        """Feed float32 samples at the stream's sample rate."""
        samples = np.asarray(samples, dtype=np.float32)
        if self._resampler is not None:
            samples = np.asarray(self._resampler.resample_chunk(samples), dtype=np.float32)
        self._buf = np.concatenate([self._buf, samples])
        return self._process()

    def finish(self) -> list[AsrEvent]:
        """The call ended: close any utterance in progress and return the last events."""
        if self._finished:
            return []
        events: list[AsrEvent] = []
        if self._resampler is not None:
            tail = np.asarray(self._resampler.resample_chunk(np.zeros(0, np.float32), last=True), np.float32)
            self._buf = np.concatenate([self._buf, tail])
        events += self._process()
        self._finished = True
        if self._utt_start is not None:
            end_s = self._endpointer.speech_end_s if not self._endpointer.in_speech else self.time_s
            events.append(SpeechStopped(end_s))
            events.append(self._final(end_s))
        return events

    # --- internals -------------------------------------------------------------------------------

    def _process(self) -> list[AsrEvent]:
        events: list[AsrEvent] = []
        end = self._buf_start + len(self._buf)
        new = self._buf[self._vad_pos - self._buf_start : end - self._buf_start]
        self._vad_pos = end
        for prob in self._vad.push(new):
            self._judge_pause()
            self._recent_probs.append((self._frames, prob))
            self._frames += 1
            event = self._endpointer.update(prob)
            if event is not None:
                events += self._on_endpoint(event)
        if self._utt_start is not None:
            events += self._maybe_split_long_utterance()
            events += self._maybe_partial()
        self._trim()
        return events

    def _judge_pause(self) -> None:
        """Once the speculative decode of a pause is ready, let its words set how long this pause
        must last to end the turn (asr/turn_end.py)."""
        o = self.options
        if not o.adaptive_end or self._judged or self._speculative is None:
            return
        future = self._speculative[1]
        if not future.done() or future.cancelled() or future.exception() is not None:
            return
        hyp = future.result()
        verdict = judge(hyp.text, hyp.language)
        self._endpointer.set_end_s(
            end_of_speech_s(
                verdict,
                o.end_of_speech_ms / 1000,
                o.end_of_speech_complete_ms / 1000,
                o.end_of_speech_incomplete_ms / 1000,
            )
        )
        self._judged = True

    def _on_endpoint(self, event: EndpointEvent) -> list[AsrEvent]:
        o = self.options
        if event.kind == "start":
            self._onset_s = event.t_s
            pre = int(event.t_s * SAMPLE_RATE) - o.pre_speech_ms * SAMPLE_RATE // 1000
            self._utt_start = max(pre, self._buf_start, 0)
            self._agreement.reset()
            self._partial_language = None
            self._last_partial_text = ""
            self._last_partial_at = -1  # none yet: the first comes once first_partial_s of speech is in
            self._speculative = None
            return [SpeechStarted(event.t_s)]
        if self._utt_start is None:
            return []
        if event.kind == "pause":
            # Decode now what the final would decode; audio up to end + post_speech_ms is here.
            # With a scheduler this does not block: voice activity goes on while it decodes.
            self._speculative = (event.t_s, self._submit_final(event.t_s, "speculative"))
            self._judged = False
            self._judge_pause()  # decoded in this thread: judge at once
            return []
        if event.kind == "resume":
            if self._speculative is not None:
                self._speculative[1].cancel()  # not started yet: nobody decodes it
            self._speculative = None
            return []
        return [SpeechStopped(event.t_s), self._final(event.t_s)]

    def _utterance_audio(self, end_sample: int) -> np.ndarray:
        assert self._utt_start is not None
        lo = self._utt_start - self._buf_start
        hi = min(end_sample, self._buf_start + len(self._buf)) - self._buf_start
        return self._buf[lo:hi]

    def _decode(self, kind: Kind, audio: np.ndarray, **kwargs: object) -> Future[Hypothesis]:
        if self._scheduler is not None:
            return self._scheduler.submit(kind, audio, **kwargs)
        done: Future[Hypothesis] = Future()
        done.set_result(self._decoder.decode(audio, **kwargs))  # type: ignore[arg-type]
        return done

    def _submit_final(self, speech_end_s: float, kind: Kind = "final") -> Future[Hypothesis]:
        end = int(speech_end_s * SAMPLE_RATE) + self.options.post_speech_ms * SAMPLE_RATE // 1000
        return self._decode(
            kind,
            self._utterance_audio(end).copy(),
            beam_size=self.options.beam_size,
            temperatures=self.options.temperatures,
        )

    def _final(self, speech_end_s: float) -> FinalTranscript:
        spec = self._speculative
        if spec is not None and abs(spec[0] - speech_end_s) < 1e-9 and not spec[1].cancelled():
            hyp = spec[1].result()
        else:
            hyp = self._submit_final(speech_end_s).result()
        start_s = self._onset_s
        self._utt_start = None
        self._speculative = None
        self._agreement.reset()
        segments = (TranscriptSegment(start_s, speech_end_s, hyp.text, hyp.confidence),) if hyp.text else ()
        return FinalTranscript(hyp.text, hyp.language, start_s, speech_end_s, segments, hyp.confidence)

    def _maybe_split_long_utterance(self) -> list[AsrEvent]:
        assert self._utt_start is not None
        now = self._buf_start + len(self._buf)
        if (now - self._utt_start) / SAMPLE_RATE < self.options.max_utterance_s:
            return []
        # Whisper sees at most 30 s: finalise up to the quietest recent frame (likely a gap between
        # words) and go on with a new utterance from there.
        lo, hi = self._utt_start + SAMPLE_RATE, now - SAMPLE_RATE // 5
        candidates = [(p, -i) for i, p in self._recent_probs if lo <= i * FRAME and (i + 1) * FRAME <= hi]
        cut = (-min(candidates)[1]) * FRAME + FRAME // 2 if candidates else now
        hyp = self._decode(
            "final",
            self._utterance_audio(cut).copy(),
            beam_size=self.options.beam_size,
            temperatures=self.options.temperatures,
        ).result()
        start_s, end_s = self._onset_s, cut / SAMPLE_RATE
        segments = (TranscriptSegment(start_s, end_s, hyp.text, hyp.confidence),) if hyp.text else ()
        self._utt_start = cut
        self._onset_s = end_s
        self._agreement.reset()
        self._partial_language = None
        self._last_partial_text = ""
        self._last_partial_at = -1
        self._speculative = None
        return [FinalTranscript(hyp.text, hyp.language, start_s, end_s, segments, hyp.confidence)]

    def _maybe_partial(self) -> list[AsrEvent]:
        assert self._utt_start is not None
        if self._speculative is not None or not self._endpointer.in_speech:
            return []  # trailing silence: the final is on its way, partials would only add delay
        o = self.options
        now = self._buf_start + len(self._buf)
        speech_s = now / SAMPLE_RATE - self._onset_s
        if speech_s < o.first_partial_s:
            return []
        since_last_s = (now - self._last_partial_at) / SAMPLE_RATE
        if self._last_partial_at >= 0 and since_last_s < self._partial_interval_s:
            return []
        committed = join_units(self._agreement.committed)
        kwargs = {
            "beam_size": o.partial_beam_size,
            "language": self._partial_language if self._agreement.committed else None,
            "prefix": committed,
        }
        if self._scheduler is None:
            hyp = self._decoder.decode(self._utterance_audio(now), **kwargs)  # type: ignore[arg-type]
        else:
            # Captions only with spare capacity: under load another caller's final goes first.
            pending = self._scheduler.try_partial(self._utterance_audio(now).copy(), source=self, **kwargs)
            if pending is None:
                self._last_partial_at = now
                return []
            hyp = pending.result()
        self._last_partial_at = now
        # Decodes slower than half the interval would fall behind real time: space them out.
        self._partial_interval_s = max(o.min_decode_interval_s, 2.0 * hyp.compute_s)
        if self._partial_language != hyp.language and not self._agreement.committed:
            self._agreement.reset()
        self._partial_language = hyp.language
        self._agreement.update(split_units(hyp.text))
        units = self._agreement.committed + self._agreement.tentative
        text = join_units(units)
        if not text or text == self._last_partial_text:
            return []
        self._last_partial_text = text
        return [
            PartialTranscript(
                text=text,
                committed_text=join_units(self._agreement.committed),
                start_s=self._onset_s,
                end_s=now / SAMPLE_RATE,
                language=hyp.language,
            )
        ]

    def _trim(self) -> None:
        """Keep only the audio an utterance can still need."""
        keep_from = self._vad_pos - self.options.pre_speech_ms * SAMPLE_RATE // 1000 - FRAME
        if self._utt_start is not None:
            keep_from = min(keep_from, self._utt_start)
        cut = keep_from - self._buf_start
        if cut > SAMPLE_RATE:  # trim in 1 s steps, not on every chunk
            self._buf = self._buf[cut:]
            self._buf_start += cut
