"""Write a synthetic history in bulk: executemany on SQLite, COPY on PostgreSQL, one day per commit.

Generated calls carry channel 'synthetic' so a history can be replaced (``replace=True`` deletes the
previous one first) without touching real calls.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

from eval.history import DayRows, HistoryGenerator, HistoryPlan
from pipeline.db import Base, make_sessionmaker, utcnow
from pipeline.reports_facts import ensure_report_indexes
from pipeline.reports_rollup import clear_rollup, roll_up, rolled_span

TABLES = ("calls", "utterances", "decisions", "handoffs", "work_orders")
JSON_COLUMNS = {"details", "answers_tried", "topics", "languages"}


@dataclass
class WriteSummary:
    days: int = 0
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    seconds: float = 0.0

    @property
    def calls(self) -> int:
        return self.rows["calls"]


def _columns(table: str) -> list[str]:
    cols = [c.name for c in Base.metadata.tables[table].columns]
    return [c for c in cols if not (c == "id" and table in ("utterances", "decisions"))]


def _sqlite_value(name: str, value: Any) -> Any:
    if isinstance(value, datetime):  # the text SQLAlchemy's SQLite DateTime writes
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if name in JSON_COLUMNS:
        return json.dumps(value, ensure_ascii=False)
    return value


def _write_sqlite(engine: Engine, rows: DayRows) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for table in TABLES:
            batch = getattr(rows, table)
            if not batch:
                continue
            cols = _columns(table)
            sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
            cur.executemany(sql, [tuple(_sqlite_value(c, r.get(c)) for c in cols) for r in batch])
        raw.commit()
    finally:
        raw.close()


def _write_postgres(engine: Engine, rows: DayRows) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for table in TABLES:
            batch = getattr(rows, table)
            if not batch:
                continue
            cols = _columns(table)
            with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                for r in batch:
                    copy.write_row(
                        tuple(
                            json.dumps(r.get(c), ensure_ascii=False) if c in JSON_COLUMNS else r.get(c)
                            for c in cols
                        )
                    )
        raw.commit()
    finally:
        raw.close()


def _add_agents(engine: Engine, plan: HistoryPlan) -> None:
    from pipeline.db import Agent, insert_new

    maker = make_sessionmaker(engine.url.render_as_string(hide_password=False), create=False)
    rows = [
        {
            "id": agent_id,
            "name": f"Synthetic agent {i + 1:02d} / 模拟坐席{i + 1:02d}",
            "role": "agent",
            "token_sha256": hashlib.sha256(f"synthetic:{agent_id}".encode()).hexdigest(),
            "topics": [],
            "languages": [],
            "status": "offline",
        }
        for i, agent_id in enumerate(plan.agent_ids())
    ]
    with maker() as s:
        insert_new(s, Agent, rows, unique="id")
        s.commit()


def delete_synthetic(engine: Engine) -> int:
    """Remove every call with channel 'synthetic' and the rows that hang off it; returns calls deleted."""
    ids = "SELECT id FROM calls WHERE channel = 'synthetic'"
    with engine.begin() as conn:
        for table in ("work_orders", "utterances", "decisions", "handoffs"):
            conn.execute(text(f"DELETE FROM {table} WHERE call_id IN ({ids})"))
        result = conn.execute(text("DELETE FROM calls WHERE channel = 'synthetic'"))
        return int(getattr(result, "rowcount", 0) or 0)


def write_history(
    url: str,
    plan: HistoryPlan,
    replace: bool = False,
    progress: Callable[[int, WriteSummary], None] | None = None,
    service_level_s: float = 20.0,
) -> WriteSummary:
    """Generate ``plan`` day by day into the database at ``url`` (tables created if missing)."""
    maker = make_sessionmaker(url)
    engine = maker.kw["bind"]
    with maker() as s:  # hours this history fills may be rolled up already: count them again
        clear_rollup(s)
    if replace:
        delete_synthetic(engine)
    _add_agents(engine, plan)
    ensure_report_indexes(engine)
    write = _write_postgres if engine.dialect.name == "postgresql" else _write_sqlite
    gen = HistoryGenerator(plan)
    summary = WriteSummary()
    began = time.perf_counter()
    for day in range(plan.days):
        rows = gen.day_rows(day)
        write(engine, rows)
        summary.days += 1
        for table in TABLES:
            summary.rows[table] += len(getattr(rows, table))
        if progress:
            progress(day, summary)
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    else:
        with engine.begin() as conn:
            for table in TABLES:
                conn.execute(text(f"ANALYZE {table}"))
    with maker() as s:  # roll up the settled hours now, so the first report is as quick as the next
        lo, hi = rolled_span(gen.start_utc, gen.end, utcnow(), settle_h=24.0)
        roll_up(s, lo, hi, service_level_s)
    summary.seconds = time.perf_counter() - began
    return summary
