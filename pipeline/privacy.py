"""Who may sign in, and forgetting a caller (docs/security.md).

- ``disable_agent`` / ``enable_agent``: a disabled agent's token signs in nowhere (REST, the
  agents' WebSocket); the row and what they did stay for the records.
- ``rotate_token``: a new token, the old one stops working at once; only the new hash is kept.
- ``forget_caller``: the caller's right to erasure. Deletes every call from that number (with its
  utterances, decisions, handoffs, call-back tasks and the other rows that hang off a call),
  the recordings of those calls, and the work orders filed for the number (with their notes).
"""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, or_, select

from pipeline.db import Agent, Call, Callback, WorkOrder
from pipeline.store import Store, token_digest


def disable_agent(store: Store, agent_id: str) -> Agent:
    with store.session() as s:
        agent = store._get(s, Agent, agent_id)
        if agent.disabled_at is None:
            agent.disabled_at = datetime.now(UTC)
            agent.status = "offline"
        s.commit()
        return agent


def enable_agent(store: Store, agent_id: str) -> Agent:
    with store.session() as s:
        agent = store._get(s, Agent, agent_id)
        agent.disabled_at = None
        s.commit()
        return agent


def rotate_token(store: Store, agent_id: str) -> tuple[Agent, str]:
    """The agent with a fresh token (returned once); the old token stops working now."""
    token = secrets.token_urlsafe(24)
    with store.session() as s:
        agent = store._get(s, Agent, agent_id)
        agent.token_sha256 = token_digest(token)
        s.commit()
        return agent, token


def active_agent_by_token(store: Store, token: str) -> Agent | None:
    """The agent a token belongs to, unless that agent is disabled."""
    agent = store.agent_by_token(token)
    return agent if agent is not None and agent.disabled_at is None else None


@dataclass
class ForgetReport:
    number: str
    calls: int = 0
    work_orders: int = 0
    callbacks: int = 0
    recordings: int = 0
    """Recording files deleted."""
    call_ids: list[str] = field(default_factory=list)


def forget_caller(store: Store, number: str, recordings_root: Path, dry_run: bool = False) -> ForgetReport:
    """Delete everything kept about one caller number; live calls from it are left alone (their
    records are still being written: run it again after they end)."""
    report = ForgetReport(number)
    with store.session() as s:
        calls = list(s.scalars(select(Call).where(Call.caller_number == number, Call.ended_at.is_not(None))))
        report.call_ids = [c.id for c in calls]
        report.calls = len(calls)
        orders = list(
            s.scalars(
                select(WorkOrder.id).where(
                    or_(WorkOrder.caller_number == number, WorkOrder.call_id.in_(report.call_ids))
                )
            )
        )
        report.work_orders = len(orders)
        report.callbacks = len(
            list(s.scalars(select(Callback.id).where(Callback.call_id.in_(report.call_ids))))
        )
        files: list[Path] = []
        for call in calls:
            for stored in (call.caller_audio_path, call.bot_audio_path, call.agent_audio_path):
                if stored:
                    path = Path(stored) if Path(stored).is_absolute() else recordings_root / stored
                    if path.exists():
                        files.append(path)
        report.recordings = len(files)
        if dry_run:
            return report
        # Delete rows first (committed), files second: a crash in between leaves orphan files that
        # the recordings purge removes, never records pointing to deleted audio.
        if orders:
            s.execute(delete(WorkOrder).where(WorkOrder.id.in_(orders)))
        if report.call_ids:  # the database cascades to every row that hangs off a call
            s.execute(delete(Call).where(Call.id.in_(report.call_ids)))
        s.commit()
    for path in files:
        path.unlink(missing_ok=True)
        folder = path.parent
        if folder != recordings_root and folder.is_dir() and not any(folder.iterdir()):
            shutil.rmtree(folder, ignore_errors=True)
    return report
