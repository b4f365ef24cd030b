"""`triage agents disable|enable|rotate` and `triage callers forget` (docs/security.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from cli.groups import CommandGroups

if TYPE_CHECKING:
    from core.settings import Settings
    from pipeline.store import Store

T = TypeVar("T")


def _store_and_settings() -> tuple[Store, Settings]:
    from core.settings import get_settings
    from pipeline.store import Store

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Store(settings.resolved_database_url()), settings


def _on_agent(action: Callable[[Any, str], T], agent_id: str) -> T:
    """``action(store, agent_id)``, or a clear error (exit 1) when there is no such agent."""
    from pipeline.store import NotFoundError

    store, _ = _store_and_settings()
    try:
        return action(store, agent_id)
    except NotFoundError as e:
        typer.echo(f"{e} See `triage agents list`. 找不到该坐席。", err=True)
        raise typer.Exit(1) from e


def add_agent_access(agents: typer.Typer) -> None:
    """Adds disable, enable and rotate to the `triage agents` group."""

    @agents.command("disable")
    def disable(agent_id: str = typer.Argument(..., help="The agent's id (`triage agents list`).")) -> None:
        """Disable an agent: their token stops working at once (REST and the console's stream)."""
        from pipeline.privacy import disable_agent

        agent = _on_agent(disable_agent, agent_id)
        typer.echo(f"agent {agent.name} ({agent.id}) disabled; `triage agents enable {agent.id}` undoes it")

    @agents.command("enable")
    def enable(agent_id: str = typer.Argument(..., help="The agent's id.")) -> None:
        """Let a disabled agent sign in again with their token."""
        from pipeline.privacy import enable_agent

        agent = _on_agent(enable_agent, agent_id)
        typer.echo(f"agent {agent.name} ({agent.id}) enabled")

    @agents.command("rotate")
    def rotate(agent_id: str = typer.Argument(..., help="The agent's id.")) -> None:
        """Give an agent a new token (printed once); the old token stops working at once."""
        from pipeline.privacy import rotate_token

        agent, token = _on_agent(rotate_token, agent_id)
        typer.echo(f"agent {agent.name} ({agent.id}): new token (shown once; the old one no longer works):")
        typer.echo(token)


def register(groups: CommandGroups) -> None:
    callers = typer.Typer(no_args_is_help=True, help="What is kept about callers, and forgetting it.")
    groups.root.add_typer(callers, name="callers")

    @callers.command("forget")
    def forget(
        number: str = typer.Argument(..., help="The caller's number exactly as stored (e.g. 13800138000)."),
        dry_run: bool = typer.Option(False, "--dry-run", help="Only count what would be deleted."),
    ) -> None:
        """Delete every ended call from a number (transcripts, decisions, handoffs, call-back tasks),
        their recordings, and the work orders filed for it."""
        from pipeline.privacy import forget_caller
        from pipeline.retention import recordings_dir

        store, settings = _store_and_settings()
        report = forget_caller(store, number, recordings_dir(settings), dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        typer.echo(
            f"{verb}: {report.calls} calls, {report.work_orders} work orders, {report.callbacks} call-back "
            f"tasks, {report.recordings} recordings"
        )
