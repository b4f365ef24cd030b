"""A stand-in for Twilio's side of a bidirectional Media Stream (TwiML <Connect><Stream>), written
from Twilio's published message formats (twilio.com/docs/voice/media-streams/websocket-messages),
not from the service's code.

It sends connected, start (with customParameters), media (base64 mu-law 8 kHz, 20 ms, with
sequenceNumber, chunk and timestamp), dtmf and stop; it "plays" the media the server sends at real
time and echoes each mark once the audio sent before it has played, or at once when the server
sends clear (which also drops the unplayed audio), as Twilio does.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from websockets.sync.client import connect


@dataclass
class Heard:
    at: float
    mulaw: bytes


@dataclass
class TwilioStream:
    url: str
    parameters: dict[str, str] = field(default_factory=dict)
    stream_sid: str = field(default_factory=lambda: "MZ" + uuid.uuid4().hex)
    call_sid: str = field(default_factory=lambda: "CA" + uuid.uuid4().hex)

    def __post_init__(self) -> None:
        self.ws = connect(self.url, max_size=None, open_timeout=10)
        self.seq = 0
        self.chunk = 0
        self.started = time.monotonic()
        self.heard: list[Heard] = []
        self.messages: list[tuple[float, dict[str, Any]]] = []
        self.clears: list[float] = []
        self.echoed: list[str] = []
        self._pending: list[tuple[float, str]] = []  # (plays out at, mark name)
        self._play_end = 0.0
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        self._send(
            {
                "event": "start",
                "sequenceNumber": self._next(),
                "start": {
                    "accountSid": "AC" + "0" * 32,
                    "streamSid": self.stream_sid,
                    "callSid": self.call_sid,
                    "tracks": ["inbound"],
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                    "customParameters": self.parameters,
                },
                "streamSid": self.stream_sid,
            }
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._marker = threading.Thread(target=self._echo_marks, daemon=True)
        self._marker.start()

    def _next(self) -> str:
        self.seq += 1
        return str(self.seq)

    def _send(self, message: dict[str, Any]) -> None:
        with self._send_lock:
            self.ws.send(json.dumps(message))

    def _read(self) -> None:
        try:
            for raw in self.ws:
                msg = json.loads(raw)
                now = time.monotonic()
                with self._lock:
                    self.messages.append((now, msg))
                    assert msg.get("streamSid") == self.stream_sid, msg
                    if msg["event"] == "media":
                        audio = base64.b64decode(msg["media"]["payload"])
                        self.heard.append(Heard(now, audio))
                        self._play_end = max(self._play_end, now) + len(audio) / 8000
                    elif msg["event"] == "mark":
                        self._pending.append((self._play_end, msg["mark"]["name"]))
                    elif msg["event"] == "clear":
                        self.clears.append(now)
                        self._play_end = now  # the unplayed audio is dropped
                        for _, name in self._pending:
                            self._echo(name)
                        self._pending.clear()
        except Exception:
            pass

    def _echo(self, name: str) -> None:
        self.echoed.append(name)
        self._send(
            {
                "event": "mark",
                "sequenceNumber": self._next(),
                "streamSid": self.stream_sid,
                "mark": {"name": name},
            }
        )

    def _echo_marks(self) -> None:
        while True:
            time.sleep(0.02)
            now = time.monotonic()
            with self._lock:
                due = [p for p in self._pending if p[0] <= now]
                self._pending = [p for p in self._pending if p[0] > now]
                try:
                    for _, name in due:
                        self._echo(name)
                except Exception:
                    return

    # --- the caller ------------------------------------------------------------------------------
    def send_media(self, mulaw: bytes, realtime: bool = True) -> None:
        """The caller's audio, as Twilio sends it: 20 ms frames at real-time pace."""
        t0 = time.monotonic()
        for i in range(0, len(mulaw), 160):
            self.chunk += 1
            self._send(
                {
                    "event": "media",
                    "sequenceNumber": self._next(),
                    "media": {
                        "track": "inbound",
                        "chunk": str(self.chunk),
                        "timestamp": str(int((time.monotonic() - self.started) * 1000)),
                        "payload": base64.b64encode(mulaw[i : i + 160]).decode(),
                    },
                    "streamSid": self.stream_sid,
                }
            )
            if realtime:
                time.sleep(max(0.0, t0 + (i // 160 + 1) * 0.02 - time.monotonic()))

    def send_silence(self, seconds: float, realtime: bool = True) -> None:
        self.send_media(b"\xff" * int(8000 * seconds), realtime)

    def dtmf(self, digit: str) -> None:
        self._send(
            {
                "event": "dtmf",
                "streamSid": self.stream_sid,
                "sequenceNumber": self._next(),
                "dtmf": {"track": "inbound_track", "digit": digit},
            }
        )

    def stop(self) -> None:
        self._send(
            {
                "event": "stop",
                "sequenceNumber": self._next(),
                "stop": {"accountSid": "AC" + "0" * 32, "callSid": self.call_sid},
                "streamSid": self.stream_sid,
            }
        )
        self.ws.close()

    def audio_between(self, t0: float, t1: float = float("inf")) -> bytes:
        with self._lock:
            return b"".join(h.mulaw for h in self.heard if t0 <= h.at < t1)

    def events(self, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for _, m in self.messages if m["event"] == kind]

    def closed(self) -> bool:
        return not self._reader.is_alive()
