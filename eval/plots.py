"""Shared plots for evaluation reports (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def confusion_png(matrix: np.ndarray, labels: list[str], path: Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(labels)
    size = max(5.0, 0.42 * n + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    rows = matrix.sum(axis=1, keepdims=True)
    norm = np.divide(matrix, np.maximum(rows, 1), dtype=float)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(n), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    if n <= 40:
        for i in range(n):
            for j in range(n):
                if matrix[i, j]:
                    ax.text(
                        j,
                        i,
                        str(int(matrix[i, j])),
                        ha="center",
                        va="center",
                        fontsize=6,
                        color="white" if norm[i, j] > 0.5 else "black",
                    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def latency_histogram_png(values: list[float], path: Path, title: str = "", xlabel: str = "seconds") -> Path:
    """Histogram of latencies with the median and 95th percentile marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    if values:
        arr = np.asarray(values, dtype=float)
        ax.hist(arr, bins=min(30, max(5, len(arr) // 2)), color="#4477aa")
        for q, style in ((50, "-"), (95, "--")):
            v = float(np.percentile(arr, q))
            ax.axvline(v, color="red", linestyle=style, label=f"p{q} {v:.2f}")
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no latencies measured", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    ax.set_title(f"{title} (n={len(values)})" if title else f"n={len(values)}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def rates_png(rates: dict[str, float | None], path: Path, title: str = "", xlabel: str = "rate") -> Path:
    """Horizontal bars, one per key (a category), sorted so the weakest stand at the top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = sorted(((k, float(v)) for k, v in rates.items() if v is not None), key=lambda kv: -kv[1])
    fig, ax = plt.subplots(figsize=(7, max(3, 0.25 * len(items) + 1)))
    if items:
        ax.barh([k for k, _ in items], [v for _, v in items], color="#4477aa")
        ax.set_xlim(0, 1.0)
    else:
        ax.text(0.5, 0.5, "no rows", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
