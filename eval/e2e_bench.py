"""`triage bench e2e`: whole calls through the live service over its WebSocket, timed from outside.

Definitions (also written into the JSON):
- voice_to_voice: the wall time the caller's last speech frame was sent (audio streamed in real
  time, trailing silence trimmed from the clip) to the first byte of bot audio after it.
- emergency_to_agent: the same start to the moment a connected agent's WebSocket receives the
  handoff of that call.
- voice_to_voice_sip (--transport sip): the same over SIP/RTP, from the last RTP packet of the
  question sent to the first RTP packet of bot speech received (eval/sip_caller.py).
- barge_in: the first frame of caller speech sent while the bot is talking to `playback_stopped`.
- max_realtime_calls: the most simultaneous callers (each streaming in real time) for which the
  p95 voice-to-voice latency stays within `realtime_bound_s` (1.5 s, the voice-to-voice target),
  i.e. every caller still gets an answer in time when they all finish speaking at once.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.settings import Settings
from eval.call_client import CallClient

ROUTINE = [
    "How can I pay my electricity bill?",
    "When does the heating season start this year?",
    "How do I apply for a new social security card?",
    "Where can I renew my passport?",
    "Which bus goes to the railway station?",
    "How do I report a broken streetlight?",
]
EMERGENCY = [
    "Help, my kitchen is on fire!",
    "My father collapsed and he is not breathing.",
    "I can smell a strong gas leak in the stairwell.",
]


@dataclass(frozen=True)
class Clip:
    text: str
    pcm: bytes


def _trim(pcm: bytes) -> bytes:
    """Drop trailing near-silence so 'end of speech' is the clip's end."""
    x = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768
    loud = np.nonzero(np.abs(x) > 0.01)[0]
    return pcm if loud.size == 0 else pcm[: 2 * (int(loud[-1]) + 1)]


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


@contextmanager
def live_service(settings: Settings) -> Iterator[tuple[str, Any]]:
    """The service in-process on a free port with a fresh data folder (so measurements start from an
    empty queue), reusing the built classifier and KB index; yields (ws base URL, runtime)."""
    from api.server_thread import running_server
    from pipeline.runtime import Runtime
    from serve import create_app

    with tempfile.TemporaryDirectory() as tmp:
        isolated = settings.model_copy(
            update={
                "data_dir": Path(tmp),
                "nlu_model_dir": settings.resolved_nlu_model_dir().resolve(),
                "kb_index_dir": settings.resolved_kb_index_dir().resolve(),
                "silence_timeout_s": 120.0,
            }
        )
        runtime = Runtime.start(isolated)
        if runtime.session_services is None:
            runtime.close()
            raise RuntimeError(f"the service cannot take calls: {runtime.calls_error}")
        try:
            with running_server(create_app(runtime)) as url:
                yield url.replace("http://", "ws://"), runtime
        finally:
            runtime.close()


def _speak(runtime: Any, texts: list[str]) -> list[Clip]:
    from tts.interface import WEB_PCM16_16K

    synth = runtime.loaded["tts"]
    return [Clip(t, _trim(synth.synthesize(t, "en", WEB_PCM16_16K).audio)) for t in texts]


@contextmanager
def line_kept_open(call: CallClient) -> Iterator[None]:
    """Silence streamed in real time while the caller waits, as a phone line does."""
    done = threading.Event()

    def pad() -> None:
        while not done.is_set():
            call.send_silence(0.02)
            time.sleep(0.02)

    padder = threading.Thread(target=pad, daemon=True)
    padder.start()
    try:
        yield
    finally:
        done.set()
        padder.join()


def first_bot_audio(call: CallClient, end: float, decided: tuple[str, ...] = ("decision",)) -> float | None:
    """When the first bot audio after ``end`` arrived (None if none within 30 s of the decision)."""
    call.wait_for(lambda e: e["type"] in decided, timeout=60)
    deadline = time.monotonic() + 30
    while not call.audio_after(end) and time.monotonic() < deadline:
        time.sleep(0.005)
    return next((r.at for r in call.received if r.audio and r.at >= end), None)


def voice_to_voice(url: str, clip: Clip) -> float:
    call = CallClient(url + "/v1/calls/stream")
    try:
        call.send_audio(clip.pcm, realtime=True)
        end = time.monotonic()
        with line_kept_open(call):
            first = first_bot_audio(call, end)
        if first is None:
            raise TimeoutError("no bot audio after the caller's question")
        return first - end
    finally:
        call.hangup()


def emergency_to_agent(url: str, runtime: Any, clip: Clip) -> float:
    from websockets.sync.client import connect
    from websockets.typing import Subprotocol

    row, token = runtime.store.create_agent(f"bench-{time.monotonic_ns()}", role="supervisor")
    runtime.store.set_agent_status(row.id, "available")
    with connect(
        f"{url}/v1/agents/stream", subprotocols=[Subprotocol("triage.v1"), Subprotocol(f"token.{token}")]
    ) as agent:
        call = CallClient(url + "/v1/calls/stream")
        try:
            call.send_audio(clip.pcm, realtime=True)
            end = time.monotonic()
            # The line stays open (silence) while we watch the agent's socket, not before.
            pad = threading.Thread(target=call.send_silence, args=(1.5, True), daemon=True)
            pad.start()
            deadline = end + 30
            while time.monotonic() < deadline:
                msg = json.loads(agent.recv(timeout=30))
                if msg.get("type") == "handoff.created" and msg["handoff"]["call_id"] == call.call_id:
                    arrived = time.monotonic() - end
                    pad.join()
                    return arrived
            raise TimeoutError("the emergency never reached the agent")
        finally:
            call.hangup()


def barge_in(url: str, question: Clip, interruption: Clip) -> float:
    call = CallClient(url + "/v1/calls/stream")
    try:
        call.send_audio(question.pcm, realtime=True)
        call.send_silence(1.0, realtime=True)
        call.wait_for(lambda e: e["type"] == "bot_text" and e["text"] != "", after=2, timeout=60)
        time.sleep(0.3)  # the answer is playing
        mark = call.mark()
        started = time.monotonic()
        sender = threading.Thread(target=call.send_audio, args=(interruption.pcm, True), daemon=True)
        sender.start()
        stopped = call.wait_for(lambda e: e["type"] == "playback_stopped", after=mark, timeout=30)
        sender.join()
        return call.received_at(stopped) - started
    finally:
        call.hangup()


def run(
    settings: Settings,
    repeats: int = 1,
    realtime_bound_s: float = 1.5,
    progress: Callable[[str], None] = print,
    levels: tuple[int, ...] = (1, 2, 4, 8, 12, 16),
    transport: str = "ws",
) -> dict[str, Any]:
    """levels: numbers of simultaneous callers for the load table (eval/load_bench.py).
    transport "sip": the routine questions are also asked over SIP/RTP (eval/sip_caller.py), and
    voice_to_voice_sip_* is reported beside the WebSocket figure."""
    sip_port = 0
    if transport == "sip":
        from api.server_thread import free_port

        sip_port = free_port()  # a free TCP port; the SIP endpoint takes UDP and TCP on it
        sip = {"sip_enabled": True, "sip_listen": "127.0.0.1", "sip_port": sip_port}
        settings = settings.model_copy(update={**sip, "sip_rtp_port_min": 0, "sip_rtp_port_max": 0})
    v2v_sip: list[float] = []
    with live_service(settings) as (url, runtime):
        routine = _speak(runtime, ROUTINE)
        emergencies = _speak(runtime, EMERGENCY)
        interruption = _speak(runtime, ["Wait, I want to talk to a person."])[0]
        v2v, e2a, barge = [], [], []
        for _ in range(repeats):
            for clip in routine:
                v2v.append(voice_to_voice(url, clip))
                progress(f"voice-to-voice {v2v[-1]:.3f} s  {clip.text}")
            for clip in emergencies:
                e2a.append(emergency_to_agent(url, runtime, clip))
                progress(f"emergency-to-agent {e2a[-1]:.3f} s  {clip.text}")
            barge.append(barge_in(url, routine[0], interruption))
            progress(f"barge-in {barge[-1]:.3f} s")
            if sip_port:
                import asyncio

                from eval.sip_caller import voice_to_voice_sip

                for clip in routine:
                    v2v_sip.append(asyncio.run(voice_to_voice_sip("127.0.0.1", sip_port, clip.pcm)))
                    progress(f"voice-to-voice over SIP {v2v_sip[-1]:.3f} s  {clip.text}")
        sustained = 0
        by_calls: dict[str, float] = {}
        table: list[dict[str, Any]] = []
        from eval.load_bench import caller_pool, run_level

        still_there = tuple(
            runtime.session_services.voice_for("pcm16-16k").prompt_text("still_there", lang)
            for lang in ("en", "zh")
        )
        pool = caller_pool()  # the callers in their own process, not the service's interpreter
        for n in levels:
            scheduler = getattr(runtime.session_services.recognizer_factory, "scheduler", None)
            row = run_level(url, [c.pcm for c in routine], n, still_there, pool, scheduler)
            table.append(row)
            by_calls[str(n)] = row["voice_to_voice_p95_s"]
            progress(
                f"{n:>3} callers: admitted {row['admitted_share']:.2f}, voice-to-voice p50 "
                f"{row['voice_to_voice_p50_s']} p95 {row['voice_to_voice_p95_s']} s, first partial "
                f"{row['first_partial_p50_s']} s, silence prompts {row['false_silence_prompts']}, "
                f"CPU {row['cpu_share']}, peak {row['peak_rss_mb']} MB; mean per stage "
                + ", ".join(f"{k} {v:.3f}" for k, v in row["stage_mean_s"].items())
                + f"; decodes {row.get('asr_decodes')}"
            )
            p95 = row["voice_to_voice_p95_s"]
            if row["admitted_share"] == 1.0 and p95 is not None and p95 <= realtime_bound_s:
                sustained = max(sustained, n)
        pool.shutdown()
        capacity = runtime.session_services.admission.capacity if runtime.session_services.admission else None
    return {
        "voice_to_voice_p50_s": round(statistics.median(v2v), 3),
        "voice_to_voice_p95_s": round(pct(v2v, 95), 3),
        "emergency_to_agent_p50_s": round(statistics.median(e2a), 3),
        "emergency_to_agent_p95_s": round(pct(e2a, 95), 3),
        "barge_in_p50_s": round(statistics.median(barge), 3),
        **(
            {
                "voice_to_voice_sip_p50_s": round(statistics.median(v2v_sip), 3),
                "voice_to_voice_sip_p95_s": round(pct(v2v_sip, 95), 3),
                "n_voice_to_voice_sip": len(v2v_sip),
            }
            if v2v_sip
            else {}
        ),
        "max_realtime_calls": sustained,
        "concurrency_p95_by_calls": by_calls,
        "load_levels": table,
        "bot_capacity": capacity,
        "realtime_bound_s": realtime_bound_s,
        "n_voice_to_voice": len(v2v),
        "n_emergency": len(e2a),
        "definitions": __doc__,
    }
