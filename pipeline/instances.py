"""Service instances on one database: heartbeats, and what a survivor does for a dead one.

Each instance writes ``instances.last_seen`` every ``instance_heartbeat_s``; its calls carry its
id. An instance silent for ``instance_dead_after_s`` is dead (killed, machine lost). The first
survivor to notice claims it with one conditional UPDATE (so exactly one reaps it) and, for each
call it left open: keeps the caller's last partial transcript as an unfinished utterance, closes
the call as ``dropped`` (Store.end_call turns its waiting emergency and urgent handoffs into
call-back tasks in the same transaction), repairs its WAV recordings, and announces the new
tasks and the ended call on the bus. With one instance, a restart after a crash reaps the old
process the same way once its heartbeat is stale.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from pipeline.bus import EventBus
from pipeline.callbacks import Callbacks, announce
from pipeline.db import Call, Instance, Utterance, utcnow
from pipeline.recording import repair
from pipeline.store import Store

log = logging.getLogger(__name__)

DROPPED_REASON = "instance_lost"


@dataclass
class Reaped:
    instance_id: str
    calls: list[str] = field(default_factory=list)
    callbacks: list[str] = field(default_factory=list)
    repaired: dict[str, float | None] = field(default_factory=dict)
    """Recording path -> its duration after repair (None: missing or unreadable)."""


class Instances:
    """This process's row in ``instances``, and the reaping of dead ones."""

    def __init__(self, store: Store, instance_id: str, recordings_root: Path | None = None) -> None:
        self.store = store
        self.instance_id = instance_id
        self.recordings_root = recordings_root

    def register(self) -> None:
        with self.store.session() as s:
            s.add(Instance(id=self.instance_id, host=socket.gethostname()[:255], pid=os.getpid()))
            s.commit()

    def heartbeat(self, status: str | None = None) -> None:
        values: dict[str, Any] = {"last_seen": utcnow()}
        if status:
            values["status"] = status
        with self.store.session() as s:
            s.execute(update(Instance).where(Instance.id == self.instance_id).values(**values))
            s.commit()

    def live(self, dead_after_s: float, now: datetime | None = None) -> list[Instance]:
        cutoff = (now or utcnow()) - timedelta(seconds=dead_after_s)
        with self.store.session() as s:
            query = select(Instance).where(
                Instance.status.in_(("live", "draining")), Instance.last_seen >= cutoff
            )
            return list(s.scalars(query))

    def reap(self, dead_after_s: float, bus: EventBus | None = None) -> list[Reaped]:
        """Claim every instance silent for ``dead_after_s`` (not this one) and close what it left."""
        cutoff = utcnow() - timedelta(seconds=dead_after_s)
        with self.store.session() as s:
            stale = list(
                s.scalars(
                    select(Instance.id).where(
                        Instance.status.in_(("live", "draining")),
                        Instance.last_seen < cutoff,
                        Instance.id != self.instance_id,
                    )
                )
            )
        out = []
        for dead_id in stale:
            with self.store.session() as s:
                claimed = s.execute(
                    update(Instance)
                    .where(Instance.id == dead_id, Instance.status.in_(("live", "draining")))
                    .where(Instance.last_seen < cutoff)
                    .values(status="dead", reaped_by=self.instance_id)
                )
                s.commit()
            if cast(CursorResult[Any], claimed).rowcount:
                log.warning("instance %s stopped heartbeating; closing the calls it held", dead_id)
                out.append(self.close_calls_of(dead_id, bus))
        return out

    def close_calls_of(self, dead_id: str, bus: EventBus | None) -> Reaped:
        reaped = Reaped(dead_id)
        with self.store.session() as s:
            calls = list(s.scalars(select(Call).where(Call.instance_id == dead_id, Call.ended_at.is_(None))))
        for call in calls:
            try:
                self._close_call(call, reaped, bus)
            except Exception:  # one bad record must not stop the others being closed
                log.exception("could not close call %s of dead instance %s", call.id, dead_id)
        return reaped

    def _close_call(self, call: Call, reaped: Reaped, bus: EventBus | None) -> None:
        if call.partial_text and call.partial_text.strip():
            keep_unfinished(self.store, call.id, call.partial_text, call.language)
        self.store.end_call(call.id, DROPPED_REASON, status="dropped")
        reaped.calls.append(call.id)
        for stored in (call.caller_audio_path, call.bot_audio_path, call.agent_audio_path):
            if stored:
                path = Path(stored)
                if not path.is_absolute() and self.recordings_root is not None:
                    path = self.recordings_root / path
                reaped.repaired[str(path)] = repair(path)
        tasks = Callbacks(self.store).of_call(call.id)
        for task in tasks:
            if task.status == "open":
                reaped.callbacks.append(task.id)
                if bus is not None:
                    announce(bus, "callback.created", task)
        if bus is not None:
            bus.publish("call.ended", call_id=call.id, handoff_id=None, reason=DROPPED_REASON)


def keep_unfinished(store: Store, call_id: str, text: str, language: str | None) -> Utterance:
    """The caller's cut-off utterance, as the recogniser last heard it, in the transcript."""
    utt = store.add_utterance(call_id, "caller", text.strip(), language)
    with store.session() as s:
        s.execute(update(Utterance).where(Utterance.id == utt.id).values(unfinished=True))
        s.execute(update(Call).where(Call.id == call_id).values(partial_text=None))
        s.commit()
    utt.unfinished = True
    return utt


class InstanceWatch:
    """A thread beside the service: heartbeats, and reaps dead instances. A thread, not a task on
    the event loop, so every started Runtime beats (tests and tools included) and a busy loop does
    not make a live instance look dead."""

    def __init__(self, instances: Instances, bus: EventBus, heartbeat_s: float, dead_after_s: float) -> None:
        self.instances = instances
        self.bus = bus
        self.heartbeat_s = heartbeat_s
        self.dead_after_s = dead_after_s
        self.status: str | None = None
        """Set to 'draining' on SIGTERM; written with the next heartbeat."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="instance-heartbeat", daemon=True)

    def start(self) -> InstanceWatch:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.heartbeat_s)

    def tick(self) -> list[Reaped]:
        try:
            self.instances.heartbeat(self.status)
            return self.instances.reap(self.dead_after_s, self.bus)
        except Exception as e:  # the database is away for a moment: the next beat tries again
            log.warning("instance heartbeat failed (%s); retrying in %.1f s", e, self.heartbeat_s)
            return []
