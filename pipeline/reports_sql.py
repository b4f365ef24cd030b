"""The SQL behind reports: four GROUP BY queries (calls, handoffs, repeat callers, work orders),
written once for SQLite and PostgreSQL with the few expressions that differ filled in per dialect.

All counting happens in the database; Python only merges the few grouped rows the queries return.
"""

from __future__ import annotations

from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.sql.elements import TextClause

GROUPINGS = ("hour", "day", "topic", "request_type", "urgency", "language", "district", "agent")


def bind_times(clause: TextClause) -> TextClause:
    """Bind :start, :end (and :due_before when used) as timezone-aware datetimes, so each driver
    formats them as the column stores them (SQLite: the text SQLAlchemy writes; PostgreSQL: timestamptz)."""
    names = [n for n in ("start", "end", "due_before", "end_margin") if f":{n}" in clause.text]
    return clause.bindparams(*(bindparam(n, type_=DateTime(timezone=True)) for n in names))


def seconds_between(dialect: str, later: str, earlier: str) -> str:
    if dialect == "sqlite":
        return f"((julianday({later}) - julianday({earlier})) * 86400.0)"
    return f"EXTRACT(EPOCH FROM ({later} - {earlier}))"


def bucket(dialect: str, column: str, by: str, offset_min: int) -> str:
    """The hour or day a timestamp falls in, in local time ``offset_min`` minutes from UTC."""
    offset_min = int(offset_min)
    if dialect == "sqlite":
        fmt = "%Y-%m-%d %H:00" if by == "hour" else "%Y-%m-%d"
        return f"strftime('{fmt}', {column}, '{offset_min:+d} minutes')"
    fmt = "YYYY-MM-DD HH24:00" if by == "hour" else "YYYY-MM-DD"
    return f"to_char(({column} AT TIME ZONE 'UTC') + interval '{offset_min} minutes', '{fmt}')"


def call_key(dialect: str, by: str, offset_min: int) -> tuple[str, str]:
    """(group expression, extra join) for queries over calls ``c``; 'total' is one group."""
    if by == "total":
        return "NULL", ""
    if by in ("hour", "day"):
        return bucket(dialect, "c.started_at", by, offset_min), ""
    if by == "agent":
        return "ha.agent_id", "LEFT JOIN handoffs ha ON ha.call_id = c.id AND ha.agent_id IS NOT NULL"
    if by in GROUPINGS:
        return f"c.{by}", ""
    raise ValueError(f"Cannot group a report by {by!r}; choose one of {', '.join(GROUPINGS)}.")


def _grouping(dialect: str, key: str, hourly: bool) -> tuple[str, str]:
    """(extra select, GROUP BY clause): hourly queries also group by the call's UTC hour (``hb``),
    which is what the rollup stores (pipeline/reports_rollup.py)."""
    hour = bucket(dialect, "c.started_at", "hour", 0)
    keys = [k for k in (key, hour if hourly else "") if k and k != "NULL"]
    extra = f", {hour} AS hb" if hourly else ""
    return extra, f"GROUP BY {', '.join(keys)}" if keys else ""


def calls_sql(dialect: str, by: str, offset_min: int, hourly: bool = False) -> TextClause:
    key, join = call_key(dialect, by, offset_min)
    extra, group = _grouping(dialect, key, hourly)
    return bind_times(
        text(
            f"SELECT {key} AS k{extra}, COUNT(*) AS offered, "
            "SUM(CASE WHEN c.ended_at IS NOT NULL THEN 1 ELSE 0 END) AS ended, "
            "SUM(CASE WHEN c.urgency = 'emergency' THEN 1 ELSE 0 END) AS emergencies, "
            "COUNT(c.rating) AS rated, COALESCE(SUM(c.rating), 0) AS rating_sum, "
            "SUM(CASE WHEN c.rating >= 4 THEN 1 ELSE 0 END) AS rated_good "
            f"FROM calls c {join} WHERE c.started_at >= :start AND c.started_at < :end {group}"
        )
    )


def handoffs_sql(dialect: str, by: str, offset_min: int, hourly: bool = False) -> TextClause:
    key, _ = call_key(dialect, by, offset_min)
    key = "h.agent_id" if by == "agent" else key
    extra, group = _grouping(dialect, key, hourly)
    wait = seconds_between(dialect, "h.accepted_at", "h.created_at")
    answered = "h.accepted_at IS NOT NULL"
    emergency = "h.urgency = 'emergency'"
    return bind_times(
        text(
            f"SELECT {key} AS k{extra}, COUNT(*) AS queued, "
            "COUNT(DISTINCT CASE WHEN c.ended_at IS NOT NULL THEN h.call_id END) AS handed_off_ended, "
            "COUNT(DISTINCT h.call_id) AS handed_off, "
            f"SUM(CASE WHEN {answered} THEN 1 ELSE 0 END) AS answered, "
            f"SUM(CASE WHEN NOT ({answered}) AND h.status = 'abandoned' THEN 1 ELSE 0 END) AS abandoned, "
            f"SUM(CASE WHEN NOT ({answered}) AND h.status = 'callback' THEN 1 ELSE 0 END) AS callbacks, "
            f"SUM(CASE WHEN {answered} AND {wait} <= :sl THEN 1 ELSE 0 END) AS answered_in_sl, "
            f"COALESCE(SUM(CASE WHEN {answered} THEN {wait} END), 0) AS wait_sum, "
            f"SUM(CASE WHEN {emergency} THEN 1 ELSE 0 END) AS emergency_handoffs, "
            f"SUM(CASE WHEN {emergency} AND {answered} THEN 1 ELSE 0 END) AS emergency_answered, "
            f"COALESCE(SUM(CASE WHEN {emergency} AND {answered} THEN {wait} END), 0) AS emergency_wait_sum, "
            f"MAX(CASE WHEN {emergency} AND {answered} THEN {wait} END) AS emergency_wait_max "
            "FROM handoffs h JOIN calls c ON c.id = h.call_id "
            # a handoff is made after its call starts: the time index on handoffs narrows the scan
            "WHERE h.created_at >= :start AND h.created_at < :end_margin "
            f"AND c.started_at >= :start AND c.started_at < :end {group}"
        )
    )


def repeat_sql(dialect: str, by: str, offset_min: int, hourly: bool = False) -> TextClause:
    key, join = call_key(dialect, by, offset_min)
    extra, group = _grouping(dialect, key, hourly)
    if dialect == "sqlite":
        week_before = "strftime('%Y-%m-%d %H:%M:%f', c.started_at, '-7 days')"
    else:
        week_before = "c.started_at - interval '7 days'"
    return bind_times(
        text(
            f"SELECT {key} AS k{extra}, COUNT(*) AS repeat_calls FROM calls c {join} "
            "WHERE c.started_at >= :start AND c.started_at < :end AND c.caller_number IS NOT NULL "
            "AND EXISTS (SELECT 1 FROM calls p WHERE p.caller_number = c.caller_number "
            f"AND p.started_at < c.started_at AND p.started_at >= {week_before}) {group}"
        )
    )


def work_orders_sql(dialect: str, by: str, offset_min: int) -> TextClause:
    if by in ("hour", "day"):
        key = bucket(dialect, "w.created_at", by, offset_min)
    elif by in ("topic", "request_type", "urgency"):
        key = f"w.{by}"
    elif by == "agent":
        key = "w.assigned_to"
    else:
        key = f"c.{by}"
    open_ = "w.status <> 'resolved'"
    join = "LEFT JOIN calls c ON c.id = w.call_id " if key.startswith("c.") else ""
    return bind_times(
        text(
            f"SELECT {key} AS k, COUNT(*) AS wo_opened, "
            "SUM(CASE WHEN w.status = 'resolved' THEN 1 ELSE 0 END) AS wo_closed, "
            f"SUM(CASE WHEN {open_} AND w.created_at < :due_before THEN 1 ELSE 0 END) AS wo_overdue "
            f"FROM work_orders w {join}"
            f"WHERE w.created_at >= :start AND w.created_at < :end GROUP BY {key}"
        )
    )
