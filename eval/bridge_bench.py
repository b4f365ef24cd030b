"""`triage bench bridge`: mouth-to-ear delay across the agent bridge, and how many bridged calls one
machine carries while bot calls go on.

Each bridged call is a caller on the caller WebSocket (eval/call_client.py, streaming 20 ms frames
in real time as a phone line does) handed to a person, and an agent whose "browser" is an aiortc
peer (an independent WebRTC stack: ICE, DTLS, SRTP, Opus) connected through the console's
softphone route. Tone bursts are sent one way at a time:

- caller_to_agent: the wall time the burst's first frame leaves the caller client, to the first
  frame decoded at the agent's peer whose level is above the threshold;
- agent_to_caller: the wall time the agent's microphone track hands the burst's first frame to its
  encoder, to the first audio message at the caller client above the threshold.

On loopback, so the figures are the service's own delay (Opus encode/decode, aiortc's jitter
buffer, resampling, the event loop), without the network. ``bot_calls`` bot conversations
(voice_to_voice, as in ``triage bench e2e``) run during every load level.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from eval.call_client import CallClient

BURST_HZ = 1000.0
BURST_S = 0.2
LEVEL = 0.05
"""RMS (full scale 1.0) above which a 20 ms frame counts as the burst arriving."""
BROWSER_RATE = 48000


def _burst(rate: int) -> np.ndarray:
    t = np.arange(int(BURST_S * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * BURST_HZ * t)).astype(np.float32)


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 3) if values else None


class _Line:
    """The caller's line: 20 ms frames in real time (silence, or a burst when asked)."""

    def __init__(self, call: CallClient) -> None:
        self.call = call
        self._burst = (np.clip(_burst(16000), -1, 1) * 32767).astype("<i2").tobytes()
        self._pending: bytes = b""
        self.burst_sent_at: float | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def burst(self) -> None:
        with self._lock:
            self._pending, self.burst_sent_at = self._burst, None

    def _run(self) -> None:
        step, t0, n = self.call.frame_bytes, time.monotonic(), 0
        while not self._stop.is_set():
            with self._lock:
                frame = self._pending[:step]
                self._pending = self._pending[step:]
                first = bool(frame) and self.burst_sent_at is None
            frame = frame + b"\x00" * (step - len(frame))
            try:
                self.call.ws.send(frame)
            except Exception:
                return
            if first:
                self.burst_sent_at = time.monotonic()
            n += 1
            time.sleep(max(0.0, t0 + n * 0.02 - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)


@dataclass
class _Agent:
    """The agent's browser: an aiortc peer with a microphone, keeping what it hears, timestamped."""

    pc: Any
    mic: Any
    heard: list[tuple[float, float]] = field(default_factory=list)  # (arrival, rms)
    readers: list[Any] = field(default_factory=list)

    def heard_since(self, t: float) -> list[tuple[float, float]]:
        return [(at, r) for at, r in self.heard if at >= t]


async def _connect_agent(base: str, token: str, handoff_id: str) -> _Agent:
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import MediaStreamError

    from eval.browser_mic import BrowserMicrophone

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    agent = _Agent(pc, BrowserMicrophone())
    pc.addTrack(agent.mic)

    @pc.on("track")
    def _on_track(track: Any) -> None:
        async def read() -> None:
            while True:
                try:
                    frame = await track.recv()
                except MediaStreamError:
                    return
                x = frame.to_ndarray().astype(np.float32).reshape(-1) / 32768.0
                agent.heard.append((time.monotonic(), _rms(x)))

        agent.readers.append(asyncio.ensure_future(read()))

    await pc.setLocalDescription(await pc.createOffer())
    body = {"sdp": pc.localDescription.sdp, "type": "offer"}
    answer = await asyncio.to_thread(_post, f"{base}/v1/agents/handoffs/{handoff_id}/rtc", token, body)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
    return agent


def _post(url: str, token: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body or {}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.loads(response.read() or b"{}"))


@dataclass
class BridgedCall:
    caller_to_agent: list[float] = field(default_factory=list)
    agent_to_caller: list[float] = field(default_factory=list)
    lost: int = 0


async def bridged_call(base: str, token: str, bursts: int) -> BridgedCall:
    """One caller handed to one agent; ``bursts`` tone bursts each way, one at a time."""
    result = BridgedCall()
    call = await asyncio.to_thread(CallClient, base.replace("http://", "ws://") + "/v1/calls/stream")
    line = _Line(call)
    agent: _Agent | None = None
    try:
        call.ws.send(json.dumps({"type": "text", "text": "I want to talk to a person.", "language": "en"}))
        handoff = await asyncio.to_thread(call.wait_for, lambda e: e["type"] == "handoff", 60)
        await asyncio.to_thread(_post, f"{base}/v1/agents/handoffs/{handoff['handoff_id']}/accept", token)
        agent = await _connect_agent(base, token, handoff["handoff_id"])
        # The bot's "you are now connected" is sent to the caller at once; let it play out.
        await asyncio.to_thread(call.wait_for, lambda e: e["type"] == "bot_text" and "agent" in e["text"], 30)
        await asyncio.sleep(4.0)
        for _ in range(bursts):
            line.burst()
            arrived = await _first_loud(partial(agent.heard_since, time.monotonic()))
            if arrived is None or line.burst_sent_at is None:
                result.lost += 1
            else:
                result.caller_to_agent.append(arrived - line.burst_sent_at)
            await asyncio.sleep(0.6)
            agent.mic.say(_burst(BROWSER_RATE), interrupt=True)
            arrived = await _first_loud(partial(_caller_levels, call, time.monotonic()))
            if arrived is None or agent.mic.said_at is None:
                result.lost += 1
            else:
                result.agent_to_caller.append(arrived - agent.mic.said_at)
            await asyncio.sleep(0.6)
    finally:
        line.stop()
        if agent is not None:
            await agent.pc.close()
        await asyncio.to_thread(call.hangup)
    return result


def _caller_levels(call: CallClient, since: float) -> list[tuple[float, float]]:
    with call._cond:
        chunks = [(r.at, r.audio) for r in call.received if r.audio and r.at >= since]
    return [
        (at, _rms(np.frombuffer(a[: len(a) // 2 * 2], "<i2").astype(np.float32) / 32768)) for at, a in chunks
    ]


async def _first_loud(
    levels: Callable[[], list[tuple[float, float]]], timeout_s: float = 3.0
) -> float | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        loud = [at for at, r in levels() if r > LEVEL]
        if loud:
            return loud[0]
        await asyncio.sleep(0.005)
    return None


def _bot_calls(
    base: str, clips: list[bytes], stop: threading.Event, v2v: list[float]
) -> list[threading.Thread]:
    from eval.e2e_bench import Clip, voice_to_voice

    def loop(i: int) -> None:
        while not stop.is_set():
            try:
                v2v.append(voice_to_voice(base.replace("http://", "ws://"), Clip("", clips[i % len(clips)])))
            except Exception:
                return

    return [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(len(clips))]


def client_level(base: str, tokens: list[str], bursts: int, bot_clips: list[bytes]) -> dict[str, Any]:
    """Every caller, agent browser and bot caller of one load level. Runs in a process of its own
    (``run`` starts it), so the clients' Opus, SRTP and WebSocket work never shares the service's
    interpreter lock and the figures are the service's."""
    stop, v2v = threading.Event(), list[float]()
    bots = _bot_calls(base, bot_clips, stop, v2v)
    for t in bots:
        t.start()

    async def all_calls() -> list[BridgedCall]:
        return list(await asyncio.gather(*(bridged_call(base, token, bursts) for token in tokens)))

    calls = asyncio.run(all_calls())
    stop.set()
    for t in bots:
        t.join(60)
    c2a = [d for c in calls for d in c.caller_to_agent]
    a2c = [d for c in calls for d in c.agent_to_caller]
    return {
        "bridged_calls": len(tokens),
        "bot_calls": len(bot_clips),
        "caller_to_agent_p50_s": pct(c2a, 50),
        "caller_to_agent_p95_s": pct(c2a, 95),
        "agent_to_caller_p50_s": pct(a2c, 50),
        "agent_to_caller_p95_s": pct(a2c, 95),
        "bursts_lost": sum(c.lost for c in calls),
        "bursts": 2 * bursts * len(tokens),
        "bot_voice_to_voice_p95_s": pct(v2v, 95),
        "bot_answers": len(v2v),
    }


def run_level(base: str, runtime: Any, n: int, bursts: int, bot_clips: list[bytes]) -> dict[str, Any]:
    """One level: n agents signed up here, the clients in a child process; the service's CPU."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import psutil

    tokens = []
    for i in range(n):
        row, token = runtime.store.create_agent(f"bench-agent-{i}-{time.monotonic_ns()}")
        runtime.store.set_agent_status(row.id, "available")
        tokens.append(token)
    proc = psutil.Process()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        warm = pool.submit(pct, [0.0], 50)  # the child's start-up is not part of the level
        warm.result()
        cpu0, wall0 = proc.cpu_times(), time.monotonic()
        row = pool.submit(client_level, base, tokens, bursts, bot_clips).result()
        cpu1, wall1 = proc.cpu_times(), time.monotonic()
    busy = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    row["service_cpu_share"] = round(busy / (wall1 - wall0) / (psutil.cpu_count() or 1), 2)
    return dict(row)


def run(
    settings: Any,
    levels: tuple[int, ...] = (1, 2, 4, 8),
    bursts: int = 8,
    bot_calls: int = 2,
    target_p50_s: float = 0.15,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    from eval.e2e_bench import ROUTINE, _speak, live_service

    with live_service(settings) as (ws_url, runtime):
        base = ws_url.replace("ws://", "http://")
        clips = [c.pcm for c in _speak(runtime, ROUTINE[:bot_calls])] if bot_calls else []
        table, carried = [], 0
        for n in levels:
            row = run_level(base, runtime, n, bursts, clips)
            table.append(row)
            progress(
                f"{n:>3} bridged + {row['bot_calls']} bot calls: caller->agent p50 "
                f"{row['caller_to_agent_p50_s']} p95 {row['caller_to_agent_p95_s']} s, agent->caller p50 "
                f"{row['agent_to_caller_p50_s']} p95 {row['agent_to_caller_p95_s']} s, lost "
                f"{row['bursts_lost']}/{row['bursts']}, bot p95 {row['bot_voice_to_voice_p95_s']} s, "
                f"service CPU {row['service_cpu_share']}"
            )
            p50s = [row["caller_to_agent_p50_s"], row["agent_to_caller_p50_s"]]
            if row["bursts_lost"] == 0 and all(p is not None and p <= target_p50_s for p in p50s):
                carried = max(carried, n)
    first = table[0] if table else {}
    return {
        "mouth_to_ear_caller_to_agent_p50_s": first.get("caller_to_agent_p50_s"),
        "mouth_to_ear_agent_to_caller_p50_s": first.get("agent_to_caller_p50_s"),
        "max_bridged_calls": carried,
        "target_p50_s": target_p50_s,
        "levels": table,
        "definitions": __doc__,
    }
