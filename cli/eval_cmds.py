"""`triage eval run|all|compare|e2e|convert`: the evaluation harness (eval/runner.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from cli.groups import CommandGroups

OutOpt = Annotated[Path, typer.Option("--out", help="Folder that gets one sub-folder per run.")]


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(2)


def _show(result: object) -> None:
    from eval.runner import RunResult

    assert isinstance(result, RunResult)
    label = f" [DERIVED: {result.spec.derived}]" if result.spec.derived else ""
    typer.echo(f"\n{result.spec.name}{label}: {result.seconds:.1f} s -> {result.folder}")
    for m in result.spec.metrics:
        v = result.metrics[m.name]
        shown = f"{v:.4f}" if isinstance(v, float) else str(v)
        typer.echo(f"  {m.name:<30} {shown:>10}  ({'higher' if m.higher_is_better else 'lower'} is better)")


def eval_run(
    task: Annotated[str, typer.Argument(help="Task YAML file, or a shipped task name (asr, nlu, kb, ...).")],
    out: OutOpt = Path("runs"),
) -> None:
    """Run one evaluation task; writes results.json, report.md and plots into a new run folder."""
    from eval.runner import run_task
    from eval.tasks import TaskError, load_task

    try:
        spec = load_task(task)
    except TaskError as e:
        raise _fail(str(e)) from e
    _show(run_task(spec, out, log=typer.echo))


def eval_all(
    out: OutOpt = Path("runs"),
    skip: Annotated[list[str] | None, typer.Option(help="Shipped task names to skip.")] = None,
) -> None:
    """Run every shipped task (eval/tasks/*.yaml) and print a summary."""
    from eval.runner import run_task
    from eval.tasks import load_task, shipped_tasks

    t0 = time.perf_counter()
    done = []
    for path in shipped_tasks():
        spec = load_task(path)
        if spec.name in (skip or []):
            continue
        typer.echo(f"== {spec.name}")
        result = run_task(spec, out, log=typer.echo)
        _show(result)
        done.append((spec.name, round(result.seconds, 1), str(result.folder)))
    typer.echo(f"\nall tasks: {time.perf_counter() - t0:.0f} s")
    for name, secs, folder in done:
        typer.echo(f"  {name:<16} {secs:>7.1f} s  {folder}")


def eval_compare(
    run_a: Annotated[Path, typer.Argument(help="Earlier run folder (the baseline).")],
    run_b: Annotated[Path, typer.Argument(help="Later run folder.")],
) -> None:
    """Per-metric deltas from RUN_A to RUN_B, each judged better/worse by its higher_is_better."""
    from eval.compare import compare, format_deltas
    from eval.runner import load_run

    try:
        deltas = compare(run_a, run_b)
        a, b = load_run(run_a), load_run(run_b)
    except FileNotFoundError as e:
        raise _fail(str(e)) from e
    if a["task"]["name"] != b["task"]["name"]:
        typer.secho(
            f"note: different tasks ({a['task']['name']} vs {b['task']['name']})", fg=typer.colors.YELLOW
        )
    typer.echo(format_deltas(deltas, run_a.name, run_b.name))
    worse = [d.metric for d in deltas if d.verdict == "worse"]
    better = [d.metric for d in deltas if d.verdict == "better"]
    typer.echo(f"\n{len(better)} better, {len(worse)} worse" + (f": {', '.join(worse)}" if worse else ""))


def eval_e2e(
    scenarios: Annotated[Path, typer.Option("--scenarios", help="Scenario YAML file or folder.")] = Path(
        "eval/scenarios"
    ),
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the flat figures here.")] = None,
    out: OutOpt = Path("runs"),
    fast: Annotated[bool, typer.Option(help="Send audio as fast as possible (no latency).")] = False,
    language: Annotated[str | None, typer.Option(help="Only scenarios in zh or en.")] = None,
    text_turns: Annotated[
        str, typer.Option(help="speak: text turns are spoken by the bot's voice; inject: sent as text.")
    ] = "speak",
    line: Annotated[str, typer.Option(help="wideband (16 kHz PCM) or phone (8 kHz mu-law) caller audio.")] = (
        "wideband"
    ),
) -> None:
    """Scenario calls through the live service over its WebSocket: routing, containment, latency."""
    from eval.runner import run_task
    from eval.tasks import TaskError, load_task, parse_task

    if text_turns not in ("speak", "inject") or line not in ("wideband", "phone"):
        raise _fail("--text-turns is speak or inject; --line is wideband or phone")
    base = load_task("e2e", check_files=False)
    options = {"realtime": not fast, "text_turns": text_turns, "line": line}
    options |= {"languages": [language]} if language else {}
    data = {
        "name": "e2e",
        "kind": "e2e",
        "dataset": str(scenarios.resolve()),
        "metrics": [{"name": m.name, "higher_is_better": m.higher_is_better} for m in base.metrics],
        "options": options,
        "description": base.description,
    }
    try:
        spec = parse_task(data, None)
    except TaskError as e:
        raise _fail(str(e)) from e
    result = run_task(spec, out, log=typer.echo)
    _show(result)
    flat = {k: v for k, v in result.output.metrics.items()}
    for row in result.output.rows:
        if row["ok"] != "yes":
            typer.echo(f"  FAIL {row['scenario']}: {row['failures']} [{row['cause']}] heard: {row['heard']}")
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(flat, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        typer.echo(f"wrote {json_out}")


def register(groups: CommandGroups) -> None:
    groups.eval.command("run")(eval_run)
    groups.eval.command("all")(eval_all)
    groups.eval.command("compare")(eval_compare)
    groups.eval.command("e2e")(eval_e2e)
    convert = typer.Typer(no_args_is_help=True, help="Convert public formats to the harness's JSONL.")
    groups.eval.add_typer(convert, name="convert")

    @convert.command("clinc150")
    def convert_clinc150(
        data_full: Annotated[Path, typer.Argument(help="CLINC150 data_full.json.")],
        out: Annotated[Path, typer.Option("--out", help="Folder for clinc150_{train,val,test}.jsonl.")],
    ) -> None:
        """CLINC150 data_full.json -> JSONL splits (out-of-scope rows labelled 'oos')."""
        from eval.convert import clinc150

        try:
            paths = clinc150(data_full, out)
        except (FileNotFoundError, KeyError, ValueError) as e:
            raise _fail(str(e)) from e
        typer.echo("wrote " + ", ".join(str(p) for p in paths))

    @convert.command("csv")
    def convert_csv(
        file: Annotated[
            Path, typer.Argument(help="CSV with a header: text,label[,lang,request_type,urgency].")
        ],
        out: Annotated[Path, typer.Option("--out", help="JSONL to write.")],
        lang: Annotated[str | None, typer.Option(help="zh or en for every row (default: guessed).")] = None,
    ) -> None:
        """A CSV of text,label -> classifier JSONL (for `triage nlu train` and the nlu task)."""
        from eval.convert import ConvertError, csv_to_jsonl

        try:
            typer.echo(f"wrote {csv_to_jsonl(file, out, lang)}")
        except (ConvertError, FileNotFoundError) as e:
            raise _fail(str(e)) from e

    @convert.command("asr-manifest")
    def convert_asr(
        file: Annotated[
            Path, typer.Argument(help="JSONL (file|audio_filepath, reference|text, lang) or .tsv.")
        ],
        out: Annotated[Path, typer.Option("--out", help="Manifest JSONL to write.")],
        lang: Annotated[str | None, typer.Option(help="Language of clips that do not say.")] = None,
        audio_dir: Annotated[
            Path | None, typer.Option(help="Folder the audio paths are relative to.")
        ] = None,
    ) -> None:
        """A clip list (ours, NeMo JSONL or Common Voice TSV) -> our ASR manifest."""
        from eval.convert import ConvertError, asr_manifest

        try:
            typer.echo(f"wrote {asr_manifest(file, out, lang, audio_dir)}")
        except (ConvertError, FileNotFoundError) as e:
            raise _fail(str(e)) from e
