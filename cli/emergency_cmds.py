"""`triage eval emergency`: emergency recall and false alarms, per category, language and layer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.groups import CommandGroups


def eval_emergency(
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", help="JSONL file or folder (positives*/negatives* or an 'emergency' field)."),
    ] = None,
    model: Annotated[Path | None, typer.Option("--model", help="Trained model folder.")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write every figure to this JSON file.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the run folders.")] = Path("runs"),
) -> None:
    """Score the emergency layer. Without --data: the independent set, then the held-out seed
    phrasings (optimistic: written by the rules' authors), both reported."""
    from eval.emergency_eval import markdown
    from eval.runner import run_task
    from eval.tasks import load_task, with_overrides

    opts = {"model": str(model) if model else None}
    specs = (
        [with_overrides(load_task("emergency"), data, opts)]
        if data
        else [
            with_overrides(load_task("emergency"), None, opts),
            with_overrides(load_task("emergency-seed"), None, opts),
        ]
    )
    figures = {}
    for spec in specs:
        result = run_task(spec, out, log=typer.echo)
        typer.echo(markdown(result.output.raw, f"{spec.name}: {', '.join(p.name for p in spec.datasets)}"))
        typer.echo(f"run folder: {result.folder}\n")
        figures[spec.name] = result.output.metrics
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(figures, indent=2, ensure_ascii=False), encoding="utf-8")
        typer.echo(f"wrote {json_out}")


def register(groups: CommandGroups) -> None:
    groups.eval.command("emergency")(eval_emergency)
