"""The synthetic history generator: same seed, same history; daily and weekly seasonality; a storm
of 'no water' calls from one district; bulk writes (executemany on SQLite, COPY on PostgreSQL) that
reports read back exactly."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from eval.history import HistoryGenerator, HistoryPlan, Storm
from eval.history_write import write_history
from pipeline.db import Base, Call, Handoff, make_sessionmaker
from pipeline.reports import ReportOptions, build_report

START = date(2021, 3, 1)  # a Monday


def plan(**kw: object) -> HistoryPlan:
    base: dict[str, object] = dict(start=START, days=7, calls_per_day=400, seed=3, utc_offset_min=480)
    base.update(kw)
    return HistoryPlan(**base)  # type: ignore[arg-type]


def test_same_seed_same_history_and_another_seed_another() -> None:
    a, b, c = HistoryGenerator(plan()), HistoryGenerator(plan()), HistoryGenerator(plan(seed=4))
    day_a, day_b, day_c = a.day_rows(0), b.day_rows(0), c.day_rows(0)
    assert day_a.calls == day_b.calls and day_a.handoffs == day_b.handoffs
    assert day_a.work_orders == day_b.work_orders
    assert [x["caller_number"] for x in day_a.calls] != [x["caller_number"] for x in day_c.calls]


def test_weekdays_are_busier_than_sunday_and_mornings_than_nights() -> None:
    gen = HistoryGenerator(plan(calls_per_day=2000))
    days = [gen.day_rows(i) for i in range(7)]
    assert len(days[0].calls) > 1.4 * len(days[6].calls)  # Monday factor 1.2, Sunday 0.7
    local_hours = Counter((c["started_at"] + timedelta(hours=8)).hour for c in days[0].calls)
    assert local_hours[10] > 10 * max(1, local_hours[3])
    rows = days[0]
    assert {c["language"] for c in rows.calls} == {"zh", "en"} and len(
        {c["district"] for c in rows.calls}
    ) == 7
    statuses = Counter(h["status"] for h in rows.handoffs)
    assert statuses["resolved"] > statuses["abandoned"] > statuses["callback"] > 0
    assert all(h["accepted_at"] > h["created_at"] for h in rows.handoffs if h["accepted_at"])
    assert Counter(w["status"] for w in rows.work_orders)["resolved"] > 0


def test_a_storm_brings_many_water_calls_from_one_district_within_minutes() -> None:
    storm = Storm.parse("at=2021-03-03T09:00,district=河西区,calls=200,minutes=20", START, 480)
    assert storm.at == datetime(2021, 3, 3, 1, 0, tzinfo=UTC)
    quiet = HistoryGenerator(plan()).day_rows(2)
    stormy = HistoryGenerator(plan(storms=[storm])).day_rows(2)

    def window(rows: list[dict]) -> list[dict]:  # fmt: skip
        return [c for c in rows if storm.at <= c["started_at"] < storm.at + timedelta(minutes=20)]

    burst = [c for c in window(stormy.calls) if c["district"] == "河西区" and c["topic"] == "water"]
    before = [c for c in window(quiet.calls) if c["district"] == "河西区" and c["topic"] == "water"]
    assert len(burst) >= 200 and len(before) < 10
    with pytest.raises(ValueError, match="district="):
        Storm.parse("place=x", START, 0)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_written_history_reads_back_in_reports(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'h.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        engine = create_engine(url)
        Base.metadata.drop_all(engine)
        engine.dispose()
    p = plan(days=3, calls_per_day=150)
    summary = write_history(url, p)
    again = write_history(url, p, replace=True)  # replaces, never doubles
    assert again.rows == summary.rows
    maker = make_sessionmaker(url)
    with maker() as s:
        assert s.scalar(select(func.count()).select_from(Call)) == summary.calls
        abandoned = s.scalar(select(func.count()).select_from(Handoff).where(Handoff.status == "abandoned"))
        start = datetime(2021, 2, 28, 16, tzinfo=UTC)
        report = build_report(
            s, ReportOptions(start, start + timedelta(days=3), by="day", utc_offset_min=480)
        )
    assert [r["key"] for r in report.rows] == ["2021-03-01", "2021-03-02", "2021-03-03"]
    t = report.total
    assert t["offered"] == summary.calls and t["handed_off"] == summary.rows["handoffs"]
    assert t["abandoned"] == abandoned and t["wo_opened"] == summary.rows["work_orders"]
    assert t["contained"] + t["handed_off"] == t["offered"] and t["repeat_calls"] > 0
    assert 0 < t["service_level"] < 1 and 3 < t["satisfaction_avg"] < 5


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_hourly_rollup_gives_the_same_figures_as_counting_every_row(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'r.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        engine = create_engine(url)
        Base.metadata.drop_all(engine)
        engine.dispose()
    write_history(url, plan(days=2, calls_per_day=200, storms=[Storm.parse("calls=40", START, 480)]))
    maker = make_sessionmaker(url)
    # a range with partial hours at both ends: whole hours come from the rollup, the edges raw
    start, end = datetime(2021, 2, 28, 16, 20, tzinfo=UTC), datetime(2021, 3, 2, 10, 40, tzinfo=UTC)
    for by in ("hour", "day", "topic", "urgency", "district", "agent", "language", "request_type"):
        opts = ReportOptions(start, end, by=by, utc_offset_min=480)
        with maker() as s:
            rolled = build_report(s, opts)
        with maker() as s:
            raw = build_report(s, opts, rollup=False)
        assert rolled.rows == raw.rows and rolled.total == raw.total, by
    with maker() as s:  # the rollup is really there
        from pipeline.reports_rollup import hours_table

        assert s.scalar(select(func.count()).select_from(hours_table)) >= 24


def test_the_cli_generates_a_history_with_a_storm(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    args = ["history", "generate", "--days", "2", "--calls-per-day", "60", "--start", "2021-03-01"]
    args += ["--utc-offset-min", "480"]
    storm = ["--storm", "at=2021-03-02T08:00,district=红桥区,calls=25,minutes=5"]
    result = CliRunner().invoke(app, [*args, *storm, "--database-url", url])
    assert result.exit_code == 0, result.output
    assert "wrote 2 days from 2021-03-01" in result.output
    with make_sessionmaker(url)() as s:
        burst = s.scalar(
            select(func.count())
            .select_from(Call)
            .where(Call.district == "红桥区", Call.started_at >= datetime(2021, 3, 2, 0, 0, tzinfo=UTC))
            .where(Call.started_at < datetime(2021, 3, 2, 0, 5, tzinfo=UTC))
        )
    assert burst is not None and burst >= 25
    bad = CliRunner().invoke(app, [*args, "--storm", "where=here", "--database-url", url])
    assert bad.exit_code != 0 and "district=" in bad.output
