"""The records store: every method commits before it returns, so an acknowledged write is durable.

Methods are synchronous (SQLAlchemy sessions); the service calls them from worker threads.
Unknown ids raise NotFoundError with the id in the message.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from pipeline.callback_rules import task_fields, trigger_for_ended_call
from pipeline.db import (
    Agent,
    Call,
    Callback,
    Decision,
    Handoff,
    Utterance,
    WorkOrder,
    WorkOrderNote,
    insert_new,
    make_sessionmaker,
    new_id,
    utcnow,
)
from pipeline.routing import AgentSkills, QueueItem, check_work_order_transition, order_queue, queue_for_agent


class NotFoundError(LookupError):
    """No record with that id."""


def _aware(ts: datetime) -> datetime:
    # SQLite hands back naive datetimes even for timezone-aware columns; we only store UTC.
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def handoff_queue_item(h: Handoff) -> QueueItem:
    """What routing sees of a handoff: a call transferred to a topic skill routes by that topic."""
    return QueueItem(h.id, h.urgency, _aware(h.created_at), h.transfer_topic or h.topic, h.language)


def transfer_allows(h: Handoff, agent_id: str) -> bool:
    """A call transferred to one agent waits in that agent's queue only (and the supervisors')."""
    return h.transfer_to_agent_id is None or h.transfer_to_agent_id == agent_id


@dataclass(frozen=True)
class CallerHistory:
    caller_number: str
    calls: list[Call]
    work_orders: list[WorkOrder]


class Store:
    def __init__(self, url: str, create: bool = True) -> None:
        self._sessions: sessionmaker[Session] = make_sessionmaker(url, create=create)
        self.instance_id: str | None = None
        """Stamped on every call this process starts (pipeline/instances.py reaps a dead one's)."""

    def session(self) -> Session:
        return self._sessions()

    def _get(self, s: Session, model: type[Any], id: Any) -> Any:
        obj = s.get(model, id)
        if obj is None:
            raise NotFoundError(f"No {model.__tablename__[:-1].replace('_', ' ')} with id {id!r}.")
        return obj

    # --- calls ---------------------------------------------------------------------------------
    def start_call(self, caller_number: str | None, language: str | None, channel: str = "stream") -> Call:
        with self.session() as s:
            call = Call(
                caller_number=caller_number, language=language, channel=channel, instance_id=self.instance_id
            )
            s.add(call)
            s.commit()
            return call

    def get_call(self, call_id: str) -> Call:
        with self.session() as s:
            call = self._get(s, Call, call_id)
            _ = call.utterances, call.decisions  # load before the session closes
            return call

    def _update(self, model: type[Any], id: str, fields: dict[str, Any]) -> Any:
        with self.session() as s:
            row = self._get(s, model, id)
            for key, value in fields.items():
                setattr(row, key, value)
            s.commit()
            return row

    def update_call(self, call_id: str, **fields: Any) -> Call:
        call: Call = self._update(Call, call_id, fields)
        return call

    def end_call(self, call_id: str, reason: str, status: str = "ended") -> Call:
        """Idempotent: a call already ended keeps its first reason.

        A handoff still waiting is abandoned; an emergency or urgent one becomes a call-back task
        in the same transaction, so the caller cannot drop out of sight (pipeline/callbacks.py)."""
        with self.session() as s:
            call = self._get(s, Call, call_id)
            if call.ended_at is None:
                call.status, call.end_reason, call.ended_at = status, reason, utcnow()
                tasks = []
                for h in s.scalars(
                    select(Handoff).where(Handoff.call_id == call_id, Handoff.status == "waiting")
                ):
                    h.status = "abandoned"
                    if trigger := trigger_for_ended_call(h.urgency, reason, status):
                        tasks.append(task_fields(new_id(), h, call.caller_number, trigger, call.ended_at))
                insert_new(s, Callback, tasks, unique="handoff_id")
                s.commit()
            return call

    def rate_call(self, call_id: str, rating: int) -> Call:
        if not 1 <= rating <= 5:
            raise ValueError(f"A rating is 1 to 5, got {rating}.")
        return self.update_call(call_id, rating=rating)

    def add_utterance(
        self,
        call_id: str,
        speaker: str,
        text: str,
        language: str | None = None,
        start_s: float | None = None,
        end_s: float | None = None,
        confidence: float | None = None,
    ) -> Utterance:
        with self.session() as s:
            self._get(s, Call, call_id)
            seq = s.scalar(
                select(func.coalesce(func.max(Utterance.seq), 0)).where(Utterance.call_id == call_id)
            )
            utt = Utterance(
                call_id=call_id,
                seq=int(seq or 0) + 1,
                speaker=speaker,
                text=text,
                language=language,
                start_s=start_s,
                end_s=end_s,
                confidence=confidence,
            )
            s.add(utt)
            s.commit()
            return utt

    def add_decision(self, call_id: str, action: str, reason: str, **fields: Any) -> Decision:
        with self.session() as s:
            self._get(s, Call, call_id)
            decision = Decision(call_id=call_id, action=action, reason=reason, **fields)
            s.add(decision)
            s.commit()
            return decision

    def transcript(self, call_id: str) -> list[Utterance]:
        with self.session() as s:
            self._get(s, Call, call_id)
            return list(
                s.scalars(select(Utterance).where(Utterance.call_id == call_id).order_by(Utterance.seq))
            )

    # --- handoffs and the queue ----------------------------------------------------------------
    def create_handoff(self, call_id: str, urgency: str, reason: str, **fields: Any) -> Handoff:
        with self.session() as s:
            self._get(s, Call, call_id)
            handoff = Handoff(call_id=call_id, urgency=urgency, reason=reason, **fields)
            s.add(handoff)
            s.commit()
            return handoff

    def get_handoff(self, handoff_id: str) -> Handoff:
        with self.session() as s:
            return self._get(s, Handoff, handoff_id)

    def update_handoff(self, handoff_id: str, **fields: Any) -> Handoff:
        handoff: Handoff = self._update(Handoff, handoff_id, fields)
        return handoff

    def waiting(self) -> list[Handoff]:
        """Waiting handoffs in queue order (urgency, then waiting time)."""
        with self.session() as s:
            rows = {h.id: h for h in s.scalars(select(Handoff).where(Handoff.status == "waiting"))}
        ordered = order_queue(self._queue_item(h) for h in rows.values())
        return [rows[i.id] for i in ordered]

    def queue_for(self, agent_id: str) -> list[Handoff]:
        agent = self.get_agent(agent_id)
        rows = {h.id: h for h in self.waiting()}
        items = queue_for_agent(self._skills(agent), (self._queue_item(h) for h in rows.values()))
        return [rows[i.id] for i in items if transfer_allows(rows[i.id], agent_id)]

    def accept_handoff(self, handoff_id: str, agent_id: str) -> Handoff:
        """Waiting -> accepted in one conditional UPDATE, so of several agents accepting at once
        exactly one wins; the others get a ValueError naming the handoff's current status."""
        with self.session() as s:
            self._get(s, Handoff, handoff_id)
            self._get(s, Agent, agent_id)
            result = s.execute(
                update(Handoff)
                .where(Handoff.id == handoff_id, Handoff.status == "waiting")
                .values(status="accepted", agent_id=agent_id, accepted_at=utcnow())
            )
            won = cast(CursorResult[Any], result).rowcount
            if won:
                s.execute(update(Agent).where(Agent.id == agent_id).values(status="busy"))
            s.commit()
        handoff = self.get_handoff(handoff_id)
        if not won:
            raise ValueError(f"Handoff {handoff_id} is {handoff.status}, not waiting; it cannot be accepted.")
        return handoff

    def requeue_handoff(self, handoff_id: str, agent_id: str) -> Handoff | None:
        """Accepted by ``agent_id`` -> waiting again, at its old place (the queue orders by when the
        handoff was made): the agent's softphone dropped. None when it was no longer theirs."""
        with self.session() as s:
            result = s.execute(
                update(Handoff)
                .where(Handoff.id == handoff_id, Handoff.status == "accepted", Handoff.agent_id == agent_id)
                .values(status="waiting", agent_id=None, accepted_at=None)
            )
            s.commit()
        return self.get_handoff(handoff_id) if cast(CursorResult[Any], result).rowcount else None

    def transfer_handoff(
        self,
        handoff_id: str,
        agent_id: str,
        note: str,
        to_agent_id: str | None = None,
        to_topic: str | None = None,
    ) -> Handoff:
        """Warm transfer: the handoff waits again at its place, for one agent or a topic skill,
        with the transferring agent's note; that agent is available again."""
        with self.session() as s:
            handoff = self._get(s, Handoff, handoff_id)
            if to_agent_id is not None:
                self._get(s, Agent, to_agent_id)
            if handoff.status != "accepted":
                raise ValueError(
                    f"Handoff {handoff_id} is {handoff.status}; only an accepted call is transferred."
                )
            handoff.status, handoff.agent_id, handoff.accepted_at = "waiting", None, None
            handoff.transfer_note, handoff.transferred_by = note, agent_id
            handoff.transfer_to_agent_id, handoff.transfer_topic = to_agent_id, to_topic
            s.execute(update(Agent).where(Agent.id == agent_id).values(status="available"))
            s.commit()
            return handoff

    def resolve_handoff(self, handoff_id: str, agent_id: str, resolution: str) -> Handoff:
        with self.session() as s:
            handoff = self._get(s, Handoff, handoff_id)
            agent = self._get(s, Agent, agent_id)
            if handoff.status not in ("accepted", "waiting"):
                raise ValueError(f"Handoff {handoff_id} is already {handoff.status}.")
            handoff.status, handoff.resolution, handoff.resolved_at = "resolved", resolution, utcnow()
            handoff.agent_id = handoff.agent_id or agent.id
            agent.status = "available"
            s.commit()
            return handoff

    @staticmethod
    def _queue_item(h: Handoff) -> QueueItem:
        return handoff_queue_item(h)

    @staticmethod
    def _skills(a: Agent) -> AgentSkills:
        return AgentSkills(a.id, a.status, tuple(a.topics or ()), tuple(a.languages or ()))

    # --- agents --------------------------------------------------------------------------------
    def create_agent(
        self,
        name: str,
        role: str = "agent",
        topics: list[str] | None = None,
        languages: list[str] | None = None,
    ) -> tuple[Agent, str]:
        """Returns the agent and its bearer token; only the token's hash is stored."""
        token = secrets.token_urlsafe(24)
        with self.session() as s:
            agent = Agent(
                name=name,
                role=role,
                token_sha256=token_digest(token),
                topics=topics or [],
                languages=languages or [],
            )
            s.add(agent)
            s.commit()
            return agent, token

    def agent_by_token(self, token: str) -> Agent | None:
        with self.session() as s:
            return s.scalar(select(Agent).where(Agent.token_sha256 == token_digest(token)))

    def get_agent(self, agent_id: str) -> Agent:
        with self.session() as s:
            return self._get(s, Agent, agent_id)

    def agents(self) -> list[Agent]:
        with self.session() as s:
            return list(s.scalars(select(Agent)))

    def agent_skills(self) -> list[AgentSkills]:
        return [self._skills(a) for a in self.agents()]

    def set_agent_status(self, agent_id: str, status: str) -> Agent:
        if status not in ("available", "busy", "offline"):
            raise ValueError(f"Agent status is available, busy or offline, got {status!r}.")
        with self.session() as s:
            agent = self._get(s, Agent, agent_id)
            agent.status = status
            s.commit()
            return agent

    # --- work orders ---------------------------------------------------------------------------
    def create_work_order(self, summary: str, author: str, **fields: Any) -> WorkOrder:
        with self.session() as s:
            if fields.get("call_id"):
                call = self._get(s, Call, fields["call_id"])
                fields.setdefault("caller_number", call.caller_number)
            order = WorkOrder(summary=summary, **fields)
            s.add(order)
            s.flush()
            s.add(
                WorkOrderNote(work_order_id=order.id, author=author, text="created", status_to=order.status)
            )
            s.commit()
            _ = order.notes
            return order

    def get_work_order(self, order_id: str) -> WorkOrder:
        with self.session() as s:
            order = self._get(s, WorkOrder, order_id)
            _ = order.notes
            return order

    def update_work_order(
        self,
        order_id: str,
        author: str,
        status: str | None = None,
        note: str = "",
        assigned_to: str | None = None,
    ) -> WorkOrder:
        with self.session() as s:
            order = self._get(s, WorkOrder, order_id)
            previous = order.status
            if status and status != previous:
                check_work_order_transition(previous, status)
                order.status = status
            if assigned_to is not None:
                order.assigned_to = assigned_to
            order.updated_at = utcnow()
            s.add(
                WorkOrderNote(
                    work_order_id=order.id,
                    author=author,
                    text=note,
                    status_from=previous,
                    status_to=order.status if order.status != previous else None,
                )
            )
            s.commit()
            _ = order.notes
            return order

    # --- history -------------------------------------------------------------------------------
    def caller_history(
        self, caller_number: str, exclude_call: str | None = None, limit: int = 20
    ) -> CallerHistory:
        with self.session() as s:
            q = select(Call).where(Call.caller_number == caller_number)
            if exclude_call:
                q = q.where(Call.id != exclude_call)
            calls = list(s.scalars(q.order_by(Call.started_at.desc()).limit(limit)))
            for c in calls:
                _ = c.decisions
            orders = list(
                s.scalars(
                    select(WorkOrder)
                    .where(WorkOrder.caller_number == caller_number)
                    .order_by(WorkOrder.created_at.desc())
                    .limit(limit)
                )
            )
            for o in orders:
                _ = o.notes
        return CallerHistory(caller_number, calls, orders)
