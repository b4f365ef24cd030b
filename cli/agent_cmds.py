"""`triage agents add|list` and `triage recordings purge`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from cli.groups import CommandGroups
from cli.security_cmds import add_agent_access

if TYPE_CHECKING:
    from pipeline.store import Store


def _split(values: list[str] | None) -> list[str]:
    # Accept both `--topics water --topics power` and `--topics water,power`.
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def _store() -> Store:
    from core.settings import get_settings
    from pipeline.store import Store

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Store(settings.resolved_database_url())


def register(groups: CommandGroups) -> None:
    agents = typer.Typer(no_args_is_help=True, help="Agents who work the handoff queue in the console.")
    recordings = typer.Typer(no_args_is_help=True, help="Call recordings kept beside the database.")
    groups.root.add_typer(agents, name="agents")
    groups.root.add_typer(recordings, name="recordings")
    add_agent_access(agents)  # disable | enable | rotate (cli/security_cmds.py)

    @agents.command("add")
    def add(
        name: str = typer.Argument(..., help="The agent's display name."),
        role: str = typer.Option("agent", help="agent (works the queue) or supervisor (sees everything)."),
        topics: list[str] | None = typer.Option(
            None, "--topics", help="Topics this agent takes (repeat or comma-separate); none means all."
        ),
        languages: list[str] | None = typer.Option(
            None, "--languages", help="Languages spoken, e.g. zh,en; none means all."
        ),
    ) -> None:
        """Create an agent and print their console token (shown once: only its hash is kept)."""
        if role not in ("agent", "supervisor"):
            raise typer.BadParameter("role is agent or supervisor", param_hint="--role")
        agent, token = _store().create_agent(name.strip(), role, _split(topics), _split(languages))
        typer.echo(f"agent {agent.name} ({agent.role}) id {agent.id}")
        typer.echo(
            f"topics: {', '.join(agent.topics) or 'all'}; languages: {', '.join(agent.languages) or 'all'}"
        )
        typer.echo("token (shown once; the agent pastes it into the console at /console/):")
        typer.echo(token)

    @agents.command("list")
    def list_agents() -> None:
        """Every agent with role, skills and status (tokens are never shown again)."""
        rows = _store().agents()
        if not rows:
            typer.echo("no agents yet: create one with `triage agents add NAME`")
            return
        typer.echo(f"{'id':<32}  {'name':<20} {'role':<10} {'status':<9} {'topics':<24} languages")
        for a in rows:
            topics = ",".join(a.topics or []) or "all"
            langs = ",".join(a.languages or []) or "all"
            typer.echo(f"{a.id:<32}  {a.name[:20]:<20} {a.role:<10} {a.status:<9} {topics[:24]:<24} {langs}")

    @recordings.command("purge")
    def purge(
        older_than_days: int | None = typer.Option(
            None, "--older-than-days", min=0, help="Default: TRIAGE_RECORDINGS_RETENTION_DAYS (0 keeps all)."
        ),
        dry_run: bool = typer.Option(False, "--dry-run", help="Only report what would be deleted."),
    ) -> None:
        """Delete recordings older than the retention period (run it daily, e.g. from cron)."""
        from core.settings import get_settings
        from pipeline.retention import purge_recordings, recordings_dir

        settings = get_settings()
        report = purge_recordings(_store(), settings, older_than_days, dry_run=dry_run)
        days = settings.recordings_retention_days if older_than_days is None else older_than_days
        if days <= 0:
            typer.echo("retention is 0 days: recordings are kept forever; nothing deleted")
            return
        verb = "would delete" if dry_run else "deleted"
        typer.echo(
            f"{verb} recordings of {report.calls} calls started before {report.cutoff:%Y-%m-%d %H:%M} UTC: "
            f"{report.files} files, {report.bytes / 1e6:.1f} MB, plus {report.orphans} orphaned files "
            f"under {recordings_dir(settings)}"
        )
        if report.missing:
            typer.echo(f"{len(report.missing)} files were already gone (their call records are cleared)")
