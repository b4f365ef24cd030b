"""`triage staffing ...` (volume import, forecast and agents per half hour, an Erlang calculator)
and `triage incidents ...` (list, publish and end incident notices, list storm alerts)."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.groups import CommandGroups

if TYPE_CHECKING:
    from pipeline.store import Store

DB_HELP = "SQLAlchemy URL; default: TRIAGE_DATABASE_URL, else the SQLite file in the data folder."


def _store(database_url: str | None) -> Store:
    from core.settings import get_settings
    from pipeline.store import Store

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Store(database_url or settings.resolved_database_url())


def register(groups: CommandGroups) -> None:
    staffing = typer.Typer(
        no_args_is_help=True, help="Forecast call volume and the agents each half hour needs."
    )
    incidents = typer.Typer(no_args_is_help=True, help="Incident notices and storm alerts.")
    groups.root.add_typer(staffing, name="staffing")
    groups.root.add_typer(incidents, name="incidents")

    @staffing.command("import")
    def import_cmd(
        csv_path: Annotated[
            Path, typer.Argument(help="CSV of 'start,calls' or 'date,time,calls' per half hour.")
        ],
        database_url: Annotated[str | None, typer.Option("--database-url", help=DB_HELP)] = None,
    ) -> None:
        """Store past half-hour call volumes (a new deployment has no recorded history)."""
        from pipeline.forecast import ForecastError, read_volume_csv
        from pipeline.staffing import import_volumes

        try:
            volumes = read_volume_csv(csv_path.read_text(encoding="utf-8-sig"))
        except (OSError, ForecastError) as e:
            raise typer.BadParameter(str(e), param_hint="CSV_PATH") from e
        added = import_volumes(_store(database_url), volumes)
        typer.echo(f"read {len(volumes)} half hours; imported {added} new ones")

    @staffing.command("forecast")
    def forecast_cmd(
        days: Annotated[int, typer.Option("--days", min=1, max=28, help="Days to forecast.")] = 7,
        holdout_days: Annotated[
            int, typer.Option("--holdout-days", min=0, help="Days held out for the error.")
        ] = 7,
        target_s: Annotated[
            float, typer.Option("--target-s", help="Answer within this many seconds...")
        ] = 20.0,
        service_level: Annotated[
            float, typer.Option("--service-level", help="...this share of calls.")
        ] = 0.8,
        aht_s: Annotated[float | None, typer.Option("--aht-s", help="Handle time; default measured.")] = None,
        patience_s: Annotated[
            float | None, typer.Option("--patience-s", help="Mean caller patience: Erlang A (default C).")
        ] = None,
        containment: Annotated[
            float | None, typer.Option("--containment", help="Bot's share of calls; default measured.")
        ] = None,
        every_slot: Annotated[bool, typer.Option("--every-slot", help="Print all half hours.")] = False,
        out: Annotated[Path | None, typer.Option("--out", help="Write the whole plan as JSON here.")] = None,
        database_url: Annotated[str | None, typer.Option("--database-url", help=DB_HELP)] = None,
    ) -> None:
        """Holt-Winters forecast per half hour (error on held-out days) and agents needed."""
        from api.staffing import plan_view
        from core.settings import get_settings
        from pipeline.forecast import ForecastError
        from pipeline.staffing import StaffingOptions, plan

        opts = StaffingOptions(target_s, service_level, aht_s, patience_s=patience_s, containment=containment)
        try:
            p = plan(_store(database_url), opts, days, holdout_days)
        except ForecastError as e:
            raise typer.BadParameter(str(e)) from e
        fc = p.forecast
        mape = f"{fc.mape:.1%}" if fc.mape is not None else "n/a"
        mae = f"{fc.mae:.2f}" if fc.mae is not None else "n/a"
        typer.echo(
            f"history {fc.history_slots / 48:.1f} days, season {fc.season} half hours; "
            f"held-out {fc.holdout_days} days: MAE {mae} calls/half hour, MAPE {mape}; "
            f"containment {p.containment:.1%}, AHT {p.aht_s:.0f} s, {p.model}"
        )
        shift = timedelta(minutes=get_settings().report_utc_offset_min)
        by_day: dict[str, list[tuple[datetime, float, int]]] = defaultdict(list)
        for s in p.slots:
            local = s.start + shift
            by_day[local.date().isoformat()].append((local, s.calls, s.staffing.agents))
            if every_slot:
                typer.echo(f"{local:%Y-%m-%d %H:%M}  calls {s.calls:7.1f}  agents {s.staffing.agents:3d}")
        for day, rows in by_day.items():
            peak = max(rows, key=lambda r: r[2])
            total = sum(r[1] for r in rows)
            typer.echo(f"{day}: {total:7.0f} calls; peak {peak[2]} agents at {peak[0]:%H:%M}")
        if out:
            out.write_text(json.dumps(plan_view(p), ensure_ascii=False, indent=1), encoding="utf-8")

    @staffing.command("erlang")
    def erlang_cmd(
        calls: Annotated[float, typer.Option("--calls", min=0, help="Calls in the period.")],
        aht_s: Annotated[float, typer.Option("--aht-s", min=1, help="Average handle time, seconds.")],
        target_s: Annotated[float, typer.Option("--target-s", help="Service level threshold.")] = 20.0,
        service_level: Annotated[float, typer.Option("--service-level", help="Target share.")] = 0.8,
        period_s: Annotated[float, typer.Option("--period-s", help="Period length, seconds.")] = 1800.0,
        patience_s: Annotated[float | None, typer.Option("--patience-s", help="Erlang A patience.")] = None,
    ) -> None:
        """Agents needed for one period, with the service level, ASA and abandonment they give."""
        from pipeline.erlang import agents_needed

        s = agents_needed(calls, period_s, aht_s, target_s, service_level, patience_s)

        def num(x: float) -> str:
            return "inf" if math.isinf(x) else f"{x:.3f}"

        typer.echo(
            f"{'Erlang A' if patience_s else 'Erlang C'}: {s.erlangs:.2f} Erlangs -> {s.agents} agents; "
            f"service level {num(s.service_level)}, waiting probability {num(s.wait_probability)}, "
            f"ASA {num(s.asa_s)} s, abandonment {num(s.abandon_rate)}, occupancy {num(s.occupancy)}"
        )

    @incidents.command("list")
    def list_cmd(
        all_: Annotated[bool, typer.Option("--all", help="Ended notices too.")] = False,
        database_url: Annotated[str | None, typer.Option("--database-url", help=DB_HELP)] = None,
    ) -> None:
        """Incident notices (live ones by default) and open storm alerts."""
        from pipeline.bus import EventBus
        from pipeline.incidents import IncidentBook

        book = IncidentBook(_store(database_url), EventBus())
        for i in book.incidents(live_only=not all_):
            fix = i.fix_by.isoformat() if i.fix_by else "-"
            typer.echo(
                f"{i.id}  {i.status:5}  {i.topic}  {i.where_zh}/{i.where_en}  {i.what_zh}/{i.what_en}  "
                f"fix by {fix}  calls {book.calls_of(i.id)}"
            )
        for a in book.storms():
            typer.echo(
                f"storm {a.id}  {a.topic} in {a.district}: {a.calls} calls, {a.expected:.2f} expected, "
                f"p={a.p_value:.1e}"
            )

    @incidents.command("publish")
    def publish_cmd(
        topic: Annotated[str, typer.Option("--topic", help="Topic code: water, power, gas, ...")],
        district: Annotated[str, typer.Option("--district", help="The place as callers name it.")],
        what_zh: Annotated[str, typer.Option("--what-zh", help="What happened, in Mandarin: 停水.")],
        what_en: Annotated[str, typer.Option("--what-en", help="What happened, in English: water cut.")],
        where_en: Annotated[str, typer.Option("--where-en", help="The place in English.")] = "",
        fix_by: Annotated[
            str | None, typer.Option("--fix-by", help="Expected fix time, ISO 8601 with zone.")
        ] = None,
        database_url: Annotated[str | None, typer.Option("--database-url", help=DB_HELP)] = None,
    ) -> None:
        """Publish a notice callers about its topic and place hear first (a running service sees it at
        its callers' next turn; its consoles hear of it when published through the REST API)."""
        from pipeline.bus import EventBus
        from pipeline.incidents import IncidentBook

        try:
            when = datetime.fromisoformat(fix_by) if fix_by else None
            i = IncidentBook(_store(database_url), EventBus()).publish(
                topic, district, what_zh, what_en, district, where_en or district, when, created_by="cli"
            )
        except ValueError as e:
            raise typer.BadParameter(str(e)) from e
        typer.echo(f"published {i.id}")

    @incidents.command("end")
    def end_cmd(
        incident_id: Annotated[str, typer.Argument(help="The notice's id (triage incidents list).")],
        database_url: Annotated[str | None, typer.Option("--database-url", help=DB_HELP)] = None,
    ) -> None:
        """End a notice: callers no longer hear it."""
        from pipeline.bus import EventBus
        from pipeline.incidents import IncidentBook
        from pipeline.store import NotFoundError

        try:
            i = IncidentBook(_store(database_url), EventBus()).end(incident_id)
        except NotFoundError as e:
            raise typer.BadParameter(str(e)) from e
        typer.echo(f"ended {i.id}")
