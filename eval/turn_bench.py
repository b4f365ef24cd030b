"""Turn-taking: how long a caller waits after finishing, and how often the bot cuts in too early.

`triage bench turns` streams scripted multi-sentence calls (a caller dictating a phone number or an
account number in groups, giving an address after "I live at", two sentences with a breath
between) and the shared real clips through the streaming recogniser, once with the adaptive end of
turn (asr/turn_end.py) and once with the fixed end-of-speech silence, and reports per mode:

- premature cut-offs: a final transcript emitted during a pause after which the caller goes on
  (scripted calls: every pause marked "hold"); on the shared clips (each one reading), every final
  before the clip's end counts as a split;
- turn-end wait: audio time from the end of the caller's last word to the final transcript (what
  the caller waits on top of decoding), p50 / p95.

Audio is fed as fast as it decodes, so waits are in audio time and do not depend on the machine.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from eval.asr_batch_bench import speech_span, spoken
from eval.load_bench import percentile_or_none

SAMPLE_RATE = 16000
CHUNK = 320  # 20 ms
TAIL_S = 2.5

# (text, pause after in seconds, "hold" = the caller goes on after the pause, "end" = turn over)
SCRIPTS: dict[str, list[tuple[str, float, str]]] = {
    "en_phone_number": [
        ("My phone number is", 0.7, "hold"),
        ("one three eight", 0.6, "hold"),
        ("five five five", 0.6, "hold"),
        ("two four six eight.", 0.0, "end"),
    ],
    "en_address": [("I live at", 0.8, "hold"), ("twenty five Elm Street, flat three.", 0.0, "end")],
    "en_account": [
        ("My account number is", 0.7, "hold"),
        ("four four two", 0.7, "hold"),
        ("nine one zero.", 0.0, "end"),
    ],
    "en_two_sentences": [
        ("My power has been off since noon.", 0.45, "hold"),
        ("When will it come back?", 0.0, "end"),
    ],
    "en_and_then": [("The heating is broken and", 0.6, "hold"), ("the radiators are cold.", 0.0, "end")],
    "en_single": [("How do I pay my electricity bill?", 0.0, "end")],
    "zh_phone_number": [
        ("我的电话是", 0.7, "hold"),
        ("一三八", 0.6, "hold"),
        ("五五五", 0.6, "hold"),
        ("二四六八。", 0.0, "end"),
    ],
    "zh_address": [("我家住在", 0.8, "hold"), ("和平路二十五号三单元。", 0.0, "end")],
    "zh_account": [("户号是", 0.7, "hold"), ("四四二", 0.7, "hold"), ("九一零。", 0.0, "end")],
    "zh_two_sentences": [("我家停电了。", 0.45, "hold"), ("请问什么时候来电？", 0.0, "end")],
    "zh_single": [("暖气不热怎么办？", 0.0, "end")],
}


def build_call(synth: Any, script: list[tuple[str, float, str]], lang: str) -> tuple[np.ndarray, list[dict]]:
    """The call's audio and its pauses: [{"start", "end", "kind"}] in seconds."""
    pieces = [np.zeros(int(0.3 * SAMPLE_RATE), np.float32)]
    pauses = []
    t = 0.3
    for text, pause_s, kind in script:
        speech = spoken(synth, text, lang)
        pieces.append(speech)
        t += len(speech) / SAMPLE_RATE
        gap = pause_s if kind == "hold" else TAIL_S
        pauses.append({"start": t, "end": t + gap, "kind": kind})
        pieces.append(np.zeros(int(gap * SAMPLE_RATE), np.float32))
        t += gap
    return np.concatenate(pieces), pauses


def stream(decoder: Any, options: Any, audio: np.ndarray, line: str = "wideband") -> list[float]:
    """Audio positions (seconds) at which each final transcript came out. line "phone" sends the
    call through a simulated G.711 line (eval/telephone.py) as 8 kHz mu-law frames."""
    from asr.streaming import StreamingTranscriber
    from core.events import FinalTranscript

    if line == "phone":
        from core.codec import mulaw_encode
        from eval.telephone import PHONE_RATE, line_signal

        data, rate, width = mulaw_encode(line_signal(audio, SAMPLE_RATE)), PHONE_RATE, 1
        streamer = StreamingTranscriber(decoder, options, PHONE_RATE, "mulaw")
    elif line == "wideband":
        data, rate, width = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes(), SAMPLE_RATE, 2
        streamer = StreamingTranscriber(decoder, options)
    else:
        raise ValueError(f"line {line!r}: use 'wideband' or 'phone'")
    step = CHUNK * rate // SAMPLE_RATE * width  # 20 ms
    emitted: list[float] = []
    for i in range(0, len(data), step):
        fed_s = (i + step) / width / rate
        for ev in streamer.feed(data[i : i + step]):
            if isinstance(ev, FinalTranscript) and ev.text.strip():
                emitted.append(min(fed_s, len(audio) / SAMPLE_RATE))
    emitted += [len(audio) / SAMPLE_RATE for ev in streamer.finish() if isinstance(ev, FinalTranscript)]
    return emitted


def score_call(emitted: list[float], pauses: list[dict]) -> dict[str, Any]:
    cuts = 0
    waits = []
    for p in pauses:
        inside = [e for e in emitted if p["start"] <= e <= p["end"] + 0.05]
        if p["kind"] == "hold":
            cuts += bool(inside)
        elif inside:
            waits.append(inside[0] - p["start"])
    holds = sum(p["kind"] == "hold" for p in pauses)
    return {"holds": holds, "cut_offs": cuts, "waits": waits, "finals": len(emitted)}


def run(
    decoder: Any,
    options: Any,
    synth: Any,
    manifest: Path | None,
    progress: Any = print,
    line: str = "wideband",
) -> dict[str, Any]:
    """line: "wideband" streams 16 kHz PCM16; "phone" streams every call and clip through a
    simulated phone line as 8 kHz mu-law (the telephone transports' path)."""
    if line not in ("wideband", "phone"):
        raise ValueError(f"line {line!r}: use 'wideband' or 'phone'")
    from asr.audio import load_audio

    calls = {name: build_call(synth, script, name[:2]) for name, script in SCRIPTS.items()}
    clips: list[tuple[str, np.ndarray]] = []
    if manifest is not None and manifest.is_file():
        for text in manifest.read_text(encoding="utf-8").splitlines():
            if text.strip():
                row = json.loads(text)
                clips.append((row["file"], load_audio(manifest.parent / row["file"])))
    out: dict[str, Any] = {}
    for mode, adaptive in (("adaptive", True), ("fixed", False)):
        opts = dataclasses.replace(options, adaptive_end=adaptive)
        holds = cuts = 0
        waits: list[float] = []
        for name, (audio, pauses) in calls.items():
            r = score_call(stream(decoder, opts, audio, line), pauses)
            holds += r["holds"]
            cuts += r["cut_offs"]
            waits += r["waits"]
            waited = [round(w, 2) for w in r["waits"]]
            progress(
                f"{mode:<8} {name:<18} finals {r['finals']} cut-offs {r['cut_offs']}/{r['holds']} "
                f"wait {waited}"
            )
        splits = 0
        clip_waits: list[float] = []
        for name, audio in clips:
            padded = np.concatenate([audio, np.zeros(int(TAIL_S * SAMPLE_RATE), np.float32)])
            emitted = stream(decoder, opts, padded, line)
            end_s = speech_span(audio)[1] / SAMPLE_RATE
            splits += sum(1 for e in emitted if e < end_s)
            after = [e - end_s for e in emitted if e >= end_s]
            clip_waits += after[:1]
            progress(f"{mode:<8} {name:<34} finals {len(emitted)}")
        out[mode] = {
            "line": line,
            "scripted_holds": holds,
            "scripted_cut_offs": cuts,
            "scripted_turn_end_wait_p50_s": percentile_or_none(waits, 50),
            "scripted_turn_end_wait_p95_s": percentile_or_none(waits, 95),
            "clips": len(clips),
            "clip_splits": splits,
            "clip_turn_end_wait_p50_s": percentile_or_none(clip_waits, 50),
            "clip_turn_end_wait_p95_s": percentile_or_none(clip_waits, 95),
        }
    return out
