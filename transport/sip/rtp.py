"""RTP for one call (RFC 3550): packets, a small jitter buffer, keypad digits (RFC 4733) and the
paced sender.

Outbound audio is queued as codec bytes (G.711: one byte per sample at 8 kHz) and leaves in 20 ms
packets at real-time pace; when nothing is queued the line carries G.711 silence, so the far end's
jitter buffer and NAT bindings stay alive. ``clear`` drops what is queued (barge-in). Inbound
packets are put back in sequence order by a jitter buffer a few packets deep before their payload
reaches the call; telephone-event packets become digits once, however many end packets arrive.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import struct
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

FRAME_MS = 20
FRAME_BYTES = 160
"""One 20 ms G.711 frame at 8 kHz."""
DTMF_DIGITS = "0123456789*#ABCD"
_RESYNC_BEHIND_S = 0.2
_STALE_S = 0.1
"""Packets held this long in the jitter buffer are released even with a gap before them."""


class RtpError(ValueError):
    """A datagram that is not an RTP packet."""


@dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False

    def to_bytes(self) -> bytes:
        head = struct.pack(
            "!BBHII",
            0x80,
            (0x80 if self.marker else 0) | (self.payload_type & 0x7F),
            self.sequence & 0xFFFF,
            self.timestamp & 0xFFFFFFFF,
            self.ssrc & 0xFFFFFFFF,
        )
        return head + self.payload


def parse_rtp(data: bytes) -> RtpPacket:
    if len(data) < 12:
        raise RtpError("shorter than an RTP header")
    if data[0] >> 6 != 2:
        raise RtpError("not RTP version 2")
    count = data[0] & 0x0F
    offset = 12 + 4 * count
    if data[0] & 0x10:  # header extension
        if len(data) < offset + 4:
            raise RtpError("truncated header extension")
        (words,) = struct.unpack("!H", data[offset + 2 : offset + 4])
        offset += 4 + 4 * words
    end = len(data)
    if data[0] & 0x20:  # padding: the last byte counts it
        end -= data[-1]
    if offset > end:
        raise RtpError("header longer than the packet")
    sequence, timestamp, ssrc = struct.unpack("!HII", data[2:12])
    return RtpPacket(data[1] & 0x7F, sequence, timestamp, ssrc, bytes(data[offset:end]), bool(data[1] & 0x80))


def _seq_delta(a: int, b: int) -> int:
    """a - b in sequence-number space (16-bit wrap)."""
    return ((a - b + 0x8000) & 0xFFFF) - 0x8000


class JitterBuffer:
    """Releases packets in sequence order; waits for a missing one while fewer than ``depth``
    packets are held after it (then it is counted lost and skipped). Late and duplicate packets
    are dropped."""

    def __init__(self, depth: int = 3) -> None:
        self.depth = depth
        self._held: dict[int, tuple[RtpPacket, float]] = {}
        self._next: int | None = None
        self.lost = 0
        self.late = 0

    def push(self, packet: RtpPacket, now: float | None = None) -> list[RtpPacket]:
        now = time.monotonic() if now is None else now
        seq = packet.sequence
        if self._next is None or abs(_seq_delta(seq, self._next)) > 1000:
            self._next, self._held = seq, {}  # first packet, or the sender restarted its numbering
        if _seq_delta(seq, self._next) < 0 or seq in self._held:
            self.late += 1
            return []
        self._held[seq] = (packet, now)
        return self._release(now)

    def release_stale(self, now: float | None = None) -> list[RtpPacket]:
        """Packets waiting too long behind a gap (the sender paused): call periodically."""
        return self._release(time.monotonic() if now is None else now)

    def _release(self, now: float) -> list[RtpPacket]:
        out: list[RtpPacket] = []
        while self._held and self._next is not None:
            if self._next in self._held:
                out.append(self._held.pop(self._next)[0])
                self._next = (self._next + 1) & 0xFFFF
                continue
            oldest = min(arrived for _, arrived in self._held.values())
            if len(self._held) < self.depth and now - oldest < _STALE_S:
                break
            following = min(self._held, key=lambda s: _seq_delta(s, self._next or 0))
            self.lost += _seq_delta(following, self._next)
            self._next = following
        return out


class DtmfReceiver:
    """RFC 4733 telephone-event payloads -> digits, each reported once.

    A digit is reported at its first end packet (senders repeat the end packet three times); an
    event whose end packets were all lost is reported when the next event starts.
    """

    def __init__(self) -> None:
        self._done: deque[int] = deque(maxlen=32)
        self._pending: tuple[int, str] | None = None

    def push(self, packet: RtpPacket) -> list[str]:
        if len(packet.payload) < 4:
            return []
        event, flags = packet.payload[0], packet.payload[1]
        if event >= len(DTMF_DIGITS) or packet.timestamp in self._done:
            return []
        digits: list[str] = []
        if self._pending and self._pending[0] != packet.timestamp:
            self._done.append(self._pending[0])
            digits.append(self._pending[1])
        self._pending = None
        if flags & 0x80:
            self._done.append(packet.timestamp)
            digits.append(DTMF_DIGITS[event])
        else:
            self._pending = (packet.timestamp, DTMF_DIGITS[event])
        return digits


class RtpStream(asyncio.DatagramProtocol):
    """One call's RTP socket: paced G.711 out, ordered payloads and digits in."""

    def __init__(
        self,
        payload_type: int,
        silence_byte: int,
        on_payload: Callable[[bytes], Awaitable[None]],
        on_digit: Callable[[str], Awaitable[None]],
        dtmf_payload_type: int | None = None,
    ) -> None:
        self.payload_type = payload_type
        self.dtmf_payload_type = dtmf_payload_type
        self._silence = bytes([silence_byte]) * FRAME_BYTES
        self._on_payload, self._on_digit = on_payload, on_digit
        self.remote: tuple[str, int] | None = None
        self._latched = False
        self._transport: asyncio.DatagramTransport | None = None
        self._queue = bytearray()
        self.drained = asyncio.Event()
        self.drained.set()
        self.jitter = JitterBuffer()
        self.dtmf = DtmfReceiver()
        self._inbound: asyncio.Queue[bytes | str] = asyncio.Queue(maxsize=500)
        self._ssrc = secrets.randbits(32)
        self._seq = random.randrange(0x10000)
        self._ts = secrets.randbits(32)
        self._talking = False
        self._tasks: list[asyncio.Task[None]] = []
        self.received_packets = 0
        self.bad_packets = 0

    # --- socket -------------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            packet = parse_rtp(data)
        except RtpError:
            self.bad_packets += 1
            return
        if not self._latched:  # symmetric RTP: answer where the audio really comes from (NAT)
            self.remote, self._latched = (addr[0], addr[1]), True
        elif (addr[0], addr[1]) != self.remote:
            self.bad_packets += 1  # another sender on our port: never mixed into the call
            return
        self.received_packets += 1
        if packet.payload_type == self.payload_type:
            for ready in self.jitter.push(packet):
                self._deliver(ready.payload)
        elif self.dtmf_payload_type is not None and packet.payload_type == self.dtmf_payload_type:
            for digit in self.dtmf.push(packet):
                self._deliver(digit)

    def _deliver(self, item: bytes | str) -> None:
        try:
            self._inbound.put_nowait(item)
        except asyncio.QueueFull:
            log.warning("RTP: the call is not keeping up; dropping inbound audio")

    def set_silence(self, silence_byte: int) -> None:
        self._silence = bytes([silence_byte]) * FRAME_BYTES

    # --- lifecycle ------------------------------------------------------------------------------
    @property
    def local_port(self) -> int:
        assert self._transport is not None
        return int(self._transport.get_extra_info("sockname")[1])

    def start(self, remote: tuple[str, int]) -> None:
        """Start sending to ``remote`` (the SDP address, until packets arrive from elsewhere)."""
        if not self._latched:
            self.remote = remote
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._send_loop()), asyncio.create_task(self._read_loop())]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = []
        if self._transport is not None:
            self._transport.close()
        self.drained.set()

    # --- outbound ---------------------------------------------------------------------------------
    def push(self, data: bytes) -> None:
        self._queue += data
        if self._queue:
            self.drained.clear()

    def clear(self) -> float:
        dropped = len(self._queue) / 8000
        self._queue.clear()
        self.drained.set()
        return dropped

    async def drain(self, timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drained.wait(), timeout_s)

    async def _send_loop(self) -> None:
        start, frames = time.monotonic(), 0
        while True:
            wait = start + frames * FRAME_MS / 1000 - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            elif wait < -_RESYNC_BEHIND_S:
                start = time.monotonic() - frames * FRAME_MS / 1000
            frames += 1
            chunk = bytes(self._queue[:FRAME_BYTES])
            del self._queue[:FRAME_BYTES]
            if not self._queue:
                self.drained.set()
            marker = bool(chunk) and not self._talking
            self._talking = bool(chunk)
            chunk += self._silence[len(chunk) :]
            if self._transport is not None and self.remote is not None:
                packet = RtpPacket(self.payload_type, self._seq, self._ts, self._ssrc, chunk, marker)
                self._transport.sendto(packet.to_bytes(), self.remote)
            self._seq = (self._seq + 1) & 0xFFFF
            self._ts = (self._ts + FRAME_BYTES) & 0xFFFFFFFF
            for ready in self.jitter.release_stale():
                self._deliver(ready.payload)

    async def _read_loop(self) -> None:
        while True:
            item = await self._inbound.get()
            try:
                if isinstance(item, str):
                    await self._on_digit(item)
                else:
                    await self._on_payload(item)
            except Exception:
                log.exception("RTP: the call failed to take inbound media")


async def open_stream(
    make: Callable[[], RtpStream], host: str, port_min: int, port_max: int, tries: int = 50
) -> RtpStream:
    """Bind a new stream to a free even port in [port_min, port_max] (0/0: any free port)."""
    loop = asyncio.get_running_loop()
    if port_min == 0:
        _, stream = await loop.create_datagram_endpoint(make, local_addr=(host, 0))
        return stream
    span = max((port_max - port_min) // 2, 1)
    first = random.randrange(span)
    for i in range(min(tries, span)):
        port = port_min + 2 * ((first + i) % span)
        try:
            _, stream = await loop.create_datagram_endpoint(make, local_addr=(host, port))
            return stream
        except OSError:
            continue
    raise OSError(f"no free RTP port in {port_min}-{port_max}")
