"""`triage serve` and `triage models`."""

from __future__ import annotations

import typer

from cli.groups import CommandGroups


def register(groups: CommandGroups) -> None:
    app = groups.root

    @app.command()
    def serve(
        host: str | None = typer.Option(None, help="Bind address (default from TRIAGE_HOST, 127.0.0.1)."),
        port: int | None = typer.Option(None, help="Port (default from TRIAGE_PORT, 8000)."),
    ) -> None:
        """Run the hotline service with the embedded defaults (SQLite, packaged models)."""
        import serve
        from api.drain import serve_draining
        from core.settings import get_settings

        s = get_settings()
        # SIGTERM drains: no new calls, live ones finish (up to TRIAGE_DRAIN_TIMEOUT_S), then exit.
        serve_draining(serve.app, host or s.host, port or s.port, s.drain_timeout_s)

    @app.command()
    def models() -> None:
        """List each configured model, where it resolves, and whether it loads."""
        from core.settings import get_settings
        from pipeline.model_registry import configured_models

        failed = 0
        typer.echo(f"{'role':<10} {'spec':<36} {'loads':<6} {'secs':>6}  location / error")
        for entry in configured_models(get_settings()):
            status, _ = entry.check()
            failed += not status.loaded
            detail = status.location if status.loaded else f"{status.location}  ERROR: {status.error}"
            ok = "yes" if status.loaded else "NO"
            typer.echo(f"{status.role:<10} {status.spec:<36} {ok:<6} {status.load_s:>6.2f}  {detail}")
            for note in status.notes:
                typer.echo(f"{'':<10} {note}")
        raise typer.Exit(1 if failed else 0)
