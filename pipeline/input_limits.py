"""Bounds on what a caller or client may send (docs/security.md "Input limits").

Pure checks, no I/O: the transports (caller WebSocket, the web page's data channel, uploads) call
them before anything reaches the shared stages, so one call can never tie up the sentence encoder
or the recogniser for everyone else. Each refusal is an ``InputRejected`` whose message says, in
Mandarin and English, what the limit is and which setting raises it.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass


class InputRejected(ValueError):
    """Input outside a documented limit; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 422, code: str = "limit") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class InputLimits:
    """The limits in force (built from Settings by ``limits_from_settings``)."""

    max_text_chars: int = 500
    """Longest typed caller turn, in characters (a spoken turn is far shorter)."""
    max_message_bytes: int = 64 * 1024
    """Largest single WebSocket / data channel message, text or binary."""
    max_upload_seconds: float = 900.0
    """Longest uploaded recording."""
    min_sample_rate: int = 8000
    max_sample_rate: int = 48000
    """Sample rates an upload may declare."""
    max_call_audio_s: float = 3600.0
    """Caller audio one call may send before the bot ends it; 0 means no limit."""
    max_text_turns_per_min: int = 20
    """Typed turns one call may send in any 60 s (a person types far fewer); 0 means no limit."""
    max_pending_text_turns: int = 2
    """Typed turns one call may have waiting behind the turn being understood."""


def limits_from_settings(settings: object) -> InputLimits:
    return InputLimits(
        max_text_chars=int(getattr(settings, "max_text_turn_chars", 500)),
        max_message_bytes=int(getattr(settings, "max_message_kb", 64)) * 1024,
        max_upload_seconds=float(getattr(settings, "max_upload_seconds", 900.0)),
        min_sample_rate=int(getattr(settings, "upload_min_sample_rate", 8000)),
        max_sample_rate=int(getattr(settings, "upload_max_sample_rate", 48000)),
        max_call_audio_s=float(getattr(settings, "max_call_audio_s", 3600.0)),
        max_text_turns_per_min=int(getattr(settings, "max_text_turns_per_min", 20)),
    )


def check_text_turn(text: object, limits: InputLimits) -> str:
    """The stripped text of a typed turn, or InputRejected when it is not text or too long."""
    if not isinstance(text, str):
        raise InputRejected("文字轮次需要 text 字符串。A text turn needs 'text', a string.", code="bad_text")
    if len(text) > limits.max_text_chars:
        raise InputRejected(
            f"文字太长：{len(text)} 个字符，上限 {limits.max_text_chars}（TRIAGE_MAX_TEXT_TURN_CHARS）。"
            f"Text turn too long: {len(text)} characters, the limit is {limits.max_text_chars} "
            "(TRIAGE_MAX_TEXT_TURN_CHARS); say it in shorter turns.",
            status=413,
            code="text_too_long",
        )
    return text.strip()


class TurnRate:
    """One call's budget of typed turns: at most ``max_text_turns_per_min`` in any 60 s and at most
    ``max_pending_text_turns`` waiting. Each call's turns are understood one at a time, so with this
    bound no call can queue more than a few encoder runs ahead of everyone else's."""

    WINDOW_S = 60.0

    def __init__(self, limits: InputLimits) -> None:
        self.limits = limits
        self.times: list[float] = []

    def check(self, now: float, pending: int) -> None:
        """Count a typed turn arriving at ``now`` (monotonic seconds) with ``pending`` turns already
        waiting, or raise InputRejected (429) without counting it."""
        per_min = self.limits.max_text_turns_per_min
        self.times = [t for t in self.times if now - t < self.WINDOW_S]
        if pending >= self.limits.max_pending_text_turns or (per_min and len(self.times) >= per_min):
            raise InputRejected(
                f"发送太快：每分钟最多 {per_min} 条文字，且须等上一条处理完"
                "（TRIAGE_MAX_TEXT_TURNS_PER_MIN）。"
                f"Typing too fast: at most {per_min} typed turns a minute, and wait for the answer to "
                "the last one (TRIAGE_MAX_TEXT_TURNS_PER_MIN).",
                status=429,
                code="too_fast",
            )
        self.times.append(now)


def check_message_size(size: int, limits: InputLimits) -> None:
    if size > limits.max_message_bytes:
        raise InputRejected(
            f"消息太大：{size} 字节，上限 {limits.max_message_bytes}（TRIAGE_MAX_MESSAGE_KB）。"
            f"Message too large: {size} bytes, the limit is {limits.max_message_bytes} bytes "
            "(TRIAGE_MAX_MESSAGE_KB); send audio in frames of 20-200 ms.",
            status=413,
            code="message_too_large",
        )


def check_rating(value: object) -> int:
    """A 1..5 rating from a JSON value: whole numbers only (1, 3.0, "4"); never OverflowError on 1e400."""
    number: float
    if isinstance(value, bool) or value is None:
        number = math.nan
    elif isinstance(value, int | float):
        number = float(value) if not isinstance(value, int) or abs(value) < 10**6 else math.inf
    elif isinstance(value, str) and len(value) <= 16:
        try:
            number = float(value.strip())
        except ValueError:
            number = math.nan
    else:
        number = math.nan
    if not math.isfinite(number) or number != int(number) or not 1 <= number <= 5:
        raise InputRejected(
            f"评分须为 1 到 5 的整数，收到 {str(value)[:20]!r}。A rating is a whole number from 1 to 5, "
            f"got {str(value)[:20]!r}.",
            code="bad_rating",
        )
    return int(number)


def wav_header(data: bytes) -> tuple[int, float] | None:
    """(declared sample rate, seconds of audio actually present) of a RIFF/WAVE file, or None when
    it is not one or has no fmt chunk. Reads the header only: no decoding, no resampling."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos, rate, block_align = 12, 0, 0
    while pos + 8 <= len(data):
        chunk, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        body = pos + 8
        if chunk == b"fmt " and size >= 16 and body + 16 <= len(data):
            _, _, rate, _, block_align = struct.unpack("<HHIIH", data[body : body + 14])
        elif chunk == b"data" and rate:
            present = min(size, len(data) - body)
            return rate, present / max(block_align, 1) / rate
        pos = body + size + (size & 1)
    return (rate, 0.0) if rate else None


def check_upload_audio(rate: int | None, seconds: float | None, limits: InputLimits) -> None:
    """Refuse a recording whose declared rate or length is outside the limits, before decoding it."""
    if rate is not None and not limits.min_sample_rate <= rate <= limits.max_sample_rate:
        raise InputRejected(
            f"采样率 {rate} Hz 不受支持：须在 {limits.min_sample_rate}-{limits.max_sample_rate} Hz 之间。"
            f"Sample rate {rate} Hz is not accepted: send {limits.min_sample_rate} to "
            f"{limits.max_sample_rate} Hz audio (TRIAGE_UPLOAD_MIN_SAMPLE_RATE / _MAX_SAMPLE_RATE).",
            code="bad_sample_rate",
        )
    if seconds is not None and seconds > limits.max_upload_seconds:
        raise InputRejected(
            f"录音太长：{seconds:.0f} 秒，上限 {limits.max_upload_seconds:.0f} 秒。"
            f"Recording too long: {seconds:.0f} s, the limit is {limits.max_upload_seconds:.0f} s "
            "(TRIAGE_MAX_UPLOAD_SECONDS).",
            status=413,
            code="upload_too_long",
        )
