"""Call records in SQLAlchemy: SQLite by default, PostgreSQL by DATABASE_URL.

Every write commits before the caller of the store is told it succeeded, so a record that was
acknowledged survives a crash or restart.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, create_engine, event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Call(Base):
    __tablename__ = "calls"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    caller_number: Mapped[str | None] = mapped_column(String(32), index=True)
    language: Mapped[str | None] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(16), default="stream")
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    end_reason: Mapped[str | None] = mapped_column(String(32))
    rating: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    caller_audio_path: Mapped[str | None] = mapped_column(Text)
    bot_audio_path: Mapped[str | None] = mapped_column(Text)
    agent_audio_path: Mapped[str | None] = mapped_column(Text)
    """What the agents said once a person took the call (their own channel, 16 kHz)."""
    topic: Mapped[str | None] = mapped_column(String(48))
    """Report facts (pipeline/reports_facts.py): the call's topic, request type, urgency and
    district, filled from its handoff or last decision when the call is reported, so reports group
    by one column instead of joining every decision."""
    request_type: Mapped[str | None] = mapped_column(String(32))
    urgency: Mapped[str | None] = mapped_column(String(16))
    district: Mapped[str | None] = mapped_column(String(48))
    instance_id: Mapped[str | None] = mapped_column(String(32), index=True)
    """The service instance holding the live call (table instances; docs/scale-out.md)."""
    partial_text: Mapped[str | None] = mapped_column(Text)
    """The latest partial transcript of the caller's utterance in progress, saved at most once a
    second; kept as an unfinished utterance if the call's instance dies (pipeline/instances.py)."""
    utterances: Mapped[list[Utterance]] = relationship(
        back_populates="call", order_by="Utterance.seq", cascade="all, delete-orphan"
    )
    decisions: Mapped[list[Decision]] = relationship(
        back_populates="call", order_by="Decision.created_at", cascade="all, delete-orphan"
    )


class Utterance(Base):
    __tablename__ = "utterances"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(8))  # caller | bot
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    start_s: Mapped[float | None]
    end_s: Mapped[float | None]
    confidence: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    unfinished: Mapped[bool | None] = mapped_column(default=None)
    """True: the caller was cut off mid-sentence (their instance died); the text is the best partial."""
    call: Mapped[Call] = relationship(back_populates="utterances")


class Decision(Base):
    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    utterance_seq: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(Text)
    topic: Mapped[str | None] = mapped_column(String(48))
    request_type: Mapped[str | None] = mapped_column(String(32))
    urgency: Mapped[str | None] = mapped_column(String(16))
    confidence: Mapped[float | None]
    kb_entry_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    call: Mapped[Call] = relationship(back_populates="decisions")


class Handoff(Base):
    __tablename__ = "handoffs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="waiting", index=True)
    urgency: Mapped[str] = mapped_column(String(16), default="routine")
    topic: Mapped[str | None] = mapped_column(String(48))
    request_type: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(8))
    confidence: Mapped[float | None]
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    answers_tried: Mapped[list[Any]] = mapped_column(default=list)
    agent_id: Mapped[str | None] = mapped_column(String(32))
    resolution: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    transfer_note: Mapped[str | None] = mapped_column(Text)
    """What the transferring agent wrote for the next one (warm transfer, api/softphone.py)."""
    transfer_to_agent_id: Mapped[str | None] = mapped_column(String(32))
    """Transferred to this agent: only they (and supervisors) see it in their queue."""
    transfer_topic: Mapped[str | None] = mapped_column(String(48))
    """Transferred to agents with this topic skill: it routes by this topic instead of ``topic``."""
    transferred_by: Mapped[str | None] = mapped_column(String(32))
    """The agent who transferred the call last."""


class Instance(Base):
    """A running service process among several on one database: it heartbeats ``last_seen``; one
    silent too long is reaped by a survivor (pipeline/instances.py)."""

    __tablename__ = "instances"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="live", index=True)
    """live | draining | stopped | dead"""
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    reaped_by: Mapped[str | None] = mapped_column(String(32))


class Agent(Base):
    __tablename__ = "agents"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16), default="agent")  # agent | supervisor
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    topics: Mapped[list[Any]] = mapped_column(default=list)  # [] means every topic
    languages: Mapped[list[Any]] = mapped_column(default=list)  # [] means every language
    status: Mapped[str] = mapped_column(String(16), default="offline")  # available | busy | offline
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    """Set by `triage agents disable` / POST /v1/agents/{id}/disable: the token no longer signs in."""


class WorkOrder(Base):
    __tablename__ = "work_orders"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    call_id: Mapped[str | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"), index=True)
    caller_number: Mapped[str | None] = mapped_column(String(32), index=True)
    topic: Mapped[str | None] = mapped_column(String(48))
    request_type: Mapped[str | None] = mapped_column(String(32))
    urgency: Mapped[str] = mapped_column(String(16), default="routine")
    summary: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="new", index=True)
    assigned_to: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    urged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When the order was first flagged overdue (催办) to supervisors and its team."""
    notes: Mapped[list[WorkOrderNote]] = relationship(
        order_by="WorkOrderNote.id", cascade="all, delete-orphan"
    )


class WorkOrderNote(Base):
    __tablename__ = "work_order_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    work_order_id: Mapped[str] = mapped_column(ForeignKey("work_orders.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    status_from: Mapped[str | None] = mapped_column(String(16))
    status_to: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Callback(Base):
    """A caller to ring back: an emergency or urgent handoff nobody took (pipeline/callbacks.py).

    One per handoff, enforced by the unique handoff_id, so two processes can never both open it."""

    __tablename__ = "callbacks"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    handoff_id: Mapped[str] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"), unique=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    caller_number: Mapped[str | None] = mapped_column(String(32), index=True)
    urgency: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str | None] = mapped_column(String(48))
    language: Mapped[str | None] = mapped_column(String(8))
    trigger: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open | closed
    outcome: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    agent_id: Mapped[str | None] = mapped_column(String(32))
    """The agent who recorded the closing outcome."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[list[CallbackAttempt]] = relationship(
        order_by="CallbackAttempt.id", cascade="all, delete-orphan"
    )


class CallbackAttempt(Base):
    """Every outcome an agent recorded on a call-back task, unanswered tries included."""

    __tablename__ = "callback_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    callback_id: Mapped[str] = mapped_column(ForeignKey("callbacks.id", ondelete="CASCADE"), index=True)
    agent_id: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PlaceReport(Base):
    """One call's topic in one district (pipeline/storms.py counts these to find storms)."""

    __tablename__ = "place_reports"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(String(48))
    district: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


class StormAlert(Base):
    """A burst of calls about one topic in one district, for supervisors (pipeline/incidents.py)."""

    __tablename__ = "storm_alerts"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    topic: Mapped[str] = mapped_column(String(48))
    district: Mapped[str] = mapped_column(String(64))
    calls: Mapped[int] = mapped_column(Integer)
    expected: Mapped[float]
    p_value: Mapped[float]
    window_s: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)  # open/published/dismissed
    incident_id: Mapped[str | None] = mapped_column(String(32))
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Incident(Base):
    """A live notice callers about its topic and place hear first (pipeline/incidents.py)."""

    __tablename__ = "incidents"
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    topic: Mapped[str] = mapped_column(String(48), index=True)
    district: Mapped[str] = mapped_column(String(64))
    """The place as callers name it, in any language (matched on the caller's words)."""
    where_zh: Mapped[str] = mapped_column(String(64))
    where_en: Mapped[str] = mapped_column(String(64))
    what_zh: Mapped[str] = mapped_column(Text)
    what_en: Mapped[str] = mapped_column(Text)
    fix_by: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="live", index=True)  # live | ended
    source: Mapped[str] = mapped_column(String(32), default="supervisor")
    created_by: Mapped[str | None] = mapped_column(String(64))
    storm_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IncidentCall(Base):
    """A call that heard an incident notice: counted against the incident, once per call."""

    __tablename__ = "incident_calls"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class VolumeSlot(Base):
    """Calls offered in one half hour before this service recorded them (imported from a CSV for
    the forecast, pipeline/staffing.py); a half hour with recorded calls uses the recorded count."""

    __tablename__ = "volume_slots"
    slot_start: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    calls: Mapped[float]
    source: Mapped[str] = mapped_column(String(64), default="import")


class ReviewLabel(Base):
    """A supervisor's label on a call the bot got wrong (pipeline/review.py): the right topic,
    urgency and answer for the caller's question, exported as NLU training rows and KB corrections."""

    __tablename__ = "review_labels"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    call_id: Mapped[str] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), unique=True)
    question: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    topic: Mapped[str | None] = mapped_column(String(48))
    request_type: Mapped[str | None] = mapped_column(String(32))
    urgency: Mapped[str | None] = mapped_column(String(16))
    kb_entry_id: Mapped[str | None] = mapped_column(String(64))
    """The entry that answers the question; None: no entry does (a person should take it)."""
    bot_topic: Mapped[str | None] = mapped_column(String(48))
    bot_kb_entry_id: Mapped[str | None] = mapped_column(String(64))
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    note: Mapped[str | None] = mapped_column(Text)
    agent_id: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def insert_new(s: Session, model: type[Base], rows: list[dict[str, Any]], unique: str) -> None:
    """Insert the rows whose ``unique`` column value is not taken yet, and silently skip the others.

    One ``INSERT ... ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL, so two processes racing to
    create the same row neither fail nor both succeed, and the caller's transaction stays usable."""
    if not rows:
        return
    dialect = s.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:
            from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
        s.execute(insert(model).values(rows).on_conflict_do_nothing(index_elements=[unique]))
        return
    column = getattr(model, unique)  # other databases: check first (a race then raises IntegrityError)
    taken = set(s.scalars(select(column).where(column.in_([r[unique] for r in rows]))))
    s.add_all(model(**r) for r in rows if r[unique] not in taken)


def make_engine(url: str) -> Engine:
    """An engine for SQLite (WAL, foreign keys on, safe across threads) or any other URL."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def add_missing_columns(engine: Engine) -> list[str]:
    """Columns added to a table after a database was made are added to it (nullable ones only: the
    additive upgrades this schema makes); returns 'table.column' for each one added."""
    from sqlalchemy import inspect, text

    added = []
    inspector = inspect(engine)
    for table in Base.metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        have = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in have or not column.nullable:
                continue
            kind = column.type.compile(dialect=engine.dialect)
            try:
                with engine.begin() as conn:
                    conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))
            except Exception:  # another process added it first
                if column.name not in {c["name"] for c in inspect(engine).get_columns(table.name)}:
                    raise
                continue
            added.append(f"{table.name}.{column.name}")
    return added


def make_sessionmaker(url: str, create: bool = True) -> sessionmaker:
    engine = make_engine(url)
    if create:
        Base.metadata.create_all(engine)
        add_missing_columns(engine)
    return sessionmaker(engine, expire_on_commit=False)
