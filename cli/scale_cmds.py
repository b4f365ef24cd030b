"""`triage bench instances`: N service instances on this machine (docs/scale-out.md)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from cli.groups import CommandGroups


def register(groups: CommandGroups) -> None:
    @groups.bench.command("instances")
    def bench_instances(
        instances: int = typer.Option(2, "--instances", min=1, help="Service instances to start."),
        calls: int = typer.Option(0, help="Calls placed round-robin; 0: two per instance."),
        database_url: str = typer.Option(
            "", help="PostgreSQL shared by the instances (default TRIAGE_DATABASE_URL); SQLite is refused."
        ),
        hold_s: float = typer.Option(5.0, help="Seconds each call is held after its handoff."),
        scripted: bool = typer.Option(
            False, help="Model-free instances (tests/scale_instance.py): the plumbing only, no speech models."
        ),
        language: str = typer.Option("en", help="Language of the callers' emergency line: en or zh."),
        out: Path = typer.Option(Path("runs/bench-instances.json"), help="Where the JSON goes."),
    ) -> None:
        """Start N instances on one PostgreSQL and shared bus; report calls held and how long a
        handoff takes to reach the agent consoles of the other instances."""
        from core.settings import get_settings
        from eval.instances_bench import run

        url = database_url or get_settings().database_url
        if not url.startswith("postgresql"):
            raise typer.BadParameter(
                "several instances share PostgreSQL: pass --database-url postgresql+psycopg://user@host/db "
                "/ 多实例须共用 PostgreSQL，请给出 --database-url。"
            )
        if language not in ("en", "zh"):
            raise typer.BadParameter("--language is en or zh / 语言须为 en 或 zh")
        result = run(
            instances, calls or 2 * instances, url, scripted=scripted, hold_s=hold_s, language=language
        )
        summary = result.summary()
        typer.echo(
            f"{'instances':<10}{'calls':>6}{'held':>6}{'handoffs':>9}{'same p50':>10}"
            f"{'other p50':>11}{'other p95':>11}{'other max':>11}{'missed':>8}"
        )
        cell = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
        typer.echo(
            f"{summary['instances']:<10}{summary['calls']:>6}{summary['calls_held']:>6}{summary['handoffs']:>9}"
            f"{cell(summary['same_instance_p50_ms']):>10}{cell(summary['other_instance_p50_ms']):>11}"
            f"{cell(summary['other_instance_p95_ms']):>11}{cell(summary['other_instance_max_ms']):>11}"
            f"{summary['missed']:>8}"
        )
        typer.echo("delays in ms: when an agent console was told, minus when the caller was")
        for error in summary["errors"]:
            typer.echo(f"error: {error}", err=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(summary, indent=2))
        typer.echo(f"wrote {out}")
