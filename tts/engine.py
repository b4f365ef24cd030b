"""Speech engines behind a request queue, safe to call from any number of threads: espeak-ng (through
pyttsx3) and the neural voices (tts/neural.py), each in supervised worker processes.

Each worker process (tts/_espeak_worker.py, tts/_voice_worker.py) owns one engine and does one
synthesis at a time; a dispatcher thread per process feeds it from a shared priority queue. Callers
get a ``Future`` of int16 samples (22,050 Hz for espeak-ng, the voice's own rate otherwise). A
worker that dies or hangs past the timeout is killed and replaced, and the request is tried once
more on the fresh process, so a server can run for hours without a stuck or crashed engine taking
calls down with it.

Measured on the 2-core target (see `triage bench tts`): a persistent worker answers a sentence
in about 10 to 20 ms; starting a fresh Python + pyttsx3 process per request would add a start-up
cost of the order of 100 ms to every chunk, which is why workers are kept alive.
"""

from __future__ import annotations

import itertools
import json
import logging
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

log = logging.getLogger(__name__)

_ESPEAK_WORKER = Path(__file__).with_name("_espeak_worker.py")
_ESPEAK_HINT = (
    "Is espeak-ng installed? (Debian/Ubuntu: apt-get install espeak-ng, or run scripts/bootstrap.sh)"
)
_START_TIMEOUT_S = 30.0
_STOP = 1 << 62  # priority of the shutdown sentinel: after every real request


class TtsEngineError(RuntimeError):
    """The speech engine could not produce audio."""


@dataclass(order=True)
class _Request:
    priority: int
    seq: int
    message: dict[str, Any] = field(compare=False)
    future: Future[bytes] | None = field(compare=False, default=None)
    more: tuple[Future[bytes], ...] = field(compare=False, default=())
    """Futures of the further pieces of a reply sent in parts (a neural voice's first clause)."""


class _WorkerProcess:
    """One worker process and its pipes; not thread-safe (one dispatcher uses it)."""

    def __init__(self, timeout_s: float, command: list[str] | None = None, hint: str = _ESPEAK_HINT) -> None:
        self.timeout_s = timeout_s
        # -P: do not put tts/ on sys.path (tts/ module names must not shadow the stdlib).
        self.command = command or [sys.executable, "-P", str(_ESPEAK_WORKER)]
        self.hint = hint
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.ready: dict[str, Any] = {}
        """The worker's first line (a neural voice says its sample rate there)."""

    def ensure_started(self) -> subprocess.Popen[bytes]:
        if self.proc is not None and self.proc.poll() is None:
            return self.proc
        if self.proc is not None:
            log.warning("speech engine process exited with status %s; starting a new one", self.proc.poll())
            self.restarts += 1
        self.stop()
        try:
            proc = subprocess.Popen(
                self.command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                start_new_session=True,  # a Ctrl-C meant for the server is not the engine's
            )
        except OSError as e:
            raise TtsEngineError(f"could not start the speech engine process: {e}") from e
        self.proc = proc
        try:
            header, _ = self._read_reply(proc, _START_TIMEOUT_S)
            error = None if header.get("ok") else str(header.get("error"))
        except _WorkerDied as e:
            error = str(e)
        if error is not None:
            self.stop()
            raise TtsEngineError(f"{error}. {self.hint}")
        self.ready = header
        return proc

    def call(self, message: dict[str, Any]) -> Iterator[tuple[dict[str, Any], bytes]]:
        """The reply, in one piece or several (each header but the last says "more": true)."""
        proc = self.ensure_started()
        assert proc.stdin is not None
        try:
            proc.stdin.write(json.dumps(message, ensure_ascii=True).encode("ascii") + b"\n")
            proc.stdin.flush()
        except OSError as e:
            self.stop()
            raise _WorkerDied(f"speech engine process went away: {e}") from e
        while True:
            header, payload = self._read_reply(proc, self.timeout_s)
            yield header, payload
            if not (header.get("ok") and header.get("more")):
                return

    def _read_reply(self, proc: subprocess.Popen[bytes], timeout_s: float) -> tuple[dict[str, Any], bytes]:
        assert proc.stdout is not None
        # A hung espeak would block the read forever: a timer kills the process, the read
        # then sees end-of-file.
        timer = threading.Timer(timeout_s, proc.kill)
        timer.daemon = True
        timer.start()
        try:
            line = proc.stdout.readline()
            header = json.loads(line) if line else None
            payload = _read_exact(proc.stdout, int(header.get("n_bytes", 0))) if header else b""
        except (ValueError, OSError) as e:
            header, payload = None, b""
            log.warning("speech engine reply unreadable: %s", e)
        finally:
            timer.cancel()
        if header is None or payload is None:
            rc = proc.poll()
            self.stop()
            why = f"exited with status {rc}" if rc is not None else f"gave no answer in {timeout_s:.0f} s"
            raise _WorkerDied(f"speech engine process {why}")
        if not header.get("ok") and proc.poll() is not None:
            self.stop()
            raise _WorkerDied(str(header.get("error")))
        return header, payload

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()
        try:
            proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=2)


class _WorkerDied(TtsEngineError):
    pass


def _read_exact(stream: IO[bytes], n: int) -> bytes | None:
    data = stream.read(n) if n else b""
    return data if data is not None and len(data) == n else None


class SupervisedEngine:
    """Thread-safe front of one or more worker processes of one kind. Start once, share freely."""

    def __init__(
        self,
        processes: int = 1,
        request_timeout_s: float = 20.0,
        command: list[str] | None = None,
        hint: str = _ESPEAK_HINT,
    ) -> None:
        if processes < 1:
            raise ValueError("processes must be at least 1")
        self._queue: queue.PriorityQueue[_Request] = queue.PriorityQueue()
        self._seq = itertools.count()
        self._workers = [_WorkerProcess(request_timeout_s, command, hint) for _ in range(processes)]
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._counts = {"submitted": 0, "completed": 0, "restarts": 0}

    @property
    def started(self) -> bool:
        return bool(self._threads)

    def start(self) -> None:
        """Start the worker processes now (otherwise the first request does), failing loudly."""
        with self._lock:
            if self._threads:
                return
            for worker in self._workers:
                worker.ensure_started()
            for i, worker in enumerate(self._workers):
                thread = threading.Thread(
                    target=self._dispatch, args=(worker,), name=f"tts-engine-{i}", daemon=True
                )
                thread.start()
                self._threads.append(thread)

    def _put(self, message: dict[str, Any], priority: int, pieces: int = 1) -> list[Future[bytes]]:
        """Queue one request; lower priority values go first: streaming gives each answer's first
        chunk priority 0, so the first sentence of a new answer is not stuck behind the tail of
        another call's long answer. One future per piece of the reply."""
        self.start()
        futures: list[Future[bytes]] = [Future() for _ in range(pieces)]
        with self._lock:
            self._counts["submitted"] += 1
        self._queue.put(_Request(priority, next(self._seq), message, futures[0], tuple(futures[1:])))
        return futures

    def worker_pids(self) -> list[int]:
        """Process ids of the running workers (for memory figures)."""
        return [w.proc.pid for w in self._workers if w.proc is not None and w.proc.poll() is None]

    def counts(self) -> dict[str, int]:
        """Requests submitted and completed, and worker restarts, since start."""
        with self._lock:
            counts = dict(self._counts)
        counts["restarts"] += sum(w.restarts for w in self._workers)
        return counts

    def close(self) -> None:
        with self._lock:
            threads, self._threads = self._threads, []
        for _ in threads:
            self._queue.put(_Request(_STOP, next(self._seq), {"op": "stop"}))
        for thread in threads:
            thread.join(timeout=30)
        for worker in self._workers:
            worker.stop()

    def _dispatch(self, worker: _WorkerProcess) -> None:
        while True:
            request = self._queue.get()
            if request.future is None:
                return
            if not request.future.set_running_or_notify_cancel():
                for later in request.more:
                    later.cancel()
                continue  # the caller stopped listening (barge-in): skip the work
            futures = [request.future, *request.more]
            try:
                self._call_with_retry(worker, request.message, futures)
            except BaseException as e:
                for future in futures:
                    if not future.done():
                        future.set_exception(e)
            finally:
                with self._lock:
                    self._counts["completed"] += 1

    def _call_with_retry(
        self, worker: _WorkerProcess, message: dict[str, Any], futures: list[Future[bytes]]
    ) -> None:
        """Each piece of the reply to its future as soon as it arrives; a worker that dies is
        replaced and asked again, and the pieces already delivered are not delivered twice."""
        delivered = 0
        for attempt in (1, 2):
            try:
                for i, (header, payload) in enumerate(worker.call(message)):
                    if not header.get("ok"):
                        raise TtsEngineError(str(header.get("error")))
                    if i >= delivered and i < len(futures):
                        if not futures[i].done():  # a piece the caller dropped (barge-in) stays dropped
                            futures[i].set_result(payload)
                        delivered = i + 1
            except _WorkerDied as e:
                with self._lock:
                    self._counts["restarts"] += 1
                log.warning("speech engine restarted after: %s (attempt %d)", e, attempt)
                if attempt == 2:
                    raise TtsEngineError(f"speech synthesis failed twice: {e}") from e
                continue
            if delivered < len(futures):
                raise TtsEngineError(f"the speech engine sent {delivered} of {len(futures)} pieces")
            return
        raise AssertionError("unreachable")


class EspeakEngine(SupervisedEngine):
    """espeak-ng through pyttsx3 (tts/_espeak_worker.py): every voice espeak-ng has, 22,050 Hz."""

    sample_rate = 22050

    def submit(self, text: str, voice: str, rate: int, volume: float, priority: int = 0) -> Future[bytes]:
        """Queue one utterance; the future gives PCM16 LE bytes at 22,050 Hz."""
        message = {"op": "synth", "text": text, "voice": voice, "rate": rate, "volume": volume}
        return self._put(message, priority)[0]

    def synthesize(self, text: str, voice: str, rate: int, volume: float) -> np.ndarray:
        """Blocking: int16 samples at 22,050 Hz."""
        return np.frombuffer(self.submit(text, voice, rate, volume).result(), dtype="<i2")

    def voices(self) -> list[dict[str, Any]]:
        """The voices espeak-ng offers, as pyttsx3 lists them: {'id', 'name', 'languages'}."""
        return list(json.loads(self._put({"op": "voices"}, -1)[0].result()))


class NeuralEngine(SupervisedEngine):
    """One neural voice (tts/neural.py) in worker processes (tts/_voice_worker.py)."""

    def __init__(
        self, kind: str, folder: Path, threads: int = 2, processes: int = 1, request_timeout_s: float = 20.0
    ) -> None:
        command = [sys.executable, "-P", "-m", "tts._voice_worker", kind, str(folder), str(threads)]
        hint = f"The {kind} voice in {folder} could not start"
        super().__init__(processes, request_timeout_s, command, hint)
        self.kind = kind
        self.folder = folder

    @property
    def sample_rate(self) -> int:
        """The voice's own rate, as its worker said on start (starts it if need be)."""
        self.start()
        return int(self._workers[0].ready["sample_rate"])

    def submit(self, text: str, priority: int = 0) -> Future[bytes]:
        """Queue one utterance; the future gives PCM16 LE bytes at ``sample_rate``."""
        return self._put({"op": "synth", "text": text}, priority)[0]

    def submit_split(
        self, text: str, head_s: float, priority: int = 0
    ) -> tuple[Future[bytes], Future[bytes]]:
        """Like ``submit``, in two pieces: about the first ``head_s`` seconds as soon as they are
        ready, then the rest (the same samples as one piece). For the first clause of an answer:
        the caller hears it sooner."""
        head, tail = self._put({"op": "synth", "text": text, "head_s": head_s}, priority, pieces=2)
        return head, tail
