"""A caller client for the end-to-end benchmark and tests: speaks the caller WebSocket protocol."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.sync.client import ClientConnection, connect

FRAME_BYTES = 640  # 20 ms of 16 kHz PCM16


@dataclass
class Received:
    at: float
    event: dict[str, Any] | None = None
    audio: bytes = b""


@dataclass
class CallClient:
    """Connects, sends the start message, and records everything the service sends, timestamped."""

    url: str
    language: str = "en"
    caller_number: str | None = None
    received: list[Received] = field(default_factory=list)
    call_id: str = ""
    sample_rate: int = 16000
    encoding: str = "pcm16"
    """What the caller sends: 16 kHz PCM16, or 8 kHz 'mulaw' as a phone trunk does."""

    def __post_init__(self) -> None:
        self.ws: ClientConnection = connect(self.url, max_size=None, open_timeout=10)
        self._cond = threading.Condition()
        start: dict[str, Any] = {
            "type": "start",
            "sample_rate": self.sample_rate,
            "encoding": self.encoding,
            "language": self.language,
        }
        if self.caller_number:
            start["caller_number"] = self.caller_number
        self.ws.send(json.dumps(start))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        started = self.wait_for(lambda e: e["type"] == "started")
        self.call_id = started["call_id"]

    def _read(self) -> None:
        try:
            for message in self.ws:
                item = (
                    Received(time.monotonic(), audio=message)
                    if isinstance(message, bytes)
                    else Received(time.monotonic(), json.loads(message))
                )
                with self._cond:
                    self.received.append(item)
                    self._cond.notify_all()
        except Exception:
            pass
        finally:
            with self._cond:
                self._cond.notify_all()

    @property
    def frame_bytes(self) -> int:
        """20 ms of the caller's audio."""
        return self.sample_rate // 50 * (1 if self.encoding == "mulaw" else 2)

    def send_audio(self, pcm: bytes, realtime: bool = False) -> float:
        """Sends audio (in the call's encoding) in 20 ms frames; returns the wall time the last
        frame went out."""
        step = self.frame_bytes
        for i in range(0, len(pcm), step):
            self.ws.send(pcm[i : i + step])
            if realtime:
                time.sleep(0.02)
        return time.monotonic()

    def send_silence(self, seconds: float, realtime: bool = False) -> float:
        silence = b"\xff" if self.encoding == "mulaw" else b"\x00\x00"  # mu-law 0xFF is zero
        return self.send_audio(silence * int(self.sample_rate * seconds), realtime)

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        with self._cond:
            return [r.event for r in self.received if r.event and (kind is None or r.event["type"] == kind)]

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 60, after: int = 0
    ) -> dict[str, Any]:
        """The first event (from index ``after`` on) that satisfies ``predicate``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for r in self.received[after:]:
                    if r.event is not None and predicate(r.event):
                        return r.event
                left = deadline - time.monotonic()
                if left <= 0 or not self._reader.is_alive():
                    kinds = [r.event["type"] for r in self.received if r.event]
                    raise TimeoutError(f"no matching event within {timeout:.0f} s; got {kinds}")
                self._cond.wait(min(left, 0.5))

    def received_at(self, event: dict[str, Any]) -> float:
        with self._cond:
            return next(r.at for r in self.received if r.event is event)

    def audio_after(self, t: float) -> bytes:
        with self._cond:
            return b"".join(r.audio for r in self.received if r.audio and r.at >= t)

    def mark(self) -> int:
        with self._cond:
            return len(self.received)

    def hangup(self) -> dict[str, Any]:
        self.ws.send(json.dumps({"type": "hangup"}))
        ended = self.wait_for(lambda e: e["type"] == "ended")
        self.ws.close()
        return ended

    def drop(self) -> None:
        """Vanish without a WebSocket goodbye, as a lost phone line does. Only the sending half is
        shut (TCP FIN), so what was sent still arrives; a close() with unread data would send a TCP
        reset, and the peer's kernel would discard audio it had already received."""
        self.ws.socket.shutdown(socket.SHUT_WR)
