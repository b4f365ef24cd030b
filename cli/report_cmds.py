"""`triage history generate`, `triage report` and `triage bench reports`."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from cli.groups import CommandGroups

DB_HELP = "SQLAlchemy URL; default: TRIAGE_DATABASE_URL, else the SQLite file in the data folder."


def _url(database_url: str | None) -> str:
    from core.settings import get_settings

    if database_url:
        return database_url
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings.resolved_database_url()


def register(groups: CommandGroups) -> None:
    history = typer.Typer(no_args_is_help=True, help="Synthetic call histories for reports and forecasts.")
    groups.root.add_typer(history, name="history")

    @history.command("generate")
    def generate(
        days: Annotated[int, typer.Option("--days", min=1, help="Days of history.")] = 28,
        calls_per_day: Annotated[
            int, typer.Option("--calls-per-day", min=1, help="Calls on an average weekday.")
        ] = 1000,
        start: Annotated[
            str | None, typer.Option("--start", help="First day (YYYY-MM-DD); default: DAYS before today.")
        ] = None,
        storm: Annotated[
            list[str] | None,
            typer.Option(
                "--storm",
                help="Add a storm of calls: 'at=2026-11-20T09:00,district=滨海新区,calls=300,minutes=30' "
                "(keys optional; at in local time, default 09:00 on the last day). Repeatable.",
            ),
        ] = None,
        seed: Annotated[int, typer.Option("--seed", help="Same seed, same history.")] = 14,
        agents: Annotated[int, typer.Option("--agents", min=0, help="0: one per 150 calls a day.")] = 0,
        utc_offset_min: Annotated[
            int | None,
            typer.Option(
                "--utc-offset-min",
                help="Local time of the hotline in minutes from UTC (480: China); "
                "default TRIAGE_REPORT_UTC_OFFSET_MIN, so reports' days match the history's.",
            ),
        ] = None,
        replace: Annotated[
            bool, typer.Option("--replace", help="Delete the previous synthetic history first.")
        ] = False,
        database_url: Annotated[str | None, typer.Option("--database-url", help=DB_HELP)] = None,
    ) -> None:
        """Write a realistic synthetic history (channel 'synthetic') into the database in bulk."""
        from datetime import timedelta

        from core.settings import get_settings
        from eval.history import HistoryPlan, Storm
        from eval.history_write import write_history

        offset = get_settings().report_utc_offset_min if utc_offset_min is None else utc_offset_min
        try:
            first = date.fromisoformat(start) if start else date.today() - timedelta(days=days)
            last = first + timedelta(days=days - 1)
            storms = [Storm.parse(s, last, offset) for s in storm or []]
        except ValueError as e:
            raise typer.BadParameter(str(e)) from e
        plan = HistoryPlan(first, days, calls_per_day, seed, agents, offset, storms)

        def progress(day: int, summary: object) -> None:
            if (day + 1) % 10 == 0 or day + 1 == days:
                typer.echo(f"  day {day + 1}/{days}: {getattr(summary, 'calls', 0)} calls", err=True)

        sl = get_settings().service_level_s
        summary = write_history(
            _url(database_url), plan, replace=replace, progress=progress, service_level_s=sl
        )
        rows = ", ".join(f"{n} {t}" for t, n in summary.rows.items())
        typer.echo(f"wrote {summary.days} days from {first} ({rows}) in {summary.seconds:.1f} s")

    @groups.root.command("report")
    def report(
        from_: Annotated[str, typer.Option("--from", help="First day or time (local), e.g. 2026-11-01.")],
        to: Annotated[str, typer.Option("--to", help="Last day (included) or end time (excluded).")],
        by: Annotated[
            str,
            typer.Option(
                "--by", help="hour, day, topic, request_type, urgency, language, district or agent."
            ),
        ] = "day",
        fmt: Annotated[str, typer.Option("--format", help="table, csv or xlsx.")] = "table",
        out: Annotated[Path | None, typer.Option("--out", help="Write here (xlsx needs it).")] = None,
        database_url: Annotated[str | None, typer.Option("--database-url", help=DB_HELP)] = None,
        rebuild: Annotated[
            bool, typer.Option("--rebuild", help="Recount past hours (after records of them were changed).")
        ] = False,
    ) -> None:
        """Calls offered, contained, handed off and abandoned, service level, ASA, emergencies, repeat
        callers, work orders and satisfaction, grouped (definitions: docs/supervisors.md)."""
        from core.settings import get_settings
        from pipeline.db import make_sessionmaker
        from pipeline.reports import build_report, options_for
        from pipeline.reports_export import to_csv, to_text, to_xlsx

        settings = get_settings()
        if fmt not in ("table", "csv", "xlsx"):
            raise typer.BadParameter("choose table, csv or xlsx", param_hint="--format")
        if fmt == "xlsx" and out is None:
            raise typer.BadParameter("an Excel report needs --out FILE.xlsx", param_hint="--out")
        try:
            opts = options_for(settings, from_, to, by)
        except ValueError as e:
            raise typer.BadParameter(str(e)) from e
        from pipeline.reports_rollup import clear_rollup

        with make_sessionmaker(_url(database_url))() as s:
            if rebuild:
                clear_rollup(s)
            result = build_report(s, opts)
        if fmt == "xlsx":
            assert out is not None
            out.write_bytes(to_xlsx(result))
            typer.echo(f"wrote {out}")
            return
        body = to_csv(result) if fmt == "csv" else to_text(result) + "\n"
        if out:
            out.write_text(body, encoding="utf-8")
            typer.echo(f"wrote {out}")
        else:
            typer.echo(body, nl=False)

    review = typer.Typer(
        no_args_is_help=True, help="The supervisors' review queue (labels on calls the bot got wrong)."
    )
    groups.root.add_typer(review, name="review")

    @review.command("export")
    def review_export(
        out: Annotated[Path, typer.Option("--out", help="JSONL file to write.")],
        kind: Annotated[
            str, typer.Option("--kind", help="nlu (triage nlu train rows) or kb (KB queries).")
        ] = "nlu",
        database_url: Annotated[str | None, typer.Option("--database-url", help=DB_HELP)] = None,
    ) -> None:
        """Write the review labels as `triage nlu train --data` rows or as KB eval queries."""
        from pipeline.db import make_sessionmaker
        from pipeline.review import kb_query_row, labels, training_row

        if kind not in ("nlu", "kb"):
            raise typer.BadParameter("choose nlu or kb", param_hint="--kind")
        with make_sessionmaker(_url(database_url))() as s:
            rows = labels(s)
            if kind == "nlu":
                out_rows = [r for r in (training_row(x) for x in rows) if r]
            else:
                out_rows = [kb_query_row(x) for x in rows]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in out_rows), encoding="utf-8")
        typer.echo(f"wrote {len(out_rows)} rows to {out}")

    @groups.bench.command("reports")
    def bench_reports(
        calls: Annotated[
            int, typer.Option("--calls", min=1, help="Synthetic calls to report over.")
        ] = 1_000_000,
        days: Annotated[int, typer.Option("--days", min=1, help="Days they spread over.")] = 90,
        database_url: Annotated[str | None, typer.Option("--database-url", help=DB_HELP)] = None,
        json_out: Annotated[
            Path | None, typer.Option("--json", help="Also write the flat figures here.")
        ] = None,
    ) -> None:
        """Time every report grouping over a large synthetic history (generated once, then reused).
        Use a database of its own: the history replaces earlier synthetic calls there."""
        from eval.reports_bench import run_reports_bench

        result = run_reports_bench(_url(database_url), calls=calls, days=days)
        if result.generated_s is not None:
            typer.echo(f"generated the history in {result.generated_s} s")
        typer.echo(f"{result.calls} calls in the database")
        for by, t in result.seconds.items():
            typer.echo(f"  by {by:<13} cold {t['cold_s']:.3f} s  warm {t['warm_s']:.3f} s")
        if json_out:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(json.dumps(result.flat(), indent=2) + "\n", encoding="utf-8")
            typer.echo(f"wrote {json_out}")
