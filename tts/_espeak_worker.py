"""The process that owns the pyttsx3 engine. Started by tts.engine, never imported by it.

Why a separate process: pyttsx3's espeak driver keeps process-global state (espeak-ng is
initialised once per process, one synthesis callback), it is not thread-safe, and its loop
misbehaves in a long-lived process. What pyttsx3 2.99 does wrong, and what we do about it:
- ``runAndWait()`` can return before the WAV is written, and a second queued ``save_to_file``
  overwrites the first: one utterance at a time, each into its own file, read only once
  pyttsx3 reported 'finished-utterance' AND espeak's queue is empty.
- espeak runs asynchronously (its own thread); ``runAndWait()`` cancels it if it looks busy at
  that instant, which drops a just-queued rate or voice change (measured: the same audio at 80
  and 450 wpm) or the utterance itself: we wait for espeak to go idle after every property
  change, read the rate back, and say a cancelled utterance again.
- anything else that looks wrong (timeout, a truncated file) ends this process, and the parent
  starts a fresh one and retries.

Protocol, stdin -> stdout: one JSON line per request
    {"op": "synth", "text": str, "voice": str, "rate": int, "volume": float}
    {"op": "voices"}
answered by one JSON line {"ok": true, "n_bytes": N, ...} followed by N raw bytes (PCM16 LE,
22,050 Hz mono for 'synth'; UTF-8 JSON for 'voices'), or {"ok": false, "error": str}.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
import wave
from pathlib import Path
from typing import Any, BinaryIO

FINISH_TIMEOUT_S = 15.0
CANCEL_RETRIES = 3


def _espeak_current_rate() -> int | None:
    """The rate espeak-ng will use, read back (pyttsx3's own getter omits the 'current' flag)."""
    try:
        from pyttsx3.drivers import _espeak

        return int(_espeak.dll.espeak_GetParameter(_espeak.RATE, 1))
    except (AttributeError, ImportError, OSError):
        return None


class Worker:
    def __init__(self, out: BinaryIO) -> None:
        import pyttsx3

        self._out = out
        self._engine = pyttsx3.init("espeak")
        self._finished = threading.Event()
        self._cancelled = False
        self._errors: list[str] = []
        self._engine.connect("finished-utterance", self._on_finished)
        self._engine.connect("error", self._on_error)
        self._voice: str | None = None
        self._rate: int | None = None
        self._volume: float | None = None
        self._dir = Path(tempfile.mkdtemp(prefix="triage-tts-"))
        self._n = 0
        self.cancelled = 0
        """Utterances pyttsx3 cancelled and we said again, since start (reported per reply)."""
        # pyttsx3's first runAndWait() returns early and its driver queued default properties in
        # espeak while starting; were espeak still busy with them, runAndWait() would cancel and
        # leave a stale cancel flag for the next utterance. Let them apply, then warm up twice
        # so every real request meets the steady state.
        self._wait_espeak_idle(include_pyttsx3=False)
        self._say_to_file("ready")
        self._say_to_file("ready")

    def _on_finished(self, name: Any = None, completed: bool = True) -> None:
        # pyttsx3's runAndWait() cancels espeak when espeak looks busy at that instant (its
        # fifo thread can wake on its own), and says so with completed=False. A later event
        # of the same utterance must not hide that, so the flag only ever goes up.
        if not completed:
            self._cancelled = True
        self._finished.set()

    def _wait_espeak_idle(self, include_pyttsx3: bool = True) -> None:
        from pyttsx3.drivers import _espeak

        deadline = time.monotonic() + FINISH_TIMEOUT_S
        while (include_pyttsx3 and self._engine.isBusy()) or _espeak.IsPlaying():
            if time.monotonic() > deadline:
                raise TimeoutError("espeak-ng stayed busy")
            time.sleep(0.0002)

    def _on_error(self, name: Any = None, exception: BaseException | None = None) -> None:
        self._errors.append(repr(exception))

    def _configure(self, voice: str, rate: int, volume: float) -> None:
        if voice != self._voice:
            self._engine.setProperty("voice", voice)
            actual = self._engine.getProperty("voice")
            if str(actual).lower() != voice.lower():
                raise ValueError(f"espeak-ng has no voice {voice!r} (it kept {actual!r})")
            self._voice = voice
            self._rate = self._volume = None  # a voice brings its own defaults
        if rate != self._rate:
            self._engine.setProperty("rate", rate)
            self._rate = rate
        if volume != self._volume:
            self._engine.setProperty("volume", volume)
            self._volume = volume
        # espeak-ng (asynchronous mode, as pyttsx3 starts it) queues a parameter change on its
        # own thread, and pyttsx3's runAndWait() cancels espeak when it is still busy: the
        # change is dropped (measured: the same audio at 80 and 450 wpm). Wait until applied.
        self._wait_espeak_idle()
        current = _espeak_current_rate()
        if current is not None and current != rate:
            raise RuntimeError(f"espeak-ng kept rate {current} instead of {rate}")

    def synth(self, text: str, voice: str, rate: int, volume: float) -> bytes:
        if not text.strip():
            # pyttsx3's espeak loop never ends on empty text; the parent never sends it.
            return b""
        self._configure(voice, rate, volume)
        return self._say_to_file(text)

    def _say_to_file(self, text: str) -> bytes:
        for _ in range(CANCEL_RETRIES):
            data = self._attempt(text)
            if data is not None:
                return data
            self.cancelled += 1
        raise RuntimeError(f"espeak-ng cancelled the utterance {CANCEL_RETRIES} times")

    def _attempt(self, text: str) -> bytes | None:
        """One utterance into its own file; None when pyttsx3 cancelled it (see _on_finished)."""
        self._n += 1
        path = self._dir / f"{self._n}.wav"
        self._finished.clear()
        self._cancelled = False
        self._errors.clear()
        try:
            self._engine.save_to_file(text, str(path))
            self._engine.runAndWait()
            if not self._finished.wait(FINISH_TIMEOUT_S):
                raise TimeoutError(f"espeak-ng did not finish within {FINISH_TIMEOUT_S} s")
            # Whatever the notifications said, the utterance is over only when espeak's queue is
            # empty and pyttsx3 is idle; by then our file, if any, is closed.
            self._wait_espeak_idle()
            if self._errors:
                raise RuntimeError("; ".join(self._errors))
            if self._cancelled or not path.exists():
                return None
            with wave.open(str(path), "rb") as w:
                if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (22050, 1, 2):
                    raise RuntimeError(f"unexpected WAV layout in {path}")
                frames = w.getnframes()
                data = w.readframes(frames)
            if len(data) != frames * 2:
                raise RuntimeError(f"truncated WAV: header says {frames} frames, got {len(data) // 2}")
            return data
        finally:
            path.unlink(missing_ok=True)

    def voices(self) -> bytes:
        rows = [
            {"id": v.id, "name": v.name, "languages": list(v.languages or [])}
            for v in self._engine.getProperty("voices")
        ]
        return json.dumps(rows).encode("utf-8")

    def reply(self, payload: bytes, **extra: Any) -> None:
        header = {"ok": True, "n_bytes": len(payload), **extra}
        self._out.write(json.dumps(header).encode("utf-8") + b"\n" + payload)
        self._out.flush()

    def fail(self, error: str) -> None:
        self._out.write(json.dumps({"ok": False, "error": error}).encode("utf-8") + b"\n")
        self._out.flush()

    def close(self) -> None:
        for leftover in self._dir.glob("*"):
            leftover.unlink(missing_ok=True)
        self._dir.rmdir()


def main() -> int:
    # Our replies own the real stdout; pyttsx3 prints "Audio saved to ..." on every save.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    try:
        worker = Worker(out)
    except Exception as e:
        out.write(json.dumps({"ok": False, "error": f"pyttsx3/espeak-ng did not start: {e!r}"}).encode())
        out.write(b"\n")
        out.flush()
        return 2
    out.write(json.dumps({"ok": True, "n_bytes": 0, "ready": True}).encode() + b"\n")
    out.flush()
    try:
        for line in sys.stdin.buffer:
            if not line.strip():
                continue
            request = json.loads(line)
            op = request.get("op")
            try:
                if op == "synth":
                    pcm = worker.synth(
                        request["text"], request["voice"], int(request["rate"]), float(request["volume"])
                    )
                    worker.reply(pcm, sample_rate=22050, cancelled_total=worker.cancelled)
                elif op == "voices":
                    worker.reply(worker.voices())
                else:
                    worker.fail(f"unknown op {op!r}")
            except ValueError as e:
                # A bad voice name: the engine is still sound, answer and carry on.
                worker.fail(str(e))
            except Exception as e:
                worker.fail(f"{type(e).__name__}: {e}")
                return 3  # engine state unknown: let the parent start a fresh process
    finally:
        worker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
