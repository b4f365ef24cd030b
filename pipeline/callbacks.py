"""Call-back tasks: no emergency is ever lost.

An emergency or urgent handoff that no agent took, because the caller hung up, the line dropped,
the service restarted, or (emergencies) nobody accepted it within ``emergency_accept_timeout_s``,
becomes a task that stays at the top of every console that may see it until an agent records what
happened; and a waiting caller of any urgency may ask for one (``open_requested``, from
pipeline/waiting.py). The rules are in pipeline/callback_rules.py; the store opens the tasks of an ending call
in the same transaction as the call's end (Store.end_call). Here: the other triggers, the agents'
outcomes, and the watch that runs beside the service and announces each new task on the bus.

Like the store, every method commits before it returns; announcements follow the commit.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session, selectinload

from pipeline import metrics
from pipeline.bus import BusMessage, EventBus
from pipeline.callback_rules import (
    ENDED_CALL_TRIGGERS,
    callback_number,
    closes,
    closes_on_accept,
    left_by_previous_process,
    overdue,
    task_fields,
)
from pipeline.db import Agent, Call, Callback, CallbackAttempt, Handoff, insert_new, new_id, utcnow
from pipeline.routing import QueueItem, order_queue
from pipeline.store import NotFoundError, Store, _aware

log = logging.getLogger(__name__)


class CallbackClosedError(ValueError):
    """The task was already closed (by someone else, or earlier)."""


class Callbacks:
    """Call-back tasks over the records store's database."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- opening ---------------------------------------------------------------------------------
    def open_overdue(self, timeout_s: float, now: datetime | None = None) -> list[Callback]:
        """Tasks for emergency handoffs still waiting after ``timeout_s``; the handoff stays waiting."""
        now = now or utcnow()
        return self._open(
            lambda h: overdue(h.urgency, h.status, _aware(h.created_at), now, timeout_s),
            "not_accepted_in_time",
            now,
        )

    def open_left_waiting(self, started_at: datetime) -> list[Callback]:
        """Tasks for emergency and urgent handoffs left waiting by a process that is gone.

        The handoffs stay as they are: with another instance on the same database they could still
        be live (the task is then one call back too many, never one too few)."""
        return self._open(
            lambda h: left_by_previous_process(h.urgency, h.status, _aware(h.created_at), started_at),
            "service_restarted",
            utcnow(),
        )

    def open_requested(self, handoff_id: str, now: datetime | None = None) -> tuple[Callback | None, bool]:
        """The waiting caller asked to be called back (any urgency): the handoff leaves the waiting
        queue as ``callback`` and gets its one task (trigger ``caller_asked``), in one transaction.

        Returns (task, created). (None, False) when the handoff no longer waits (an agent took it
        a moment ago, or the call ended): the caller is not told a call back is coming. A task the
        handoff already had (an emergency that timed out) is returned with created False."""
        now = now or utcnow()
        with self.store.session() as s:
            row = s.execute(
                select(Handoff, Call.caller_number)
                .join(Call, Call.id == Handoff.call_id)
                .where(Handoff.id == handoff_id)
            ).first()
            if row is None:
                raise NotFoundError(f"No handoff with id {handoff_id!r}.")
            handoff, number = row
            # Conditional, like accepting: of an agent's accept and the caller's request, one wins.
            moved = s.execute(
                update(Handoff)
                .where(Handoff.id == handoff_id, Handoff.status == "waiting")
                .values(status="callback")
            )
            if not cast(CursorResult[Any], moved).rowcount:
                s.rollback()
                return None, False
            number = callback_number(number, handoff.details)
            fields = task_fields(new_id(), handoff, number, "caller_asked", now)
            insert_new(s, Callback, [fields], unique="handoff_id")
            s.commit()
        made = self._by_ids([fields["id"]])
        if made:
            return made[0], True
        with self.store.session() as s:
            query = select(Callback).where(Callback.handoff_id == handoff_id)
            return s.scalar(query.options(selectinload(Callback.attempts))), False

    def _open(self, wanted: Any, trigger: str, now: datetime) -> list[Callback]:
        with self.store.session() as s:
            candidates = s.execute(
                select(Handoff, Call.caller_number)
                .join(Call, Call.id == Handoff.call_id)
                .outerjoin(Callback, Callback.handoff_id == Handoff.id)
                .where(Handoff.status == "waiting", Handoff.urgency.in_(("emergency", "urgent")))
                .where(Callback.id.is_(None))
            ).all()
            rows = [task_fields(new_id(), h, number, trigger, now) for h, number in candidates if wanted(h)]
            insert_new(s, Callback, rows, unique="handoff_id")
            s.commit()
        # Another process may have opened some of them first: report only the ones made here.
        return self._by_ids([r["id"] for r in rows])

    def _by_ids(self, ids: list[str]) -> list[Callback]:
        if not ids:
            return []
        with self.store.session() as s:
            found = s.scalars(
                select(Callback).where(Callback.id.in_(ids)).options(selectinload(Callback.attempts))
            )
            return self._ordered(list(found))

    # --- reading ---------------------------------------------------------------------------------
    def get(self, callback_id: str) -> Callback:
        with self.store.session() as s:
            return self._load(s, callback_id)

    @staticmethod
    def _load(s: Session, callback_id: str) -> Callback:
        task = s.get(Callback, callback_id, options=[selectinload(Callback.attempts)])
        if task is None:
            raise NotFoundError(f"No call-back task with id {callback_id!r}.")
        return task

    def tasks(self, status: str = "open", limit: int = 200) -> list[Callback]:
        """Open tasks: emergency first, then the oldest. Closed ones: the most recently closed first."""
        with self.store.session() as s:
            q = select(Callback).where(Callback.status == status).options(selectinload(Callback.attempts))
            if status != "open":
                return list(s.scalars(q.order_by(Callback.closed_at.desc()).limit(limit)))
            return self._ordered(list(s.scalars(q)))[:limit]

    def of_call(self, call_id: str) -> list[Callback]:
        with self.store.session() as s:
            return list(
                s.scalars(
                    select(Callback)
                    .where(Callback.call_id == call_id)
                    .options(selectinload(Callback.attempts))
                    .order_by(Callback.created_at)
                )
            )

    @staticmethod
    def _ordered(tasks: list[Callback]) -> list[Callback]:
        by_id = {t.id: t for t in tasks}
        items = (QueueItem(t.id, t.urgency, _aware(t.created_at), t.topic, t.language) for t in tasks)
        return [by_id[i.id] for i in order_queue(items)]

    # --- outcomes --------------------------------------------------------------------------------
    def record(self, callback_id: str, agent_id: str, outcome: str, note: str = "") -> Callback:
        """Log an attempt; a closing outcome also closes the task, in one conditional UPDATE so of two
        agents recording at once exactly one closes it (the other gets CallbackClosedError)."""
        closing = closes(outcome)
        with self.store.session() as s:
            task = self._load(s, callback_id)
            if s.get(Agent, agent_id) is None:
                raise NotFoundError(f"No agent with id {agent_id!r}.")
            if task.status != "open":
                raise CallbackClosedError(f"Call-back {callback_id} is already closed ({task.outcome}).")
            if closing:
                result = s.execute(
                    update(Callback)
                    .where(Callback.id == callback_id, Callback.status == "open")
                    .values(
                        status="closed", outcome=outcome, note=note, agent_id=agent_id, closed_at=utcnow()
                    )
                )
                if not cast(CursorResult[Any], result).rowcount:
                    s.rollback()
                    raise CallbackClosedError(
                        f"Call-back {callback_id} was closed by another agent just now."
                    )
            s.add(CallbackAttempt(callback_id=callback_id, agent_id=agent_id, outcome=outcome, note=note))
            s.commit()
        return self.get(callback_id)

    def reached_on_accept(self, handoff_id: str, agent_id: str) -> Callback | None:
        """An agent accepted the live handoff of a timed-out emergency: the caller was reached."""
        with self.store.session() as s:
            task = s.scalar(
                select(Callback).where(Callback.handoff_id == handoff_id, Callback.status == "open")
            )
            if task is None or not closes_on_accept(task.trigger):
                return None
            task_id = task.id
        try:
            return self.record(task_id, agent_id, "reached", "accepted the waiting call")
        except CallbackClosedError:
            return None


def announce(bus: EventBus, topic: str, task: Callback, **extra: Any) -> None:
    """``callback.created`` or ``callback.closed``; the agents' stream decides who is told."""
    bus.publish(
        topic,
        callback_id=task.id,
        handoff_id=task.handoff_id,
        call_id=task.call_id,
        urgency=task.urgency,
        trigger=task.trigger,
        status=task.status,
        outcome=task.outcome,
        **extra,
    )
    if topic == "callback.created":
        metrics.CALLBACKS.labels(task.urgency, task.trigger).inc()


class CallbackWatch:
    """Runs beside the service (started in its lifespan): every ``interval_s`` it opens tasks for
    emergencies nobody accepted in time, and it announces the tasks an ending call opened."""

    def __init__(self, store: Store, bus: EventBus, timeout_s: float, interval_s: float = 1.0) -> None:
        self.callbacks = Callbacks(store)
        self.bus = bus
        self.timeout_s = timeout_s
        self.interval_s = interval_s

    async def run(self) -> None:
        async with self.bus.subscribe() as sub:
            listener = asyncio.create_task(self._listen(sub))
            try:
                while True:
                    await self.scan()
                    await asyncio.sleep(self.interval_s)
            finally:
                listener.cancel()

    async def scan(self) -> list[Callback]:
        try:
            created = await asyncio.to_thread(self.callbacks.open_overdue, self.timeout_s)
        except Exception:  # the database is away for a moment: the next scan tries again
            log.exception("call-back scan failed; retrying in %.1f s", self.interval_s)
            return []
        for task in created:
            log.warning(
                "emergency handoff %s not accepted in %.0f s: call-back task %s opened",
                task.handoff_id,
                self.timeout_s,
                task.id,
            )
            announce(self.bus, "callback.created", task)
        return created

    async def _listen(self, sub: Any) -> None:
        while True:
            message: BusMessage = await sub.get()
            if message.topic != "call.ended" or not message.data.get("call_id"):
                continue
            if not self.bus.is_local(message):  # the ending call's own instance announces its tasks
                continue
            try:
                tasks = await asyncio.to_thread(self.callbacks.of_call, str(message.data["call_id"]))
            except Exception:
                log.exception("could not read the call-back tasks of call %s", message.data["call_id"])
                continue
            for task in tasks:
                if task.status == "open" and task.trigger in ENDED_CALL_TRIGGERS:
                    announce(self.bus, "callback.created", task)
