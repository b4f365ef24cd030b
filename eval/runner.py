"""One code path for every evaluation: a TaskSpec in, a run folder out.

``run_task(spec)`` calls the stage's scorer (the same functions `triage eval nlu`, `eval kb`,
`bench asr`, `bench clinc150` and `eval e2e` use) and writes, into ``runs/<UTC time>-<name>/``:
``results.json`` (task, metrics, higher_is_better, details), ``report.md`` (metric table and a
per-item table) and the task's PNG plots (confusion matrix, latency histogram, answer-rate curve).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.tasks import TaskSpec

RESULTS = "results.json"
REPORT = "report.md"


@dataclass
class StageOutput:
    """What a kind runner measured: flat metrics, per-item rows for the table, plots it wrote."""

    metrics: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    plots: dict[str, Path] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    raw: Any = None
    """The stage's own result objects, for per-stage commands that print more (not saved)."""


@dataclass
class RunResult:
    spec: TaskSpec
    folder: Path
    output: StageOutput
    seconds: float

    @property
    def metrics(self) -> dict[str, Any]:
        """The task's declared metrics (None where the runner had no value)."""
        return {m.name: self.output.metrics.get(m.name) for m in self.spec.metrics}


def new_run_dir(root: Path, name: str) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = root / f"{stamp}-{name}"
    n = 1
    while folder.exists():
        n += 1
        folder = root / f"{stamp}-{name}-{n}"
    folder.mkdir(parents=True)
    return folder


def run_task(
    spec: TaskSpec,
    out_root: Path = Path("runs"),
    folder: Path | None = None,
    log: Callable[[str], None] = print,
) -> RunResult:
    """Run one task and write its folder. ``folder`` overrides the timestamped one."""
    from eval import stage_runners

    if folder is None:
        folder = new_run_dir(out_root, spec.name)
    folder.mkdir(parents=True, exist_ok=True)
    runner = stage_runners.RUNNERS[spec.kind]
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    output = runner(spec, folder, log)
    seconds = time.perf_counter() - t0
    missing = [m.name for m in spec.metrics if m.name not in output.metrics]
    if missing:
        raise KeyError(
            f"task {spec.name}: the {spec.kind} runner has no metric(s) {missing}; "
            f"available: {sorted(k for k, v in output.metrics.items() if not isinstance(v, dict | list))}"
        )
    result = RunResult(spec, folder, output, seconds)
    write_run(result, started)
    return result


def write_run(result: RunResult, started: dt.datetime) -> None:
    spec, out = result.spec, result.output
    data = {
        "task": spec.describe(),
        "metrics": result.metrics,
        "higher_is_better": spec.higher_is_better(),
        "derived": spec.derived,
        "all_metrics": out.metrics,
        "details": out.details,
        "plots": {k: p.name for k, p in out.plots.items()},
        "started_utc": started.isoformat(timespec="seconds"),
        "seconds": round(result.seconds, 1),
        "load_avg_1min_at_end": round(os.getloadavg()[0], 2),
    }
    (result.folder / RESULTS).write_text(
        json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8"
    )
    (result.folder / REPORT).write_text(markdown(result), encoding="utf-8")
    if out.rows:
        with (result.folder / "items.jsonl").open("w", encoding="utf-8") as f:
            for row in out.rows:
                f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v).replace("|", "\\|").replace("\n", " ")


def markdown(result: RunResult) -> str:
    spec, out = result.spec, result.output
    lines = [f"# {spec.name} ({spec.kind})", ""]
    if spec.description:
        lines += [spec.description, ""]
    if spec.derived:
        lines += [f"**Derived data ({spec.derived})**: {out.details.get('derived', '')}", ""]
    lines += [f"Datasets: {', '.join(str(p) for p in spec.datasets)}", ""]
    if spec.normaliser:
        lines += [f"Normaliser: `{spec.normaliser}`", ""]
    lines += ["| metric | value | better |", "|---|---|---|"]
    for m in spec.metrics:
        lines.append(
            f"| {m.name} | {_cell(result.metrics[m.name])} | {'higher' if m.higher_is_better else 'lower'} |"
        )
    extra = {
        k: v
        for k, v in out.metrics.items()
        if k not in result.metrics and not isinstance(v, dict | list) and v is not None
    }
    if extra:
        lines += ["", "| other figure | value |", "|---|---|"]
        lines += [f"| {k} | {_cell(v)} |" for k, v in extra.items()]
    if out.rows:
        cols = list(out.rows[0])
        lines += ["", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        lines += ["| " + " | ".join(_cell(r.get(c, "")) for c in cols) + " |" for r in out.rows]
    if out.plots:
        lines += [""] + [f"![{k}]({p.name})" for k, p in out.plots.items()]
    lines += ["", f"{result.seconds:.1f} s"]
    return "\n".join(lines) + "\n"


def load_run(folder: Path) -> dict[str, Any]:
    path = Path(folder) / RESULTS if Path(folder).is_dir() else Path(folder)
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: no {RESULTS}; pass a run folder written by `triage eval run`")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
