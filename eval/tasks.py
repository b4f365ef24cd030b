"""Evaluation tasks declared as data: a YAML file names the dataset, the normaliser and the metrics.

    name: asr                       # names the run folder: runs/<UTC time>-<name>/
    kind: asr                       # asr | nlu | emergency | clinc150 | kb | e2e
    dataset: "{shared}/benchmarks/asr/manifest.jsonl"   # or a list; relative to the YAML file
    normaliser: basic               # a named normaliser from eval/normalise.py, or none
    derived: telephone              # optional: score a derived copy of the data (asr: telephone)
    metrics:
      - {name: wer_en, higher_is_better: false}
    options: {stream_speed: 1.0}    # kind-specific, passed to the runner

``{repo}`` and ``{shared}`` in a dataset path stand for the repository and the ``shared/`` folder
beside it. ``load_task`` raises ``TaskError`` naming the file and the field for anything wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from eval.normalise import NORMALISERS

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
TASKS_DIR = Path(__file__).resolve().parent / "tasks"
KINDS = ("asr", "nlu", "emergency", "clinc150", "kb", "e2e")
DERIVED = {"asr": ("telephone",)}
_KEYS = {"name", "kind", "dataset", "normaliser", "metrics", "options", "derived", "description"}


class TaskError(ValueError):
    """A task file is malformed; the message names the file and what to change."""


@dataclass(frozen=True)
class MetricSpec:
    name: str
    higher_is_better: bool


@dataclass(frozen=True)
class TaskSpec:
    name: str
    kind: str
    datasets: tuple[Path, ...]
    metrics: tuple[MetricSpec, ...]
    normaliser: str | None = None
    derived: str | None = None
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None

    @property
    def dataset(self) -> Path:
        return self.datasets[0]

    def higher_is_better(self) -> dict[str, bool]:
        return {m.name: m.higher_is_better for m in self.metrics}

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "datasets": [str(p) for p in self.datasets],
            "normaliser": self.normaliser,
            "derived": self.derived,
            "description": self.description,
            "options": self.options,
            "source": str(self.source) if self.source else None,
        }


def resolve_path(raw: str, base: Path) -> Path:
    text = raw.replace("{repo}", str(REPO)).replace("{shared}", str(SHARED))
    p = Path(text).expanduser()
    if p.is_absolute():
        return p
    for root in (base, REPO):
        if (root / p).exists():
            return (root / p).resolve()
    return (base / p).resolve()


def parse_task(data: Any, source: Path | None = None, check_files: bool = True) -> TaskSpec:
    where = str(source) if source else "task"

    def fail(msg: str) -> TaskError:
        return TaskError(f"{where}: {msg}")

    if not isinstance(data, dict):
        raise fail("expected a mapping with name, kind, dataset and metrics")
    unknown = set(data) - _KEYS
    if unknown:
        raise fail(f"unknown field(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    for key in ("name", "kind", "dataset", "metrics"):
        if key not in data:
            raise fail(f"missing required field '{key}'")
    name, kind = data["name"], data["kind"]
    if not isinstance(name, str) or not name.strip() or "/" in name:
        raise fail("'name' must be a non-empty string without '/'")
    if kind not in KINDS:
        raise fail(f"unknown kind {kind!r}; known: {', '.join(KINDS)}")
    normaliser = data.get("normaliser")
    if normaliser in (None, "none"):
        normaliser = None
    elif normaliser not in NORMALISERS:
        raise fail(f"unknown normaliser {normaliser!r}; known: {', '.join(NORMALISERS)}, none")
    derived = data.get("derived")
    if derived is not None and derived not in DERIVED.get(kind, ()):
        raise fail(f"derived {derived!r} is not available for kind {kind}; known: {DERIVED.get(kind, ())}")
    raw_sets = data["dataset"] if isinstance(data["dataset"], list) else [data["dataset"]]
    if not raw_sets or not all(isinstance(d, str) and d for d in raw_sets):
        raise fail("'dataset' must be a path or a list of paths")
    base = source.parent if source else Path.cwd()
    datasets = tuple(resolve_path(d, base) for d in raw_sets)
    if check_files:
        missing = [str(p) for p in datasets if not p.exists()]
        if missing:
            raise fail(f"dataset not found: {', '.join(missing)} (paths are relative to the task file)")
    metrics = data["metrics"]
    if not isinstance(metrics, list) or not metrics:
        raise fail("'metrics' must be a non-empty list of {name, higher_is_better}")
    specs: list[MetricSpec] = []
    for i, m in enumerate(metrics):
        if not isinstance(m, dict) or "name" not in m:
            raise fail(f"metrics[{i}] must be a mapping with 'name' and 'higher_is_better'")
        if not isinstance(m.get("higher_is_better"), bool):
            raise fail(f"metrics[{i}] ({m['name']}): 'higher_is_better' must be true or false")
        specs.append(MetricSpec(str(m["name"]), m["higher_is_better"]))
    names = [m.name for m in specs]
    if len(set(names)) != len(names):
        raise fail(f"metric names repeat: {names}")
    options = data.get("options") or {}
    if not isinstance(options, dict):
        raise fail("'options' must be a mapping")
    return TaskSpec(
        name=name.strip(),
        kind=kind,
        datasets=datasets,
        metrics=tuple(specs),
        normaliser=normaliser,
        derived=derived,
        description=str(data.get("description") or ""),
        options=options,
        source=source,
    )


def load_task(path: str | Path, check_files: bool = True) -> TaskSpec:
    """Read and validate a task YAML file."""
    path = Path(path)
    if not path.is_file():
        shipped = TASKS_DIR / f"{path}.yaml"
        if shipped.is_file():
            path = shipped
        else:
            known = ", ".join(p.stem for p in shipped_tasks())
            raise TaskError(f"{path}: no such task file (shipped tasks: {known})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise TaskError(f"{path}: not valid YAML ({e})") from None
    return parse_task(data, path.resolve(), check_files)


def with_overrides(
    spec: TaskSpec, datasets: list[Path] | None = None, options: dict[str, Any] | None = None
) -> TaskSpec:
    """A shipped task pointed at other data or options (what the per-stage commands pass)."""
    from dataclasses import replace

    if datasets:
        spec = replace(spec, datasets=tuple(Path(d).resolve() for d in datasets))
    extra = {k: v for k, v in (options or {}).items() if v is not None}
    return replace(spec, options={**spec.options, **extra}) if extra else spec


def shipped_tasks() -> list[Path]:
    return sorted(TASKS_DIR.glob("*.yaml"))
