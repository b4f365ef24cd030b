"""Several service instances on this machine, one PostgreSQL, one shared bus (docs/scale-out.md).

`triage bench instances --instances N` starts N instances (``triage serve`` processes, or with
``--scripted`` the model-free instance of tests/scale_instance.py, which checks the plumbing
only), connects one agent console to every instance, places calls round-robin across them (each
caller types an emergency, so each call makes a handoff), holds them, and reports from outside:

- calls held: calls that started, made their handoff and stayed connected for ``hold_s``;
- handoff event delay: for each handoff and each instance, when that instance's console was told
  (``handoff.created``) minus when the caller was told it is being handed over, split into the
  instance holding the call and the other instances (the shared bus's delay);
- missed: handoffs some console never saw within the timeout.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.typing import Subprotocol

ROOT = Path(__file__).resolve().parents[1]
EMERGENCY = {"en": "There is a fire in my building, please send help.", "zh": "我家楼下着火了，快来人"}


@dataclass
class Instance:
    proc: subprocess.Popen[bytes]
    url: str


@dataclass
class Result:
    instances: int
    calls: int
    held: int = 0
    handoffs: int = 0
    same_ms: list[float] = field(default_factory=list)
    other_ms: list[float] = field(default_factory=list)
    missed: int = 0
    errors: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        def pct(xs: list[float], q: float) -> float | None:
            return round(float(np.percentile(xs, q)), 1) if xs else None

        return {
            "instances": self.instances,
            "calls": self.calls,
            "calls_held": self.held,
            "handoffs": self.handoffs,
            "same_instance_p50_ms": pct(self.same_ms, 50),
            "other_instance_p50_ms": pct(self.other_ms, 50),
            "other_instance_p95_ms": pct(self.other_ms, 95),
            "other_instance_max_ms": pct(self.other_ms, 100),
            "missed": self.missed,
            "errors": self.errors[:10],
        }


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_instances(n: int, db_url: str, data_dir: Path, scripted: bool, timeout_s: float) -> list[Instance]:
    out = []
    for _ in range(n):
        port = free_port()
        if scripted:
            cmd = [
                sys.executable,
                str(ROOT / "tests" / "scale_instance.py"),
                db_url,
                str(data_dir),
                str(port),
            ]
        else:
            cmd = [sys.executable, "-m", "cli.main", "serve", "--port", str(port)]
        env = {**os.environ, "TRIAGE_DATABASE_URL": db_url, "TRIAGE_BUS_URL": db_url, "PYTHONPATH": str(ROOT)}
        env["TRIAGE_DATA_DIR"] = str(data_dir)
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out.append(Instance(proc, f"http://127.0.0.1:{port}"))
    deadline = time.monotonic() + timeout_s
    for inst in out:
        while True:
            if inst.proc.poll() is not None:
                stop_instances(out)
                raise RuntimeError(f"instance {inst.url} exited with {inst.proc.returncode} while starting")
            try:
                if httpx.get(f"{inst.url}/health", timeout=2).json().get("calls") == "accepting":
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline:
                stop_instances(out)
                raise RuntimeError(f"instance {inst.url} was not accepting calls within {timeout_s:.0f} s")
            time.sleep(0.5)
    return out


def stop_instances(instances: list[Instance]) -> None:
    for inst in instances:
        if inst.proc.poll() is None:
            inst.proc.terminate()
    for inst in instances:
        try:
            inst.proc.wait(30)
        except subprocess.TimeoutExpired:
            inst.proc.kill()


def ws(url: str, path: str) -> str:
    return url.replace("http://", "ws://") + path


def agent_console(url: str, token: str, seen: dict[str, float], stop: threading.Event) -> None:
    with (
        contextlib.suppress(ConnectionClosed),
        connect(ws(url, "/v1/agents/stream"), subprotocols=[Subprotocol(f"token.{token}")]) as sock,
    ):
        while not stop.is_set():
            try:
                message = json.loads(sock.recv(timeout=0.5))
            except TimeoutError:
                continue
            if message.get("type") == "handoff.created":
                seen.setdefault(message["handoff"]["id"], time.monotonic())


def one_call(url: str, language: str, hold_s: float, told: dict[str, tuple[float, int]], index: int) -> bool:
    """True when the call started, made its handoff and stayed connected for ``hold_s``."""
    with connect(ws(url, "/v1/calls/stream")) as call:
        call.send(json.dumps({"type": "start", "language": language}))
        call.send(json.dumps({"type": "text", "text": EMERGENCY[language], "language": language}))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            raw = call.recv(timeout=max(0.1, deadline - time.monotonic()))
            if isinstance(raw, str) and (message := json.loads(raw)).get("type") == "handoff":
                told[message["handoff_id"]] = (time.monotonic(), index)
                break
        else:
            return False
        until = time.monotonic() + hold_s
        while (left := until - time.monotonic()) > 0:
            try:
                call.recv(timeout=left)
            except TimeoutError:
                break
        return True


def run(
    instances: int,
    calls: int,
    db_url: str,
    data_dir: Path | None = None,
    scripted: bool = False,
    hold_s: float = 5.0,
    language: str = "en",
    start_timeout_s: float = 600.0,
) -> Result:
    from pipeline.store import Store

    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="triage-instances-"))
    store = Store(db_url)
    agent, token = store.create_agent(f"bench-{os.getpid()}-{time.time_ns()}", role="supervisor")
    store.set_agent_status(agent.id, "available")
    result = Result(instances, calls)
    started = start_instances(instances, db_url, data_dir, scripted, start_timeout_s)
    stop = threading.Event()
    seen: list[dict[str, float]] = [{} for _ in started]
    told: dict[str, tuple[float, int]] = {}
    consoles = [
        threading.Thread(target=agent_console, args=(inst.url, token, seen[i], stop), daemon=True)
        for i, inst in enumerate(started)
    ]
    try:
        for t in consoles:
            t.start()
        time.sleep(1.0)  # every console subscribed before the first call
        held = [False] * calls

        def place(i: int) -> None:
            try:
                held[i] = one_call(started[i % instances].url, language, hold_s, told, i % instances)
            except Exception as e:
                result.errors.append(f"call {i}: {e}")

        callers = [threading.Thread(target=place, args=(i,)) for i in range(calls)]
        for t in callers:
            t.start()
        for t in callers:
            t.join()
        time.sleep(2.0)  # late events
        result.held = sum(held)
        result.handoffs = len(told)
        for handoff_id, (at, home) in told.items():
            for j, got in enumerate(seen):
                if handoff_id not in got:
                    result.missed += 1
                    continue
                (result.same_ms if j == home else result.other_ms).append((got[handoff_id] - at) * 1000)
    finally:
        stop.set()
        stop_instances(started)
    return result
