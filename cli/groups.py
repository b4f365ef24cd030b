from dataclasses import dataclass

import typer


@dataclass(frozen=True)
class CommandGroups:
    """The command groups each cli module adds its commands to."""

    root: typer.Typer
    bench: typer.Typer
    eval: typer.Typer
    nlu: typer.Typer
    kb: typer.Typer
