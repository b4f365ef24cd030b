"""`triage eval compare RUN_A RUN_B`: per-metric deltas, judged by each metric's higher_is_better."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.runner import load_run


@dataclass(frozen=True)
class Delta:
    metric: str
    a: float | None
    b: float | None
    higher_is_better: bool | None

    @property
    def delta(self) -> float | None:
        return None if self.a is None or self.b is None else self.b - self.a

    @property
    def verdict(self) -> str:
        """'better', 'worse' or 'same' for B against A; 'n/a' when a side lacks the figure."""
        d = self.delta
        if d is None or self.higher_is_better is None:
            return "n/a"
        if abs(d) < 1e-9:
            return "same"
        return "better" if (d > 0) == self.higher_is_better else "worse"


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def compare(run_a: Path, run_b: Path) -> list[Delta]:
    a, b = load_run(run_a), load_run(run_b)
    hib = {**a.get("higher_is_better", {}), **b.get("higher_is_better", {})}
    names = list(a.get("metrics", {})) + [m for m in b.get("metrics", {}) if m not in a.get("metrics", {})]
    return [Delta(m, _num(a["metrics"].get(m)), _num(b["metrics"].get(m)), hib.get(m)) for m in names]


def format_deltas(deltas: list[Delta], label_a: str = "A", label_b: str = "B") -> str:
    def f(v: float | None, signed: bool = False) -> str:
        return "-" if v is None else (f"{v:+.4f}" if signed else f"{v:.4f}")

    lines = [f"| metric | {label_a} | {label_b} | delta | verdict |", "|---|---|---|---|---|"]
    lines += [f"| {d.metric} | {f(d.a)} | {f(d.b)} | {f(d.delta, True)} | {d.verdict} |" for d in deltas]
    return "\n".join(lines)
