"""Asterisk AudioSocket: a call's audio over plain TCP, from the dialplan's ``AudioSocket(uuid,host:port)``
application or a ``Dial(AudioSocket/host:port/uuid)`` channel.

Every message is a 3-byte header, kind (1 byte) and payload length (uint16, big-endian), then the
payload:

- 0x00 hangup (no payload): the call is over (either side may send it);
- 0x01 UUID (16 bytes): the call's id, the first message Asterisk sends;
- 0x03 DTMF (1 byte, ASCII): a key the caller pressed;
- 0x10 audio: signed linear 16-bit little-endian, 8 kHz, mono (20 ms = 320 bytes), both ways;
- 0xff error (optional 1-byte code): Asterisk reports a failure; the call is over.

Asterisk plays the audio it receives as it arrives, so the bot's voice is sent paced at real time
in 20 ms frames; on barge-in the audio not yet sent is dropped. Pure framing here;
transport/audiosocket_server.py runs the TCP server and joins each connection to a call session.
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

KIND_HANGUP = 0x00
KIND_UUID = 0x01
KIND_DTMF = 0x03
KIND_AUDIO = 0x10
KIND_ERROR = 0xFF
KINDS = {KIND_HANGUP, KIND_UUID, KIND_DTMF, KIND_AUDIO, KIND_ERROR}
SAMPLE_RATE = 8000
FRAME_BYTES = 320
"""20 ms of 8 kHz signed linear 16-bit audio."""
HEADER = struct.Struct(">BH")


class AudioSocketError(ValueError):
    """A byte stream that is not AudioSocket; the text says what was wrong."""


@dataclass(frozen=True)
class Message:
    kind: int
    payload: bytes = b""

    @property
    def call_uuid(self) -> str:
        if self.kind != KIND_UUID or len(self.payload) != 16:
            raise AudioSocketError(f"a UUID message carries 16 bytes, got {len(self.payload)}")
        return str(uuid.UUID(bytes=self.payload))

    @property
    def digit(self) -> str:
        digit = self.payload[:1].decode("ascii", "replace").upper()
        if len(self.payload) != 1 or digit not in "0123456789*#ABCD":
            raise AudioSocketError(f"a DTMF message carries one key 0-9 * # A-D, got {self.payload!r}")
        return digit


def encode(kind: int, payload: bytes = b"") -> bytes:
    if len(payload) > 0xFFFF:
        raise AudioSocketError(f"payload of {len(payload)} bytes is over 65535")
    return HEADER.pack(kind, len(payload)) + payload


def uuid_message(call_uuid: str) -> bytes:
    return encode(KIND_UUID, uuid.UUID(call_uuid).bytes)


def audio_frames(pcm: bytes) -> list[bytes]:
    """Signed linear audio as 20 ms audio messages (the last padded with silence)."""
    out = []
    for i in range(0, len(pcm), FRAME_BYTES):
        frame = pcm[i : i + FRAME_BYTES]
        out.append(encode(KIND_AUDIO, frame + b"\x00" * (FRAME_BYTES - len(frame))))
    return out


class Reader:
    """Incremental parser: feed bytes as they arrive, get whole messages."""

    def __init__(self, max_payload: int = 0xFFFF) -> None:
        self.buffer = bytearray()
        self.max_payload = max_payload

    def feed(self, data: bytes) -> list[Message]:
        self.buffer += data
        out = []
        while len(self.buffer) >= HEADER.size:
            kind, length = HEADER.unpack_from(self.buffer)
            if kind not in KINDS:
                raise AudioSocketError(f"unknown message kind 0x{kind:02x}")
            if kind == KIND_AUDIO and length % 2:
                raise AudioSocketError(f"audio payload of odd length {length}: not 16-bit samples")
            if length > self.max_payload:
                raise AudioSocketError(f"payload of {length} bytes is over {self.max_payload}")
            if len(self.buffer) < HEADER.size + length:
                break
            out.append(Message(kind, bytes(self.buffer[HEADER.size : HEADER.size + length])))
            del self.buffer[: HEADER.size + length]
        return out
