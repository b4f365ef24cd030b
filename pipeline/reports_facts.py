"""What reports need from the database besides the records: indexes and per-call facts.

Reports group a million calls in the database, so every query they run walks an index by time
(``calls.started_at``, ``handoffs.call_id``, ``work_orders.created_at``) and groups by one column of
``calls``. A call records its topic, request type and urgency in its decisions and handoff; before a
report, :func:`fill_call_facts` copies them onto the call in one UPDATE for the calls in the range
that lack them (a call already filled is never touched again, so this costs nothing on a history).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from pipeline.reports_sql import bind_times

REPORT_INDEXES = {
    "ix_calls_started_at": "calls (started_at)",
    "ix_calls_number_started": "calls (caller_number, started_at)",
    "ix_handoffs_created_at": "handoffs (created_at)",
    "ix_work_orders_created_at": "work_orders (created_at)",
    "ix_work_orders_updated_at": "work_orders (updated_at)",
}

_ready: set[str] = set()


def ensure_report_indexes(engine: Engine) -> None:
    """Create the report indexes a database lacks (and refresh SQLite's planner statistics when it
    did); later calls in this process for the same database return at once."""
    key = engine.url.render_as_string(hide_password=False)
    if key in _ready:
        return
    inspector = inspect(engine)
    have = {
        ix["name"]
        for table in {target.split(" ")[0] for target in REPORT_INDEXES.values()}
        if inspector.has_table(table)
        for ix in inspector.get_indexes(table)
    }
    missing = {name: target for name, target in REPORT_INDEXES.items() if name not in have}
    if missing:
        with engine.begin() as conn:
            for name, target in missing.items():
                conn.execute(text(f"CREATE INDEX IF NOT EXISTS {name} ON {target}"))
            if engine.dialect.name == "sqlite":
                conn.execute(text("ANALYZE"))
    _ready.add(key)


def fill_call_facts(s: Session, start: datetime, end: datetime) -> int:
    """Copy topic, request type and urgency onto ended calls in [start, end) that have none yet:
    from the call's handoff if it has one (what the person was told), else from its last decision
    that named a topic; and the district the caller named first (``place_reports``, written as the
    call went on: pipeline/storms.py). Returns the number of calls filled; the session is committed."""
    facts = []
    for column in ("topic", "request_type", "urgency"):
        facts.append(
            f"{column} = COALESCE("
            f"(SELECT h.{column} FROM handoffs h WHERE h.call_id = calls.id "
            f"AND h.{column} IS NOT NULL ORDER BY h.created_at LIMIT 1), "
            f"(SELECT d.{column} FROM decisions d WHERE d.call_id = calls.id "
            f"AND d.{column} IS NOT NULL ORDER BY d.id DESC LIMIT 1))"
        )
    facts.append(
        "district = COALESCE(calls.district, "
        "(SELECT p.district FROM place_reports p WHERE p.call_id = calls.id ORDER BY p.id LIMIT 1))"
    )
    sql = (
        f"UPDATE calls SET {', '.join(facts)} "
        "WHERE started_at >= :start AND started_at < :end AND topic IS NULL AND ended_at IS NOT NULL "
        "AND (EXISTS (SELECT 1 FROM decisions d WHERE d.call_id = calls.id AND d.topic IS NOT NULL) "
        "OR EXISTS (SELECT 1 FROM handoffs h WHERE h.call_id = calls.id AND h.topic IS NOT NULL))"
    )
    result = s.execute(bind_times(text(sql)), {"start": start, "end": end})
    s.commit()
    return int(getattr(result, "rowcount", 0) or 0)
